"""Keypoints per person and frame as a tidy table (``--keypoints-csv`` of ``jegal spot`` / ``jegal asd``).

For kinematic analysis outside the project: one row per (person, frame, joint), every frame in which
the person is in view (their box exists: :attr:`jegal.use.video.PersonInput.visible`), all 56
joints of the project's layout (:data:`jegal.data.keypoints.JOINT_NAMES`: 14 upper-body joints,
then ``left_hand_*`` and ``right_hand_*``, 21 each; "left"/"right" are the person's own sides).
Columns (:data:`COLUMNS`):

- ``video``: the input's name; ``person``: 0, 1, ... as in ``spot.json`` / ``asd.json``;
- ``frame``: 25 fps from the start of the video; ``time_s``: the frame's start in seconds;
- ``joint``: the joint's name;
- ``x_px``, ``y_px``: source pixels as players show the video (y down), empty where the joint
  was not found (confidence 0);
- ``x_norm``, ``y_norm``: the model's normalised form (:func:`jegal.data.keypoints.normalise`:
  origin the midpoint of the shoulders, unit the shoulder width, y down), empty where the joint's
  confidence is below normalise's 0.1;
- ``confidence``: the detector's confidence, 0-1 (0: not found).

CSV only (the project has no Parquet dependency). Written atomically, cells through
:mod:`jegal.csvcells`.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import numpy as np

COLUMNS = ["video", "person", "frame", "time_s", "joint", "x_px", "y_px", "x_norm", "y_norm", "confidence"]
FILE_NAME = "keypoints.csv"


def keypoint_rows(video, name: str | None = None) -> list[tuple]:
    """The table's rows (:data:`COLUMNS`) for a :class:`jegal.use.video.VideoInput`, person by
    person, frame by frame, joint by joint; ``name`` the ``video`` column (default ``video.name``).
    Coordinates in pixels rounded to 0.01, normalised to 1e-4, confidences to 1e-3; a coordinate
    of a joint not found is ``""``."""
    from jegal.csvcells import safe_cell
    from jegal.data.keypoints import JOINT_NAMES, NUM_JOINTS
    from jegal.timebase import FPS

    label = safe_cell(video.name if name is None else name)  # a file name such as "=x" stays text
    joints = np.array([safe_cell(j) for j in JOINT_NAMES], dtype=object)
    rows: list[tuple] = []
    for p in video.people:
        frames = np.flatnonzero(p.visible)
        if not len(frames) or p.pixels is None:
            continue
        px = p.pixels[frames].reshape(-1, 3).astype(np.float64)  # (F * 56, 3)
        kn = (p.keypoints[frames] if p.keypoints is not None else np.zeros_like(p.pixels[frames])).reshape(-1, 3)
        frame = np.repeat(frames, NUM_JOINTS)
        seen, normed = px[:, 2] > 0, kn[:, 2] > 0

        def column(values, ok, digits):
            out = np.round(values, digits).astype(object)
            out[~ok] = ""
            return out

        rows.extend(zip([label] * len(frame), [p.person] * len(frame), frame.tolist(),
                        np.round(frame / FPS, 3).tolist(), np.tile(joints, len(frames)).tolist(),
                        column(px[:, 0], seen, 2), column(px[:, 1], seen, 2),
                        column(kn[:, 0].astype(np.float64), normed, 4), column(kn[:, 1].astype(np.float64), normed, 4),
                        np.round(px[:, 2], 3).tolist()))
    return rows


def keypoints_csv(video, name: str | None = None) -> str:
    """The table (:func:`keypoint_rows`) as CSV text with its header."""
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(COLUMNS)
    out.writerows(keypoint_rows(video, name))
    return buf.getvalue()


def write_keypoints_csv(path: str | os.PathLike, video, name: str | None = None) -> Path:
    """Write :func:`keypoints_csv` to ``path`` atomically; returns the path."""
    from jegal.atomic import write_text_atomic

    return write_text_atomic(Path(path), keypoints_csv(video, name))


__all__ = ["COLUMNS", "FILE_NAME", "keypoint_rows", "keypoints_csv", "write_keypoints_csv"]
