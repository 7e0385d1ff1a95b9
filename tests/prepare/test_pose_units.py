import numpy as np
import pytest

from jegal.data.keypoints import LEFT_HAND, LEFT_WRIST, NUM_JOINTS, RIGHT_HAND, RIGHT_WRIST
from jegal.prepare.pose import PoseEstimator, fill_skipped_hands


def test_assign_hands_goes_by_nearest_wrist():
    out = np.zeros((NUM_JOINTS, 3), np.float32)
    out[LEFT_WRIST] = [100, 100, 1]
    out[RIGHT_WRIST] = [20, 100, 1]
    near_right = np.full((21, 2), 22.0, np.float32)
    near_left = np.full((21, 2), 98.0, np.float32)
    PoseEstimator._assign_hands(out, [(near_right, 0.9), (near_left, 0.8)])
    np.testing.assert_allclose(out[RIGHT_HAND, 0], 22.0)
    np.testing.assert_allclose(out[LEFT_HAND, 0], 98.0)
    np.testing.assert_allclose(out[LEFT_HAND, 2], 0.8)
    single = np.zeros((NUM_JOINTS, 3), np.float32)
    single[[LEFT_WRIST, RIGHT_WRIST]] = out[[LEFT_WRIST, RIGHT_WRIST]]
    PoseEstimator._assign_hands(single, [(near_left, 0.7)])
    assert single[LEFT_HAND, 2].min() == pytest.approx(0.7) and single[RIGHT_HAND, 2].max() == 0


def test_fill_skipped_hands_matches_a_reference():
    rng = np.random.default_rng(0)
    kp = rng.uniform(1, 100, size=(11, NUM_JOINTS, 3)).astype(np.float32)
    kp[4, RIGHT_HAND] = 0  # right hand lost at run frame 4
    skipped = [t for t in range(11) if t % 2]
    for t in skipped:
        kp[t, LEFT_HAND] = 0
        kp[t, RIGHT_HAND] = 0
    ref = kp.copy()
    for t in skipped:
        for hand in (LEFT_HAND, RIGHT_HAND):
            if t + 1 < 11 and kp[t - 1, hand, 2].max() > 0 and kp[t + 1, hand, 2].max() > 0:
                ref[t, hand, :2] = (kp[t - 1, hand, :2] + kp[t + 1, hand, :2]) / 2
                ref[t, hand, 2] = np.minimum(kp[t - 1, hand, 2], kp[t + 1, hand, 2])
    got = kp.copy()
    fill_skipped_hands(got, 2)
    np.testing.assert_allclose(got, ref, rtol=1e-6)
    assert got[3, RIGHT_HAND].max() == 0 and got[5, RIGHT_HAND].max() == 0  # next to the lost frame
    assert got[3, LEFT_HAND, 2].min() > 0
