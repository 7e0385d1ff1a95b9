"""The inputs of a video reader (``jegal prepare``, ``jegal.use``): which files make one unit of work, found by name.

An :class:`Item` is a video and/or precomputed keypoints (``<name>.kps.npz``) with the
files beside it: ``<name>.wav`` (the audio, winning over the container's track) and the
transcript (``<name>.txt``, ``.json``, ``.TextGrid``, ``.vtt``, ``.srt``, ``.eaf``, looked for in
that order, then language-tagged names such as ``<name>.en.vtt``:
:func:`jegal.perception.transcripts.transcripts_beside`). The input is a folder (searched
recursively), one file, or a CSV listing the files per item.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

from jegal.perception.errors import BadInput, MissingFile
from jegal.perception.transcripts import find_transcript, transcript_index

VIDEO_SUFFIXES = {".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".flv", ".wmv", ".ts", ".3gp"}
KPS_SUFFIX = ".kps.npz"


@dataclass
class Item:
    """One unit of work: a video and/or precomputed keypoints, with the files beside it."""

    name: str  # relative path without suffix: clip ids are "<name>/<track:05d>"
    video: Path | None = None
    keypoints: Path | None = None
    wav: Path | None = None
    transcript: Path | None = None
    speaker_id: str = ""
    tier: str | None = None  # the words tier of an .eaf / .TextGrid transcript (--tier), None: by the rule

    @property
    def key(self) -> str:
        """The name as one file name (``/`` -> ``__``): ``<key>.tar``, ``status/<key>.json``."""
        return self.name.replace("/", "__")

    @property
    def source(self) -> Path:
        return self.video or self.keypoints

    def check_files(self) -> None:
        """Raises :class:`~jegal.perception.errors.MissingFile` for a named file that does not exist."""
        for kind in ("video", "keypoints", "wav", "transcript"):
            path = getattr(self, kind)
            if path is not None and not Path(path).is_file():
                raise MissingFile(f"{path}: no such file (the {kind} of {self.name})")


def _beside(base: Path, suffixes) -> Path | None:
    for suffix in suffixes:
        cand = base.with_name(base.name + suffix)
        if cand.is_file():
            return cand
    return None


def _item_for(path: Path, root: Path, overrides: dict | None = None, tier: str | None = None,
              index: dict[str, list[str]] | None = None) -> Item:
    overrides = overrides or {}
    if path.name.endswith(KPS_SUFFIX):
        base = path.with_name(path.name[: -len(KPS_SUFFIX)])
        video, kps = None, path
    else:
        base = path.with_suffix("")
        video, kps = path, _beside(base, [KPS_SUFFIX])
    try:
        name = base.relative_to(root).as_posix()
    except ValueError:
        name = base.name
    return Item(name=name, video=overrides.get("video", video), keypoints=overrides.get("keypoints", kps),
                wav=overrides.get("wav", _beside(base, [".wav"])),
                transcript=overrides["transcript"] if "transcript" in overrides else find_transcript(path, index),
                speaker_id=overrides.get("speaker_id", ""), tier=overrides.get("tier", tier))


def _csv_items(path: Path, tier: str | None = None) -> list[Item]:
    """The items a CSV lists: a ``video`` or ``keypoints`` column, optional ``transcript``,
    ``wav``, ``keypoints``, ``speaker_id``, ``tier`` (the words tier of its ``.eaf`` / ``.TextGrid``,
    winning over ``tier``); relative paths from the CSV's folder; a cell :func:`jegal.csvcells.safe_cell`
    quoted is read as the text it was given."""
    from jegal.csvcells import unsafe_cell  # a list the project wrote quotes names such as "=x.mp4"

    root = path.parent
    with open(path, newline="", encoding="utf-8") as f:
        rows = [{k: unsafe_cell(v) if isinstance(v, str) else v for k, v in row.items()} for row in csv.DictReader(f)]
    items = []
    for lineno, row in enumerate(rows, start=2):
        main = row.get("video") or row.get("keypoints")
        if not main:
            raise BadInput(f"{path}:{lineno}: needs a 'video' or 'keypoints' column value")
        over = {k: (root / row[k]) for k in ("video", "keypoints", "wav", "transcript") if row.get(k)}
        for key in ("speaker_id", "tier"):
            if row.get(key):
                over[key] = row[key]
        items.append(_item_for(root / main, root, over, tier))
    return items


def _folder_items(root: Path, tier: str | None = None) -> list[Item]:
    """Every video under ``root``, and every ``.kps.npz`` without a video beside it."""
    items = []
    files = [p for p in sorted(root.rglob("*")) if p.is_file()]
    names: dict[Path, list[str]] = {}  # folder -> its files' names: each folder read once
    for path in files:
        names.setdefault(path.parent, []).append(path.name)
    listings = {folder: transcript_index(n) for folder, n in names.items()}
    for path in files:
        if path.suffix.lower() in VIDEO_SUFFIXES:
            items.append(_item_for(path, root, tier=tier, index=listings[path.parent]))
        elif path.name.endswith(KPS_SUFFIX):
            base = path.with_name(path.name[: -len(KPS_SUFFIX)])
            if not any(base.with_name(base.name + s).is_file() for s in VIDEO_SUFFIXES):
                items.append(_item_for(path, root, tier=tier, index=listings[path.parent]))
    return items


def discover(input_path: str | os.PathLike, tier: str | None = None) -> list[Item]:
    """Items of a folder (every video, plus ``.kps.npz`` files without a video), a CSV, or one file.
    ``tier``: every item's :attr:`Item.tier` (``--tier NAME``; a CSV's ``tier`` column wins).

    Items come back sorted by name, so ``--shard i/N`` splits the same way everywhere.
    Raises :class:`~jegal.perception.errors.BadInput` when ``input_path`` does not exist, a CSV
    row names no file, or two inputs share a name."""
    input_path = Path(input_path)
    if input_path.is_file() and input_path.suffix.lower() == ".csv":
        items = _csv_items(input_path, tier)
    elif input_path.is_dir():
        items = _folder_items(input_path, tier)
    elif input_path.is_file():
        items = [_item_for(input_path, input_path.parent, tier=tier)]
    else:
        raise BadInput(f"{input_path}: no such folder, video or CSV")
    names = [it.name for it in items]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise BadInput(f"{input_path}: several inputs share the names {sorted(dupes)}")
    return sorted(items, key=lambda it: it.name)
