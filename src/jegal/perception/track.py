"""Steps 2-4 over a whole video: every person followed by their body from the first frame to the last.

The video is decoded chunk by chunk (``--chunk-frames``, so memory stays bounded however
long it is). In each chunk (:meth:`PeopleTracker._chunk`): scene cuts are found; seeds (faces on
every ``detect_stride``-th frame, bodies from the Tasks pose landmarker on every
``pose_seed_stride``-th frame and on the first frame of each block) say who is there; each
stretch between cuts is cut into one block per thread, and in each block everyone is followed
frame by frame by their own landmarks (:func:`jegal.perception.people.follow_everyone`). Of two
followed bodies that coincide only the longer is kept (:func:`drop_duplicate_people`); the pieces
of one person (a person lost for longer than ``max_lost`` frames and found again, a block edge) are
linked by where the body was going (:func:`link_followed`), never across a cut; a person whose
shoulders are rarely seen is dropped, and each remaining person becomes a :class:`Part` with
boxes from its landmarks. Parts are linked across chunk edges the same way (:func:`link_parts`)
and a person's parts become one track (:func:`join_parts`), frames between them missing.

:class:`PeopleTracker` owns the mediapipe models (a face detector, a pose landmarker and a pose
estimator per thread) for as long as a worker process lives; nothing is loaded until the first video.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jegal.data.keypoints import LEFT_SHOULDER, RIGHT_SHOULDER
from jegal.perception.errors import NoPerson
from jegal.perception.options import PrepareOptions

# A body counts as seen in a frame where both shoulders have at least this confidence.
SHOULDER_SEEN = 0.3
MAX_JUMP = 1.0  # two pieces are one person when the body is within this many shoulder widths of where it was going
WALK = 0.1  # ... plus this many a frame unseen (a walking pace: ~1.4 m/s over ~0.4 m shoulders at 25 fps is 0.14)


@dataclass
class Part:
    """One person's stretch inside one decoded chunk; frame indices are global."""

    start: int
    raw: np.ndarray  # (n, 56, 3) keypoints in decoded-frame pixels, zeros where the body was not found
    faces: np.ndarray  # (n, 4) face boxes (detection on the body's face, else from the pose's face landmarks)
    bodies: np.ndarray  # (n, 4) body boxes from the landmarks (jegal.perception.people.body_boxes)
    rgb: np.ndarray | None  # (n, S, S, 3)
    score: float  # fraction of frames with both shoulders seen

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
    in the same place (shoulder midpoints, median over the frames both see, within half the larger
    median shoulder width, or their landmark boxes overlapping by more than 0.6 IoU), only the one with
    the higher score survives (two seeds followed onto one body)."""
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
            if _same_extent(a, b):
                dup = True
                break
            seen = (a[:, shoulders, 2].min(1) > SHOULDER_SEEN) & (b[:, shoulders, 2].min(1) > SHOULDER_SEEN)
            if not seen.any():
                continue
            mid_a = a[seen][:, shoulders, :2].mean(1)
            mid_b = b[seen][:, shoulders, :2].mean(1)
            # The larger of the two bodies' typical shoulder widths: seen from behind, mediapipe
            # sometimes folds the shoulders together in single frames.
            width = max(np.median(np.linalg.norm(x[seen][:, LEFT_SHOULDER, :2] - x[seen][:, RIGHT_SHOULDER, :2],
                                                 axis=-1)) for x in (a, b))
            if np.median(np.linalg.norm(mid_a - mid_b, axis=-1)) / max(width, 1e-6) < 0.5:
                dup = True
                break
        if not dup:
            kept.append(i)
    return sorted(kept)


def _same_extent(a: np.ndarray, b: np.ndarray, min_iou: float = 0.6) -> bool:
    """Whether two bodies ``(n, 56, 3)`` over the same frames have the same extent: the median
    intersection over union of their landmark boxes, over the frames both have, above ``min_iou``
    (a body seen from behind, whose shoulders mediapipe folds together, is still one box)."""
    from jegal.perception.people import extent_box

    ea, eb = extent_box(a), extent_box(b)
    both = np.isfinite(ea).all(1) & np.isfinite(eb).all(1)
    if not both.any():
        return False
    ea, eb = ea[both], eb[both]
    iw = np.clip(np.minimum(ea[:, 2], eb[:, 2]) - np.maximum(ea[:, 0], eb[:, 0]), 0, None)
    ih = np.clip(np.minimum(ea[:, 3], eb[:, 3]) - np.maximum(ea[:, 1], eb[:, 1]), 0, None)
    area = lambda e: (e[:, 2] - e[:, 0]) * (e[:, 3] - e[:, 1])  # noqa: E731
    inter = iw * ih
    return bool(np.median(inter / np.maximum(area(ea) + area(eb) - inter, 1e-6)) > min_iou)


def body_ends(raw: np.ndarray, start: int, window: int = 10) -> dict | None:
    """Where a body ``(n, 56, 3)`` from frame ``start`` was first and last seen (both shoulders):
    frames, shoulder midpoints ``(2,)``, shoulder widths (the median over the first / last
    ``window`` frames seen: seen from behind, mediapipe folds the shoulders together in single
    frames), and its velocity at the end (pixels per frame, over the last ``window`` frames seen).
    None when it never was."""
    pair = raw[:, [LEFT_SHOULDER, RIGHT_SHOULDER]]
    seen = np.flatnonzero(pair[:, :, 2].min(1) > SHOULDER_SEEN)
    if not len(seen):
        return None
    mid = pair[:, :, :2].mean(1)
    width = np.linalg.norm(pair[:, 0, :2] - pair[:, 1, :2], axis=-1)
    tail = seen[-window:]
    velocity = (mid[tail[-1]] - mid[tail[0]]) / (tail[-1] - tail[0]) if len(tail) > 1 else np.zeros(2)
    return {"first": start + int(seen[0]), "last": start + int(seen[-1]), "first_mid": mid[seen[0]],
            "last_mid": mid[seen[-1]], "first_width": float(np.median(width[seen[:window]])),
            "last_width": float(np.median(width[tail])),
            "velocity": velocity.astype(np.float32)}


def continuation_cost(a: dict, b: dict, max_gap: int, max_jump: float = MAX_JUMP) -> float:
    """How far (shoulder widths) body ``b`` starts from where body ``a`` (both :func:`body_ends`)
    was going; inf when ``b`` is first seen more than ``max_gap`` frames after ``a`` was last seen,
    before it, or farther than ``max_jump``. The velocity is followed for at most half a second:
    people who stop do not fly on."""
    gap = b["first"] - a["last"]
    if gap < 1 or gap > max_gap:
        return float("inf")
    predicted = a["last_mid"] + a["velocity"] * min(gap, 12)
    width = max(a["last_width"], b["first_width"], 1e-6)
    # The larger width is the unit: a body seen from behind has its shoulder width misjudged
    # (25 px in one piece, 128 px in the next for the same man on two_speakers_raw.mp4).
    cost = float(np.linalg.norm(predicted - b["first_mid"]) / width)
    # Unseen, a person may have changed pace (one hidden behind another is seen to lag, so its
    # velocity is underestimated): the bound grows by a walking pace per frame unseen, for as
    # long as the velocity is followed.
    return cost if cost <= max_jump + WALK * min(gap, 12) else float("inf")


def link_followed(ends: list[dict | None], scenes: list[int], max_gap: int,
                  max_jump: float = MAX_JUMP) -> list[list[int]]:
    """Chains of pieces that are one person: piece ``b`` continues ``a`` when it is in the same
    scene and starts where ``a`` was going (:func:`continuation_cost`); the cheapest links are
    made first and each piece has at most one predecessor and one successor (so two people
    crossing keep their identities). Chains are listed by their first frame."""
    n = len(ends)
    pairs = []
    for a in range(n):
        for b in range(n):
            if a != b and ends[a] is not None and ends[b] is not None and scenes[a] == scenes[b]:
                cost = continuation_cost(ends[a], ends[b], max_gap, max_jump)
                if np.isfinite(cost):
                    pairs.append((cost, a, b))
    nxt, prev = {}, {}
    for _, a, b in sorted(pairs):
        if a not in nxt and b not in prev:
            nxt[a], prev[b] = b, a
    chains = []
    for a in range(n):
        if a in prev:
            continue
        chain = [a]
        while chain[-1] in nxt:
            chain.append(nxt[chain[-1]])
        chains.append(chain)
    return sorted(chains, key=lambda c: min(ends[i]["first"] if ends[i] else 1 << 60 for i in c))


def link_parts(persons: list[list[Part]], parts: list[Part], offset: int, linkable: bool, max_gap: int,
               max_jump: float = MAX_JUMP) -> None:
    """Append each part of a new chunk (starting at frame ``offset``) to the person it
    continues, or start a new person; ``persons`` is updated in place.

    A part continues a person when no scene cut lies between (``linkable``), its body is first
    seen within ``max_gap`` frames after the person's was last seen, and where the person's body
    was going (:func:`continuation_cost`, in shoulder widths, at most ``max_jump``); among
    candidates a Hungarian assignment on that distance decides."""
    from scipy.optimize import linear_sum_assignment

    taken: dict[int, int] = {}
    if linkable and persons and parts:
        last = [body_ends(ps[-1].raw, ps[-1].start) for ps in persons]
        first = [body_ends(p.raw, p.start) for p in parts]
        cost = np.full((len(persons), len(parts)), 1e6)
        for r, a in enumerate(last):
            for c, b in enumerate(first):
                if a is not None and b is not None and a["last"] < offset <= b["first"] + max_gap:
                    d = continuation_cost(a, b, max_gap, max_jump)
                    cost[r, c] = d if np.isfinite(d) else 1e6
        for r, c in zip(*linear_sum_assignment(cost)):
            if cost[r, c] < 1e6:
                taken[int(c)] = int(r)
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




def join_followed(pieces: list, n_frames: int) -> tuple[int, np.ndarray, np.ndarray]:
    """One person's linked pieces (:class:`~jegal.perception.people.Followed`, in time order) as one
    stretch: start, keypoints ``(n, 56, 3)`` and face landmarks ``(n, 11, 3)``, zeros between pieces;
    where two pieces overlap the earlier one's frames with a body found win."""
    start = min(p.start for p in pieces)
    end = min(n_frames - 1, max(p.end for p in pieces))
    raw = np.zeros((end - start + 1,) + pieces[0].raw.shape[1:], np.float32)
    face = np.zeros((end - start + 1,) + pieces[0].face.shape[1:], np.float32)
    have = np.zeros(end - start + 1, bool)
    for p in pieces:
        sl = slice(p.start - start, p.end - start + 1)
        put = ~have[sl] & p.found
        raw[sl][put], face[sl][put] = p.raw[put], p.face[put]
        have[sl] |= put
    return start, raw, face


