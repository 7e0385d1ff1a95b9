import numpy as np
import pytest

from jegal.data.keypoints import JOINT_INDEX, LEFT_HAND, NUM_JOINTS, RIGHT_HAND
from jegal.perception.errors import PrepareError
from jegal.perception.importers import LAYOUTS, from_holistic, load_keypoints_npz, map_layout, resample_fps


def _rand(rng, T, J):
    kp = rng.uniform(0, 500, size=(T, J, 3)).astype(np.float32)
    kp[..., 2] = rng.uniform(0.2, 1.0, size=(T, J))
    return kp


def test_resample_matches_a_per_frame_reference():
    rng = np.random.default_rng(0)
    kp = _rand(rng, 31, 5)
    kp[7, 2, 2] = 0.0  # a joint missing in one input frame
    got = resample_fps(kp, 30.0)
    n = round(31 * 25 / 30)
    assert got.shape == (n, 5, 3)
    for k in range(n):
        t = min(k * 30 / 25, 30)
        lo = int(np.floor(t))
        hi = min(lo + 1, 30)
        f = t - lo
        xy = kp[lo, :, :2] * (1 - f) + kp[hi, :, :2] * f
        conf = kp[lo, :, 2] if f == 0 else np.minimum(kp[lo, :, 2], kp[hi, :, 2])
        ref = np.concatenate([xy, conf[:, None]], axis=1)
        ref[conf <= 0] = 0
        np.testing.assert_allclose(got[k], ref, rtol=1e-5, atol=1e-3)
    np.testing.assert_array_equal(resample_fps(kp, 25.0), kp)
    assert len(resample_fps(kp, 50.0)) == 16


def test_pats_and_openpose_layouts_map_named_joints():
    rng = np.random.default_rng(1)
    pats = _rand(rng, 4, 52)
    ours = map_layout(pats, "pats52")
    assert ours.shape == (4, NUM_JOINTS, 3)
    np.testing.assert_array_equal(ours[:, JOINT_INDEX["left_wrist"]], pats[:, 6])
    np.testing.assert_array_equal(ours[:, JOINT_INDEX["right_shoulder"]], pats[:, 1])
    np.testing.assert_array_equal(ours[:, LEFT_HAND], pats[:, 10:31])
    np.testing.assert_array_equal(ours[:, RIGHT_HAND], pats[:, 31:52])
    np.testing.assert_array_equal(ours[:, JOINT_INDEX["left_index"]], pats[:, 10 + 5])  # index knuckle
    assert np.all(ours[:, JOINT_INDEX["left_hip"]] == 0)  # PATS has no hips
    op = _rand(rng, 3, 67)
    ours = map_layout(op, "openpose_body25_hands")
    np.testing.assert_array_equal(ours[:, JOINT_INDEX["left_hip"]], op[:, 12])
    np.testing.assert_array_equal(ours[:, RIGHT_HAND], op[:, 46:67])
    same = _rand(rng, 3, 56)
    np.testing.assert_array_equal(map_layout(same, "jegal56"), same)
    for name, spec in LAYOUTS.items():  # every layout maps both shoulders (normalisation needs them)
        assert {"left_shoulder", "right_shoulder"} <= set(spec["body"]), name
    with pytest.raises(PrepareError, match="needs keypoints"):
        map_layout(pats, "openpose_body25_hands")
    with pytest.raises(PrepareError, match="unknown keypoint layout"):
        map_layout(pats, "nope")


def test_holistic_arrays_with_missing_hands():
    rng = np.random.default_rng(2)
    T = 6
    pose = rng.uniform(0, 1, (T, 33, 4)).astype(np.float32)
    lh = rng.uniform(0, 1, (T, 21, 3)).astype(np.float32)
    rh = rng.uniform(0, 1, (T, 21, 3)).astype(np.float32)
    lh[2] = np.nan
    kp = from_holistic(pose, lh, rh, width=640, height=360)
    np.testing.assert_allclose(kp[:, JOINT_INDEX["left_shoulder"], 0], pose[:, 11, 0] * 640, rtol=1e-6)
    np.testing.assert_allclose(kp[:, JOINT_INDEX["right_hip"], 1], pose[:, 24, 1] * 360, rtol=1e-6)
    np.testing.assert_allclose(kp[:, JOINT_INDEX["left_elbow"], 2], pose[:, 13, 3])
    assert np.all(kp[2, LEFT_HAND] == 0) and np.all(kp[3, LEFT_HAND, 2] == 1)
    assert np.isfinite(kp).all()


