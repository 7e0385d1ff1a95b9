"""Clips stored as WebDataset-compatible tar shards: the one writer and the one reader.

Format. One sample per clip; its members share the key (the clip id with '.' replaced by
'_', since WebDataset splits a member name into key and suffix at the first dot of its base
name) and are stored one after another:

- ``<key>.kps.npy``   (T, 56, 3) float16 normalised keypoints (layout: jegal.data.keypoints)
- ``<key>.mel.npy``   (4T, 80) float16 log-mel
- ``<key>.words.json`` list of {"text", "start", "end", "display"} (frames)
- ``<key>.meta.json`` {"clip_id", "speaker_id", "source", "num_frames", "fps", ...extra}
- optional ``<key>.rgb.npy`` (T, H, W, 3) uint8 and ``<key>.feat.npy`` (T, F) float16
- optional extra members a writer adds (``jegal prepare`` adds ``<key>.audio.npy``); readers
  ignore suffixes they do not know.

``.npy`` members are written with ``allow_pickle=False`` and read the same way. A shard
directory holds ``shard-000000.tar``, ... and ``manifest.json``
(``{"shards": [{"name", "clip_ids", "num_clips"}, ...], "num_clips"}``). Every file is written
through :mod:`jegal.atomic`, so a killed job never leaves a half-written shard that looks
finished.

Writing: :func:`write_shard` (one tar), :func:`write_shards` (numbered tars + manifest),
:func:`write_manifest`. Reading, in layers that every reader of the package uses:

- listing: :func:`list_shards`, :func:`index_shards` (sample keys per shard from the manifest,
  else from the tar headers: :func:`scan_keys`) -> :class:`ShardIndex`;
- streaming: :func:`iter_samples` yields ``(key, members)`` in file order; members of samples
  that are not wanted are never read (tar headers are skipped by seeking);
  :func:`read_samples` collects the wanted samples of one tar and says what damaged it;
- decoding: :func:`decode_clip` (members -> :class:`Clip`), :func:`load_clip` (+ validation);
- reporting: :func:`read_clip_list` returns the readable clips of a source plus a reason for
  every sample that could not be used, each reason starting with ``missing:``,
  ``unreadable:`` or ``invalid:`` (:func:`problem`); :func:`read_clips` is the strict reader
  that raises instead.

Why not the ``webdataset`` library. The tars are the format WebDataset reads, but its reader
does not serve how this project trains: training needs an epoch order that is a pure function
of (manifest, seed, epoch, rank), computed from the keys before any byte is read, so that a
run resumed at batch ``j`` gets exactly the batches an uninterrupted run would, whatever the
number of loader workers (``jegal.train.data``). ``webdataset`` splits the shard list
round-robin between nodes and workers (so the samples per rank depend on the shard sizes and a
batch's content on the worker count), shuffles decoded samples with a ``random.Random`` drawn
as they stream (a resume must re-read everything before it), and reads tars as a stream
(``tarfile`` mode ``r|*``), so it cannot seek past the samples a worker does not need. The
reader here is a small ``tarfile`` one, and the only one in the package.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jegal.atomic import atomic_path, write_json_atomic
from jegal.data.clip import Clip, ClipError
from jegal.data.words import Word
from jegal.timebase import FPS

MANIFEST = "manifest.json"


class ShardError(ValueError):
    """A shard or sample that cannot be read; the message names the shard and the sample."""


def clip_key(clip_id: str) -> str:
    """The tar key of a clip: its id with '.' replaced (WebDataset splits member names at the first dot)."""
    return clip_id.replace(".", "_")


def split_member(name: str) -> tuple[str, str]:
    """``dir/key.suffix.ext`` -> ``(dir/key, suffix.ext)``: keys end at the first dot of the base name."""
    base = name.rsplit("/", 1)[-1]
    dot = name.rfind("/") + 1 + base.find(".")
    return name[:dot], name[dot + 1 :]


# -- encoding ---------------------------------------------------------------------------------
def _npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


def encode_clip(clip: Clip) -> dict[str, bytes]:
    """The tar members of one clip, ``{suffix: bytes}``."""
    meta = {"clip_id": clip.clip_id, "speaker_id": clip.speaker_id, "source": clip.source,
            "num_frames": clip.num_frames, "fps": FPS, **clip.extra}
    members = {
        "kps.npy": _npy_bytes(np.asarray(clip.keypoints, dtype=np.float16)),
        "mel.npy": _npy_bytes(np.asarray(clip.mel, dtype=np.float16)),
        "words.json": json.dumps([w.to_json() for w in clip.words]).encode(),
        "meta.json": json.dumps(meta).encode(),
    }
    if clip.rgb is not None:
        members["rgb.npy"] = _npy_bytes(np.asarray(clip.rgb, dtype=np.uint8))
    if clip.features is not None:
        members["feat.npy"] = _npy_bytes(np.asarray(clip.features, dtype=np.float16))
    return members


def decode_clip(members: dict[str, bytes], where: str = "") -> Clip:
    """Inverse of :func:`encode_clip` (float16 arrays come back as float32); raises
    :class:`ShardError` naming ``where`` when a member is absent or cannot be decoded."""
    try:
        meta = json.loads(members["meta.json"])
        load = lambda name: np.load(io.BytesIO(members[name]), allow_pickle=False)  # noqa: E731
        clip = Clip(
            clip_id=meta.pop("clip_id"),
            keypoints=load("kps.npy").astype(np.float32),
            mel=load("mel.npy").astype(np.float32),
            words=[Word.from_json(w) for w in json.loads(members["words.json"])],
            speaker_id=meta.pop("speaker_id", ""),
            source=meta.pop("source", ""),
            rgb=load("rgb.npy") if "rgb.npy" in members else None,
            features=load("feat.npy").astype(np.float32) if "feat.npy" in members else None,
        )
        for k in ("num_frames", "fps"):
            meta.pop(k, None)
        clip.extra = meta
    except KeyError as err:
        raise ShardError(f"{where}: sample lacks member {err}") from None
    except (ValueError, TypeError, AttributeError, OSError) as err:  # JSONDecodeError is a ValueError
        raise ShardError(f"{where}: cannot decode sample ({err})") from None
    return clip


def load_clip(members: dict[str, bytes], where: str) -> Clip:
    """Decode and validate one sample; raises :class:`ShardError` (undecodable) or
    :class:`ClipError` (parts that do not fit together), naming ``where``."""
    return decode_clip(members, where).validate()


def problem(err: Exception) -> str:
    """The reported reason for a sample that raised ``err``: ``unreadable: ...`` for a
    :class:`ShardError`, ``invalid: ...`` for a :class:`ClipError` or other ``ValueError``."""
    return f"{'unreadable' if isinstance(err, ShardError) else 'invalid'}: {err}"


# -- writing ----------------------------------------------------------------------------------
def write_shard(clips: Iterable[Clip], path: str | os.PathLike,
                extra_members: dict[str, dict[str, bytes]] | None = None) -> list[str]:
    """Write clips into one tar at ``path`` atomically; returns the clip ids written.

    ``extra_members`` maps a clip id to additional ``{suffix: bytes}`` members (e.g. raw
    audio); readers ignore suffixes they do not know. Member times are 0 so that the same
    clips give the same bytes."""
    ids = []
    with atomic_path(path) as tmp, tarfile.open(tmp, "w") as tar:
        for clip in clips:
            key = clip_key(clip.clip_id)
            members = {**encode_clip(clip), **(extra_members or {}).get(clip.clip_id, {})}
            for suffix, data in members.items():
                info = tarfile.TarInfo(f"{key}.{suffix}")
                info.size, info.mtime, info.mode = len(data), 0, 0o644
                tar.addfile(info, io.BytesIO(data))
            ids.append(clip.clip_id)
    return ids


def write_shards(clips: Iterable[Clip], out_dir: str | os.PathLike, clips_per_shard: int = 500,
                 prefix: str = "shard") -> Path:
    """Write clips into numbered shards of ``clips_per_shard`` under ``out_dir`` plus
    ``manifest.json`` (written last, so a directory with a manifest is complete)."""
    out_dir = Path(out_dir)
    entries, batch = [], []

    def flush():
        name = f"{prefix}-{len(entries):06d}.tar"
        ids = write_shard(batch, out_dir / name)
        entries.append({"name": name, "clip_ids": ids, "num_clips": len(ids)})
        batch.clear()

    for clip in clips:
        batch.append(clip)
        if len(batch) >= clips_per_shard:
            flush()
    if batch:
        flush()
    write_manifest(out_dir, entries)
    return out_dir


def write_manifest(out_dir: str | os.PathLike, entries: list[dict]) -> Path:
    """Write ``out_dir/manifest.json`` for ``entries`` (``{"name", "clip_ids", "num_clips"}`` each)."""
    path = Path(out_dir) / MANIFEST
    write_json_atomic(path, {"shards": entries, "num_clips": sum(e["num_clips"] for e in entries)})
    return path


# -- listing ----------------------------------------------------------------------------------
@dataclass
class ShardIndex:
    """Every sample of a shard source: ``shards[i]`` holds the sample keys ``keys[i]`` in file order.
    A sample's global id is its position in the concatenation of ``keys``."""

    shards: list[Path]
    keys: list[list[str]]

    @property
    def num_samples(self) -> int:
        return sum(len(k) for k in self.keys)

    def offsets(self) -> np.ndarray:
        """``(num_shards + 1,)`` int64: global id of the first sample of each shard, then the total."""
        return np.concatenate([[0], np.cumsum([len(k) for k in self.keys])]).astype(np.int64)

    def without(self, keys: Collection[str]) -> "ShardIndex":
        """The same shards without the samples keyed ``keys`` (global ids renumber)."""
        return ShardIndex(self.shards, [[k for k in ks if k not in keys] for ks in self.keys])