class PeopleTracker:
    """Follows every person through a video; holds the per-process models across videos."""

    def __init__(self, options: PrepareOptions | None = None):
        self.options = options or PrepareOptions()
        self._faces: list = []
        self._seeders: list = []
        self._poses: list = []

    def reset(self) -> None:
        """Clear the models' state between videos: the pose estimators' tracking state (the face
        detector and the pose landmarker look at each image on its own and keep none). :meth:`follow`
        does this first, so a video's people do not depend on the videos followed before it."""
        for pose in self._poses:
            pose.reset()

    def close(self) -> None:
        """Release the models (they are made again on the next video)."""
        for m in [*self._faces, *self._seeders, *self._poses]:
            m.close()
        self._faces, self._seeders, self._poses = [], [], []

    def _models(self):
        from jegal.perception.people import FaceDetector, PoseSeeder
        from jegal.perception.pose import PoseEstimator

        if not self._faces:
            # One of each per thread: seeds and following both run on all threads.
            threads = max(1, self.options.threads)
            self._faces = [FaceDetector() for _ in range(threads)]
            self._seeders = [PoseSeeder() for _ in range(threads)]
            self._poses = [PoseEstimator(crop_side=self.options.crop_side, hands=self.options.hands,
                                         hand_stride=self.options.hand_stride) for _ in range(threads)]
        return self._faces, self._seeders, self._poses

    @property
    def max_gap(self) -> int:
        """Frames a person may be out of sight and still continue as the same person (``link_gap``)."""
        return self.options.link_gap

    def follow(self, video: str | Path, name: str, timings: dict, warnings: list[str],
               on_frames: Callable[[int], None] | None = None) -> People:
        """Decode ``video`` chunk by chunk and follow every person through it; ``on_frames`` is
        called with the number of frames done after each chunk (for progress bars).

        Adds seconds spent to ``timings`` (``decode``, ``detect``: scene cuts and seeds,
        ``keypoints``: following) and a line per dropped person to ``warnings`` (prefixed with
        ``name``). Raises :class:`~jegal.perception.errors.NoPerson` when nobody is seen for
        ``min_frames``, and the decode errors of :func:`jegal.perception.decode.iter_video`."""
        from jegal.perception.decode import iter_video

        opts = self.options
        persons: list[list[Part]] = []
        offset, prev_frame = 0, None
        for key in ("decode", "detect", "keypoints"):
            timings.setdefault(key, 0.0)
        self.reset()
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
            # A copy of the last frame, and the chunk let go: a view would keep the whole chunk alive
            # while the next one is decoded (two chunks of frames at once).
            prev_frame = chunk[-1].copy()
            del chunk
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
        from jegal.perception.people import body_boxes, face_boxes, find_seeds, scene_cuts
        from jegal.perception.pose import drop_far_hands

        opts = self.options
        faces_model, seeders, poses = self._models()
        n = len(frames)
        t = time.perf_counter()
        if prev_frame is None:
            cuts, cut_at_start = scene_cuts(frames, opts.scene_threshold), True
        else:
            shifted = scene_cuts(np.concatenate([prev_frame[None], frames]), opts.scene_threshold)
            cut_at_start = 1 in shifted
            cuts = [0] + [c - 1 for c in shifted if c > 1]
        # Stretches without a cut, each cut into one block per thread (at least 50 frames a block);
        # the pose landmarker searches every block's first frame.
        blocks = []  # (first, stop, scene)
        for scene, (a, b) in enumerate(zip(cuts, cuts[1:] + [n])):
            parts = max(1, min(len(poses), (b - a) // 50))
            edges = np.linspace(a, b, parts + 1).round().astype(int)
            blocks += [(int(lo), int(hi), scene) for lo, hi in zip(edges[:-1], edges[1:]) if hi > lo]
        # Every view at a stretch's first frame (nobody is known there), the whole frame at another
        # block's first (its people were seen at the end of the block before).
        starts = [lo for lo, _, _ in blocks]
        pose_frames = sorted(set(range(0, n, opts.pose_seed_stride)) | set(starts))
        seeds = find_seeds(frames, faces_model, seeders, opts.detect_stride, pose_frames,
                           all_views=[c for c in cuts if c < n], whole=starts)
        timings["detect"] += time.perf_counter() - t
        t = time.perf_counter()
        pieces = self._follow_blocks(frames, blocks, seeds)
        timings["keypoints"] += time.perf_counter() - t
        kept = drop_duplicate_people([p.raw for p in pieces], [p.start for p in pieces],
                                     [float(p.found.sum()) for p in pieces])
        pieces = [pieces[i] for i in kept]
        chains = link_followed([body_ends(p.raw, p.start) for p in pieces], [p.scene for p in pieces], opts.link_gap)
        parts = []
        for chain in chains:
            start, raw, face = join_followed([pieces[i] for i in sorted(chain, key=lambda i: pieces[i].start)], n)
            end = start + len(raw) - 1
            # Short people survive where they touch the chunk's edges: they may continue in the
            # neighbouring chunk (people shorter than min_frames overall are dropped after linking).
            if len(raw) < opts.min_frames and start > 0 and end < n - 1:
                continue
            body_seen = float((raw[:, [LEFT_SHOULDER, RIGHT_SHOULDER], 2].min(1) > SHOULDER_SEEN).mean())
            if body_seen < 0.5:
                warnings.append(f"{name}: person at frames {offset + start}-{offset + end}: "
                                f"body found in only {body_seen:.0%} of its frames; dropped")
                continue
            shape = frames.shape[1:3]
            drop_far_hands(raw)
            bodies = body_boxes(raw, face, shape)
            faces = face_boxes(face, raw, seeds.faces[start:end + 1], shape)
            rgb = None
            if opts.rgb_size:
                from jegal.perception.masking import masked_crops

                rgb = masked_crops(frames, bodies, faces, opts.rgb_size, start=start)
            parts.append(Part(offset + start, raw, faces, bodies, rgb, body_seen))
        return parts, cut_at_start

    def _follow_blocks(self, frames: np.ndarray, blocks: list[tuple[int, int, int]], seeds) -> list:
        """Everyone followed in each block ``(first, stop, scene)``
        (:func:`jegal.perception.people.follow_everyone`), blocks in parallel threads, one pose
        estimator each (mediapipe releases the GIL); pieces in block order."""
        from jegal.perception.people import follow_everyone

        opts = self.options
        _, _, poses = self._models()

        def run(est, block):
            lo, hi, scene = block
            # A view of the frame comes round every third pose frame: a person first seen there
            # may have been in view that long.
            return follow_everyone(est, frames, lo, hi, seeds, max_lost=opts.max_lost, back=3 * opts.pose_seed_stride,
                                   hand_stride=opts.hand_stride, scene=scene)

        if len(poses) == 1 or len(blocks) == 1:
            outs = [run(poses[0], b) for b in blocks]
        else:
            import queue
            from concurrent.futures import ThreadPoolExecutor

            free: queue.Queue = queue.Queue()
            for p in poses:
                free.put(p)

            def work(block):
                est = free.get()
                try:
                    return run(est, block)
                finally:
                    free.put(est)

            with ThreadPoolExecutor(len(poses)) as ex:
                outs = list(ex.map(work, blocks))
        return [p for out in outs for p in out]