def test_load_npz_kinds_and_errors(tmp_path):
    rng = np.random.default_rng(3)
    pats = _rand(rng, 30, 52)
    np.savez(tmp_path / "pats.kps.npz", keypoints=pats, fps=np.float64(15), layout=np.array("pats52"))
    kp = load_keypoints_npz(tmp_path / "pats.kps.npz")
    assert kp.shape == (50, NUM_JOINTS, 3)
    np.testing.assert_allclose(kp[0], map_layout(pats, "pats52")[0])
    T = 10
    np.savez(tmp_path / "hol.kps.npz", pose=rng.uniform(0, 1, (T, 33, 4)), left_hand=np.full((T, 21, 3), np.nan),
             right_hand=rng.uniform(0, 1, (T, 21, 3)), fps=25)
    assert load_keypoints_npz(tmp_path / "hol.kps.npz").shape == (T, NUM_JOINTS, 3)
    np.savez(tmp_path / "ours.kps.npz", keypoints=_rand(rng, 8, 56), fps=25)
    assert load_keypoints_npz(tmp_path / "ours.kps.npz").shape == (8, NUM_JOINTS, 3)
    np.savez(tmp_path / "nolayout.kps.npz", keypoints=pats, fps=25)
    np.savez(tmp_path / "nofps.kps.npz", keypoints=pats)
    (tmp_path / "junk.kps.npz").write_bytes(b"not a zip")
    for name, match in (("nolayout", "layout"), ("nofps", "fps"), ("junk", "cannot read")):
        with pytest.raises(PrepareError, match=match) as err:
            load_keypoints_npz(tmp_path / f"{name}.kps.npz")
        assert err.value.reason == "bad_keypoints" and name in str(err.value)


# -- the ways people write "not found" (the kind of shared case 12) --------------------------------
def _holistic(T=40, seed=5):
    rng = np.random.default_rng(seed)
    pose = np.concatenate([rng.uniform(0.2, 0.8, (T, 33, 3)), rng.uniform(0.6, 1.0, (T, 33, 1))], -1)
    lh = rng.uniform(0.3, 0.7, (T, 21, 3))
    rh = rng.uniform(0.3, 0.7, (T, 21, 3))
    return pose.astype(np.float32), lh.astype(np.float32), rh.astype(np.float32)


def _found(kp, hand):
    return int((kp[:, hand, 2] > 0).any(axis=1).sum())


@pytest.mark.parametrize("missing", ["nan", "zeros", "zeros_xy_only", "minus_one", "out_of_frame"])
def test_holistic_hands_missing_in_any_convention_count_as_not_found(tmp_path, missing):
    pose, lh, rh = _holistic()
    gone = np.arange(40) % 5 != 0  # the left hand seen in 8 of 40 frames
    if missing == "nan":
        lh[gone] = np.nan
    elif missing == "zeros":
        lh[gone] = 0.0
    elif missing == "zeros_xy_only":
        lh[gone, :, :2] = 0.0  # z kept: the hand still "all zeros" where it is drawn
    elif missing == "minus_one":
        lh[gone] = -1.0
    else:
        lh[gone, :, 0] += 1.5  # off the right edge
    np.savez(tmp_path / "h.kps.npz", pose=pose, left_hand=lh, right_hand=rh, fps=25, width=640, height=360)
    notes = []
    kp = load_keypoints_npz(tmp_path / "h.kps.npz", notes)
    assert (_found(kp, LEFT_HAND), _found(kp, RIGHT_HAND)) == (8, 40)
    assert np.all(kp[gone][:, LEFT_HAND] == 0)  # not at the image corner
    if missing == "nan":
        assert notes == []  # MediaPipe's own convention: nothing to say
    else:
        assert len(notes) == 1 and "h.kps.npz" in notes[0]
        assert {"zeros": "all zeros in 32 of 40", "zeros_xy_only": "all zeros in 32 of 40", "minus_one": "outside 0..1",
                "out_of_frame": "outside 0..1"}[missing] in notes[0]


