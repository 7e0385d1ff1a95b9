"""The released-checkpoint parity fixture (../shared/fixtures/released, read its README): the weight
recipe, synthetic checkpoints in the released layout, and the fixture's inputs and outputs.

A test oracle beside the tests (also used by bench/bench_rgb_features.py): the recipe is the
fixture's, not the released weights, which cannot be downloaded here.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

FIXTURE = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "released"
KEY_FILES = {"jegal": "jegal_keys.json", "gestsync": "gestsync_keys.json"}


def _require() -> None:
    if not (FIXTURE / "released_fixture.npz").is_file():
        raise FileNotFoundError(f"released-checkpoint fixture not found at {FIXTURE}: clone the repo with shared/ "
                                "beside it")


@lru_cache(maxsize=1)
def arrays() -> dict[str, np.ndarray]:
    """Every array of ``released_fixture.npz`` (inputs, intermediates, outputs, the two tables)."""
    _require()
    with np.load(FIXTURE / "released_fixture.npz") as z:
        return {k: z[k] for k in z.files}


def entries(which: str) -> list[dict]:
    """The key entries of ``jegal`` or ``gestsync`` in the reference order."""
    _require()
    return json.loads((FIXTURE / KEY_FILES[which]).read_text())["entries"]


def recipe_value(entry: dict) -> np.ndarray:
    """One entry's value by the README's recipe (float32 arithmetic, PCG64 seeded by CRC-32 of the key)."""
    if entry["kind"] == "int":
        return np.array(entry["value"], dtype=np.int64)
    if entry["kind"] == "table":
        return arrays()[entry["npz_key"]]
    gen = np.random.default_rng(zlib.crc32(entry["key"].encode("utf-8")))
    z = gen.standard_normal(tuple(entry["shape"]), dtype=np.float32)
    value = np.float32(entry["offset"]) + np.float32(entry["scale"]) * z
    return np.abs(value) if entry["abs"] else value


def sha16(value: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(value).astype(value.dtype.newbyteorder("<")).tobytes()).hexdigest()[:16]


@lru_cache(maxsize=2)
def _state(which: str) -> tuple[tuple[str, torch.Tensor], ...]:
    return tuple((e["key"], torch.from_numpy(np.array(recipe_value(e)))) for e in entries(which))


def recipe_state(which: str) -> dict[str, torch.Tensor]:
    """The reference module's state dict (released key names, no prefix) filled by the recipe."""
    return {k: v.clone() for k, v in _state(which)}


def save_released(path: Path, state: dict[str, torch.Tensor], prefix: str = "module.") -> Path:
    """``state`` saved as a released checkpoint: ``{"state_dict": {prefix + key: tensor}, "epoch": 0}``."""
    torch.save({"state_dict": {prefix + k: v for k, v in state.items()}, "epoch": 0}, path)
    return path


def gestsync_window_frames() -> np.ndarray:
    """Stage 5's window: (25, 270, 480, 3) uint8, rows 0..110 black."""
    frames = np.random.default_rng(6).integers(0, 256, size=(25, 270, 480, 3), dtype=np.uint8)
    frames[:, 0:111] = 0
    return frames


def gestsync_video_frames() -> np.ndarray:
    """Stage 6's video: (30, 270, 480, 3) uint8, already masked and resized."""
    frames = np.random.default_rng(7).integers(0, 256, size=(30, 270, 480, 3), dtype=np.uint8)
    frames[:, 0:111] = 0
    return frames


def bound(ref: np.ndarray) -> float:
    """The README's tolerance: 1e-5 of the reference array's largest magnitude, rtol 0."""
    return 1e-5 * float(np.abs(ref).max())
