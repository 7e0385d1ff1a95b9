"""The keypoint layout: the one place that defines what a keypoint array means.

Every source of keypoints (mediapipe on real video, the SynthGest generator, imported
OpenPose/PATS arrays) produces arrays of shape ``(T, NUM_JOINTS, 3)`` holding
``(x, y, confidence)`` per joint in this order:

- 0..13   upper body, from mediapipe pose landmarks 11..24 (shoulders, elbows, wrists,
          the three finger landmarks of each wrist, hips). Face landmarks 0..10 are
          excluded on purpose: lips would leak speech into the gesture stream.
- 14..34  left hand, the 21 mediapipe hand landmarks (wrist, thumb 1-4, index 1-4, ...).
- 35..55  right hand, the same 21 landmarks.

"Left"/"right" are the person's own sides. Image coordinates have y pointing down.
A joint that was not found has confidence 0 and coordinates 0; a missing hand is all
zeros. After :func:`normalise` the origin is the midpoint between the shoulders and
the unit is the shoulder width.
"""

from __future__ import annotations

import numpy as np

# mediapipe pose landmark index -> name, upper body only (no face).
POSE_UPPER_BODY = {
    11: "left_shoulder", 12: "right_shoulder",
    13: "left_elbow", 14: "right_elbow",
    15: "left_wrist", 16: "right_wrist",
    17: "left_pinky", 18: "right_pinky",
    19: "left_index", 20: "right_index",
    21: "left_thumb", 22: "right_thumb",
    23: "left_hip", 24: "right_hip",
}
HAND_LANDMARKS = [
    "wrist",
    "thumb_cmc", "thumb_mcp", "thumb_ip", "thumb_tip",
    "index_mcp", "index_pip", "index_dip", "index_tip",
    "middle_mcp", "middle_pip", "middle_dip", "middle_tip",
    "ring_mcp", "ring_pip", "ring_dip", "ring_tip",
    "pinky_mcp", "pinky_pip", "pinky_dip", "pinky_tip",
]

BODY_JOINTS = list(POSE_UPPER_BODY.values())
JOINT_NAMES = BODY_JOINTS + [f"left_hand_{n}" for n in HAND_LANDMARKS] + [f"right_hand_{n}" for n in HAND_LANDMARKS]
NUM_JOINTS = len(JOINT_NAMES)  # 56
NUM_BODY = len(BODY_JOINTS)  # 14
LEFT_HAND = slice(NUM_BODY, NUM_BODY + 21)
RIGHT_HAND = slice(NUM_BODY + 21, NUM_BODY + 42)
JOINT_INDEX = {name: i for i, name in enumerate(JOINT_NAMES)}
LEFT_SHOULDER = JOINT_INDEX["left_shoulder"]
RIGHT_SHOULDER = JOINT_INDEX["right_shoulder"]
LEFT_WRIST = JOINT_INDEX["left_wrist"]
RIGHT_WRIST = JOINT_INDEX["right_wrist"]

# Bones for drawing (pairs of joint indices), body then each hand.
_HAND_BONES = [(0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (5, 9), (9, 10), (10, 11),
               (11, 12), (9, 13), (13, 14), (14, 15), (15, 16), (13, 17), (0, 17), (17, 18), (18, 19), (19, 20)]
BONES = [(JOINT_INDEX[a], JOINT_INDEX[b]) for a, b in [
    ("left_shoulder", "right_shoulder"), ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
    ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"), ("left_shoulder", "left_hip"),
    ("right_shoulder", "right_hip"), ("left_hip", "right_hip"),
]] + [(LEFT_HAND.start + a, LEFT_HAND.start + b) for a, b in _HAND_BONES] + [
    (RIGHT_HAND.start + a, RIGHT_HAND.start + b) for a, b in _HAND_BONES]


def normalise(keypoints: np.ndarray, min_conf: float = 0.1) -> np.ndarray:
    """Centre on the shoulder midpoint and scale by the shoulder width, per frame.

    ``keypoints`` is ``(T, NUM_JOINTS, 3)`` in any image units. Frames whose shoulders were
    not found borrow the nearest valid frame's origin and scale; if no frame has both
    shoulders, the array is returned with coordinates zeroed and confidences kept.
    Missing joints (confidence below ``min_conf``) are set to zero.
    """
    kp = np.asarray(keypoints, dtype=np.float32)
    if kp.ndim != 3 or kp.shape[1:] != (NUM_JOINTS, 3):
        raise ValueError(f"keypoints must have shape (T, {NUM_JOINTS}, 3), got {kp.shape}")
    out = kp.copy()
    valid = (kp[:, LEFT_SHOULDER, 2] >= min_conf) & (kp[:, RIGHT_SHOULDER, 2] >= min_conf)
    if not valid.any():
        out[..., :2] = 0.0
        return out
    mid = (kp[:, LEFT_SHOULDER, :2] + kp[:, RIGHT_SHOULDER, :2]) / 2
    width = np.linalg.norm(kp[:, LEFT_SHOULDER, :2] - kp[:, RIGHT_SHOULDER, :2], axis=-1)
    valid &= width > 1e-6
    # Frames without both shoulders borrow the nearest valid frame (the earlier one on a tie).
    idx = np.flatnonzero(valid)
    t = np.arange(len(kp))
    pos = np.searchsorted(idx, t)
    after = idx[np.clip(pos, 0, len(idx) - 1)]
    before = idx[np.clip(pos - 1, 0, len(idx) - 1)]
    pick = np.where(np.abs(t - before) <= np.abs(after - t), before, after)
    mid, width = mid[pick], width[pick]
    out[..., :2] = (kp[..., :2] - mid[:, None, :]) / width[:, None, None]
    missing = kp[..., 2] < min_conf
    out[missing] = 0.0
    return out
