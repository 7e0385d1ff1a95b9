"""The whole of ``jegal prepare``: inputs -> per-person clips -> WebDataset shards.

One input (a video, or precomputed ``<name>.kps.npz``, with its audio and transcript) is
the unit of work. It yields one tar, ``<out>/<key>.tar`` holding one clip per person
track (split at scene cuts and into segments of at most ``max_frames``), and a status
record ``<out>/status/<key>.json``. Both are written to temporary names and renamed, so a
killed job leaves nothing that looks finished, and a rerun skips inputs whose status says
done. ``manifest.json`` (the shard list of :mod:`jegal.data.shards`) is rebuilt from the
status records at the end of every run, so jobs of ``--shard i/N`` can run in any order
and the last one to finish lists everything. A bad input never stops the run: its
failure is recorded with a reason tag (see :data:`FAILURE_REASONS`) and a message.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import time
import traceback
import zlib
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from jegal.data.clip import Clip
from jegal.data.keypoints import LEFT_SHOULDER, RIGHT_SHOULDER, normalise
from jegal.data.shards import MANIFEST, write_json_atomic, write_manifest, write_shard
from jegal.data.transcripts import TranscriptError
from jegal.data.words import Word
from jegal.prepare.errors import PrepareError
from jegal.timebase import FPS, SAMPLES_PER_FRAME

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = {".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".flv", ".wmv", ".ts", ".3gp"}
KPS_SUFFIX = ".kps.npz"
FAILURE_REASONS = {
    "missing_file": "a file the CSV names does not exist",
    "corrupt_video": "the video cannot be opened or decoded (damaged or truncated file)",
    "no_video": "the file has no video stream",
    "no_audio": "no audio track and no <name>.wav beside the video",
    "bad_audio": "the <name>.wav cannot be read",
    "no_person": "no person was found (no face track long enough, or no body in it)",
    "no_transcript": "no <name>.txt/.json/.TextGrid beside the input",
    "empty_transcript": "the transcript has no words",
    "bad_transcript": "the transcript cannot be parsed",
    "transcript_too_long": "the transcript runs past the end of the media (wrong transcript?)",
    "unalignable": "forced alignment failed, or a word has no pronunciation",
    "bad_keypoints": "the .kps.npz cannot be read or mapped onto the keypoint layout",
    "error": "an unexpected error (a bug: please report it with the message)",
}


@dataclass
class PrepareOptions:
    """Every knob of ``jegal prepare``; each CLI flag maps onto one field."""

    max_side: int = 640  # decode frames no larger than this (pixels, longer side)
    rgb_size: int | None = None  # also store face-masked rgb crops of this size
    raw_audio: bool = False  # also store the 16 kHz waveform (int16) per clip
    min_activity: float = 0.0  # drop clips whose gesture-activity score is lower
    max_frames: int = 750  # split longer tracks into segments of at most this many frames
    min_frames: int = 25  # shortest person track / segment kept
    scene_threshold: float = 0.15
    detect_stride: int = 2  # face detection on every k-th frame; tracking interpolates (boxes move < 0.5 px)
    hands: str = "auto"  # auto | always | never
    crop_side: int = 320
    hand_stride: int = 1  # run the hand model on every k-th frame, interpolate between
    max_overhang_s: float = 1.0
    chunk_frames: int = 750  # decode and track this many frames at a time (bounds memory)
    threads: int = 1  # pose threads within one video (mediapipe releases the GIL); parts of a track run in parallel


@dataclass
class Item:
    """One unit of work: a video and/or precomputed keypoints, with the files beside it."""

    name: str  # relative path without suffix: clip ids are "<name>/<track:05d>"
    video: Path | None = None
    keypoints: Path | None = None
    wav: Path | None = None
    transcript: Path | None = None
    speaker_id: str = ""

    @property
    def key(self) -> str:
        return self.name.replace("/", "__")

    @property
    def source(self) -> Path:
        return self.video or self.keypoints


@dataclass
class ItemResult:
    name: str
    status: str  # done | failed | skipped
    reason: str = ""
    message: str = ""
    clips: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    frames: int = 0
    people: int = 0
    shard: str = ""
    timings: dict = field(default_factory=dict)


# ---------------------------------------------------------------- inputs


def _beside(base: Path, suffixes) -> Path | None:
    for suffix in suffixes:
        cand = base.with_name(base.name + suffix)
        if cand.is_file():
            return cand
    return None


def _item_for(path: Path, root: Path, overrides: dict | None = None) -> Item:
    from jegal.prepare.transcripts import TRANSCRIPT_SUFFIXES

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
                transcript=overrides.get("transcript", _beside(base, TRANSCRIPT_SUFFIXES)),
                speaker_id=overrides.get("speaker_id", ""))


def discover(input_path: str | os.PathLike) -> list[Item]:
    """Items of a folder (every video, plus ``.kps.npz`` files without a video) or a CSV.

    The CSV has a ``video`` column (or ``keypoints``) and optional ``transcript``, ``wav``,
    ``keypoints``, ``speaker_id`` columns; relative paths are relative to the CSV's folder.
    Items come back sorted by name, so ``--shard i/N`` splits the same way everywhere."""
    input_path = Path(input_path)
    items: list[Item] = []
    if input_path.is_file() and input_path.suffix.lower() == ".csv":
        root = input_path.parent
        with open(input_path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        for lineno, row in enumerate(rows, start=2):
            main = row.get("video") or row.get("keypoints")
            if not main:
                raise PrepareError("bad_input", f"{input_path}:{lineno}: needs a 'video' or 'keypoints' column value")
            over = {k: (root / row[k]) for k in ("video", "keypoints", "wav", "transcript") if row.get(k)}
            if row.get("speaker_id"):
                over["speaker_id"] = row["speaker_id"]
            items.append(_item_for(root / main, root, over))
    elif input_path.is_dir():
        for path in sorted(input_path.rglob("*")):
            if not path.is_file():
                continue
            if path.suffix.lower() in VIDEO_SUFFIXES:
                items.append(_item_for(path, input_path))
            elif path.name.endswith(KPS_SUFFIX):
                base = path.with_name(path.name[: -len(KPS_SUFFIX)])
                if not any(base.with_name(base.name + s).is_file() for s in VIDEO_SUFFIXES):
                    items.append(_item_for(path, input_path))
    elif input_path.is_file():
        items.append(_item_for(input_path, input_path.parent))
    else:
        raise PrepareError("bad_input", f"{input_path}: no such folder, video or CSV")
    names = [it.name for it in items]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise PrepareError("bad_input", f"{input_path}: several inputs share the names {sorted(dupes)}")
    return sorted(items, key=lambda it: it.name)


def select_shard(items: list[Item], index: int, count: int) -> list[Item]:
    """The items of job ``index`` of ``count``: a stable hash of the name, so adding inputs
    does not move the others between jobs."""
    if not 0 <= index < count:
        raise ValueError(f"shard index {index} out of range for {count} shards")
    return [it for it in items if zlib.crc32(it.name.encode()) % count == index]


# ---------------------------------------------------------------- one item


def _split(start: int, end: int, max_frames: int) -> list[tuple[int, int]]:
    """[start, end] inclusive into near-equal segments of at most ``max_frames``."""
    n = end - start + 1
    parts = max(1, math.ceil(n / max_frames))
    edges = np.linspace(start, end + 1, parts + 1).round().astype(int)
    return [(int(a), int(b) - 1) for a, b in zip(edges[:-1], edges[1:])]


def drop_duplicate_people(raw: list[np.ndarray], starts: list[int], scores: list[float]) -> list[int]:
    """Indices of tracks to keep: of two tracks that overlap in time and whose bodies sit
    in the same place (shoulder midpoints within half a shoulder width), only the one with
    the higher face score survives (a false face on a shirt gives the same body)."""
    keep = list(range(len(raw)))
    order = sorted(keep, key=lambda i: -scores[i])
    kept: list[int] = []
    for i in order:
        dup = False
        for j in kept:
            lo, hi = max(starts[i], starts[j]), min(starts[i] + len(raw[i]), starts[j] + len(raw[j]))
            if hi <= lo:
                continue
            a, b = raw[i][lo - starts[i]:hi - starts[i]], raw[j][lo - starts[j]:hi - starts[j]]
            seen = (a[:, [LEFT_SHOULDER, RIGHT_SHOULDER], 2].min(1) > 0.3) & (b[:, [LEFT_SHOULDER, RIGHT_SHOULDER], 2].min(1) > 0.3)
            if not seen.any():
                continue
            mid_a = a[seen][:, [LEFT_SHOULDER, RIGHT_SHOULDER], :2].mean(1)
            mid_b = b[seen][:, [LEFT_SHOULDER, RIGHT_SHOULDER], :2].mean(1)
            width = np.linalg.norm(a[seen][:, LEFT_SHOULDER, :2] - a[seen][:, RIGHT_SHOULDER, :2], axis=-1)
            if np.median(np.linalg.norm(mid_a - mid_b, axis=-1) / np.maximum(width, 1e-6)) < 0.5:
                dup = True
                break
        if not dup:
            kept.append(i)
    return sorted(kept)


class Preparer:
    """Holds the per-process models (face detector, pose estimator) across items."""

    def __init__(self, options: PrepareOptions | None = None):
        self.options = options or PrepareOptions()
        self._faces = None
        self._poses: list = []
        self._scale = 1.0  # decoded frame size / source size of the current video

    def close(self) -> None:
        for m in [self._faces, *self._poses]:
            if m is not None:
                m.close()
        self._faces, self._poses = None, []

    def _models(self):
        from jegal.prepare.people import FaceDetector
        from jegal.prepare.pose import PoseEstimator

        if self._faces is None:
            self._faces = FaceDetector()
            self._poses = [PoseEstimator(crop_side=self.options.crop_side, hands=self.options.hands,
                                         hand_stride=self.options.hand_stride)
                           for _ in range(max(1, self.options.threads))]
        return self._faces, self._poses

    def _keypoints(self, frames: np.ndarray, tracks: list, bodies: list[np.ndarray]) -> list[np.ndarray]:
        """Raw keypoints per track. With several pose estimators, each track is cut into
        contiguous parts run in parallel threads (each part restarts pose tracking, which
        costs one extra person detection per part)."""
        _, poses = self._models()
        jobs = []  # (track index, offset in track, length)
        for k, tr in enumerate(tracks):
            parts = max(1, min(len(poses), tr.num_frames // 50))
            edges = np.linspace(0, tr.num_frames, parts + 1).round().astype(int)
            jobs += [(k, int(a), int(b - a)) for a, b in zip(edges[:-1], edges[1:])]
        if len(poses) == 1 or len(jobs) == 1:
            outs = [poses[0].track(frames, bodies[k][a:a + n], tracks[k].start + a) for k, a, n in jobs]
        else:
            import queue
            from concurrent.futures import ThreadPoolExecutor

            free: queue.Queue = queue.Queue()
            for p in poses:
                free.put(p)

            def work(job):
                k, a, n = job
                est = free.get()
                try:
                    return est.track(frames, bodies[k][a:a + n], tracks[k].start + a)
                finally:
                    free.put(est)

            with ThreadPoolExecutor(len(poses)) as ex:
                outs = list(ex.map(work, jobs))
        raws = [[] for _ in tracks]
        for (k, _, _), kp in zip(jobs, outs):
            raws[k].append(kp)
        return [np.concatenate(parts) for parts in raws]

    def words_for(self, item: Item, audio: np.ndarray) -> list[Word]:
        """The item's words, read or force-aligned; a transcript running past the audio fails early."""
        from jegal.prepare.align import align_words
        from jegal.prepare.transcripts import read_transcript

        if item.transcript is None:
            raise PrepareError("no_transcript", f"{item.source}: no transcript (.txt, .json or .TextGrid) beside it")
        try:
            tr = read_transcript(item.transcript)
        except TranscriptError as err:
            reason = "empty_transcript" if ("empty" in str(err) or "no words" in str(err)) else "bad_transcript"
            raise PrepareError(reason, str(err)) from None
        if tr.words is None:
            try:
                return align_words(audio, tr.plain, str(item.transcript))
            except TranscriptError as err:
                reason = "transcript_too_long" if "longer than the media" in str(err) else "unalignable"
                raise PrepareError(reason, str(err)) from None
        self._fit(tr.words, int(np.ceil(len(audio) / SAMPLES_PER_FRAME)), str(item.transcript))
        return tr.words

    def _fit(self, words: list[Word], num_frames: int, source: str) -> tuple[list[Word], list[str]]:
        """Words inside the media plus warnings for those dropped; too long a transcript fails."""
        from jegal.prepare.transcripts import fit_to_media

        try:
            return fit_to_media(words, num_frames, source, self.options.max_overhang_s)
        except TranscriptError as err:
            raise PrepareError("transcript_too_long", str(err)) from None

    def prepare(self, item: Item) -> tuple[list[Clip], dict, ItemResult]:
        """Clips of one item (not yet written), raw audio per clip id (when asked), and the result record."""
        from jegal.data.audio import log_mel
        from jegal.prepare.activity import activity_score
        from jegal.prepare.decode import check_audio_fits, load_audio_for

        opts = self.options
        for kind in ("video", "keypoints", "wav", "transcript"):
            path = getattr(item, kind)
            if path is not None and not Path(path).is_file():
                raise PrepareError("missing_file", f"{path}: no such file (the {kind} of {item.name})")
        result = ItemResult(item.name, "done")
        t0 = time.perf_counter()
        if item.keypoints is not None:
            from jegal.prepare.importers import load_keypoints_npz

            raw_kp = load_keypoints_npz(item.keypoints)
            if item.wav is None and item.video is None:
                raise PrepareError("no_audio", f"{item.keypoints}: no {Path(item.name).name}.wav beside it")
        audio = load_audio_for(item.video, item.wav)
        result.timings["decode"] = time.perf_counter() - t0
        t = time.perf_counter()
        words = self.words_for(item, audio)
        result.timings["transcript"] = time.perf_counter() - t
        if item.keypoints is not None:
            num_frames = len(raw_kp)
            no_box = np.zeros((num_frames, 4), np.float32)
            persons = [[_Part(0, raw_kp, no_box, no_box, None, 1.0)]]
        else:
            persons, num_frames = self._people(item, result)
            check_audio_fits(item.video, num_frames, audio)
        result.frames = num_frames
        words, warnings = self._fit(words, num_frames, str(item.transcript))
        result.warnings += warnings
        t1 = time.perf_counter()
        mel = log_mel(audio, num_frames=num_frames)  # (4T, 80)
        clips, raw_audio = [], {}
        for track_id, parts in enumerate(persons):
            start, kp_raw, faces, rgb_all = _join_parts(parts)
            kp = normalise(kp_raw)
            segments = _split(start, start + len(kp_raw) - 1, opts.max_frames)
            for seg_no, (s, e) in enumerate(segments):
                if e - s + 1 < opts.min_frames:
                    continue
                clip_id = f"{item.name}/{track_id:05d}" + (f"-{seg_no:03d}" if len(segments) > 1 else "")
                seg_words = [w.shifted(s) for w in words if w.start >= s and w.end <= e]
                if not seg_words:
                    result.warnings.append(f"{clip_id}: no word inside frames {s}-{e}; clip skipped")
                    continue
                seg_kp = kp[s - start:e - start + 1]
                score = activity_score(seg_kp)
                if score < opts.min_activity:
                    result.warnings.append(f"{clip_id}: activity {score:.3f} below --min-activity {opts.min_activity}; clip skipped")
                    continue
                rgb = None if rgb_all is None else rgb_all[s - start:e - start + 1]
                extra = {"track": track_id, "start_frame": s, "activity": round(score, 4)}
                if item.keypoints is None:
                    # Where the person is in the source video (pixels), e.g. to draw who speaks.
                    box = np.median(faces[s - start:e - start + 1], axis=0) / self._scale
                    extra["face_box"] = [round(float(v), 1) for v in box]
                clip = Clip(clip_id, seg_kp, mel[4 * s:4 * (e + 1)], seg_words,
                            speaker_id=item.speaker_id or f"{item.name}/{track_id:05d}", source=str(item.source),
                            rgb=rgb, extra=extra)
                clips.append(clip.validate())
                if opts.raw_audio:
                    seg = np.zeros((e - s + 1) * SAMPLES_PER_FRAME, np.float32)
                    piece = audio[s * SAMPLES_PER_FRAME:(e + 1) * SAMPLES_PER_FRAME]
                    seg[:len(piece)] = piece
                    raw_audio[clip_id] = (np.clip(seg, -1, 1) * 32767).astype(np.int16)
        result.timings["clips"] = time.perf_counter() - t1
        return clips, raw_audio, result

    def _people(self, item: Item, result: ItemResult) -> tuple[list[list[_Part]], int]:
        """Decode the video chunk by chunk and follow every person through it. Returns the
        parts of each person (in order of first appearance) and the number of frames."""
        from jegal.prepare.decode import iter_video

        opts = self.options
        persons: list[list[_Part]] = []
        offset, prev_frame = 0, None
        for key in ("decode", "detect", "keypoints"):
            result.timings.setdefault(key, 0.0)
        info: dict = {}
        chunks = iter_video(item.video, max_side=opts.max_side, chunk_frames=opts.chunk_frames, info=info)
        while True:
            t = time.perf_counter()
            chunk = next(chunks, None)
            result.timings["decode"] += time.perf_counter() - t
            if chunk is None:
                break
            parts, cut_at_start = self._people_chunk(chunk, offset, prev_frame, result)
            _link(persons, parts, offset, linkable=not cut_at_start, max_gap=self._max_gap)
            offset += len(chunk)
            prev_frame = chunk[-1]
        self._scale = info.get("scale", 1.0)
        persons = [ps for ps in persons if ps[-1].end - ps[0].start + 1 >= opts.min_frames]
        if not persons:
            raise PrepareError("no_person", f"{item.video}: no person found in {offset} frames")
        result.people = len(persons)
        return persons, offset

    @property
    def _max_gap(self) -> int:
        return max(8, 2 * self.options.detect_stride)

    def _people_chunk(self, frames: np.ndarray, offset: int, prev_frame: np.ndarray | None,
                      result: ItemResult) -> tuple[list[_Part], bool]:
        """Person parts of one chunk (frame indices global) and whether a scene cut opens it."""
        from jegal.prepare.people import detect_faces, scene_cuts, track_faces

        opts = self.options
        faces_model, _ = self._models()
        t = time.perf_counter()
        detections = detect_faces(frames, faces_model, stride=opts.detect_stride)
        if prev_frame is None:
            cuts, cut_at_start = scene_cuts(frames, opts.scene_threshold), True
        else:
            shifted = scene_cuts(np.concatenate([prev_frame[None], frames]), opts.scene_threshold)
            cut_at_start = 1 in shifted
            cuts = [0] + [c - 1 for c in shifted if c > 1]
        # Short tracks survive where they touch the chunk's edges: they may continue in the
        # neighbouring chunk (people shorter than min_frames overall are dropped after linking).
        tracks = [tr for tr in track_faces(detections, cuts, min_frames=1, max_gap=self._max_gap)
                  if tr.num_frames >= opts.min_frames or tr.start == 0 or tr.end == len(frames) - 1]
        result.timings["detect"] += time.perf_counter() - t
        t = time.perf_counter()
        bodies = [tr.body_boxes(frames.shape[1:3]) for tr in tracks]
        raws = self._keypoints(frames, tracks, bodies)
        result.timings["keypoints"] += time.perf_counter() - t
        kept = drop_duplicate_people(raws, [tr.start for tr in tracks], [float(tr.scores.mean()) for tr in tracks])
        parts = []
        for i in kept:
            tr, raw = tracks[i], raws[i]
            body_seen = (raw[:, [LEFT_SHOULDER, RIGHT_SHOULDER], 2].min(1) > 0.3).mean()
            if body_seen < 0.5:
                result.warnings.append(f"{result.name}: face track at frames {offset + tr.start}-{offset + tr.end}: "
                                       f"body found in only {body_seen:.0%} of its frames; dropped")
                continue
            rgb = None
            if opts.rgb_size:
                from jegal.prepare.masking import masked_crops

                rgb = masked_crops(frames, bodies[i], tr.faces, opts.rgb_size, start=tr.start)
            parts.append(_Part(offset + tr.start, raw, tr.faces, bodies[i], rgb, float(tr.scores.mean())))
        return parts, cut_at_start


