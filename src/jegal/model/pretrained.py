"""Where a saved model lives and what it is: a model directory or a training run, its identity digest,
and the content modalities it can be asked for.

A model directory holds ``config.json`` + ``model.safetensors`` (and, for an imported released
model, ``gestsync.safetensors``); a training run holds its final model in ``model/`` and its best
validation checkpoint in ``best/``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

MODALITIES = ("t", "a", "ta")


class ModelNotFound(FileNotFoundError):
    pass


def resolve_model_dir(path: str | Path, checkpoint: str = "final") -> Path:
    """A saved model directory from a model directory or a training run directory
    (``RUN/model`` is the final model, ``RUN/best`` the best validation checkpoint)."""
    path = Path(path)
    if (path / "config.json").is_file() and (path / "model.safetensors").is_file():
        return path
    sub = path / ("best" if checkpoint == "best" else "model")
    if (sub / "config.json").is_file() and (sub / "model.safetensors").is_file():
        return sub
    raise ModelNotFound(f"{path}: neither a saved model (config.json + model.safetensors) nor a training run "
                        f"with {sub.name}/ in it")


def model_identity(model_dir: Path) -> str:
    """Digest of the weights and config: the embedding cache key's model part."""
    h = hashlib.sha1()
    for name in ("config.json", "model.safetensors"):
        with open(model_dir / name, "rb") as f:
            while block := f.read(1 << 22):
                h.update(block)
    return h.hexdigest()[:16]


def parse_modalities(value: str | None, trained: str) -> list[str]:
    if not value:
        return [trained]
    mods = [m.strip() for m in value.split(",") if m.strip()]
    bad = [m for m in mods if m not in MODALITIES]
    if bad:
        raise ValueError(f"--modalities: {', '.join(bad)} not in t, a, ta")
    missing = [m for m in mods if not set(m) <= set(trained)]
    if missing:
        raise ValueError(f"--modalities {', '.join(missing)}: this model was trained with {trained!r} only")
    return mods
