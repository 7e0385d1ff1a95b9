"""Expensive results on the real samples, computed once per test session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def decoded(real_dir):
    """name -> Decoded for the four real videos (frames at most 640 px, 25 fps)."""
    from jegal.perception.decode import decode_video

    return {name: decode_video(real_dir / name, max_side=640)
            for name in ("sample1.avi", "sample2.avi", "speaker_raw.mp4", "two_speakers_raw.mp4")}


@pytest.fixture(scope="session")
def people(decoded):
    """name -> (tracks, raw keypoints per track) from face tracking + mediapipe pose/hands."""
    from jegal.perception.people import detect_faces, scene_cuts, track_faces
    from jegal.perception.pose import PoseEstimator

    estimator = PoseEstimator()
    out = {}
    try:
        for name, d in decoded.items():
            tracks = track_faces(detect_faces(d.frames), scene_cuts(d.frames))
            raws = [estimator.track(d.frames, tr.body_boxes(d.frames.shape[1:3]), tr.start) for tr in tracks]
            out[name] = (tracks, raws)
    finally:
        estimator.close()
    return out
