"""Steps 2-4 over a whole video: every person followed from the first frame to the last.

The video is decoded chunk by chunk (``--chunk-frames``, so memory stays bounded however
long it is). In each chunk faces are detected and tracked (:mod:`jegal.perception.people`),
each track is posed (:mod:`jegal.perception.pose`; a long track is cut into parts posed in
parallel threads), of two tracks whose bodies coincide only the stronger is kept
(:func:`drop_duplicate_people`: a false face on a shirt gives the same body), a track
whose shoulders are rarely seen is dropped, and each remaining track becomes a
:class:`Part`. Parts are linked across chunk edges into persons (:func:`link_parts`) and a
person's parts become one track (:func:`join_parts`), frames between them missing.

:class:`PeopleTracker` owns the mediapipe models (a face detector and a pose estimator per
thread) for as long as a worker process lives; nothing is loaded until the first video.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np

from jegal.data.keypoints import LEFT_SHOULDER, RIGHT_SHOULDER
from jegal.perception.errors import NoPerson
from jegal.perception.options import PrepareOptions

# A body counts as seen in a frame where both shoulders have at least this confidence.
SHOULDER_SEEN = 0.3


@dataclass
class Part:
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


@dataclass
class People:
    """Everyone in one input: each person's parts (in order of first appearance), the
    number of frames, and decoded frame size / source size (to give boxes in source pixels)."""

    persons: list[list[Part]]
    num_frames: int
    scale: float = 1.0

    @classmethod
    def from_keypoints(cls, raw: np.ndarray) -> People:
        """Precomputed keypoints ``(T, 56, 3)``: one person over every frame, no boxes."""
        no_box = np.zeros((len(raw), 4), np.float32)
        return cls([[Part(0, raw, no_box, no_box, None, 1.0)]], len(raw))


def drop_duplicate_people(raw: list[np.ndarray], starts: list[int], scores: list[float]) -> list[int]:
    """Indices of tracks to keep: of two tracks that overlap in time and whose bodies sit
    in the same place (shoulder midpoints within half a shoulder width), only the one with
    the higher face score survives (a false face on a shirt gives the same body)."""
    order = sorted(range(len(raw)), key=lambda i: -scores[i])
    shoulders = [LEFT_SHOULDER, RIGHT_SHOULDER]
    kept: list[int] = []
    for i in order:
        dup = False
        for j in kept:
            lo, hi = max(starts[i], starts[j]), min(starts[i] + len(raw[i]), starts[j] + len(raw[j]))
            if hi <= lo:
                continue
            a, b = raw[i][lo - starts[i]:hi - starts[i]], raw[j][lo - starts[j]:hi - starts[j]]
            seen = (a[:, shoulders, 2].min(1) > SHOULDER_SEEN) & (b[:, shoulders, 2].min(1) > SHOULDER_SEEN)
            if not seen.any():
                continue
            mid_a = a[seen][:, shoulders, :2].mean(1)
            mid_b = b[seen][:, shoulders, :2].mean(1)
            width = np.linalg.norm(a[seen][:, LEFT_SHOULDER, :2] - a[seen][:, RIGHT_SHOULDER, :2], axis=-1)
            if np.median(np.linalg.norm(mid_a - mid_b, axis=-1) / np.maximum(width, 1e-6)) < 0.5:
                dup = True
                break
        if not dup:
            kept.append(i)
    return sorted(kept)


def link_parts(persons: list[list[Part]], parts: list[Part], offset: int, linkable: bool, max_gap: int,
               max_jump: float = 1.0) -> None:
    """Append each part of a new chunk (starting at frame ``offset``) to the person it
    continues, or start a new person; ``persons`` is updated in place.

    A part continues a person when it starts within ``max_gap`` frames of the chunk start,
    the person's last part ended within ``max_gap`` frames of the previous chunk's end, no
    scene cut lies between (``linkable``), and the face centres are at most ``max_jump``
    face widths apart; among candidates a Hungarian assignment on that distance decides."""
    from scipy.optimize import linear_sum_assignment

    open_ids = [p for p, ps in enumerate(persons) if linkable and ps[-1].end >= offset - 1 - max_gap]
    new = [k for k, part in enumerate(parts) if linkable and part.start <= offset + max_gap]
    taken: dict[int, int] = {}
    if open_ids and new:
        last = np.stack([persons[p][-1].faces[-1] for p in open_ids])  # (P, 4)
        first = np.stack([parts[k].faces[0] for k in new])  # (K, 4)
        lc, fc = (last[:, :2] + last[:, 2:]) / 2, (first[:, :2] + first[:, 2:]) / 2
        width = np.maximum(last[:, 2] - last[:, 0], 1e-6)
        dist = np.linalg.norm(lc[:, None] - fc[None], axis=-1) / width[:, None]  # (P, K) face widths
        cost = np.where(dist <= max_jump, dist, 1e6)
        for r, c in zip(*linear_sum_assignment(cost)):
            if cost[r, c] < 1e6:
                taken[new[c]] = open_ids[r]
    for k, part in enumerate(parts):
        if k in taken:
            persons[taken[k]].append(part)
        else:
            persons.append([part])


def join_parts(parts: list[Part]) -> tuple[int, np.ndarray, np.ndarray, np.ndarray | None]:
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


class PeopleTracker:
    """Follows every person through a video; holds the per-process models across videos."""

    def __init__(self, options: PrepareOptions | None = None):
        self.options = options or PrepareOptions()
        self._faces: list = []
        self._poses: list = []

    def close(self) -> None:
        for m in [*self._faces, *self._poses]:
            m.close()
        self._faces, self._poses = [], []

    def _models(self):
        from jegal.perception.people import FaceDetector
        from jegal.perception.pose import PoseEstimator

        if not self._faces:
            # One face detector and one pose estimator per thread: detection and keypoints
            # both run on all threads (:func:`detect_faces`, :meth:`_keypoints`).
            threads = max(1, self.options.threads)
            self._faces = [FaceDetector() for _ in range(threads)]
            self._poses = [PoseEstimator(crop_side=self.options.crop_side, hands=self.options.hands,
                                         hand_stride=self.options.hand_stride) for _ in range(threads)]
        return self._faces, self._poses

    @property
    def max_gap(self) -> int:
        """Frames a face may go undetected and still continue its track (detection skips frames)."""
        return max(8, 2 * self.options.detect_stride)

    def follow(self, video: str | Path, name: str, timings: dict, warnings: list[str],
               on_frames: Callable[[int], None] | None = None) -> People:
        """Decode ``video`` chunk by chunk and follow every person through it; ``on_frames`` is
        called with the number of frames done after each chunk (for progress bars).

        Adds seconds spent to ``timings`` (``decode``, ``detect``, ``keypoints``) and a line
        per dropped track to ``warnings`` (prefixed with ``name``). Raises
        :class:`~jegal.perception.errors.NoPerson` when nobody is seen for ``min_frames``, and
        the decode errors of :func:`jegal.perception.decode.iter_video`."""
        from jegal.perception.decode import iter_video

        opts = self.options
        persons: list[list[Part]] = []
        offset, prev_frame = 0, None
        for key in ("decode", "detect", "keypoints"):
            timings.setdefault(key, 0.0)
        info: dict = {}
        chunks = iter_video(video, max_side=opts.max_side, chunk_frames=opts.chunk_frames, info=info)
        while True:
            t = time.perf_counter()
            chunk = next(chunks, None)
            timings["decode"] += time.perf_counter() - t
            if chunk is None:
                break
            parts, cut_at_start = self._chunk(chunk, offset, prev_frame, name, timings, warnings)
            link_parts(persons, parts, offset, linkable=not cut_at_start, max_gap=self.max_gap)
            offset += len(chunk)
            prev_frame = chunk[-1]
            if on_frames is not None:
                on_frames(offset)
        persons = [ps for ps in persons if ps[-1].end - ps[0].start + 1 >= opts.min_frames]
        if not persons:
            raise NoPerson(f"{video}: no person found in {offset} frames")
        return People(persons, offset, info.get("scale", 1.0))

    def _chunk(self, frames: np.ndarray, offset: int, prev_frame: np.ndarray | None, name: str,
               timings: dict, warnings: list[str]) -> tuple[list[Part], bool]:
        """Person parts of one chunk ``(n, H, W, 3)`` (frame indices global) and whether a
        scene cut opens it."""
        from jegal.perception.people import detect_faces, scene_cuts, track_faces

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
        tracks = [tr for tr in track_faces(detections, cuts, min_frames=1, max_gap=self.max_gap)
                  if tr.num_frames >= opts.min_frames or tr.start == 0 or tr.end == len(frames) - 1]
        timings["detect"] += time.perf_counter() - t
        t = time.perf_counter()
        bodies = [tr.body_boxes(frames.shape[1:3]) for tr in tracks]
        raws = self._keypoints(frames, tracks, bodies)
        timings["keypoints"] += time.perf_counter() - t
        kept = drop_duplicate_people(raws, [tr.start for tr in tracks], [float(tr.scores.mean()) for tr in tracks])
        parts = []
        for i in kept:
            tr, raw = tracks[i], raws[i]
            body_seen = (raw[:, [LEFT_SHOULDER, RIGHT_SHOULDER], 2].min(1) > SHOULDER_SEEN).mean()
            if body_seen < 0.5:
                warnings.append(f"{name}: face track at frames {offset + tr.start}-{offset + tr.end}: "
                                f"body found in only {body_seen:.0%} of its frames; dropped")
                continue
            rgb = None
            if opts.rgb_size:
                from jegal.perception.masking import masked_crops

                rgb = masked_crops(frames, bodies[i], tr.faces, opts.rgb_size, start=tr.start)
            parts.append(Part(offset + tr.start, raw, tr.faces, bodies[i], rgb, float(tr.scores.mean())))
        return parts, cut_at_start

    def _keypoints(self, frames: np.ndarray, tracks: list, bodies: list[np.ndarray]) -> list[np.ndarray]:
        """Raw keypoints ``(n, 56, 3)`` per track. With several pose estimators, each track is
        cut into contiguous parts run in parallel threads (each part restarts pose tracking,
        which costs one extra person detection per part)."""
        _, poses = self._models()
        jobs = []  # (track index, offset in track, length)
        for k, tr in enumerate(tracks):
            parts = max(1, min(len(poses), tr.num_frames // 50))
            edges = np.linspace(0, tr.num_frames, parts + 1).round().astype(int)
            jobs += [(k, int(a), int(b - a)) for a, b in pairwise(edges)]
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
