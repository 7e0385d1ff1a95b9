"""Training checkpoints: written atomically, read back exactly.

A checkpoint is a directory ``RUN_DIR/checkpoints/step-00000123/`` holding

- ``model.safetensors``  the model's state dict (the frozen text backbone is not in it)
- ``optimizer.pt``       the optimiser state (``torch.save``; read with ``weights_only=True``)
- ``state.json``         data position (epoch, next batch, step, samples seen), scheduler step,
                         GradScaler state, counters, best metric so far
- ``rng-rank{r}.safetensors`` + ``rng-rank{r}.json`` per rank: torch (CPU and CUDA), numpy and
                         Python RNG states, so dropout and modality dropout continue exactly

Every rank first writes its RNG states into a hidden staging directory (``.tmp-step-N``, a
name all ranks know); rank 0 then moves it into a :func:`jegal.atomic.atomic_path` temporary,
adds model, optimiser and state, and the whole directory is renamed into place only when
complete. So a process killed at any moment (``kill -9`` included) leaves either the previous
checkpoints or a finished new one; leftovers of an interrupted write (hidden names) are
ignored and removed on the next save.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
from pathlib import Path

import numpy as np
import torch

from jegal.atomic import atomic_path

CHECKPOINT_DIR = "checkpoints"
_NAME = re.compile(r"^step-(\d{8})$")


def checkpoint_name(step: int) -> str:
    return f"step-{step:08d}"


def list_checkpoints(run_dir: str | os.PathLike) -> list[Path]:
    """Complete checkpoints of a run, oldest first."""
    root = Path(run_dir) / CHECKPOINT_DIR
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and _NAME.match(p.name) and (p / "state.json").is_file()]
    return sorted(found, key=lambda p: p.name)


def latest_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    ckpts = list_checkpoints(run_dir)
    return ckpts[-1] if ckpts else None


def rng_state() -> tuple[dict[str, torch.Tensor], dict]:
    tensors = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"cuda{i}"] = s
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    py = random.getstate()
    meta = {"numpy": [name, keys.tolist(), int(pos), int(has_gauss), float(gauss)],
            "python": [py[0], list(py[1]), py[2]]}
    return tensors, meta


def set_rng_state(tensors: dict[str, torch.Tensor], meta: dict) -> None:
    torch.set_rng_state(tensors["torch"])
    cuda = sorted((k for k in tensors if k.startswith("cuda")), key=lambda k: int(k[4:]))
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([tensors[k] for k in cuda])
    name, keys, pos, has_gauss, gauss = meta["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, gauss))
    version, internal, gauss_next = meta["python"]
    random.setstate((version, tuple(internal), gauss_next))


def _tmp_dir(root: Path, step: int) -> Path:
    """The staging directory of a checkpoint: one name every rank can compute."""
    return root / f".tmp-{checkpoint_name(step)}"


def begin_checkpoint(run_dir: str | os.PathLike, step: int) -> Path:
    """Create (afresh) the staging directory the ranks write their RNG states into, after
    removing what interrupted saves left (every hidden entry). Rank 0 only."""
    root = Path(run_dir) / CHECKPOINT_DIR
    root.mkdir(parents=True, exist_ok=True)
    for stale in root.glob(".*"):  # left by a killed run
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)
    tmp = _tmp_dir(root, step)
    tmp.mkdir()
    return tmp


def write_rank_state(run_dir: str | os.PathLike, step: int, rank: int) -> None:
    """This rank's RNG states into the checkpoint being written (every rank)."""
    from safetensors.torch import save_file

    tmp = _tmp_dir(Path(run_dir) / CHECKPOINT_DIR, step)
    tensors, meta = rng_state()
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp / f"rng-rank{rank}.safetensors"))
    (tmp / f"rng-rank{rank}.json").write_text(json.dumps(meta))


def finish_checkpoint(run_dir: str | os.PathLike, step: int, model: torch.nn.Module,
                      optimizer: torch.optim.Optimizer, state: dict, keep: int = 2) -> Path:
    """Complete the staged checkpoint with model, optimiser and ``state`` and put it in place
    atomically, then prune all but the ``keep`` newest checkpoints. Rank 0 only."""
    from safetensors.torch import save_file

    root = Path(run_dir) / CHECKPOINT_DIR
    staging = _tmp_dir(root, step)
    final = root / checkpoint_name(step)
    if final.exists():  # the same step saved before (e.g. epoch end == periodic save)
        shutil.rmtree(staging)
        return final
    with atomic_path(final) as tmp:
        os.replace(staging, tmp)  # the ranks' RNG states
        weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        save_file(weights, str(tmp / "model.safetensors"))
        torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        (tmp / "state.json").write_text(json.dumps(state, indent=2))
    ckpts = list_checkpoints(run_dir)
    for old in ckpts[: max(0, len(ckpts) - keep)]:
        trash = old.with_name(f".tmp-delete-{old.name}")
        os.replace(old, trash)  # no longer looks complete before it is half deleted
        shutil.rmtree(trash, ignore_errors=True)
    return final


def load_checkpoint(path: str | os.PathLike, model: torch.nn.Module, optimizer: torch.optim.Optimizer | None,
                    rank: int = 0, map_location: str | torch.device = "cpu") -> dict:
    """Restore model, optimiser and this rank's RNG states; returns ``state.json``."""
    from safetensors.torch import load_file

    path = Path(path)
    try:
        state = json.loads((path / "state.json").read_text())
        weights = load_file(str(path / "model.safetensors"), device="cpu")
    except (OSError, json.JSONDecodeError) as err:
        raise RuntimeError(f"checkpoint {path} cannot be read: {err}") from None
    missing, unexpected = model.load_state_dict(weights, strict=False)
    if missing or unexpected:
        raise RuntimeError(f"checkpoint {path} does not fit the model: missing {missing[:5]}, "
                           f"unexpected {unexpected[:5]} (was the model config changed?)")
    if optimizer is not None:
        optimizer.load_state_dict(torch.load(path / "optimizer.pt", map_location=map_location, weights_only=True))
    rng_file = path / f"rng-rank{rank}.safetensors"
    if rng_file.is_file():
        set_rng_state(load_file(str(rng_file)), json.loads((path / f"rng-rank{rank}.json").read_text()))
    return state
