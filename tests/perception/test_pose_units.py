import numpy as np
import pytest

from jegal.data.keypoints import LEFT_HAND, LEFT_WRIST, NUM_JOINTS, RIGHT_HAND, RIGHT_WRIST
from jegal.perception.pose import PoseEstimator, fill_skipped_hands


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
    kp[..., 2] = rng.uniform(0.6, 1.0, size=(11, NUM_JOINTS))
    kp[4, RIGHT_HAND] = 0  # right hand lost at run frame 4
    kp[5, RIGHT_WRIST, 2] = 0.1  # and pose barely sees the right wrist at frame 5
    skipped = [t for t in range(11) if t % 2]
    for t in skipped:
        kp[t, LEFT_HAND] = 0
        kp[t, RIGHT_HAND] = 0
    ref = kp.copy()
    for t in skipped:
        for hand, wrist in ((LEFT_HAND, LEFT_WRIST), (RIGHT_HAND, RIGHT_WRIST)):
            prev_ok = kp[t - 1, hand, 2].max() > 0
            next_ok = t + 1 < 11 and kp[t + 1, hand, 2].max() > 0
            if prev_ok and next_ok:
                ref[t, hand, :2] = (kp[t - 1, hand, :2] + kp[t + 1, hand, :2]) / 2
                ref[t, hand, 2] = np.minimum(kp[t - 1, hand, 2], kp[t + 1, hand, 2])
            elif prev_ok or next_ok:
                n = t - 1 if prev_ok else t + 1
                if min(kp[t, wrist, 2], kp[n, wrist, 2]) >= 0.5:
                    ref[t, hand, :2] = kp[n, hand, :2] + kp[t, wrist, :2] - kp[n, wrist, :2]
                    ref[t, hand, 2] = kp[n, hand, 2]
    got = kp.copy()
    fill_skipped_hands(got, 2)
    np.testing.assert_allclose(got, ref, rtol=1e-5)
    # Frame 3 borrows frame 2's right hand, moved with the wrist; frame 5 cannot (wrist unseen).
    np.testing.assert_allclose(got[3, RIGHT_HAND.start, :2] - kp[2, RIGHT_HAND.start, :2],
                               kp[3, RIGHT_WRIST, :2] - kp[2, RIGHT_WRIST, :2], rtol=1e-5)
    assert got[5, RIGHT_HAND].max() == 0
    assert got[10, LEFT_HAND, 2].min() > 0 and got[9, LEFT_HAND, 2].min() > 0
