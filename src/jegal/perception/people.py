"""Find every person in a stretch of frames by their body and follow each one frame by frame.

**Seeds** say who is there: mediapipe's full-range face detector (``model_selection=1``,
several faces per frame) on every ``detect_stride``-th frame, and mediapipe's Tasks pose
landmarker (several bodies per frame, :mod:`jegal.perception.pose_model`) on sparser frames,
looking at the whole frame, its left and its right part in turn (:data:`VIEWS`), so a person
whose face is masked, turned away or hidden is still found. Neither alone is enough: on
``two_speakers_raw.mp4`` the landmarker on the whole frame gives only the person facing the
camera, and the face detector misses masked and turned-away faces.

**Following**: each person is followed from a seed by mediapipe's legacy pose model in
tracking mode (:class:`~jegal.perception.pose.PoseEstimator`) on a crop taken from the person's
own landmarks of the frame before (:func:`follow_person`): a face turning away or a masked face
does not end it. A person survives ``max_lost`` frames without landmarks and ends at a scene
cut (:func:`scene_cuts`). A seed that lies on a body already followed in its frame is not a new
person (:func:`same_body`). Linking pieces of one person over gaps is
:mod:`jegal.perception.track`'s.

**Boxes** come from the body's landmarks (:func:`body_boxes`, :func:`face_boxes`). Coordinates
are ``(x0, y0, x1, y1)`` pixels of the decoded frames; keypoints are in the layout of
:mod:`jegal.data.keypoints` ``(56, 3)``; face landmarks are mediapipe pose 0..10 ``(11, 3)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from jegal.data.keypoints import LEFT_SHOULDER, NUM_BODY, RIGHT_SHOULDER

SCENE_THRESHOLD = 0.15  # total-variation distance between consecutive HS histograms
SEEN = 0.5  # a pose joint counts as found above this visibility
SHOULDER_SEEN = 0.3  # a body counts as found in a frame where both shoulders are above this
SAME_BODY = 0.8  # two heads within this many head units (half a shoulder width, or a face width) are one person
BOX_MARGIN = 0.15  # body box: this fraction of the landmarks' extent added on each side
HEAD_ROOM = 0.35  # body box: this many shoulder widths above the highest face landmark (hair, top of head)
CROP_MARGIN = 0.4  # follow crop: this fraction of the extent added on each side of the body box


# ---------------------------------------------------------------------------------------------
# Seeds


class FaceDetector:
    """mediapipe full-range face detection; one instance per thread (not picklable)."""

    def __init__(self, min_score: float = 0.5):
        import mediapipe as mp

        self._det = mp.solutions.face_detection.FaceDetection(model_selection=1, min_detection_confidence=min_score)

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        """Faces in one RGB frame, ``(n, 5)``: x0, y0, x1, y1 pixels and score."""
        h, w = frame.shape[:2]
        result = self._det.process(frame)
        out = []
        for det in result.detections or []:
            b = det.location_data.relative_bounding_box
            out.append([b.xmin * w, b.ymin * h, (b.xmin + b.width) * w, (b.ymin + b.height) * h, det.score[0]])
        return np.asarray(out, dtype=np.float32).reshape(-1, 5)

    def close(self) -> None:
        self._det.close()


class PoseSeeder:
    """mediapipe Tasks pose landmarker in image mode: up to ``num_poses`` bodies per frame, with
    the bundle of :func:`jegal.perception.pose_model.pose_landmarker_bundle`. One instance per
    thread. About 90 ms for a 640x360 frame on one core, so it runs on sparse frames only."""

    def __init__(self, num_poses: int = 4, min_score: float = 0.5):
        from mediapipe.tasks import python as mp_tasks
        from mediapipe.tasks.python import vision

        from jegal.perception.pose_model import pose_landmarker_bundle

        options = vision.PoseLandmarkerOptions(
            base_options=mp_tasks.BaseOptions(model_asset_buffer=pose_landmarker_bundle()),
            running_mode=vision.RunningMode.IMAGE, num_poses=num_poses,
            min_pose_detection_confidence=min_score, min_pose_presence_confidence=min_score)
        self._landmarker = vision.PoseLandmarker.create_from_options(options)

    def __call__(self, frame: np.ndarray, view: tuple[float, float] = (0.0, 1.0)) -> np.ndarray:
        """Bodies in one RGB frame, ``(k, 33, 3)``: mediapipe pose landmarks in pixels of the frame and
        their visibility (0 for landmarks guessed outside the image looked at). ``view``: the part of
        the frame's width looked at (fractions; see :data:`VIEWS`)."""
        import mediapipe as mp

        H, W = frame.shape[:2]
        x0, x1 = int(round(view[0] * W)), int(round(view[1] * W))
        frame = frame[:, x0:x1]
        h, w = frame.shape[:2]
        result = self._landmarker.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(frame)))
        out = np.array([[(p.x, p.y, p.visibility) for p in pose] for pose in result.pose_landmarks],
                       np.float32).reshape(-1, 33, 3)
        inside = (out[..., 0] >= 0) & (out[..., 0] <= 1) & (out[..., 1] >= 0) & (out[..., 1] <= 1)
        out[..., 2] *= inside
        out[..., 0] = out[..., 0] * w + x0
        out[..., 1] *= h
        return out

    def close(self) -> None:
        self._landmarker.close()


