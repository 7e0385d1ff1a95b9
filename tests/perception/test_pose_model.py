import numpy as np

from jegal.perception.pose_model import BUNDLE_SHA256, bundle_sha256, pose_landmarker_bundle


def test_the_bundle_is_built_the_same_every_time():
    assert bundle_sha256() == BUNDLE_SHA256
    assert pose_landmarker_bundle.__wrapped__() == pose_landmarker_bundle()


def test_the_bundle_loads_and_finds_the_speaker(decoded):
    from jegal.perception.people import PoseSeeder

    frame = decoded["speaker_raw.mp4"].frames[0]
    seeder = PoseSeeder()
    try:
        bodies = seeder(frame)
    finally:
        seeder.close()
    assert bodies.shape == (1, 33, 3)
    h, w = frame.shape[:2]
    shoulders = bodies[0, [11, 12]]
    assert (shoulders[:, 2] > 0.9).all()
    assert (shoulders[:, 0] > 0).all() and (shoulders[:, 0] < w).all() and (shoulders[:, 1] < h).all()
    # The speaker stands in the middle third of the frame.
    assert w / 3 < shoulders[:, 0].mean() < 2 * w / 3
