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

"Not found" is written in many ways; every one becomes confidence 0 (:func:`mark_missing`),
with a warning naming the convention and how often it occurred: NaN (MediaPipe's own;
no warning), a hand or body stored as all zeros, a single landmark at exactly (0, 0) with a
confidence, a negative confidence (``-1`` for missing), and coordinates outside the image
(outside 0..1 for MediaPipe's normalised ones, outside 0..width/height for pixel layouts
when the file gives ``width`` and ``height``, below 0 always), which ``prepare``'s own pose
step treats as unseen too. A file in which no shoulder is ever found is refused.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from jegal.data.keypoints import JOINT_INDEX, LEFT_HAND, NUM_JOINTS, POSE_UPPER_BODY, RIGHT_HAND
from jegal.perception.errors import BadKeypoints
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
    # A joint whose coordinates or confidence are not numbers (NaN: "not found") is missing.
    kp = kp.copy()
    kp[..., 2] = np.where(np.isfinite(kp).all(axis=-1), kp[..., 2], 0.0)
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


_GROUPS = {"body": slice(0, LEFT_HAND.start), "left hand": LEFT_HAND, "right hand": RIGHT_HAND}


def mark_missing(kp: np.ndarray, limits: tuple[float, float] | None = None, source: str = "keypoints",
                 warnings: list[str] | None = None) -> np.ndarray:
    """``(T, 56, 3)`` keypoints with every way of writing "not found" turned into confidence 0
    (coordinates 0); one line per convention met, naming it and how often, goes to ``warnings``.

    Missing: coordinates or confidence not finite (NaN); a whole hand or body whose seen
    joints all sit at (0, 0) in a frame ("zeros for not found", as many Holistic and OpenPose
    exports write); a single joint at exactly (0, 0); a negative confidence ("-1 for not
    found"); a coordinate below 0 or, given ``limits`` (width, height in the coordinates'
    units), beyond them: outside the image, which prepare's own pose step counts as unseen."""
    kp = np.array(kp, dtype=np.float32, copy=True)
    xy, conf = kp[..., :2], kp[..., 2]
    finite = np.isfinite(kp).all(axis=-1)
    seen = finite & (conf != 0)
    notes = []
    zero = seen & (xy == 0).all(axis=-1)
    whole = np.zeros_like(zero)
    for name, part in _GROUPS.items():
        all_zero = zero[:, part].any(axis=1) & (zero[:, part] | ~seen[:, part]).all(axis=1)  # (T,)
        whole[:, part] |= all_zero[:, None] & seen[:, part]
        if all_zero.any():
            notes.append(f"{name} stored as all zeros in {int(all_zero.sum())} of {len(kp)} frames "
                         "(the 'zeros for not found' convention)")
    single = zero & ~whole
    if single.any():
        notes.append(f"{int(single.sum())} joint(s) at exactly (0, 0), the image corner (the 'zeros for not found' "
                     "convention)")
    negative = finite & (conf < 0)
    if negative.any():
        notes.append(f"{int(negative.sum())} joint(s) with a negative confidence (the '-1 for not found' convention)")
    with np.errstate(invalid="ignore"):
        outside = finite & ~zero & (xy < 0).any(axis=-1)
        if limits is not None:
            outside |= finite & (xy > np.asarray(limits, np.float32)).any(axis=-1)
    outside &= conf > 0
    if outside.any():
        where = "0..1 of MediaPipe's normalised coordinates" if limits == (1.0, 1.0) else (
            f"the {limits[0]:g} x {limits[1]:g} image" if limits is not None else "the image (negative coordinates)")
        notes.append(f"{int(outside.sum())} joint(s) outside {where} (out of frame: unseen, as prepare's own pose "
                     "step counts them)")
    missing = ~finite | zero | negative | outside
    kp[missing] = 0.0
    if notes and warnings is not None:
        warnings.append(f"{source}: treated as missing: " + "; ".join(notes))
    return kp