# The parts of the frame's width the pose landmarker looks at: the whole frame, its left and its right
# 60 %. Its detector keeps few people per image: on two_speakers_raw.mp4 the whole frame gives only
# the person facing the camera, while the left or right part alone also gives the one turned away.
VIEWS = ((0.0, 1.0), (0.0, 0.6), (0.4, 1.0))


@dataclass
class Seeds:
    """Per frame of a stretch: faces ``(n, 5)`` (box, score) and bodies ``(k, 33, 3)``; empty
    arrays on frames not searched."""

    faces: list[np.ndarray]
    bodies: list[np.ndarray]
    pose_frames: list[int] = field(default_factory=list)  # frames the pose landmarker searched

    def heads(self, t: int) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
        """Seeds of frame ``t`` as heads ``(m, 2)`` pixels, head units ``(m,)`` pixels (face width,
        or half a shoulder width) and a start crop per seed (``(4,)`` box the follower starts in)."""
        faces, bodies = self.faces[t], self.bodies[t]
        heads, units, crops = [], [], []
        for f in faces:
            fw, fh = f[2] - f[0], f[3] - f[1]
            heads.append([(f[0] + f[2]) / 2, (f[1] + f[3]) / 2])
            units.append(fw)
            # A face gives the upper body below it: about 2 face widths either side, 5 below.
            crops.append(np.array([f[0] - 2.0 * fw, f[1] - 0.6 * fh, f[2] + 2.0 * fw, f[3] + 5.0 * fh], np.float32))
        for b in bodies:
            kp = pose33_to_keypoints(b)
            head, unit = head_of(kp[None], b[None, :11])
            if not np.isfinite(head[0]).all():
                continue
            heads.append(head[0])
            units.append(unit[0])
            crops.append(expand_box(extent_box(kp[None], b[None, :11])[0], CROP_MARGIN))
        return np.asarray(heads, np.float32).reshape(-1, 2), np.asarray(units, np.float32), crops


def pose33_to_keypoints(pose: np.ndarray) -> np.ndarray:
    """mediapipe's 33 pose landmarks ``(33, 3)`` as our ``(56, 3)`` layout (no hands)."""
    from jegal.perception.pose import POSE_INDEX

    kp = np.zeros((56, 3), np.float32)
    kp[:NUM_BODY] = pose[POSE_INDEX]
    return kp


