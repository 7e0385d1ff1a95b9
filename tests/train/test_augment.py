import numpy as np

from jegal.data.audio import LOG_FLOOR
from jegal.data.keypoints import JOINT_NAMES, NUM_JOINTS
from jegal.train.augment import MIRROR, augment_keypoints, augment_mel
from jegal.data.shards import index_shards
from jegal.train.data import ClipStream


def _side_swapped(name: str) -> str:
    return name.replace("left", "#").replace("right", "left").replace("#", "right")


def test_mirror_swaps_every_joint_with_its_other_side():
    for i, name in enumerate(JOINT_NAMES):
        assert JOINT_NAMES[MIRROR[i]] == _side_swapped(name)
    assert (MIRROR[MIRROR] == np.arange(NUM_JOINTS)).all()


def _pose(rng, T=6):
    kp = np.concatenate([rng.normal(size=(T, NUM_JOINTS, 2)), np.ones((T, NUM_JOINTS, 1))], -1).astype(np.float32)
    kp[:, 20:30] = 0.0  # part of the left hand missing
    return kp


def _ratio_spread(src, out):
    """Distances between the joints of frame 0, out / src: (spread, mean) of the ratios."""
    both = (src[0, :, 2] > 0) & (out[0, :, 2] > 0)
    a, b = src[0][both, :2], out[0][both, :2]
    d_src = np.linalg.norm(a[:, None] - a[None], axis=-1)
    d_out = np.linalg.norm(b[:, None] - b[None], axis=-1)
    ratio = d_out[d_src > 1e-3] / d_src[d_src > 1e-3]
    return ratio.std(), ratio.mean()


def _mirrored(kp, out):
    """Which joint pairing makes ``out`` a similarity transform of ``kp``: as is, or mirrored."""
    plain, mirror = _ratio_spread(kp, out)[0], _ratio_spread(kp[:, MIRROR], out)[0]
    assert min(plain, mirror) < 1e-4  # one of them must fit exactly
    return mirror < plain


def test_keypoint_augmentation_is_a_similarity_transform_and_keeps_missing_joints_zero():
    kp = _pose(np.random.default_rng(0))
    for seed in range(20):
        out = augment_keypoints(kp, np.random.default_rng(seed))
        src = kp[:, MIRROR] if _mirrored(kp, out) else kp
        assert (out[..., 2] == src[..., 2]).all()  # confidences travel with their joints
        assert (out[out[..., 2] == 0] == 0).all()  # missing joints stay all zero
        spread, scale = _ratio_spread(src, out)
        assert spread < 1e-4 and 0.84 < scale < 1.16


def test_keypoint_augmentation_mirrors_about_half_the_clips():
    kp = _pose(np.random.default_rng(1))
    flips = [_mirrored(kp, augment_keypoints(kp, np.random.default_rng(s))) for s in range(200)]
    assert 0.35 < np.mean(flips) < 0.65


def test_mel_augmentation_shifts_bins_and_keeps_the_floor():
    floor = np.log(LOG_FLOOR)
    mel = np.full((8, 80), floor, np.float32)
    mel[:, 40] = 2.0  # one loud bin
    seen = set()
    for s in range(40):
        out = augment_mel(mel, np.random.default_rng(s))
        assert out.shape == mel.shape and out.min() >= floor - 1e-6
        peak = int(out[0].argmax())
        seen.add(peak)
        assert abs(peak - 40) <= 4 and abs(out[0, peak] - 2.0) <= 1.0 + 1e-6
    assert len(seen) > 3


def test_augmented_stream_is_deterministic_and_differs_from_the_plain_one(make_shards):
    index = index_shards(make_shards(n=12, per_shard=5))

    def batches(augment):
        s = ClipStream(index, batch_size=4, seed=2, shuffle_buffer=6, crop="frames", crop_frames=12, augment=augment)
        s.set_epoch(1)
        return [item["batch"] for item in s]

    a, b, plain = batches(True), batches(True), batches(False)
    for x, y, p in zip(a, b, plain):
        assert np.array_equal(x["keypoints"].numpy(), y["keypoints"].numpy())
        assert np.array_equal(x["mel"].numpy(), y["mel"].numpy())
        assert x["words"] == p["words"]  # crops and words are untouched
    assert not np.array_equal(a[0]["keypoints"].numpy(), plain[0]["keypoints"].numpy())
