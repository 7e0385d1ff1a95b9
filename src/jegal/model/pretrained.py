"""Where a saved model lives and what it is: the directories :meth:`jegal.model.JEGAL.from_pretrained`
looks in, the model's identity digest, and the content modalities it can be asked for.

A model directory holds ``config.json`` + ``model.safetensors`` (and, for an imported released
model, ``gestsync.safetensors``), plus its card (``card.json`` + ``README.md``); a training run
holds its final model in ``model/`` and its best validation checkpoint in ``best/``; ``jegal demo``'s
output folder holds its training run in ``run/``. The name ``released`` (:data:`RELEASED_NAME`) is the
authors' released model as ``jegal fetch released`` imports it into the user cache
(:func:`released_model_dir`: ``$JEGAL_CACHE/released/model``, default ``~/.cache/jegal``).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

MODALITIES = ("t", "a", "ta")
CHECKPOINTS = {"final": "model", "best": "best"}  # --checkpoint -> the folder of a training run
DEMO_RUN = "run"  # the training run inside `jegal demo`'s output folder (jegal.demo)
REQUIRED_FILES = ("config.json", "model.safetensors")
# Not part of a model's identity: the card records what was measured on the model after it was saved
# (jegal eval writes its metrics there), so it changes while the model does not.
CARD_FILES = ("card.json", "README.md")
CACHE_ENV = "JEGAL_CACHE"  # the user cache: jegal fetch writes there
DEFAULT_CACHE = "~/.cache/jegal"
RELEASED_NAME = "released"  # --model released: the model jegal fetch released imported into the cache


def user_cache() -> Path:
    """The user cache: ``$JEGAL_CACHE``, else ``~/.cache/jegal`` (not created here)."""
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE).expanduser()


def released_model_dir(cache: str | os.PathLike | None = None) -> Path:
    """Where ``jegal fetch released`` imports the authors' model: ``CACHE/released/model`` (``cache``
    None: :func:`user_cache`)."""
    return Path(cache if cache is not None else user_cache()) / "released" / "model"


class ModelNotFound(FileNotFoundError):
    """No saved model where one was asked for; the message lists every directory looked at."""


def model_dir_candidates(path: str | os.PathLike, checkpoint: str = "final") -> list[Path]:
    """The directories that may hold the model ``path`` names, in the order they are tried: ``path``
    itself (a model directory), ``path/model`` (a training run; ``path/best`` with ``checkpoint``
    "best") and ``path/run/model`` (``jegal demo``'s output folder). The bare name ``released`` is
    :func:`released_model_dir` (a local folder of that name: ``./released``). Raises ValueError for a
    ``checkpoint`` other than "final" or "best"."""
    if checkpoint not in CHECKPOINTS:
        raise ValueError(f"checkpoint must be one of {sorted(CHECKPOINTS)}, got {checkpoint!r}")
    if str(path) == RELEASED_NAME:
        return [released_model_dir()]
    path = Path(path)
    sub = CHECKPOINTS[checkpoint]
    return [path, path / sub, path / DEMO_RUN / sub]


def resolve_model_dir(path: str | os.PathLike, checkpoint: str = "final") -> Path:
    """The first of :func:`model_dir_candidates` that holds ``config.json`` and ``model.safetensors``.
    Raises :class:`ModelNotFound` (a FileNotFoundError) naming every candidate tried and what it lacks."""
    tried = model_dir_candidates(path, checkpoint)
    for candidate in tried:
        if all((candidate / name).is_file() for name in REQUIRED_FILES):
            return candidate
    if str(path) == RELEASED_NAME:
        raise ModelNotFound(f"--model {RELEASED_NAME}: the released model is not in {tried[0]} ({_lacks(tried[0])}); "
                            f"get it with `jegal fetch released` (once, online; ${CACHE_ENV} moves the cache), "
                            "or give the directory `jegal import-released` wrote")
    path = Path(path)
    sub = CHECKPOINTS[checkpoint]
    head = (f"{path}: no such model directory" if not path.exists() else
            f"{path} is not a saved JEGAL model (nor a training run or jegal demo output holding one)")
    raise ModelNotFound(f"{head}; looked for {' + '.join(REQUIRED_FILES)} in "
                        f"{'; '.join(f'{c} ({_lacks(c)})' for c in tried)}. --model takes a model directory, a "
                        f"training run (its {sub}/) or jegal demo's output folder (its {DEMO_RUN}/{sub}/)")


def _lacks(directory: Path) -> str:
    if not directory.is_dir():
        return "no such directory"
    return " and ".join(name for name in REQUIRED_FILES if not (directory / name).is_file()) + " missing"


def model_files(model_dir: str | os.PathLike) -> list[Path]:
    """The files that make the model in ``model_dir``: every file at its top level but the card
    (:data:`CARD_FILES`) and hidden files, sorted by name (``config.json``, ``model.safetensors``,
    ``gestsync.safetensors`` where present, and anything else saved with it)."""
    model_dir = Path(model_dir)
    return sorted((p for p in model_dir.iterdir() if p.is_file() and p.name not in CARD_FILES
                   and not p.name.startswith(".")), key=lambda p: p.name)


def model_identity(model_dir: str | os.PathLike) -> str:
    """16 hex digits of a SHA-1 over the names and bytes of :func:`model_files`: the model part of the
    embedding caches' keys and of a search index's record. Any change to the weights, the config or
    the feature extractor's weights changes it; a card updated with metrics does not."""
    h = hashlib.sha1()
    for path in model_files(model_dir):
        h.update(path.name.encode() + b"\0")
        with open(path, "rb") as f:
            while block := f.read(1 << 22):
                h.update(block)
        h.update(b"\0")
    return h.hexdigest()[:16]


def parse_modalities(value: str | None, trained: str) -> list[str]:
    """The content inputs asked for by ``value`` (comma-separated of t, a, ta; None or empty: the
    model's ``trained`` ones). Raises ValueError for an unknown one or one the model was not trained with."""
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


__all__ = ["CACHE_ENV", "CARD_FILES", "MODALITIES", "ModelNotFound", "RELEASED_NAME", "model_dir_candidates",
           "model_files", "model_identity", "parse_modalities", "released_model_dir", "resolve_model_dir",
           "user_cache"]
