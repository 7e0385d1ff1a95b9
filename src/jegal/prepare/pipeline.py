"""The run of ``jegal prepare``: every input through the stages, in worker processes.

One input (an :class:`~jegal.perception.discover.Item`: a video, or precomputed
``<name>.kps.npz``, with its audio and transcript) is the unit of work. :class:`Preparer`
reads it through the perception stages (:class:`jegal.perception.reader.VideoReader`: files,
keypoints or people, audio, words read, aligned or recognised, optional rgb features; recognised
words are written to ``<out>/transcripts/<key>.txt``), then cuts its clips
(:mod:`~jegal.prepare.segment`).

It yields one tar, ``<out>/<key>.tar`` (written by :func:`jegal.data.shards.write_shard`),
and a status record ``<out>/status/<key>.json``. Both are written atomically, so a killed
job leaves nothing that looks finished, and a rerun skips inputs whose status says done.
``manifest.json`` (the shard list of :mod:`jegal.data.shards`) is rebuilt from the status
records at the end of every run, so jobs of ``--shard i/N`` can run in any order and the
last one to finish lists everything. A bad input never stops the run: its failure is
recorded with the ``reason`` of its exception type (:mod:`jegal.perception.errors`) and the
message; any other exception is recorded as ``error`` with its message and a short traceback.
"""

from __future__ import annotations

import io
import json
import logging
import os
import time
import traceback
import zlib
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from jegal.atomic import write_json_atomic
from jegal.data.clip import Clip
from jegal.data.shards import write_manifest, write_shard
from jegal.perception.asr import check_asr, needs_redo
from jegal.perception.discover import Item, discover
from jegal.perception.errors import UNEXPECTED, PrepareError
from jegal.perception.options import PrepareOptions
from jegal.perception.reader import ItemRead, VideoReader

log = logging.getLogger(__name__)


@dataclass
class ItemResult:
    """What happened to one input; written as ``status/<key>.json``."""

    name: str
    status: str  # done | failed | skipped
    reason: str = ""  # the failure's PrepareError.reason, or "error"
    message: str = ""
    clips: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    frames: int = 0
    people: int = 0
    shard: str = ""
    timings: dict = field(default_factory=dict)  # seconds per stage
    transcript: dict = field(default_factory=dict)  # source ("given" | "asr:<engine>"), path, sha1 of the words used


class Preparer(VideoReader):
    """One input through every stage: read (:class:`~jegal.perception.reader.VideoReader`), then cut
    into clips; holds the per-process models across inputs."""

    def prepare(self, item: Item) -> tuple[list[Clip], dict[str, np.ndarray], ItemResult]:
        """Clips of one item (not yet written), int16 raw audio per clip id (when asked), and
        the result record. Raises a :class:`~jegal.perception.errors.PrepareError` subclass for
        a bad input; the cheap checks (files, audio, transcript) come before any video is decoded."""
        from jegal.prepare.segment import cut_clips

        from jegal.perception.transcripts import say_unused_transcripts

        result = ItemResult(item.name, "done")
        # a transcript the user put beside the input but another one won: said on the terminal too
        result.warnings += say_unused_transcripts(item.video or item.keypoints, item.transcript)
        got = self.read(item, result.warnings, result.timings)
        # the status record's "decode": the audio's and the video's decoding together
        result.timings["decode"] = result.timings.pop("audio") + result.timings.get("decode", 0.0)
        result.transcript = got.transcript.record(self.out)
        result.frames = got.people.num_frames
        if item.keypoints is None:
            result.people = len(got.people.persons)
        t = time.perf_counter()
        clips, raw_audio = cut_clips(item, got.people, got.words, got.audio, self.options, result.warnings,
                                     got.features)
        for clip in clips:  # so training can filter or weight machine-made words
            clip.extra["transcript_source"] = got.transcript.source
        result.timings["clips"] = time.perf_counter() - t
        return clips, raw_audio, result


def write_item_shard(clips: list[Clip], path: Path, raw_audio: dict[str, np.ndarray] | None = None) -> list[str]:
    """:func:`jegal.data.shards.write_shard` (atomic), plus ``<key>.audio.npy``
    (int16, 16 kHz) members when ``raw_audio`` maps clip ids to waveforms."""
    extra = {}
    for clip_id, wave in (raw_audio or {}).items():
        buf = io.BytesIO()
        np.save(buf, wave, allow_pickle=False)
        extra[clip_id] = {"audio.npy": buf.getvalue()}
    return write_shard(clips, path, extra_members=extra)


def status_path(out: Path, item: Item) -> Path:
    return out / "status" / f"{item.key}.json"