def from_holistic(pose: np.ndarray, left_hand: np.ndarray, right_hand: np.ndarray, width: float = 1.0,
                  height: float = 1.0, warnings: list[str] | None = None, source: str = "keypoints") -> np.ndarray:
    """MediaPipe Holistic arrays -> ``(T, 56, 3)``: pose landmarks 11..24 with their
    visibility as confidence, each hand with confidence 1 where found, all in pixels of a
    ``width`` x ``height`` image. A hand or landmark written as missing in any of the ways
    :func:`mark_missing` knows (NaN, all zeros, out of the 0..1 frame) gets confidence 0;
    the conventions met are described in ``warnings``."""
    pose = np.asarray(pose, dtype=np.float32)
    lh, rh = np.asarray(left_hand, dtype=np.float32), np.asarray(right_hand, dtype=np.float32)
    T = len(pose)
    if pose.shape != (T, 33, 4) or lh.shape != (T, 21, 3) or rh.shape != (T, 21, 3):
        raise BadKeypoints(f"Holistic arrays must be pose (T, 33, 4), hands (T, 21, 3); got "
                           f"{pose.shape}, {lh.shape}, {rh.shape}")
    scale = np.array([width, height], np.float32)
    out = np.zeros((T, NUM_JOINTS, 3), np.float32)
    idx = np.array(list(POSE_UPPER_BODY))
    out[:, :len(idx), :2] = pose[:, idx, :2]
    out[:, :len(idx), 2] = pose[:, idx, 3]
    for hand, ours in ((lh, LEFT_HAND), (rh, RIGHT_HAND)):
        found = np.isfinite(hand[..., :2]).all(axis=-1)  # (T, 21)
        out[:, ours, :2] = np.where(found[..., None], hand[..., :2], np.nan)
        out[:, ours, 2] = found.astype(np.float32)
    # Missing conventions are judged in mediapipe's normalised coordinates (the frame is 0..1).
    out = mark_missing(out, (1.0, 1.0), source, warnings)
    out[..., :2] *= scale
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


def load_keypoints_npz(path: str | os.PathLike, warnings: list[str] | None = None) -> np.ndarray:
    """Raw (un-normalised) keypoints ``(T, 56, 3)`` at 25 fps from a ``.kps.npz``.

    Missing values in any convention become confidence 0 (:func:`mark_missing`; what was
    met goes to ``warnings``). Raises :class:`~jegal.perception.errors.BadKeypoints` naming
    ``path``, also for a file in which no shoulder is ever found."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, KeyError, RuntimeError) as err:  # zipfile raises several kinds
        raise BadKeypoints(f"{path}: cannot read keypoints ({type(err).__name__}: {err})") from None
    except Exception as err:  # zlib.error, zipfile.BadZipFile and friends on a damaged archive
        raise BadKeypoints(f"{path}: cannot read keypoints ({type(err).__name__}: {err})") from None
    if "fps" not in data:
        raise BadKeypoints(f"{path}: no 'fps' array")
    try:
        fps = float(np.asarray(data["fps"]).reshape(-1)[0])
        w = float(np.asarray(data.get("width", 1.0)).reshape(-1)[0])
        h = float(np.asarray(data.get("height", 1.0)).reshape(-1)[0])
    except (IndexError, TypeError, ValueError) as err:
        raise BadKeypoints(f"{path}: 'fps', 'width' or 'height' is not a number ({err})") from None
    if not (np.isfinite(fps) and fps > 0):
        raise BadKeypoints(f"{path}: keypoint fps must be a positive number, got {fps}")
    size_given = "width" in data and "height" in data
    if size_given and not (np.isfinite(w) and np.isfinite(h) and w > 0 and h > 0):
        raise BadKeypoints(f"{path}: width and height must be positive numbers, got {w} x {h}")
    if "pose" in data:
        if not all(k in data for k in ("left_hand", "right_hand")):
            raise BadKeypoints(f"{path}: Holistic keypoints need 'pose', 'left_hand', 'right_hand'")
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
            kp = from_holistic(data["pose"], data["left_hand"], data["right_hand"], w, h, warnings, str(path))
        else:
            kp = map_layout(data["keypoints"], layout)
            kp = mark_missing(kp, (w, h) if size_given else None, str(path), warnings)
        if len(kp) == 0:
            raise BadKeypoints("no frames")
        shoulders = kp[:, [JOINT_INDEX["left_shoulder"], JOINT_INDEX["right_shoulder"]], 2]
        if not (shoulders > 0).all(axis=1).any():
            raise BadKeypoints(f"no frame of {len(kp)} has both shoulders (all missing: NaN, zeros or out of frame)")
        return resample_fps(kp, fps)
    except BadKeypoints as err:
        # The array-level checks do not know the file: name it here.
        raise BadKeypoints(f"{path}: {err}") from None
    except (TypeError, ValueError, IndexError) as err:  # arrays of an unusable dtype or shape
        raise BadKeypoints(f"{path}: unusable keypoint arrays ({type(err).__name__}: {err})") from None
