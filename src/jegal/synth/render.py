"""Draw a SynthGest speaker as RGB video: a flat cartoon body, hands as bones, a blank face.

The head is a plain ellipse with no features on purpose: the rgb front-end must learn from
gesture, never from lips.
"""

from __future__ import annotations

import os

import numpy as np

from jegal.atomic import atomic_path
from jegal.data.keypoints import BONES, JOINT_INDEX, LEFT_HAND, RIGHT_HAND
from jegal.synth.motion import CANVAS
from jegal.synth.speakers import Speaker
from jegal.timebase import FPS


def draw_frames(clean: np.ndarray, spk: Speaker) -> np.ndarray:
    """``(T, CANVAS, CANVAS, 3)`` uint8 RGB frames of clean keypoints ``(T, 56, 3)`` in pixels."""
    import cv2

    bg, shirt, skin = spk.colours
    J = JOINT_INDEX
    sw = spk.shoulder_width
    frames = np.empty((len(clean), CANVAS, CANVAS, 3), dtype=np.uint8)
    arm_w = max(2, int(0.2 * sw))
    for f, kp in enumerate(clean[..., :2]):
        img = np.empty((CANVAS, CANVAS, 3), dtype=np.uint8)
        img[:] = bg
        pt = lambda name: tuple(int(round(v)) for v in kp[J[name]])  # noqa: E731
        ls, rs = np.asarray(pt("left_shoulder")), np.asarray(pt("right_shoulder"))
        mid = (ls + rs) / 2
        head = (int(mid[0]), int(mid[1] - 0.75 * sw))
        cv2.line(img, tuple(mid.astype(int)), head, skin, max(2, int(0.25 * sw)))
        cv2.ellipse(img, head, (int(0.3 * sw), int(0.4 * sw)), 0, 0, 360, skin, -1, cv2.LINE_AA)
        torso = np.array([pt("left_shoulder"), pt("right_shoulder"), pt("right_hip"), pt("left_hip")], np.int32)
        cv2.fillConvexPoly(img, torso, shirt, cv2.LINE_AA)
        for side in ("left", "right"):
            cv2.line(img, pt(f"{side}_shoulder"), pt(f"{side}_elbow"), shirt, arm_w, cv2.LINE_AA)
            cv2.line(img, pt(f"{side}_elbow"), pt(f"{side}_wrist"), skin, max(2, int(0.8 * arm_w)), cv2.LINE_AA)
        for sl in (LEFT_HAND, RIGHT_HAND):
            hand = kp[sl]
            palm = np.round(hand[[0, 1, 5, 9, 13, 17]]).astype(np.int32)
            cv2.fillConvexPoly(img, cv2.convexHull(palm), skin, cv2.LINE_AA)
        for a, b in BONES:
            if a >= LEFT_HAND.start:
                cv2.line(img, tuple(np.round(kp[a]).astype(int)), tuple(np.round(kp[b]).astype(int)), skin,
                         max(1, int(0.05 * sw)), cv2.LINE_AA)
        frames[f] = img[..., ::-1]  # colours are BGR, frames RGB
    return frames


def write_video(frames: np.ndarray, path: str | os.PathLike) -> None:
    """Encode RGB frames ``(T, H, W, 3)`` uint8 as H.264 mp4 at 25 fps, atomically."""
    import av

    with atomic_path(path) as tmp, av.open(str(tmp), mode="w") as container:  # tmp keeps .mp4 for PyAV
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "20", "preset": "veryfast"}
        stream.thread_count = 1
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
