"""Keypoints of one tracked person with mediapipe, in the layout of
:mod:`jegal.data.keypoints` (upper body + both hands, no face).

mediapipe pose finds one person per image, so pose runs on the person's crop (from the
person's own landmarks of the frame before, :func:`jegal.perception.people.follow_person`), in
tracking mode so its detector runs only when it loses the person. The
hand model runs on the same crop only in frames where pose sees a wrist (the palm
detector is the expensive part and hands out of frame cost nothing), and each found hand
goes to the pose wrist nearest to its own wrist landmark rather than trusting
mediapipe's handedness label, which assumes a mirrored selfie image.

Pose ``model_complexity`` 1 is the only one bundled with mediapipe 0.10.21 (0 and 2 try to
download their model), hands use the bundled lite model (complexity 0).
"""

from __future__ import annotations

import numpy as np

from jegal.data.keypoints import LEFT_HAND, LEFT_WRIST, NUM_BODY, NUM_JOINTS, POSE_UPPER_BODY, RIGHT_HAND, RIGHT_WRIST

POSE_INDEX = np.array(list(POSE_UPPER_BODY), dtype=np.int64)  # our joints 0..13 <- mediapipe pose 11..24
NUM_FACE = 11  # mediapipe pose 0..10: nose, eyes (inner, centre, outer), ears, mouth corners
HAND_REACH = 1.0  # a hand is a body's own when its wrist is within this many units of that body's pose wrist


