import numpy as np
import pytest

from jegal.data.keypoints import JOINT_INDEX, LEFT_HAND, NUM_JOINTS, RIGHT_HAND
from jegal.prepare.errors import PrepareError
from jegal.prepare.importers import LAYOUTS, from_holistic, load_keypoints_npz, map_layout, resample_fps


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
