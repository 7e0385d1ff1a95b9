"""Find every person in a chunk of frames, track them, split at scene cuts.

Faces are detected with mediapipe's full-range face detector (``model_selection=1``, which
finds several people in a frame), linked frame to frame by a Hungarian assignment on
centre distance in face widths, bridged over short gaps, and cut at scene cuts (a jump
of the hue/saturation histogram). Each track gives a body box per frame: mediapipe pose
finds one person per image, so pose runs on that per-person crop (see
:mod:`jegal.perception.pose`). Boxes are ``(x0, y0, x1, y1)`` pixels of the decoded frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SCENE_THRESHOLD = 0.15  # total-variation distance between consecutive HS histograms


@dataclass
class Track:
    track_id: int
    start: int  # first frame (inclusive)
    faces: np.ndarray  # (n, 4) face boxes, gaps interpolated
    scores: np.ndarray  # (n,) detection score, 0 where interpolated
    scene: int = 0

    @property
    def end(self) -> int:  # inclusive
        return self.start + len(self.faces) - 1

    @property
    def num_frames(self) -> int:
        return len(self.faces)

    def body_boxes(self, frame_shape: tuple[int, int]) -> np.ndarray:
        """Upper-body crop per frame, ``(n, 4)``: the face box widened to take in the arms
        and hands of a seated or standing speaker, smoothed over time, clipped to the frame."""
        return body_box(smooth_boxes(self.faces), frame_shape)


class FaceDetector:
    """mediapipe full-range face detection; one instance per process (not picklable)."""

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


def detect_faces(frames: np.ndarray, detector: FaceDetector | list[FaceDetector] | None = None,
                 stride: int = 1) -> list[np.ndarray]:
    """Face boxes per frame (see :meth:`FaceDetector.__call__`). With ``stride`` k > 1
    only every k-th frame is searched and the others get no detection; the tracker
    bridges such gaps by interpolation.

    With a list of detectors the searched frames are cut into one contiguous block per
    detector, run in parallel threads (mediapipe releases the GIL). Face detection looks at
    each image on its own (no tracking state), so the result is the same as with one."""
    detectors = detector if isinstance(detector, list) else [detector or FaceDetector()]
    own = detector is None
    empty = np.zeros((0, 5), np.float32)
    out = [empty] * len(frames)
    searched = list(range(0, len(frames), stride))
    blocks = [b for b in np.array_split(np.asarray(searched, dtype=np.int64), len(detectors)) if len(b)]

    def run(det: FaceDetector, block: np.ndarray) -> None:
        for i in block:
            out[i] = det(frames[i])

    try:
        if len(blocks) <= 1:
            for block in blocks:
                run(detectors[0], block)
        else:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(len(blocks)) as ex:
                list(ex.map(run, detectors, blocks))
        return out
    finally:
        if own:
            detectors[0].close()


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


def track_faces(detections: list[np.ndarray], cuts: list[int] | None = None, max_gap: int = 8,
                max_jump: float = 1.0, min_frames: int = 25, min_score: float = 0.5) -> list[Track]:
    """Link per-frame face boxes into tracks.

    A detection continues a track when its centre lies within ``max_jump`` face widths of
    the track's last box (Hungarian assignment, so two people never share a track) and
    its size is within a factor 2. A track survives ``max_gap`` frames without a detection
    (filled by linear interpolation) and ends at a scene cut. Tracks shorter than
    ``min_frames`` or whose mean detection score is below ``min_score`` are dropped.
    Track ids count from 0 in order of first appearance.
    """
    from scipy.optimize import linear_sum_assignment

    cut_set = set(cuts or [])
    scene = 0
    active: list[dict] = []
    finished: list[dict] = []
    for t, dets in enumerate(detections):
        if t in cut_set and t > 0:
            finished += active
            active = []
            scene += 1
        still = []
        for tr in active:
            (finished if t - tr["frames"][-1] > max_gap else still).append(tr)
        active = still
        dets = np.asarray(dets, dtype=np.float32).reshape(-1, 5)
        matched = set()
        if active and len(dets):
            last = np.stack([tr["boxes"][-1] for tr in active])
            lc, dc = (last[:, :2] + last[:, 2:4]) / 2, (dets[:, :2] + dets[:, 2:4]) / 2
            lw, dw = last[:, 2] - last[:, 0], dets[:, 2] - dets[:, 0]
            dist = np.linalg.norm(lc[:, None] - dc[None], axis=-1) / np.maximum(lw[:, None], 1e-6)
            ratio = dw[None] / np.maximum(lw[:, None], 1e-6)
            cost = np.where((dist <= max_jump) & (ratio > 0.5) & (ratio < 2.0), dist, 1e6)
            rows, cols = linear_sum_assignment(cost)
            for r, c in zip(rows, cols):
                if cost[r, c] < 1e6:
                    tr = active[r]
                    tr["frames"].append(t)
                    tr["boxes"].append(dets[c, :4])
                    tr["scores"].append(float(dets[c, 4]))
                    matched.add(int(c))
        for c in range(len(dets)):
            if c not in matched:
                active.append({"frames": [t], "boxes": [dets[c, :4]], "scores": [float(dets[c, 4])], "scene": scene})
    finished += active
    finished.sort(key=lambda tr: (tr["frames"][0], tr["boxes"][0][0]))
    tracks = []
    for tr in finished:
        frames = np.asarray(tr["frames"])
        n = frames[-1] - frames[0] + 1
        if n < min_frames or np.mean(tr["scores"]) < min_score:
            continue
        grid = np.arange(frames[0], frames[-1] + 1)
        boxes = np.stack(tr["boxes"])
        faces = np.stack([np.interp(grid, frames, boxes[:, k]) for k in range(4)], axis=1).astype(np.float32)
        scores = np.zeros(n, np.float32)
        scores[frames - frames[0]] = tr["scores"]
        tracks.append(Track(len(tracks), int(frames[0]), faces, scores, tr["scene"]))
    return tracks


def smooth_boxes(boxes: np.ndarray, window: int = 5) -> np.ndarray:
    """Centred moving average of boxes over ``window`` frames (edges use a shorter window);
    keeps crops from jittering with the detector."""
    boxes = np.asarray(boxes, dtype=np.float32)
    if len(boxes) < 2 or window < 2:
        return boxes.copy()
    half = window // 2
    csum = np.cumsum(np.pad(boxes, ((1, 0), (0, 0))), axis=0)
    idx = np.arange(len(boxes))
    lo, hi = np.clip(idx - half, 0, len(boxes)), np.clip(idx + half + 1, 0, len(boxes))
    return ((csum[hi] - csum[lo]) / (hi - lo)[:, None]).astype(np.float32)


def body_box(faces: np.ndarray, frame_shape: tuple[int, int], widths: float = 3.5, above: float = 0.6,
             below: float = 6.0) -> np.ndarray:
    """Upper-body boxes from face boxes ``(n, 4)``: ``widths`` face widths either side of the
    face centre, ``above`` face heights above the face and ``below`` below it, clipped to
    the frame ``(height, width)``."""
    h, w = frame_shape[:2]
    faces = np.asarray(faces, dtype=np.float32)
    cx = (faces[:, 0] + faces[:, 2]) / 2
    fw, fh = faces[:, 2] - faces[:, 0], faces[:, 3] - faces[:, 1]
    out = np.stack([cx - widths * fw, faces[:, 1] - above * fh, cx + widths * fw, faces[:, 3] + below * fh], axis=1)
    out[:, [0, 2]] = np.clip(out[:, [0, 2]], 0, w)
    out[:, [1, 3]] = np.clip(out[:, [1, 3]], 0, h)
    return out