def find_seeds(frames: np.ndarray, detectors: list[FaceDetector], seeders: list[PoseSeeder],
               face_stride: int, pose_frames: list[int], all_views: list[int] | None = None,
               whole: list[int] | None = None) -> Seeds:
    """Faces on every ``face_stride``-th frame and bodies on ``pose_frames`` of ``frames``
    ``(n, H, W, 3)``: the k-th pose frame looks at one of :data:`VIEWS` in turn (``k % 3``), the
    frames in ``all_views`` at all three, those in ``whole`` at the whole frame. The searched frames are cut into one contiguous block
    per detector, run in parallel threads (mediapipe releases the GIL); each image is looked at on
    its own, so the result does not depend on the number of threads."""
    n = len(frames)
    faces = [np.zeros((0, 5), np.float32)] * n
    bodies: list[list[np.ndarray]] = [[] for _ in range(n)]
    pose_frames = sorted(set(i for i in pose_frames if i < n))
    every, whole = set(all_views or []), set(whole or [])
    jobs = [(i, None) for i in range(0, n, face_stride)]
    for k, i in enumerate(pose_frames):
        jobs += [(i, v) for v in (range(len(VIEWS)) if i in every else [0] if i in whole else [k % len(VIEWS)])]
    jobs.sort(key=lambda job: (job[0], -1 if job[1] is None else job[1]))
    # A pose view costs ~6 face frames: balance the blocks by cost, not count.
    cost = np.cumsum([1.0 if view is None else 6.0 for _, view in jobs])
    workers = max(1, min(len(detectors), len(seeders)))
    block_of = np.minimum((cost - 1e-9) * workers // max(cost[-1], 1e-9), workers - 1).astype(int) if jobs else []
    results: dict = {}

    def run(k: int) -> None:
        for (i, view), b in zip(jobs, block_of):
            if b != k:
                continue
            if view is None:
                faces[i] = detectors[k](frames[i])
            else:
                results[i, view] = seeders[k](frames[i], VIEWS[view])

    if workers == 1:
        run(0)
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(workers) as ex:
            list(ex.map(run, range(workers)))
    for (i, view) in sorted(results):
        bodies[i].append(results[i, view])
    return Seeds(faces, [np.concatenate(b) if b else np.zeros((0, 33, 3), np.float32) for b in bodies], pose_frames)


def _hs_histogram(frame: np.ndarray) -> np.ndarray:
    import cv2

    small = cv2.resize(frame, (64, 64), interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)
    hist = cv2.calcHist([hsv], [0, 1], None, [16, 16], [0, 180, 0, 256]).ravel()
    return hist / max(hist.sum(), 1.0)


def scene_cuts(frames: np.ndarray, threshold: float = SCENE_THRESHOLD) -> list[int]:
    """Frames that start a new shot (always including 0): where the hue/saturation
    histogram changes by more than ``threshold`` (total variation, 0..1) from the frame before."""
    if len(frames) == 0:
        return []
    hists = np.stack([_hs_histogram(f) for f in frames])
    change = 0.5 * np.abs(np.diff(hists, axis=0)).sum(axis=1)
    return [0] + [int(i) + 1 for i in np.flatnonzero(change > threshold)]


# ---------------------------------------------------------------------------------------------
# Where a body is


def shoulders(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shoulder midpoints ``(n, 2)``, shoulder widths ``(n,)`` (pixels) and whether both shoulders
    were seen ``(n,)`` for keypoints ``(n, 56, 3)``."""
    raw = np.asarray(raw, np.float32)
    pair = raw[:, [LEFT_SHOULDER, RIGHT_SHOULDER]]
    seen = pair[:, :, 2].min(1) > SHOULDER_SEEN
    return pair[:, :, :2].mean(1), np.linalg.norm(pair[:, 0, :2] - pair[:, 1, :2], axis=-1), seen


def head_of(raw: np.ndarray, face: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Head position ``(n, 2)`` and head unit ``(n,)`` (pixels) of bodies ``(n, 56, 3)`` with face
    landmarks ``(n, 11, 3)``: the mean of the face landmarks seen (at least two), else a point
    0.6 shoulder widths above the shoulder midpoint (a head turned away); the unit is half a
    shoulder width (about a face width). NaN where neither shoulder pair nor face is seen."""
    mid, width, seen = shoulders(raw)
    face = np.asarray(face, np.float32)
    vis = face[:, :, 2] > SEEN
    count = vis.sum(1)
    face_mean = (face[:, :, :2] * vis[..., None]).sum(1) / np.maximum(count, 1)[:, None]
    above = mid - np.stack([np.zeros_like(width), 0.6 * width], axis=1)
    head = np.where((count >= 2)[:, None], face_mean, np.where(seen[:, None], above, np.nan))
    # Without shoulders, the face's own span stands in for the unit.
    span = np.where(vis, face[:, :, 0], np.nan)
    with np.errstate(all="ignore"), np.testing.suppress_warnings() as sup:
        sup.filter(RuntimeWarning)
        face_width = np.nanmax(span, axis=1) - np.nanmin(span, axis=1)
    unit = np.where(seen, 0.5 * width, np.where(count >= 2, np.nan_to_num(face_width, nan=0.0), np.nan))
    return head.astype(np.float32), unit.astype(np.float32)


def same_body(head_a: np.ndarray, unit_a: np.ndarray, head_b: np.ndarray, unit_b: np.ndarray) -> np.ndarray:
    """Whether heads ``(..., 2)`` with units ``(...)`` are one person: closer than
    :data:`SAME_BODY` times the larger unit. Broadcasts; False where either is NaN."""
    dist = np.linalg.norm(np.asarray(head_a) - np.asarray(head_b), axis=-1)
    with np.errstate(invalid="ignore"):
        return dist < SAME_BODY * np.maximum(unit_a, unit_b)


def extent_box(raw: np.ndarray, face: np.ndarray | None = None) -> np.ndarray:
    """Extent ``(n, 4)`` of the found upper-body joints (visibility above :data:`SEEN`), hand
    joints (confidence above 0) and face landmarks (above :data:`SEEN`); NaN where none."""
    raw = np.asarray(raw, np.float32)
    pts, ok = raw[..., :2], np.concatenate([raw[:, :NUM_BODY, 2] > SEEN, raw[:, NUM_BODY:, 2] > 0], axis=1)
    if face is not None:
        face = np.asarray(face, np.float32)
        pts = np.concatenate([pts, face[..., :2]], axis=1)
        ok = np.concatenate([ok, face[..., 2] > SEEN], axis=1)
    x = np.where(ok, pts[..., 0], np.nan)
    y = np.where(ok, pts[..., 1], np.nan)
    with np.errstate(all="ignore"), np.testing.suppress_warnings() as sup:
        sup.filter(RuntimeWarning)
        return np.stack([np.nanmin(x, 1), np.nanmin(y, 1), np.nanmax(x, 1), np.nanmax(y, 1)], axis=1).astype(np.float32)


def expand_box(box: np.ndarray, margin: float) -> np.ndarray:
    """Boxes ``(..., 4)`` grown by ``margin`` times their width / height on each side."""
    box = np.asarray(box, np.float32)
    w, h = box[..., 2] - box[..., 0], box[..., 3] - box[..., 1]
    return np.stack([box[..., 0] - margin * w, box[..., 1] - margin * h,
                     box[..., 2] + margin * w, box[..., 3] + margin * h], axis=-1)


def fill_missing(boxes: np.ndarray) -> np.ndarray:
    """Boxes ``(n, 4)`` with NaN rows replaced by the nearest earlier box (the next one before
    the first); all NaN stays NaN."""
    boxes = np.asarray(boxes, np.float32).copy()
    ok = np.isfinite(boxes).all(1)
    if not ok.any() or ok.all():
        return boxes
    idx = np.where(ok, np.arange(len(boxes)), -1)
    idx = np.maximum.accumulate(idx)
    idx[idx < 0] = np.flatnonzero(ok)[0]
    return boxes[idx]


def smooth_boxes(boxes: np.ndarray, window: int = 5) -> np.ndarray:
    """Centred moving average of boxes over ``window`` frames (edges use a shorter window);
    keeps boxes from jittering with the landmarks."""
    boxes = np.asarray(boxes, dtype=np.float32)
    if len(boxes) < 2 or window < 2:
        return boxes.copy()
    half = window // 2
    csum = np.cumsum(np.pad(boxes, ((1, 0), (0, 0))), axis=0)
    idx = np.arange(len(boxes))
    lo, hi = np.clip(idx - half, 0, len(boxes)), np.clip(idx + half + 1, 0, len(boxes))
    return ((csum[hi] - csum[lo]) / (hi - lo)[:, None]).astype(np.float32)


def clip_boxes(boxes: np.ndarray, frame_shape: tuple[int, int]) -> np.ndarray:
    """Boxes ``(n, 4)`` clipped to a frame ``(height, width)``."""
    h, w = frame_shape[:2]
    out = np.asarray(boxes, np.float32).copy()
    out[:, [0, 2]] = np.clip(out[:, [0, 2]], 0, w)
    out[:, [1, 3]] = np.clip(out[:, [1, 3]], 0, h)
    return out


def body_boxes(raw: np.ndarray, face: np.ndarray, frame_shape: tuple[int, int], margin: float = BOX_MARGIN,
               head_room: float = HEAD_ROOM, window: int = 5) -> np.ndarray:
    """Per-frame body boxes ``(n, 4)`` from keypoints ``(n, 56, 3)`` and face landmarks ``(n, 11, 3)``:
    the extent of the found upper-body, hand and face landmarks (:func:`extent_box`), ``margin``
    of that extent added on each side, the top raised to at least ``head_room`` shoulder widths
    above the highest face landmark (the hair and the top of the head carry no landmark),
    smoothed over ``window`` frames (:func:`smooth_boxes`), clipped to the frame. Frames without
    landmarks carry the box of the nearest frame before (after, at the start). All zeros when no
    frame has a landmark."""
    ext = extent_box(raw, face)
    box = expand_box(ext, margin)
    _, width, seen = shoulders(raw)
    vis = np.asarray(face)[:, :, 2] > SEEN
    top = np.where(vis, np.asarray(face)[:, :, 1], np.inf).min(1) - head_room * width
    raise_top = seen & vis.any(1) & np.isfinite(box[:, 1])
    box[raise_top, 1] = np.minimum(box[raise_top, 1], top[raise_top])
    box = fill_missing(box)
    if not np.isfinite(box).all():
        return np.zeros((len(box), 4), np.float32)
    return clip_boxes(smooth_boxes(box, window), frame_shape)


def face_boxes(face: np.ndarray, raw: np.ndarray, detections: list[np.ndarray], frame_shape: tuple[int, int],
               window: int = 5) -> np.ndarray:
    """Face boxes ``(n, 4)`` of one followed person: the face detection lying on the person's face
    landmarks ``(n, 11, 3)`` where there is one (``detections[i]``: ``(m, 5)`` of frame ``i``), else a
    square from the landmarks (centred on the face landmarks seen, side 1.3 times their span and at
    least 0.45 shoulder widths: the ears span about a face width). Frames without either carry the
    nearest box; smoothed over ``window`` frames and clipped to the frame. All zeros when no frame
    has a face."""
    face = np.asarray(face, np.float32)
    _, width, seen = shoulders(raw)
    vis = face[:, :, 2] > SEEN
    count = vis.sum(1)
    x = np.where(vis, face[:, :, 0], np.nan)
    y = np.where(vis, face[:, :, 1], np.nan)
    with np.errstate(all="ignore"), np.testing.suppress_warnings() as sup:
        sup.filter(RuntimeWarning)
        cx, cy = np.nanmean(x, 1), np.nanmean(y, 1)
        span = np.maximum(np.nanmax(x, 1) - np.nanmin(x, 1), np.nanmax(y, 1) - np.nanmin(y, 1))
    side = np.maximum(1.3 * np.nan_to_num(span), np.where(seen, 0.45 * width, 0.0))
    boxes = np.stack([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2], axis=1)
    boxes[(count < 2) | (side <= 0)] = np.nan
    for i, det in enumerate(detections):
        if len(det) == 0 or not np.isfinite(boxes[i]).all():
            continue
        centres = (det[:, :2] + det[:, 2:4]) / 2
        inside = ((centres >= boxes[i, :2]) & (centres <= boxes[i, 2:])).all(1)
        if inside.any():
            best = np.argmax(np.where(inside, det[:, 4], -1))
            boxes[i] = det[best, :4]
    boxes = fill_missing(boxes)
    if not np.isfinite(boxes).all():
        return np.zeros((len(boxes), 4), np.float32)
    return clip_boxes(smooth_boxes(boxes, window), frame_shape)


# ---------------------------------------------------------------------------------------------
# Following


@dataclass
class Followed:
    """One person followed through a stretch of frames without a cut: keypoints ``(n, 56, 3)`` and
    face landmarks ``(n, 11, 3)`` from frame ``start`` (chunk-relative), zeros where lost."""

    start: int
    raw: np.ndarray
    face: np.ndarray
    scene: int = 0

    @property
    def end(self) -> int:  # inclusive
        return self.start + len(self.raw) - 1

    @property
    def found(self) -> np.ndarray:
        """``(n,)`` frames with the body found (a shoulder at least)."""
        return self.raw[:, [LEFT_SHOULDER, RIGHT_SHOULDER], 2].max(1) > SHOULDER_SEEN


def _found(kp: np.ndarray) -> bool:
    return bool(kp[[LEFT_SHOULDER, RIGHT_SHOULDER], 2].max() > SHOULDER_SEEN)


def follow_person(estimator, frames: np.ndarray, start: int, stop: int, crop: np.ndarray,
                  head: np.ndarray, unit: float, seeds: Seeds | None = None, max_lost: int = 12,
                  hand_stride: int = 1, others: dict[int, np.ndarray] | None = None
                  ) -> tuple[np.ndarray, np.ndarray] | None:
    """Follow one person from frame ``start`` towards ``stop`` (exclusive; below ``start`` to go
    backwards): :func:`_follow` from ``crop`` ``(4,)``, and where the body is not found there, from
    that crop grown by 60 % each side and from the whole frame (mediapipe's pose detector finds a
    person at some scales and not others, a masked face most of all; the head check keeps it from
    starting on someone else); each start crop is checked with a fresh detection
    (:meth:`~jegal.perception.pose.PoseEstimator.detect`) before the follow starts. ``others[t]``:
    heads ``(k, 3)`` (x, y, head unit) of the people already followed in frame ``t``, painted out
    of the image this person is looked for in (:func:`paint_out_heads`)."""
    image = frames[start] if not others or start not in others else paint_out_heads(frames[start], others[start],
                                                                                   head, unit)
    for first in (crop, expand_box(crop, 0.6), None):
        # Checked afresh first (no tracking state), so a start that finds nobody costs no reset.
        kp, face = estimator.detect(image, first)
        if not _found(kp):
            continue
        h_now, u_now = head_of(kp[None], face[None])
        if not np.linalg.norm(h_now[0] - head) < SAME_BODY * max(unit, float(u_now[0])):
            continue
        got = _follow(estimator, frames, start, stop, first, head, unit, seeds, max_lost, hand_stride, others)
        if got is not None:
            return got
    return None


def _held(head: np.ndarray, unit: float, heads: np.ndarray) -> bool:
    """Whether ``head`` ``(2,)`` with ``unit`` is one of ``heads`` ``(k, 3)`` (x, y, unit)."""
    heads = np.asarray(heads, np.float32).reshape(-1, 3)
    return bool(len(heads) and same_body(heads[:, :2], heads[:, 2], np.asarray(head, np.float32)[None],
                                         np.float32(unit)).any())


def paint_out_heads(frame: np.ndarray, heads: np.ndarray, keep: np.ndarray, keep_unit: float) -> np.ndarray:
    """``frame`` with a grey square of 2.4 head units over each head of ``heads`` ``(k, 3)`` (x, y,
    unit) but the one at ``keep`` ``(2,)``: mediapipe's pose detector is anchored on the head, so
    with the other people's heads painted out it cannot jump onto them (it did on
    two_speakers_raw.mp4: from a man seen from behind onto the woman beside him). A copy when
    anything is painted."""
    heads = np.asarray(heads, np.float32).reshape(-1, 3)
    if not len(heads) or np.ndim(frame) < 2:
        return frame
    far = ~same_body(heads[:, :2], heads[:, 2], np.asarray(keep, np.float32)[None], np.float32(keep_unit))
    if not far.any():
        return frame
    out = frame.copy()
    h, w = out.shape[:2]
    for x, y, u in heads[far]:
        r = 1.2 * u
        out[int(max(0, y - r)):int(min(h, y + r)), int(max(0, x - r)):int(min(w, x + r))] = 128
    return out


def _follow(estimator, frames: np.ndarray, start: int, stop: int, crop: np.ndarray | None,
            head: np.ndarray, unit: float, seeds: Seeds | None, max_lost: int,
            hand_stride: int, others: dict[int, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """Follow one person from frame ``start`` towards ``stop`` (exclusive; below ``start`` to go
    backwards) with ``estimator`` (:class:`~jegal.perception.pose.PoseEstimator`, reset here).

    The first crop is ``crop`` ``(4,)`` (None: the whole frame); the person found there must have
    its head within :data:`SAME_BODY` ``unit`` of ``head`` ``(2,)`` (the seed's), else None is
    returned (a seed with no body under it, or a body that is someone else's). Each later crop is the person's
    own landmark box of the frame before (:data:`CROP_MARGIN` around the extent, averaged with the
    crop before so it does not jitter). A frame where the body is not found, or found where this
    person could not have gone (the head moved more than 1.6 of its head units a frame since it was
    last seen, up to four frames), counts as lost: the crop (which the pose model clips to the
    frame) is kept and grown by 10 % a frame, and a seed of that frame lying where the person was
    last seen gives the next crop (re-acquired). After more than ``max_lost`` lost frames in a row the follow
    ends. Returns keypoints ``(n, 56, 3)`` and face landmarks ``(n, 11, 3)`` in the order the
    frames were visited, trailing lost frames trimmed."""
    estimator.reset()
    step = 1 if stop >= start else -1
    kps, faces = [], []
    lost, last_found = 0, -1
    last_head, last_unit = np.asarray(head, np.float32), float(unit)
    for i, t in enumerate(range(start, stop, step)):
        image = frames[t] if not others or t not in others else paint_out_heads(frames[t], others[t], last_head,
                                                                                   last_unit)
        kp, face = estimator.frame_and_face(image, crop, hands=i % hand_stride == 0)
        ok = _found(kp)
        if ok:
            h_now, u_now = head_of(kp[None], face[None])
            # The seed's scale may be a face's, the body's a shoulder's: the larger at the start; then
            # the person's own, a head unit a frame at most (more while lost).
            limit = SAME_BODY * (max(last_unit, float(u_now[0])) if i == 0 else 2.0 * last_unit * min(lost + 1, 4))
            if not np.isfinite(h_now[0]).all() or not np.linalg.norm(h_now[0] - last_head) < limit:
                ok = False
                if i > 0:  # pose jumped onto someone else: its tracking state is no use
                    estimator.reset()
            elif lost and others and t in others and _held(h_now[0], float(u_now[0]), others[t]):
                # Lost, and found again on a body someone already followed holds in this frame: while
                # one person is hidden behind another, the only body there is the one in front.
                ok = False
                estimator.reset()
        if i == 0 and not ok:
            return None
        if ok:
            last_head, last_unit = h_now[0], float(u_now[0])
            lost, last_found = 0, i
            new = expand_box(extent_box(kp[None], face[None])[0], CROP_MARGIN)
            crop = new if i == 0 or crop is None else 0.5 * crop + 0.5 * new
        else:
            kp, face = np.zeros_like(kp), np.zeros_like(face)
            lost += 1
            if lost > max_lost:
                break
            crop = expand_box(crop, 0.05)
            if seeds is not None and 0 <= t + step < len(frames):
                s_heads, s_units, s_crops = seeds.heads(t + step)
                if len(s_heads):
                    near = same_body(s_heads, s_units, last_head[None], np.float32(last_unit))
                    if near.any():
                        crop = s_crops[int(np.flatnonzero(near)[0])]
        kps.append(kp)
        faces.append(face)
    kps, faces = np.stack(kps[:last_found + 1]), np.stack(faces[:last_found + 1])
    if hand_stride > 1:
        from jegal.perception.pose import fill_skipped_hands

        fill_skipped_hands(kps, hand_stride)
    return kps, faces


def follow_everyone(estimator, frames: np.ndarray, lo: int, hi: int, seeds: Seeds, max_lost: int = 12,
                    back: int = 12, hand_stride: int = 1, scene: int = 0) -> list[Followed]:
    """Everyone in frames ``lo..hi-1`` (no scene cut inside): the earliest seed that lies on no
    body followed so far starts a new person, followed forward to ``hi`` (:func:`follow_person`) and
    backward up to ``back`` frames (seeds are sparse: the person may be in view before the first);
    then the seeds on that person's body are marked, and so on until every seed is explained. The
    people followed so far have their heads painted out of the frames the next one is looked for in
    (:func:`paint_out_heads`). A seed with no body under it marks the seeds at its place for the
    next second as explained."""
    cache = {t: seeds.heads(t) for t in range(lo, hi)}
    explained = {t: np.zeros(len(cache[t][0]), bool) for t in range(lo, hi)}
    others: dict = {}  # frame -> heads (x, y, unit) of the people followed so far
    people: list[Followed] = []
    while True:
        pending = [(t, j) for t in range(lo, hi) for j in np.flatnonzero(~explained[t])]
        if not pending:
            break
        t0, j0 = pending[0]
        heads, units, crops = cache[t0]
        got = follow_person(estimator, frames, t0, hi, crops[j0], heads[j0], float(units[j0]), seeds, max_lost,
                            hand_stride, others)
        if got is None:
            for t in range(t0, min(hi, t0 + 25)):
                h, u, _ = cache[t]
                if len(h):
                    explained[t] |= same_body(h, u, heads[j0][None], units[j0])
            explained[t0][j0] = True
            continue
        raw, face = got
        start = t0
        if back > 0 and t0 > lo:
            first = int(np.flatnonzero(raw[:, [LEFT_SHOULDER, RIGHT_SHOULDER], 2].max(1) > SHOULDER_SEEN)[0])
            h0, u0 = head_of(raw[first:first + 1], face[first:first + 1])
            before = follow_person(estimator, frames, t0 - 1, max(lo, t0 - back) - 1,
                                   expand_box(extent_box(raw[first:first + 1], face[first:first + 1])[0], CROP_MARGIN),
                                   h0[0], float(u0[0]), seeds, max_lost, hand_stride, others)
            if before is not None:
                raw = np.concatenate([before[0][::-1], raw])
                face = np.concatenate([before[1][::-1], face])
                start = t0 - len(before[0])
        person = Followed(start, raw, face, scene)
        _explain(person, cache, explained)
        hd, un = head_of(raw, face)
        ok = np.isfinite(hd).all(1) & np.isfinite(un)
        if ok.sum() >= 2:
            # A person lost for a few frames inside its follow is still there (hidden, or pose missed it).
            at, inside = np.flatnonzero(ok), np.arange(len(ok))
            inside = inside[(inside > at[0]) & (inside < at[-1]) & ~ok]
            for col, src in ((0, hd[:, 0]), (1, hd[:, 1])):
                hd[inside, col] = np.interp(inside, at, src[at])
            un[inside] = np.interp(inside, at, un[at])
            ok[inside] = True
        for k in np.flatnonzero(ok):
            others.setdefault(start + int(k), []).append([hd[k, 0], hd[k, 1], un[k]])
        explained[t0][j0] = True
        people.append(person)
    return people


def _explain(person: Followed, cache: dict, explained: dict) -> None:
    """Mark the seeds lying on ``person``'s body (its head in the nearest frame with a body)."""
    found = np.flatnonzero(person.found)
    if not len(found):
        return
    heads, units = head_of(person.raw, person.face)
    for t in range(person.start, person.end + 1):
        h, u, _ = cache.get(t, (np.zeros((0, 2)), None, None))
        if not len(h):
            continue
        k = found[np.argmin(np.abs(found - (t - person.start)))]
        explained[t] |= same_body(h, u, heads[k][None], units[k])
