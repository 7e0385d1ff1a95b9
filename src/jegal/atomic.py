"""Atomic file output: every file the project writes appears whole or not at all.

One mechanism for the whole package (docs/design.md section 8: "writes atomically, temp file + rename").
A writer gets a temporary path beside the target (same directory, so ``os.replace`` is a
rename on one file system; same suffix, so libraries that choose a format by extension, such
as PyAV, matplotlib or numpy, still do); the target is replaced only when the block finishes
without an exception, and the temporary file is removed when it does not. A reader therefore
never sees a half-written file, and a crashed or killed job leaves at most a hidden
``.NAME.tmpPID`` file behind, never a truncated output under the real name.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def _temp_beside(path: Path) -> Path:
    suffix = "".join(path.suffixes[-1:])
    return path.with_name(f".{path.name}.tmp{os.getpid()}{suffix}")


@contextmanager
def atomic_path(path: str | os.PathLike, replace: bool = True) -> Iterator[Path]:
    """Yield a temporary path to write ``path`` through; it becomes ``path`` when the block ends.

    >>> with atomic_path(out / "clip.mp4") as tmp:
    ...     write_video(frames, tmp)

    The parent directory is created. A directory may be written the same way (the yielded path
    does not exist yet); an existing directory at ``path`` is then replaced whole. With
    ``replace=False`` an existing ``path`` is kept and the new output discarded, decided by
    the rename itself, so of several processes building the same cache at once the first to
    finish wins and no reader ever sees the entry vanish."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_beside(path)
    _remove(tmp)
    try:
        yield tmp
        if not replace:
            _place_new(tmp, path)
        elif tmp.is_dir() and path.is_dir():
            old = path.with_name(f".{path.name}.old{os.getpid()}")
            _remove(old)
            os.replace(path, old)
            os.replace(tmp, path)
            _remove(old)
        else:
            os.replace(tmp, path)
    finally:
        _remove(tmp)


def _place_new(tmp: Path, path: Path) -> None:
    """Move ``tmp`` to ``path`` unless ``path`` exists (then ``tmp`` is left for removal)."""
    try:
        if tmp.is_dir():
            os.rename(tmp, path)  # POSIX: fails when path is a non-empty directory or a file
        else:
            os.link(tmp, path)  # fails when path exists, unlike os.replace
    except OSError:
        if not path.exists():
            raise


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns ``path``."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically; returns ``path``."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json_atomic(path: str | os.PathLike, obj: Any, indent: int | None = 2) -> Path:
    """Write ``obj`` as JSON (numpy scalars and arrays, paths converted) atomically; returns ``path``."""
    return write_text_atomic(path, json.dumps(obj, indent=indent, default=_json_default) + "\n")


def _json_default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, os.PathLike):
        return os.fspath(o)
    raise TypeError(f"{type(o).__name__} is not JSON serialisable")