@dataclass
class _Part:
    """One person's stretch inside one decoded chunk; frame indices are global."""

    start: int
    raw: np.ndarray  # (n, 56, 3) keypoints in decoded-frame pixels
    faces: np.ndarray  # (n, 4)
    bodies: np.ndarray  # (n, 4)
    rgb: np.ndarray | None  # (n, S, S, 3)
    score: float

    @property
    def end(self) -> int:
        return self.start + len(self.raw) - 1


def _link(persons: list[list[_Part]], parts: list[_Part], offset: int, linkable: bool, max_gap: int,
          max_jump: float = 1.0) -> None:
    """Append each part of a new chunk to the person it continues (a part that starts near
    the chunk start, close to where a person's last part ended near the previous chunk's
    end, with no scene cut between), or start a new person."""
    from scipy.optimize import linear_sum_assignment

    open_ids = [p for p, ps in enumerate(persons) if linkable and ps[-1].end >= offset - 1 - max_gap]
    new = [k for k, part in enumerate(parts) if linkable and part.start <= offset + max_gap]
    taken: dict[int, int] = {}
    if open_ids and new:
        last = np.stack([persons[p][-1].faces[-1] for p in open_ids])
        first = np.stack([parts[k].faces[0] for k in new])
        lc, fc = (last[:, :2] + last[:, 2:]) / 2, (first[:, :2] + first[:, 2:]) / 2
        width = np.maximum(last[:, 2] - last[:, 0], 1e-6)
        dist = np.linalg.norm(lc[:, None] - fc[None], axis=-1) / width[:, None]
        cost = np.where(dist <= max_jump, dist, 1e6)
        for r, c in zip(*linear_sum_assignment(cost)):
            if cost[r, c] < 1e6:
                taken[new[c]] = open_ids[r]
    for k, part in enumerate(parts):
        if k in taken:
            persons[taken[k]].append(part)
        else:
            persons.append([part])


