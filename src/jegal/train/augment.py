"""Training-time augmentation against speaker shortcuts.

With a few dozen training speakers, anything that identifies a speaker in both streams
(body proportions, handedness, rest pose in the keypoints; pitch, timbre and loudness in
the log-mel) lets the contrastive losses match voices to bodies instead of words to
gestures, which fails on unseen speakers (docs/train.md, "Augmentation"). Each
training clip gets an independent random transform of each stream, drawn from the clip's
own crop generator, so the stream stays a pure function of (seed, epoch) and resume stays exact:

- keypoints: mirror (left and right swapped, x negated) with probability 1/2, so handedness
  says nothing; scale, rotation about the shoulder midpoint and a shift, so body size and
  placement vary; missing joints stay zero;
- log-mel: a shift along the mel axis (a crude change of pitch and vocal-tract length) and
  a gain (loudness).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from jegal.data.audio import LOG_FLOOR
from jegal.data.clip import Clip
from jegal.data.keypoints import LEFT_HAND, NUM_BODY, NUM_JOINTS, RIGHT_HAND

# Body joints come in (left, right) pairs: 0/1 shoulders, 2/3 elbows, ... 12/13 hips.
MIRROR = np.arange(NUM_JOINTS)
MIRROR[:NUM_BODY] = np.arange(NUM_BODY) ^ 1
MIRROR[LEFT_HAND], MIRROR[RIGHT_HAND] = np.arange(NUM_JOINTS)[RIGHT_HAND], np.arange(NUM_JOINTS)[LEFT_HAND]

SCALE = (0.85, 1.15)
ROTATE_DEG = 10.0
SHIFT = 0.1  # shoulder widths
MEL_SHIFT_BINS = 4
GAIN = 1.0  # natural-log units (about +-8.7 dB)


def augment_keypoints(kp: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(T, J, 3) normalised keypoints -> a mirrored / scaled / rotated / shifted copy."""
    out = kp.copy()
    if rng.random() < 0.5:
        out = out[:, MIRROR]
        out[..., 0] = -out[..., 0]
    a = np.deg2rad(rng.uniform(-ROTATE_DEG, ROTATE_DEG))
    s = rng.uniform(*SCALE)
    rot = s * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]], dtype=np.float32)
    shift = rng.uniform(-SHIFT, SHIFT, size=2).astype(np.float32)
    present = out[..., 2:3] > 0
    out[..., :2] = np.where(present, out[..., :2] @ rot.T + shift, 0.0)
    return out


def augment_mel(mel: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(4T, 80) log-mel -> shifted along the mel axis by up to MEL_SHIFT_BINS bins (edges
    filled with silence) and scaled in loudness."""
    k = int(rng.integers(-MEL_SHIFT_BINS, MEL_SHIFT_BINS + 1))
    floor = np.float32(np.log(LOG_FLOOR))
    out = np.full_like(mel, floor)
    if k >= 0:
        out[:, k:] = mel[:, : mel.shape[1] - k]
    else:
        out[:, :k] = mel[:, -k:]
    return np.maximum(out + np.float32(rng.uniform(-GAIN, GAIN)), floor)


def augment_clip(clip: Clip, rng: np.random.Generator) -> Clip:
    return replace(clip, keypoints=augment_keypoints(clip.keypoints, rng), mel=augment_mel(clip.mel, rng))
