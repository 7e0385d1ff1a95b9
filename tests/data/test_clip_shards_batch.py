import numpy as np
import pytest

from jegal.data.batch import collate_clips
from jegal.data.clip import Clip, ClipError
from jegal.data.shards import ShardError, read_clips, write_shards
from jegal.data.words import Word


def make_clip(i, T, n_words, rng, rgb=False):
    kp = rng.normal(size=(T, 56, 3)).astype(np.float32)
    mel = rng.normal(size=(4 * T, 80)).astype(np.float32)
    bounds = np.sort(rng.choice(np.arange(T), size=2 * n_words, replace=False)).reshape(n_words, 2)
    words = [Word(f"w{i}_{k}", int(s), int(e), f"W{i}_{k},") for k, (s, e) in enumerate(bounds)]
    return Clip(f"vid.{i}/0000{i}", kp, mel, words, speaker_id=f"spk{i % 2}", source="test",
                rgb=rng.integers(0, 255, (T, 8, 8, 3), dtype=np.uint8) if rgb else None, extra={"k": i})


def test_crop_moves_every_modality_from_one_origin():
    rng = np.random.default_rng(0)
    clip = make_clip(0, 40, 6, rng, rgb=True).validate()
    crop = clip.word_window(2, 4, margin=3)
    s = clip.words[2].start - 3
    assert crop.words[0].start == 3 and len(crop.words) == 3
    np.testing.assert_array_equal(crop.keypoints[0], clip.keypoints[max(s, 0)])
    np.testing.assert_array_equal(crop.mel, clip.mel[4 * max(s, 0): 4 * (max(s, 0) + crop.num_frames)])
    np.testing.assert_array_equal(crop.rgb, clip.rgb[max(s, 0): max(s, 0) + crop.num_frames])
    crop.validate()
    for w_old, w_new in zip(clip.words[2:5], crop.words):
        np.testing.assert_array_equal(crop.keypoints[w_new.start], clip.keypoints[w_old.start])


def test_validate_rejects_words_outside_the_media():
    rng = np.random.default_rng(1)
    clip = make_clip(0, 20, 3, rng)
    clip.words.append(Word("late", 18, 25))
    with pytest.raises(ClipError, match="outside"):
        clip.validate()


def test_shards_round_trip_and_truncation_is_reported(tmp_path):
    rng = np.random.default_rng(2)
    clips = [make_clip(i, 10 + i, 2 + i % 3, rng, rgb=i % 2 == 0) for i in range(7)]
    out = write_shards(clips, tmp_path / "shards", clips_per_shard=3)
    back = list(read_clips(out))
    assert [c.clip_id for c in back] == [c.clip_id for c in clips]
    for a, b in zip(clips, back):
        np.testing.assert_allclose(b.keypoints, a.keypoints.astype(np.float16).astype(np.float32))
        np.testing.assert_allclose(b.mel, a.mel.astype(np.float16).astype(np.float32))
        assert b.words == a.words and b.speaker_id == a.speaker_id and b.extra == a.extra
        assert (b.rgb is None) == (a.rgb is None)
    assert not list(tmp_path.rglob("*.tmp*"))
    shard = sorted((tmp_path / "shards").glob("*.tar"))[0]
    data = shard.read_bytes()
    shard.write_bytes(data[: len(data) // 2])
    with pytest.raises(ShardError, match=shard.name):
        list(read_clips(out))


def test_collate_pads_and_masks():
    rng = np.random.default_rng(3)
    clips = [make_clip(0, 12, 2, rng), make_clip(1, 20, 5, rng)]
    b = collate_clips(clips)
    assert b["keypoints"].shape == (2, 20, 56, 3) and b["mel"].shape == (2, 80, 80)
    assert b["frame_mask"].sum(1).tolist() == [12, 20]
    assert b["word_mask"].sum(1).tolist() == [2, 5]
    assert b["word_spans"][0, :2].tolist() == [[w.start, w.end] for w in clips[0].words]
    assert (b["keypoints"][0, 12:] == 0).all()
    assert b["words"][1] == [w.text for w in clips[1].words]
    assert "rgb" not in b