def _join_parts(parts: list[_Part]) -> tuple[int, np.ndarray, np.ndarray, np.ndarray | None]:
    """One person's parts as one track: start, raw keypoints, faces, rgb. Frames between
    linked parts (a detection gap at a chunk boundary) get missing keypoints, the nearest
    face box and blank crops."""
    if len(parts) == 1:
        p = parts[0]
        return p.start, p.raw, p.faces, p.rgb
    raws, faces, rgbs = [], [], []
    for a, b in zip(parts, parts[1:] + [None]):
        raws.append(a.raw)
        faces.append(a.faces)
        rgbs.append(a.rgb)
        gap = 0 if b is None else b.start - a.end - 1
        if gap > 0:
            raws.append(np.zeros((gap,) + a.raw.shape[1:], np.float32))
            faces.append(np.repeat(a.faces[-1:], gap, axis=0))
            if a.rgb is not None:
                rgbs.append(np.zeros((gap,) + a.rgb.shape[1:], np.uint8))
    rgb = None if parts[0].rgb is None else np.concatenate(rgbs)
    return parts[0].start, np.concatenate(raws), np.concatenate(faces), rgb


# ---------------------------------------------------------------- writing


def write_item_shard(clips: list[Clip], path: Path, raw_audio: dict | None = None) -> list[str]:
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