def _manifest(source: Path) -> list[dict] | None:
    path = source / MANIFEST
    if not (source.is_dir() and path.is_file()):
        return None
    try:
        return json.loads(path.read_text())["shards"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ShardError(f"{path}: unreadable manifest ({err})") from None


def list_shards(source: str | os.PathLike) -> list[Path]:
    """Shard paths from a directory (manifest order, else sorted ``*.tar``) or a single tar."""
    source = Path(source)
    if source.is_file():
        return [source]
    if not source.is_dir():
        raise ShardError(f"{source}: no such shard file or directory")
    entries = _manifest(source)
    if entries is not None:
        return [source / e["name"] for e in entries]
    shards = sorted(source.glob("*.tar"))
    if not shards:
        raise ShardError(f"{source}: no .tar shards and no {MANIFEST}")
    return shards


def scan_keys(path: str | os.PathLike) -> list[str]:
    """Sample keys of one tar in file order, from its headers alone; raises :class:`ShardError`
    if the tar is damaged."""
    return [key for key, _ in iter_samples(path, wanted=())]


def index_shards(source: str | os.PathLike) -> ShardIndex:
    """The samples of a shard directory (its ``manifest.json``, else a header scan of every
    ``*.tar``) or of a single tar. A tar that has to be scanned and cannot be raises ShardError."""
    source = Path(source)
    shards = list_shards(source)
    entries = _manifest(source)
    if entries is not None:
        return ShardIndex(shards, [[clip_key(c) for c in e["clip_ids"]] for e in entries])
    return ShardIndex(shards, [scan_keys(s) for s in shards])


# -- streaming --------------------------------------------------------------------------------
def iter_samples(path: str | os.PathLike,
                 wanted: Collection[str] | None = None) -> Iterator[tuple[str, dict[str, bytes] | None]]:
    """``(key, members)`` per sample of one tar, in file order; ``members`` is ``{suffix: bytes}``.

    With ``wanted``, only those samples' members are read; every other sample comes as
    ``(key, None)`` and its bytes are skipped by seeking. A truncated or corrupt tar raises
    :class:`ShardError` (naming the tar) after yielding the samples before the damage (the
    sample being read when the damage is met is not yielded)."""
    path = Path(path)
    key: str | None = None
    members: dict[str, bytes] = {}
    try:
        with tarfile.open(path, "r") as tar:
            for info in tar:
                if not info.isfile():
                    continue
                k, suffix = split_member(info.name)
                if k != key and key is not None:
                    yield key, members if wanted is None or key in wanted else None
                    members = {}
                key = k
                if wanted is None or k in wanted:
                    members[suffix] = tar.extractfile(info).read()
    except (tarfile.TarError, OSError, EOFError) as err:
        raise ShardError(f"{path}: corrupt or truncated shard ({err})") from None
    if key is not None:
        yield key, members if wanted is None or key in wanted else None


def read_samples(path: str | os.PathLike,
                 wanted: Collection[str] | None = None) -> tuple[dict[str, dict[str, bytes]], str | None]:
    """The members of the ``wanted`` samples of one tar (all with None), by key in file order,
    and what damaged the tar (the :class:`ShardError` message; None when it read to the end).
    A wanted key absent from the result was either lost to that damage or is not in the tar
    (:func:`missing_reason`)."""
    got: dict[str, dict[str, bytes]] = {}
    try:
        for key, members in iter_samples(path, wanted):
            if members is not None:
                got[key] = members
    except ShardError as err:
        return got, str(err)
    return got, None


def missing_reason(path: str | os.PathLike, damage: str | None) -> str:
    """Why a sample listed for the tar ``path`` did not come out of :func:`read_samples`."""
    return f"missing: {damage}" if damage else f"missing: {path}: sample listed for this tar but absent from it"


# -- reading whole sources --------------------------------------------------------------------
def read_clips(source: str | os.PathLike) -> Iterator[Clip]:
    """Every clip of a shard directory or tar, in order, decoded (not validated). Strict:
    the first damaged shard or undecodable sample raises :class:`ShardError`."""
    for shard in list_shards(source):
        for key, members in iter_samples(shard):
            yield decode_clip(members, f"{shard}:{key}")


def read_clip_list(source: str | os.PathLike,
                   keys: Collection[str] | None = None) -> tuple[list[Clip], list[list[str]]]:
    """Every usable clip of a source (only the samples keyed ``keys`` when given), decoded and
    validated, in shard order, plus ``[key, reason]`` for each sample that could not be used
    (reasons: :func:`problem`, :func:`missing_reason`; a wanted key found nowhere is
    ``missing: not in SOURCE``). Shards that the manifest says hold none of ``keys`` are not
    opened. Without a manifest the keys a damaged tar lost after the damage are unknown: the
    loss is reported once, under the tar's path (and for each wanted key found nowhere)."""
    source = Path(source)
    shards = list_shards(source)
    entries = _manifest(source)
    listed = [[clip_key(c) for c in e["clip_ids"]] for e in entries] if entries is not None else None
    want = None if keys is None else set(keys)
    clips: list[Clip] = []
    skipped: list[list[str]] = []
    seen: set[str] = set()
    damages: list[str] = []
    for s, path in enumerate(shards):
        expected = None if listed is None else [k for k in listed[s] if want is None or k in want]
        if expected is not None and not expected:
            continue
        got, damage = read_samples(path, want if expected is None else set(expected))
        for key, members in got.items():
            seen.add(key)
            try:
                clips.append(load_clip(members, f"{path}:{key}"))
            except (ShardError, ClipError, ValueError) as err:
                skipped.append([key, problem(err)])
        if expected is not None:
            for key in expected:
                if key not in got:
                    seen.add(key)
                    skipped.append([key, missing_reason(path, damage)])
        elif damage:
            damages.append(damage)
            if want is None:
                skipped.append([str(path), f"missing: the samples after the damage ({damage})"])
    for key in sorted(want - seen) if want is not None else ():
        where = "damaged shards: " + "; ".join(damages) if damages else f"not in {source}"
        skipped.append([key, f"missing: {where}"])
    return clips, skipped
