import numpy as np
import pytest

from jegal.data.keypoints import LEFT_HAND, LEFT_WRIST, NUM_JOINTS, RIGHT_HAND, RIGHT_WRIST, normalise
from jegal.perception.pose import hand_coverage

pytestmark = pytest.mark.slow  # shares the session's mediapipe run over the real videos


@pytest.mark.parametrize("name", ["sample1.avi", "sample2.avi"])
def test_samples_body_in_nearly_every_frame_and_a_hand_when_visible(people, decoded, name):
    from jegal.perception.track import join_parts

    assert len(people[name].persons) == 1
    start, raw, _, _ = join_parts(people[name].persons[0])
    assert start == 0 and raw.shape == (decoded[name].num_frames, NUM_JOINTS, 3)
    cov = hand_coverage(raw)
    assert cov["body"] >= 0.95
    # In both samples at least one hand is in view throughout (a gesturing hand in
    # sample1, both hands on the desk in sample2).
    any_hand = (raw[:, LEFT_HAND, 2] > 0).any(1) | (raw[:, RIGHT_HAND, 2] > 0).any(1)
    assert any_hand.mean() >= 0.9
    # Found joints lie inside the frame.
    h, w = decoded[name].frames.shape[1:3]
    seen = raw[..., 2] > 0.3
    assert np.all((raw[..., 0][seen] >= -1) & (raw[..., 0][seen] <= w + 1))
    assert np.all((raw[..., 1][seen] >= -1) & (raw[..., 1][seen] <= h + 1))


def test_hands_sit_on_their_own_wrists(people):
    from jegal.perception.track import join_parts

    for name in ("sample1.avi", "sample2.avi", "speaker_raw.mp4"):
        for raw in (join_parts(ps)[1] for ps in people[name].persons):
            kp = normalise(raw)
            for hand, wrist in ((LEFT_HAND, LEFT_WRIST), (RIGHT_HAND, RIGHT_WRIST)):
                both = (kp[:, hand.start, 2] > 0) & (kp[:, wrist, 2] > 0.5)
                if both.sum() < 5:
                    continue
                # The hand model's wrist is within ~half a shoulder width of pose's wrist.
                gap = np.linalg.norm(kp[both, hand.start, :2] - kp[both, wrist, :2], axis=-1)
                assert np.median(gap) < 0.5, (name, hand)