class PoseEstimator:
    """Pose + hands for one person at a time (call :meth:`reset` before following another).

    ``crop_side`` bounds the longer side of the crop fed to mediapipe (pixels);
    ``hands``: ``"auto"`` (only where a wrist is visible), ``"always"`` or ``"never"``.
    ``hand_stride`` k > 1 runs the hand model on every k-th frame only and interpolates
    the hand landmarks in between (where the hand was found on both sides): the hand
    model is half the cost of a frame, hand shapes change slower than 12 Hz.
    """

    def __init__(self, crop_side: int = 320, hands: str = "auto", wrist_visibility: float = 0.5, hand_stride: int = 1):
        if hands not in ("auto", "always", "never"):
            raise ValueError(f"hands must be auto, always or never, got {hands!r}")
        if hand_stride < 1:
            raise ValueError(f"hand_stride must be >= 1, got {hand_stride}")
        self.crop_side, self.hands_mode, self.wrist_visibility = crop_side, hands, wrist_visibility
        self.hand_stride = hand_stride
        self._pose = self._hands = self._static = None
        self.reset()

    def reset(self) -> None:
        """Forget the person followed so far (the pose and hand models' tracking state). Built graphs
        are restarted rather than built again (mediapipe's ``SolutionBase.reset``: a new run of the
        same graph, a tenth of the cost); the static detector keeps no state."""
        import mediapipe as mp

        if self._pose is not None:
            self._pose.reset()
            if self._hands is not None:
                self._hands.reset()
            return
        self.close()
        self._pose = mp.solutions.pose.Pose(model_complexity=1, static_image_mode=False, smooth_landmarks=True,
                                            min_detection_confidence=0.5, min_tracking_confidence=0.5)
        if self.hands_mode != "never":
            self._hands = mp.solutions.hands.Hands(model_complexity=0, static_image_mode=False, max_num_hands=2,
                                                   min_detection_confidence=0.5, min_tracking_confidence=0.5)

    def close(self) -> None:
        for model in (self._pose, self._hands, self._static):
            if model is not None:
                model.close()
        self._pose = self._hands = self._static = None

    def detect(self, image: np.ndarray, box: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Body keypoints ``(56, 3)`` (no hands) and face landmarks ``(11, 3)`` of the person in ``box``,
        found afresh (pose in static-image mode): no tracking state is used or changed, so a start
        that finds nobody costs no :meth:`reset` (rebuilding the graphs costs several frames)."""
        import mediapipe as mp

        if self._static is None:
            self._static = mp.solutions.pose.Pose(model_complexity=1, static_image_mode=True,
                                                   min_detection_confidence=0.5)
        return self._run(self._static, image, box, hands=False)

    def frame(self, image: np.ndarray, box: np.ndarray | None = None, hands: bool = True) -> np.ndarray:
        """Keypoints ``(56, 3)`` of the person in ``box`` (x0, y0, x1, y1; whole image if None),
        in pixel coordinates of ``image``; zeros where nothing was found."""
        return self.frame_and_face(image, box, hands)[0]

    def frame_and_face(self, image: np.ndarray, box: np.ndarray | None = None,
                       hands: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`frame` and the pose's face landmarks ``(11, 3)`` (mediapipe pose 0..10, x, y
        pixels and visibility; zeros where not found), which give a face box where the face
        detector finds none (:func:`jegal.perception.people.face_boxes`)."""
        return self._run(self._pose, image, box, hands)

    def _run(self, pose, image: np.ndarray, box: np.ndarray | None, hands: bool) -> tuple[np.ndarray, np.ndarray]:
        import cv2

        h, w = image.shape[:2]
        x0, y0, x1, y1 = (0, 0, w, h) if box is None else [int(round(v)) for v in box]
        x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
        out = np.zeros((NUM_JOINTS, 3), np.float32)
        face = np.zeros((NUM_FACE, 3), np.float32)
        if x1 - x0 < 16 or y1 - y0 < 16:
            return out, face
        crop = image[y0:y1, x0:x1]
        s = min(1.0, self.crop_side / max(crop.shape[:2]))
        if s < 1.0:
            crop = cv2.resize(crop, (max(1, int(crop.shape[1] * s)), max(1, int(crop.shape[0] * s))),
                              interpolation=cv2.INTER_AREA)
        crop = np.ascontiguousarray(crop)
        ch, cw = crop.shape[:2]
        # Landmarks come normalised to the crop; map them back to image pixels.
        to_image = lambda lx, ly: (x0 + lx * cw / s, y0 + ly * ch / s)  # noqa: E731
        result = pose.process(crop)
        if result.pose_landmarks is None:
            return out, face
        lms = result.pose_landmarks.landmark
        for j, k in enumerate(POSE_INDEX):
            lm = lms[k]
            out[j, 0], out[j, 1] = to_image(lm.x, lm.y)
            inside = 0.0 <= lm.x <= 1.0 and 0.0 <= lm.y <= 1.0
            out[j, 2] = lm.visibility if inside else 0.0
        for k in range(NUM_FACE):
            lm = lms[k]
            face[k, 0], face[k, 1] = to_image(lm.x, lm.y)
            face[k, 2] = lm.visibility if 0.0 <= lm.x <= 1.0 and 0.0 <= lm.y <= 1.0 else 0.0
        wrists_seen = max(out[LEFT_WRIST, 2], out[RIGHT_WRIST, 2]) >= self.wrist_visibility
        if not hands or self._hands is None or (self.hands_mode == "auto" and not wrists_seen):
            return out, face
        hands = self._hands.process(crop)
        found = []
        for lm_list, handed in zip(hands.multi_hand_landmarks or [], hands.multi_handedness or []):
            pts = np.array([to_image(p.x, p.y) for p in lm_list.landmark], np.float32)  # (21, 2)
            # Landmarks the model guesses beyond the crop (a hand cut by the frame edge) count as not seen.
            inside = np.array([0.0 <= p.x <= 1.0 and 0.0 <= p.y <= 1.0 for p in lm_list.landmark])
            found.append((pts, float(handed.classification[0].score) * inside))
        self._assign_hands(out, found)
        return out, face

    @staticmethod
    def _assign_hands(out: np.ndarray, found: list[tuple[np.ndarray, float | np.ndarray]]) -> None:
        """Put each hand ``(points (21, 2), confidence (scalar or (21,)))`` on the side whose
        pose wrist is nearest its wrist landmark; joints with confidence 0 are zeroed."""
        if not found:
            return
        wrists = out[[LEFT_WRIST, RIGHT_WRIST], :2]  # (2, 2)
        dist = np.array([[np.linalg.norm(pts[0] - wr) for wr in wrists] for pts, _ in found])  # (hands, 2)
        from scipy.optimize import linear_sum_assignment

        rows, cols = linear_sum_assignment(dist)
        for r, c in zip(rows, cols):
            pts, score = found[r]
            side = LEFT_HAND if c == 0 else RIGHT_HAND
            out[side, :2] = pts
            out[side, 2] = score
            out[side][out[side, 2] <= 0] = 0.0


def drop_far_hands(kp: np.ndarray, reach: float = HAND_REACH) -> np.ndarray:
    """In place on keypoints ``(n, 56, 3)``, and returned: each hand whose wrist landmark lies
    farther from the body's pose wrist on its side than ``reach`` units (the larger of the
    shoulder width and three palm lengths: shoulders seen in profile are narrow) is zeroed: it
    is another person's hand inside the follow crop (a woman's crop holding the hands of the man
    beside her), and would stretch her box over him. Frames without the wrist keep their hands."""
    from jegal.data.keypoints import LEFT_SHOULDER, RIGHT_SHOULDER

    width = np.linalg.norm(kp[:, LEFT_SHOULDER, :2] - kp[:, RIGHT_SHOULDER, :2], axis=-1)
    for hand, wrist in ((LEFT_HAND, LEFT_WRIST), (RIGHT_HAND, RIGHT_WRIST)):
        pts = kp[:, hand]
        have = (pts[:, :, 2] > 0).any(1) & (kp[:, wrist, 2] > 0)
        palm = np.linalg.norm(pts[:, 9, :2] - pts[:, 0, :2], axis=-1)
        dist = np.linalg.norm(pts[:, 0, :2] - kp[:, wrist, :2], axis=-1)
        far = have & (dist > reach * np.maximum(width, 3.0 * palm))
        kp[far, hand] = 0.0
    return kp


def fill_skipped_hands(kp: np.ndarray, stride: int, wrist_visibility: float = 0.5) -> None:
    """In place: hands of frames ``t`` with ``t % stride != 0`` from the run frames around them.

    Where both surrounding run frames found the hand, its landmarks are interpolated linearly
    (confidence: the lower of the two). Where only one did, that hand is carried over,
    moved with the pose wrist (seen in both frames, pose runs on every frame) so it follows
    the arm. Otherwise the hand stays missing."""
    T = len(kp)
    for hand, wrist in ((LEFT_HAND, LEFT_WRIST), (RIGHT_HAND, RIGHT_WRIST)):
        for t in range(T):
            if t % stride == 0:
                continue
            a, b = t - t % stride, t - t % stride + stride
            found_a = kp[a, hand, 2].max() > 0
            found_b = b < T and kp[b, hand, 2].max() > 0
            if found_a and found_b:
                f = (t - a) / stride
                kp[t, hand, :2] = kp[a, hand, :2] * (1 - f) + kp[b, hand, :2] * f
                kp[t, hand, 2] = np.minimum(kp[a, hand, 2], kp[b, hand, 2])
            elif found_a or found_b:
                n = a if found_a else b
                if min(kp[t, wrist, 2], kp[n, wrist, 2]) < wrist_visibility:
                    continue
                kp[t, hand, :2] = kp[n, hand, :2] + (kp[t, wrist, :2] - kp[n, wrist, :2])
                kp[t, hand, 2] = kp[n, hand, 2]
            else:
                continue
            kp[t, hand][kp[t, hand, 2] <= 0] = 0.0


def hand_coverage(keypoints: np.ndarray, min_conf: float = 0.1) -> dict:
    """Fractions of frames with the body (both shoulders), each wrist, and each hand found."""
    kp = np.asarray(keypoints)
    seen = kp[..., 2] >= min_conf
    return {
        "body": float((seen[:, 0] & seen[:, 1]).mean()),
        "left_wrist": float(seen[:, LEFT_WRIST].mean()),
        "right_wrist": float(seen[:, RIGHT_WRIST].mean()),
        "left_hand": float(seen[:, LEFT_HAND].any(axis=1).mean()),
        "right_hand": float(seen[:, RIGHT_HAND].any(axis=1).mean()),
    }


__all__ = ["PoseEstimator", "hand_coverage", "POSE_INDEX", "NUM_BODY", "NUM_FACE"]