def test_shared_case_convention_zero_filled_left_hand(tmp_path):
    """The shape of shared case 12 without the shared file: zeros for a hand seen in 6 of 56 frames."""
    pose, lh, rh = _holistic(56, seed=7)
    lh[6:] = 0.0
    kp = from_holistic(pose, lh, rh, 314, 228, notes := [], "clip.kps.npz")
    assert (_found(kp, LEFT_HAND), _found(kp, RIGHT_HAND)) == (6, 56)
    assert "left hand stored as all zeros in 50 of 56 frames" in notes[0] and "zeros for not found" in notes[0]


def test_single_landmarks_and_pose_in_odd_conventions():
    pose, lh, rh = _holistic(10)
    pose[:, 11, :2] = 0.0  # left shoulder at the corner with a visibility: impossible
    pose[:, 13, 3] = -1.0  # elbow: "-1 for missing"
    pose[:, 23, 1] = 1.4  # hip below the frame
    rh[:, 4] = 0.0  # one fingertip at the corner
    notes = []
    kp = from_holistic(pose, lh, rh, 640, 480, notes, "p.kps.npz")
    for joint in ("left_shoulder", "left_elbow", "left_hip"):
        assert np.all(kp[:, JOINT_INDEX[joint], 2] == 0), joint
    assert np.all(kp[:, RIGHT_HAND.start + 4] == 0) and _found(kp, RIGHT_HAND) == 10
    assert np.all(kp[:, JOINT_INDEX["right_shoulder"], 2] > 0)
    assert "negative confidence" in notes[0] and "(0, 0)" in notes[0] and "outside 0..1" in notes[0]


def test_pixel_layouts_missing_values(tmp_path):
    rng = np.random.default_rng(9)
    op = _rand(rng, 20, 67)
    op[..., 0] = rng.uniform(10, 630, (20, 67))
    op[..., 1] = rng.uniform(10, 470, (20, 67))
    op[:5, 25:46] = 0.0  # OpenPose's own "not found": (0, 0, 0), said by the confidence: no warning
    np.savez(tmp_path / "a.kps.npz", keypoints=op, fps=25, layout=np.array("openpose_body25_hands"))
    notes = []
    kp = load_keypoints_npz(tmp_path / "a.kps.npz", notes)
    assert _found(kp, LEFT_HAND) == 15 and notes == []
    op2 = op.copy()
    op2[5:10, 25:46, :2] = np.nan  # NaN coordinates with a confidence left in place
    op2[10:12, 46:67, 2] = -1.0
    op2[12, 46:67, 0] = 700.0  # right of a 640 px image
    op2[13, 46:67, :2] = 0.0  # zeros with a confidence
    np.savez(tmp_path / "b.kps.npz", keypoints=op2, fps=25, layout=np.array("openpose_body25_hands"),
             width=640, height=480)
    notes = []
    kp = load_keypoints_npz(tmp_path / "b.kps.npz", notes)
    assert (_found(kp, LEFT_HAND), _found(kp, RIGHT_HAND)) == (10, 16)
    assert np.isfinite(kp).all()
    assert "negative confidence" in notes[0] and "640 x 480 image" in notes[0] and "all zeros in 1 of 20" in notes[0]


def test_keypoints_without_any_shoulder_are_refused(tmp_path):
    pose, lh, rh = _holistic(10)
    pose[:, 11:13, :2] = np.nan
    np.savez(tmp_path / "s.kps.npz", pose=pose, left_hand=lh, right_hand=rh, fps=25)
    with pytest.raises(PrepareError, match="shoulders") as err:
        load_keypoints_npz(tmp_path / "s.kps.npz")
    assert err.value.reason == "bad_keypoints" and "s.kps.npz" in str(err.value)
    np.savez(tmp_path / "n.kps.npz", keypoints=np.full((10, 56, 3), np.nan), fps=25)
    with pytest.raises(PrepareError, match="shoulders"):
        load_keypoints_npz(tmp_path / "n.kps.npz")
    for fps in (0, -25, np.nan):
        np.savez(tmp_path / "f.kps.npz", pose=pose, left_hand=lh, right_hand=rh, fps=fps)
        with pytest.raises(PrepareError, match="fps"):
            load_keypoints_npz(tmp_path / "f.kps.npz")
    np.savez(tmp_path / "o.kps.npz", pose=np.array(["a", "b"]), left_hand=lh, right_hand=rh, fps=25)
    with pytest.raises(PrepareError) as err:
        load_keypoints_npz(tmp_path / "o.kps.npz")
    assert err.value.reason == "bad_keypoints"
