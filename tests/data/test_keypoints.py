import numpy as np

from jegal.data import keypoints as K


def _random_pose(rng, T=6):
    kp = np.zeros((T, K.NUM_JOINTS, 3), np.float32)
    kp[..., :2] = rng.normal(size=(T, K.NUM_JOINTS, 2)) * 50 + 300
    kp[..., 2] = 1.0
    return kp


def test_layout_is_upper_body_and_two_hands_without_face():
    assert K.NUM_JOINTS == 14 + 21 + 21
    assert not any("eye" in n or "mouth" in n or "nose" in n or "ear" in n for n in K.JOINT_NAMES)
    assert min(K.POSE_UPPER_BODY) == 11  # mediapipe 0..10 are face landmarks
    assert all(0 <= a < K.NUM_JOINTS and 0 <= b < K.NUM_JOINTS for a, b in K.BONES)


def test_normalise_is_invariant_to_translation_and_scale():
    rng = np.random.default_rng(0)
    kp = _random_pose(rng)
    moved = kp.copy()
    moved[..., :2] = kp[..., :2] * 3.7 + np.array([120.0, -40.0])
    np.testing.assert_allclose(K.normalise(kp), K.normalise(moved), atol=1e-4)
    out = K.normalise(kp)
    mid = (out[:, K.LEFT_SHOULDER, :2] + out[:, K.RIGHT_SHOULDER, :2]) / 2
    np.testing.assert_allclose(mid, 0, atol=1e-5)
    width = np.linalg.norm(out[:, K.LEFT_SHOULDER, :2] - out[:, K.RIGHT_SHOULDER, :2], axis=-1)
    np.testing.assert_allclose(width, 1, atol=1e-5)


def test_frames_without_shoulders_borrow_nearest_frame_and_missing_joints_are_zero():
    rng = np.random.default_rng(1)
    kp = _random_pose(rng, T=5)
    kp[2, K.LEFT_SHOULDER, 2] = 0.0  # frame 2 lost a shoulder
    kp[2, K.RIGHT_HAND, :] = 0.0  # and its right hand
    out = K.normalise(kp)
    ref = kp[1]  # nearest valid frames are 1 and 3; ties go to the earlier one
    mid = (ref[K.LEFT_SHOULDER, :2] + ref[K.RIGHT_SHOULDER, :2]) / 2
    width = np.linalg.norm(ref[K.LEFT_SHOULDER, :2] - ref[K.RIGHT_SHOULDER, :2])
    np.testing.assert_allclose(out[2, K.LEFT_WRIST, :2], (kp[2, K.LEFT_WRIST, :2] - mid) / width, rtol=1e-5)
    assert np.all(out[2, K.RIGHT_HAND] == 0)
    assert np.all(out[2, K.LEFT_SHOULDER] == 0)