def _read_status(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def is_done(out: Path, item: Item) -> bool:
    """Whether an earlier run finished ``item`` (status done, and its shard, if any, exists), and
    its words did not come from a machine transcript that has since been corrected or replaced."""
    status = _read_status(status_path(out, item))
    return bool(status) and status.get("status") == "done" and (
        not status.get("shard") or (out / status["shard"]).is_file()) and not needs_redo(status, item, out)


def _skipped(out: Path, item: Item) -> ItemResult:
    """An input finished by an earlier run (its status record says where its words came from)."""
    status = _read_status(status_path(out, item)) or {}
    return ItemResult(item.name, "skipped", transcript=status.get("transcript") or {})


def process_item(preparer: Preparer, item: Item, out: Path) -> ItemResult:
    """Prepare and write one item; every failure becomes a failed :class:`ItemResult`."""
    try:
        clips, raw_audio, result = preparer.prepare(item)
        t = time.perf_counter()
        if clips:
            result.shard = f"{item.key}.tar"
            result.clips = write_item_shard(clips, out / result.shard, raw_audio)
        result.timings["write"] = time.perf_counter() - t
    except PrepareError as err:
        result = ItemResult(item.name, "failed", err.reason, str(err))
    except Exception as err:  # one bad input must not stop a cluster job: recorded with its traceback
        log.debug("unexpected error on %s", item.name, exc_info=True)
        result = ItemResult(item.name, "failed", UNEXPECTED, f"{item.source}: {type(err).__name__}: {err}",
                            warnings=[traceback.format_exc(limit=3)])
    write_json_atomic(status_path(out, item), asdict(result))
    return result


_WORKER: Preparer | None = None


def _worker_init(options: dict, out: str) -> None:
    global _WORKER
    import cv2

    cv2.setNumThreads(1)
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    _WORKER = Preparer(PrepareOptions(**options), out)


def _worker_run(args: tuple[Item, str]) -> ItemResult:
    item, out = args
    return process_item(_WORKER, item, Path(out))


def rebuild_manifest(out: Path) -> Path:
    """``manifest.json`` from every done status record under ``out`` (sorted by shard name)."""
    entries = []
    for path in sorted((out / "status").glob("*.json")):
        status = _read_status(path)
        if status and status.get("status") == "done" and status.get("shard") and (out / status["shard"]).is_file():
            entries.append({"name": status["shard"], "clip_ids": status["clips"], "num_clips": len(status["clips"])})
    entries.sort(key=lambda e: e["name"])
    return write_manifest(out, entries)


def select_shard(items: list[Item], index: int, count: int) -> list[Item]:
    """The items of job ``index`` of ``count``: a stable hash of the name, so adding inputs
    does not move the others between jobs."""
    if not 0 <= index < count:
        raise ValueError(f"shard index {index} out of range for {count} shards")
    return [it for it in items if zlib.crc32(it.name.encode()) % count == index]


def run_prepare(input_path: str | os.PathLike, out: str | os.PathLike, options: PrepareOptions | None = None,
                shard: tuple[int, int] = (0, 1), workers: int = 1, progress: bool = True,
                tier: str | None = None) -> dict:
    """Prepare every item of ``input_path`` that belongs to job ``shard`` into ``out``; ``tier``:
    the words tier of every ``.eaf`` / ``.TextGrid`` transcript (``--tier``; a CSV's ``tier`` column wins).

    Returns (and writes to ``out/summary[-i-of-N].json``) a summary: counts of done,
    skipped (finished by an earlier run) and failed items, the clips written, and per
    failed item its reason tag and message. Raises :class:`~jegal.perception.errors.BadInput`
    when ``input_path`` itself is unusable."""
    from jegal.native_logs import progress_bar

    options = options or PrepareOptions()
    check_asr(options.asr, options.asr_model)  # a recogniser that cannot run stops the run before any input
    from jegal.perception.features import check_rgb_features

    check_rgb_features(options)  # so do feature weights that cannot be loaded
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    items = select_shard(discover(input_path, tier), *shard)
    todo = [it for it in items if not is_done(out, it)]
    results = [_skipped(out, it) for it in items if is_done(out, it)]
    bar = progress_bar(len(todo), "prepare", unit="video", disable=not progress)
    if workers > 1 and len(todo) > 1:
        import multiprocessing as mp

        ctx = mp.get_context("spawn")
        with ctx.Pool(min(workers, len(todo)), initializer=_worker_init, initargs=(asdict(options), str(out))) as pool:
            for res in pool.imap_unordered(_worker_run, [(it, str(out)) for it in todo]):
                results.append(res)
                bar.update()
    else:
        # One process does the work: let its pose threads use the cores the workers would have.
        preparer = Preparer(replace(options, threads=max(options.threads, workers)), out)
        try:
            for it in todo:
                results.append(process_item(preparer, it, out))
                bar.update()
        finally:
            preparer.close()
    bar.close()
    rebuild_manifest(out)
    results.sort(key=lambda r: r.name)
    summary = {
        "input": str(input_path), "out": str(out), "shard": f"{shard[0]}/{shard[1]}",
        "items": len(items),
        "done": sum(r.status == "done" for r in results),
        "skipped": sum(r.status == "skipped" for r in results),
        "failed": sum(r.status == "failed" for r in results),
        "clips": sum(len(r.clips) for r in results),
        "frames": sum(r.frames for r in results),
        "seconds": round(time.perf_counter() - t0, 3),
        # Finished inputs (done or skipped) by where their words came from: "given" or "asr:<engine>".
        "transcripts": dict(sorted(Counter(r.transcript.get("source", "") for r in results
                                           if r.status != "failed" and r.transcript).items())),
        "failures": [{"input": r.name, "reason": r.reason, "message": r.message} for r in results if r.status == "failed"],
        "warnings": [w for r in results for w in r.warnings],
    }
    name = "summary.json" if shard == (0, 1) else f"summary-{shard[0]}-of-{shard[1]}.json"
    write_json_atomic(out / name, summary)
    return summary


__all__ = ["ItemRead", "ItemResult", "Preparer", "is_done", "process_item", "rebuild_manifest", "run_prepare",
           "select_shard", "status_path", "write_item_shard"]
