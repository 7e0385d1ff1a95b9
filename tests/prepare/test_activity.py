import numpy as np

from jegal.data.keypoints import LEFT_HAND, LEFT_WRIST, NUM_JOINTS, RIGHT_HAND, RIGHT_WRIST
from jegal.prepare.activity import activity_score
from jegal.timebase import FPS


def _reference_activity(kp, min_conf=0.1):
    speeds = []
    for t in range(1, len(kp)):
        for j in (LEFT_WRIST, RIGHT_WRIST):
            if kp[t, j, 2] >= min_conf and kp[t - 1, j, 2] >= min_conf:
                speeds.append(np.linalg.norm(kp[t, j, :2] - kp[t - 1, j, :2]) * FPS)
        for hand in (LEFT_HAND, RIGHT_HAND):
            centre = []
            for u in (t - 1, t):
                seen = [i for i in range(hand.start, hand.stop) if kp[u, i, 2] >= min_conf]
                centre.append(np.mean(kp[u, seen, :2], axis=0) if seen else None)
            if centre[0] is not None and centre[1] is not None:
                speeds.append(np.linalg.norm(centre[1] - centre[0]) * FPS)
    return float(np.mean(speeds)) if speeds else 0.0


def test_activity_matches_reference_on_random_keypoints():
    rng = np.random.default_rng(0)
    kp = rng.normal(size=(30, NUM_JOINTS, 3)).astype(np.float32)
    kp[..., 2] = rng.uniform(0, 1, size=(30, NUM_JOINTS))
    assert abs(activity_score(kp) - _reference_activity(kp)) < 1e-4


def test_activity_zero_when_still_and_known_speed_when_moving():
    kp = np.zeros((20, NUM_JOINTS, 3), np.float32)
    kp[..., 2] = 1.0
    assert activity_score(kp) == 0.0
    kp[:, LEFT_WRIST, 0] = np.arange(20) * 0.04  # 0.04 shoulder widths a frame = 1 per second
    kp[:, LEFT_HAND, 0] = (np.arange(20) * 0.04)[:, None]
    assert abs(activity_score(kp) - (1.0 + 1.0) / 4) < 1e-5  # 2 of 4 moving points
    unseen = kp.copy()
    unseen[..., 2] = 0
    assert activity_score(unseen) == 0.0
