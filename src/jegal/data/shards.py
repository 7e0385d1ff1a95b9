"""Clips stored as WebDataset tar shards, written atomically, with a manifest.

One sample per clip; members share the key (the clip id with '.' replaced, since
WebDataset splits keys at the first dot):

- ``<key>.kps.npy``   (T, 56, 3) float16 normalised keypoints (layout: jegal.data.keypoints)
- ``<key>.mel.npy``   (4T, 80) float16 log-mel
- ``<key>.words.json`` list of {"text", "start", "end", "display"}
- ``<key>.meta.json`` {"clip_id", "speaker_id", "source", "num_frames", "fps", ...extra}
- optional ``<key>.rgb.npy`` (T, H, W, 3) uint8 and ``<key>.feat.npy`` (T, F) float16

A shard directory holds ``shard-000000.tar``, ... and ``manifest.json`` listing each shard
with its clip ids. Shards are written to a temporary name and renamed, so a killed job
never leaves a half-written shard that looks finished.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from jegal.data.clip import Clip
from jegal.data.words import Word
from jegal.timebase import FPS

MANIFEST = "manifest.json"


class ShardError(ValueError):
    """A shard or sample that cannot be read; the message names the shard and the sample."""


def clip_key(clip_id: str) -> str:
    return clip_id.replace(".", "_")


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
    """Inverse of :func:`encode_clip`; raises :class:`ShardError` naming ``where``."""
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
    except (ValueError, OSError, json.JSONDecodeError) as err:
        raise ShardError(f"{where}: cannot decode sample ({err})") from None
    return clip


def write_shard(clips: Iterable[Clip], path: str | os.PathLike,
                extra_members: dict[str, dict[str, bytes]] | None = None) -> list[str]:
    """Write clips into one tar at ``path`` atomically; returns the clip ids written.

    ``extra_members`` maps a clip id to additional ``{suffix: bytes}`` members (e.g. raw
    audio); readers ignore suffixes they do not know."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    ids = []
    try:
        with tarfile.open(tmp, "w") as tar:
            for clip in clips:
                key = clip_key(clip.clip_id)
                members = {**encode_clip(clip), **(extra_members or {}).get(clip.clip_id, {})}
                for suffix, data in members.items():
                    info = tarfile.TarInfo(f"{key}.{suffix}")
                    info.size, info.mtime, info.mode = len(data), 0, 0o644
                    tar.addfile(info, io.BytesIO(data))
                ids.append(clip.clip_id)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return ids


def write_shards(clips: Iterable[Clip], out_dir: str | os.PathLike, clips_per_shard: int = 500,
                 prefix: str = "shard") -> Path:
    """Write clips into numbered shards under ``out_dir`` plus ``manifest.json``."""
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
    out_dir = Path(out_dir)
    manifest = {"shards": entries, "num_clips": sum(e["num_clips"] for e in entries)}
    write_json_atomic(out_dir / MANIFEST, manifest)
    return out_dir / MANIFEST


def write_json_atomic(path: str | os.PathLike, obj) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(obj, indent=2))
    os.replace(tmp, path)


def list_shards(source: str | os.PathLike) -> list[Path]:
    """Shard paths from a directory (manifest order, else sorted ``*.tar``) or a single tar."""
    source = Path(source)
    if source.is_file():
        return [source]
    if not source.is_dir():
        raise ShardError(f"{source}: no such shard file or directory")
    manifest = source / MANIFEST
    if manifest.exists():
        return [source / e["name"] for e in json.loads(manifest.read_text())["shards"]]
    shards = sorted(source.glob("*.tar"))
    if not shards:
        raise ShardError(f"{source}: no .tar shards and no {MANIFEST}")
    return shards


def iter_shard_samples(path: str | os.PathLike) -> Iterator[tuple[str, dict[str, bytes]]]:
    """``(key, members)`` per sample of one tar, in file order. A truncated or corrupt
    tar raises :class:`ShardError` after yielding the samples before the damage."""
    path = Path(path)
    key, members = None, {}
    try:
        with tarfile.open(path, "r") as tar:
            for info in tar:
                if not info.isfile():
                    continue
                base = info.name.rsplit("/", 1)[-1]
                dot = info.name.rfind("/") + 1 + base.find(".")
                k, suffix = info.name[:dot], info.name[dot + 1 :]
                if k != key and members:
                    yield key, members
                    members = {}
                key = k
                members[suffix] = tar.extractfile(info).read()
    except (tarfile.TarError, OSError, EOFError) as err:
        raise ShardError(f"{path}: corrupt or truncated shard ({err})") from None
    if members:
        yield key, members


def read_clips(source: str | os.PathLike) -> Iterator[Clip]:
    """Every clip of a shard directory or tar, in order. Errors propagate as ShardError."""
    for shard in list_shards(source):
        for key, members in iter_shard_samples(shard):
            yield decode_clip(members, f"{shard}:{key}")