def is_done(out: Path, item: Item) -> bool:
    path = status_path(out, item)
    if not path.is_file():
        return False
    try:
        status = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return False
    return status.get("status") == "done" and (not status.get("shard") or (out / status["shard"]).is_file())


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
    except Exception as err:  # noqa: BLE001 - one bad input must not stop a cluster job; recorded with its traceback
        log.debug("unexpected error on %s", item.name, exc_info=True)
        result = ItemResult(item.name, "failed", "error", f"{item.source}: {type(err).__name__}: {err}",
                            warnings=[traceback.format_exc(limit=3)])
    write_json_atomic(status_path(out, item), asdict(result))
    return result


_WORKER: Preparer | None = None


def _worker_init(options: dict) -> None:
    global _WORKER
    import cv2

    cv2.setNumThreads(1)
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    _WORKER = Preparer(PrepareOptions(**options))


def _worker_run(args: tuple[Item, str]) -> ItemResult:
    item, out = args
    return process_item(_WORKER, item, Path(out))


def rebuild_manifest(out: Path) -> Path:
    """``manifest.json`` from every done status record under ``out`` (sorted by shard name)."""
    entries = []
    for path in sorted((out / "status").glob("*.json")):
        try:
            status = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if status.get("status") == "done" and status.get("shard") and (out / status["shard"]).is_file():
            entries.append({"name": status["shard"], "clip_ids": status["clips"], "num_clips": len(status["clips"])})
    entries.sort(key=lambda e: e["name"])
    return write_manifest(out, entries)


