"""Precomputed keypoints (``<name>.kps.npz``) mapped onto the layout of
:mod:`jegal.data.keypoints`, at 25 fps.

Two kinds of file are accepted:

1. MediaPipe Holistic's native arrays: ``pose`` ``(T, 33, 4)`` (x, y, z, visibility),
   ``left_hand`` and ``right_hand`` ``(T, 21, 3)`` (x, y, z; NaN where the hand was not
   found), ``fps``. Coordinates are mediapipe's, normalised to the image; give ``width``
   and ``height`` (pixels) so that x and y get the same unit (without them the image is
   taken as square, which stretches poses from wide videos).
2. ``keypoints`` ``(T, J, 3)`` (x, y, confidence) + ``fps`` + ``layout`` naming the joint
   order (a string array). ``layout`` may be left out when J is 56 (our own layout).

Layouts (``LAYOUTS``): ``jegal56`` (ours); ``openpose_body25_hands`` (67 joints: OpenPose
BODY_25 then its 21 left-hand and 21 right-hand joints); ``openpose_coco18_hands`` (60:
COCO-18 body then both hands); ``pats52`` (the PATS / Speech2Gesture upper-body layout:
0 neck, 1-3 right shoulder, elbow, wrist, 4-6 left shoulder, elbow, wrist, 7 nose, 8-9
eyes, 10-30 left hand, 31-51 right hand, the hands in OpenPose order, which is also
mediapipe's). Our pose "pinky", "index" and "thumb" joints come from the hand's
pinky and index knuckles and thumb base where only hand keypoints exist; joints a layout
lacks (PATS has no hips) get confidence 0. Frame rates other than 25 are resampled by
linear interpolation of coordinates (confidence: the lower of the two neighbours).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from jegal.data.keypoints import JOINT_INDEX, LEFT_HAND, NUM_JOINTS, POSE_UPPER_BODY, RIGHT_HAND
from jegal.prepare.errors import BadKeypoints
from jegal.timebase import FPS

# Hand landmark indices used for mediapipe pose's finger joints when only hands exist.
_FINGER_FROM_HAND = {"pinky": 17, "index": 5, "thumb": 2}


def _body(mapping: dict[str, int], left_hand: int | None, right_hand: int | None, num_joints: int) -> dict:
    return {"num_joints": num_joints, "body": mapping, "left_hand": left_hand, "right_hand": right_hand}


LAYOUTS = {
    "jegal56": _body({n: i for i, n in enumerate(POSE_UPPER_BODY.values())}, LEFT_HAND.start, RIGHT_HAND.start, NUM_JOINTS),
    "openpose_body25_hands": _body({"right_shoulder": 2, "right_elbow": 3, "right_wrist": 4, "left_shoulder": 5,
                                    "left_elbow": 6, "left_wrist": 7, "right_hip": 9, "left_hip": 12}, 25, 46, 67),
    "openpose_coco18_hands": _body({"right_shoulder": 2, "right_elbow": 3, "right_wrist": 4, "left_shoulder": 5,
                                    "left_elbow": 6, "left_wrist": 7, "right_hip": 8, "left_hip": 11}, 18, 39, 60),
    "pats52": _body({"right_shoulder": 1, "right_elbow": 2, "right_wrist": 3, "left_shoulder": 4, "left_elbow": 5,
                     "left_wrist": 6}, 10, 31, 52),
}


def map_layout(keypoints: np.ndarray, layout: str) -> np.ndarray:
    """``(T, J, 3)`` in ``layout`` -> ``(T, 56, 3)`` in our layout (missing joints zero)."""
    if layout not in LAYOUTS:
        raise BadKeypoints(f"unknown keypoint layout {layout!r}; known: {sorted(LAYOUTS)}")
    spec = LAYOUTS[layout]
    kp = np.asarray(keypoints, dtype=np.float32)
    if kp.ndim != 3 or kp.shape[1:] != (spec["num_joints"], 3):
        raise BadKeypoints(f"layout {layout} needs keypoints (T, {spec['num_joints']}, 3), got {kp.shape}")
    out = np.zeros((len(kp), NUM_JOINTS, 3), np.float32)
    for name, j in spec["body"].items():
        out[:, JOINT_INDEX[name]] = kp[:, j]
    for side, ours in (("left", LEFT_HAND), ("right", RIGHT_HAND)):
        start = spec[f"{side}_hand"]
        if start is None:
            continue
        hand = kp[:, start:start + 21]
        out[:, ours] = hand
        for finger, k in _FINGER_FROM_HAND.items():
            name = f"{side}_{finger}"
            if name not in spec["body"]:
                out[:, JOINT_INDEX[name]] = hand[:, k]
    return np.nan_to_num(out, nan=0.0)


def from_holistic(pose: np.ndarray, left_hand: np.ndarray, right_hand: np.ndarray, width: float = 1.0,
                  height: float = 1.0) -> np.ndarray:
    """MediaPipe Holistic arrays -> ``(T, 56, 3)``: pose landmarks 11..24 with their
    visibility as confidence, each hand with confidence 1 where found (not NaN)."""
    pose = np.asarray(pose, dtype=np.float32)
    lh, rh = np.asarray(left_hand, dtype=np.float32), np.asarray(right_hand, dtype=np.float32)
    T = len(pose)
    if pose.shape != (T, 33, 4) or lh.shape != (T, 21, 3) or rh.shape != (T, 21, 3):
        raise BadKeypoints(f"Holistic arrays must be pose (T, 33, 4), hands (T, 21, 3); got "
                           f"{pose.shape}, {lh.shape}, {rh.shape}")
    scale = np.array([width, height], np.float32)
    out = np.zeros((T, NUM_JOINTS, 3), np.float32)
    idx = np.array(list(POSE_UPPER_BODY))
    out[:, :len(idx), :2] = pose[:, idx, :2] * scale
    out[:, :len(idx), 2] = pose[:, idx, 3]
    for hand, ours in ((lh, LEFT_HAND), (rh, RIGHT_HAND)):
        found = np.isfinite(hand[..., :2]).all(axis=-1)  # (T, 21)
        out[:, ours, :2] = np.where(found[..., None], hand[..., :2] * scale, 0.0)
        out[:, ours, 2] = found.astype(np.float32)
    return np.nan_to_num(out, nan=0.0)


def resample_fps(keypoints: np.ndarray, fps: float, target: float = FPS) -> np.ndarray:
    """Resample ``(T, J, 3)`` keypoints from ``fps`` to ``target`` frames per second.

    Output frame k sits at time k / target; coordinates are interpolated linearly between
    the two nearest input frames and the confidence is the lower of theirs, so a joint
    missing on either side stays missing. The output covers the input's duration
    ``T / fps`` (``round(T * target / fps)`` frames)."""
    kp = np.asarray(keypoints, dtype=np.float32)
    if fps <= 0:
        raise BadKeypoints(f"keypoint fps must be positive, got {fps}")
    if abs(fps - target) < 1e-6 or len(kp) == 0:
        return kp.copy()
    n_out = max(1, int(round(len(kp) * target / fps)))
    pos = np.minimum(np.arange(n_out) * fps / target, len(kp) - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, len(kp) - 1)
    frac = (pos - lo).astype(np.float32)[:, None, None]
    out = np.empty((n_out,) + kp.shape[1:], np.float32)
    out[..., :2] = kp[lo, :, :2] * (1 - frac) + kp[hi, :, :2] * frac
    exact = frac[..., 0] == 0  # (n_out, 1)
    out[..., 2] = np.where(exact, kp[lo, :, 2], np.minimum(kp[lo, :, 2], kp[hi, :, 2]))
    missing = out[..., 2] <= 0
    out[missing] = 0.0
    return out


def load_keypoints_npz(path: str | os.PathLike) -> np.ndarray:
    """Raw (un-normalised) keypoints ``(T, 56, 3)`` at 25 fps from a ``.kps.npz``.

    Raises :class:`~jegal.prepare.errors.BadKeypoints` naming ``path``."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError) as err:
        raise BadKeypoints(f"{path}: cannot read keypoints ({err})") from None
    if "fps" not in data:
        raise BadKeypoints(f"{path}: no 'fps' array")
    fps = float(np.asarray(data["fps"]).reshape(-1)[0])
    if "pose" in data:
        if not all(k in data for k in ("left_hand", "right_hand")):
            raise BadKeypoints(f"{path}: Holistic keypoints need 'pose', 'left_hand', 'right_hand'")
        w = float(np.asarray(data.get("width", 1.0)).reshape(-1)[0])
        h = float(np.asarray(data.get("height", 1.0)).reshape(-1)[0])
        layout = None
    elif "keypoints" in data:
        layout = str(np.asarray(data["layout"]).reshape(-1)[0]) if "layout" in data else None
        if layout is None:
            if data["keypoints"].shape[1:] != (NUM_JOINTS, 3):
                raise BadKeypoints(f"{path}: keypoints {data['keypoints'].shape} need a 'layout' "
                                   f"name ({sorted(LAYOUTS)})")
            layout = "jegal56"
    else:
        raise BadKeypoints(f"{path}: neither 'pose' (Holistic) nor 'keypoints' arrays; has {sorted(data)}")
    try:
        if layout is None:
            kp = from_holistic(data["pose"], data["left_hand"], data["right_hand"], w, h)
        else:
            kp = map_layout(data["keypoints"], layout)
        if len(kp) == 0:
            raise BadKeypoints("no frames")
        return resample_fps(kp, fps)
    except BadKeypoints as err:
        # The array-level checks do not know the file: name it here.
        raise BadKeypoints(f"{path}: {err}") from None
