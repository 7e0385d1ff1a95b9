"""Face-masked person crops for the rgb front-end.

The rgb front-end must see the body, never the lips (speech would leak into the gesture
stream), so the face box of each frame is blanked (filled with grey, 128) inside the
person crop, which is then resized to a square ``size`` x ``size`` with its aspect ratio
kept (letterboxed with black).
"""

from __future__ import annotations

import numpy as np

FACE_FILL = 128


def masked_crop(frame: np.ndarray, body: np.ndarray, face: np.ndarray, size: int, face_margin: float = 0.15) -> np.ndarray:
    """One ``(size, size, 3)`` uint8 crop of ``frame`` inside ``body`` (x0, y0, x1, y1) with
    ``face`` (same units, grown by ``face_margin`` of its size each side) filled with grey."""
    import cv2

    h, w = frame.shape[:2]
    x0, y0, x1, y1 = [int(round(v)) for v in body]
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, max(x1, x0 + 1)), min(h, max(y1, y0 + 1))
    crop = frame[y0:y1, x0:x1].copy()
    fw, fh = face[2] - face[0], face[3] - face[1]
    fx0 = int(np.floor(face[0] - face_margin * fw)) - x0
    fy0 = int(np.floor(face[1] - face_margin * fh)) - y0
    fx1 = int(np.ceil(face[2] + face_margin * fw)) - x0
    fy1 = int(np.ceil(face[3] + face_margin * fh)) - y0
    crop[max(0, fy0):max(0, fy1), max(0, fx0):max(0, fx1)] = FACE_FILL
    ch, cw = crop.shape[:2]
    scale = size / max(ch, cw)
    nw, nh = max(1, int(round(cw * scale))), max(1, int(round(ch * scale)))
    resized = cv2.resize(crop, (nw, nh), interpolation=cv2.INTER_AREA)
    out = np.zeros((size, size, 3), np.uint8)
    oy, ox = (size - nh) // 2, (size - nw) // 2
    out[oy:oy + nh, ox:ox + nw] = resized
    return out


def masked_crops(frames: np.ndarray, bodies: np.ndarray, faces: np.ndarray, size: int, start: int = 0) -> np.ndarray:
    """``(n, size, size, 3)`` uint8 crops of ``frames[start : start + n]``."""
    return np.stack([masked_crop(frames[start + i], bodies[i], faces[i], size) for i in range(len(bodies))])