def run_prepare(input_path: str | os.PathLike, out: str | os.PathLike, options: PrepareOptions | None = None,
                shard: tuple[int, int] = (0, 1), workers: int = 1, progress: bool = True) -> dict:
    """Prepare every item of ``input_path`` that belongs to job ``shard`` into ``out``.

    Returns (and writes to ``out/summary[-i-of-N].json``) a summary: counts of done,
    skipped (finished by an earlier run) and failed items, the clips written, and per
    failed item its reason tag and message."""
    from tqdm import tqdm

    options = options or PrepareOptions()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    items = select_shard(discover(input_path), *shard)
    todo = [it for it in items if not is_done(out, it)]
    results = [ItemResult(it.name, "skipped") for it in items if is_done(out, it)]
    bar = tqdm(total=len(todo), desc="prepare", unit="video", disable=not progress)
    if workers > 1 and len(todo) > 1:
        import multiprocessing as mp

        ctx = mp.get_context("spawn")
        with ctx.Pool(min(workers, len(todo)), initializer=_worker_init, initargs=(asdict(options),)) as pool:
            for res in pool.imap_unordered(_worker_run, [(it, str(out)) for it in todo]):
                results.append(res)
                bar.update()
    else:
        # One process does the work: let its pose threads use the cores the workers would have.
        preparer = Preparer(replace(options, threads=max(options.threads, workers)))
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
        "failures": [{"input": r.name, "reason": r.reason, "message": r.message} for r in results if r.status == "failed"],
        "warnings": [w for r in results for w in r.warnings],
    }
    name = "summary.json" if shard == (0, 1) else f"summary-{shard[0]}-of-{shard[1]}.json"
    write_json_atomic(out / name, summary)
    return summary


__all__ = ["PrepareOptions", "Item", "ItemResult", "Preparer", "discover", "select_shard", "process_item",
           "run_prepare", "rebuild_manifest", "write_item_shard", "FAILURE_REASONS", "MANIFEST", "FPS"]
