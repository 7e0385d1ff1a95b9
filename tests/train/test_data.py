from collections import Counter

import numpy as np
import pytest

from jegal.data.shards import index_shards, read_clip_list
from jegal.train.data import ClipStream, buffer_shuffle, epoch_order, holdout_keys, make_loader


def all_keys(index):
    return [k for ks in index.keys for k in ks]


def stream_keys(stream, epoch, start=0, workers=0):
    stream.set_epoch(epoch, start)
    items = list(make_loader(stream, workers=workers))
    return items


@pytest.mark.parametrize("world,buffer", [(1, 1), (2, 5), (3, 1000)])
def test_every_sample_once_per_epoch_over_ranks(make_shards, world, buffer):
    index = index_shards(make_shards(n=41, per_shard=6))
    for epoch in (0, 1):
        seen = Counter()
        for rank in range(world):
            s = ClipStream(index, batch_size=4, rank=rank, world_size=world, shuffle_buffer=buffer, seed=3)
            ids = s.batch_ids(epoch)
            assert len(ids) == s.num_batches()
            seen.update(int(g) for b in ids for g in b)
        assert sorted(seen) == list(range(41)) and set(seen.values()) == {1}


def test_loader_workers_deliver_the_same_batches_in_order(make_shards):
    index = index_shards(make_shards(n=30, per_shard=4))
    ref = stream_keys(ClipStream(index, batch_size=3, rank=1, world_size=2, shuffle_buffer=8), epoch=2)
    got = stream_keys(ClipStream(index, batch_size=3, rank=1, world_size=2, shuffle_buffer=8), epoch=2, workers=2)
    assert [it["index"] for it in got] == list(range(5))
    assert [it["batch"]["clip_ids"] for it in got] == [it["batch"]["clip_ids"] for it in ref]
    for a, b in zip(got, ref):
        assert np.array_equal(a["batch"]["keypoints"].numpy(), b["batch"]["keypoints"].numpy())
    # two ranks together: every clip exactly once
    other = stream_keys(ClipStream(index, batch_size=3, rank=0, world_size=2, shuffle_buffer=8), epoch=2, workers=2)
    ids = [c for it in got + other for c in it["batch"]["clip_ids"]]
    assert sorted(ids) == sorted(f"clip.{i:04d}" for i in range(30))


def test_order_is_seeded_by_epoch(make_shards):
    index = index_shards(make_shards(n=40, per_shard=5))
    s = ClipStream(index, batch_size=4, shuffle_buffer=10, seed=1)
    e0, e0b, e1 = (np.concatenate(s.batch_ids(e)) for e in (0, 0, 1))
    assert np.array_equal(e0, e0b) and not np.array_equal(e0, e1)
    assert not np.array_equal(e0, np.arange(40))


def test_resume_mid_epoch_gives_the_remaining_batches(make_shards):
    index = index_shards(make_shards(n=33, per_shard=5))
    full = stream_keys(ClipStream(index, batch_size=4, shuffle_buffer=6), epoch=1)
    rest = stream_keys(ClipStream(index, batch_size=4, shuffle_buffer=6), epoch=1, start=3, workers=2)
    assert [it["index"] for it in rest] == [it["index"] for it in full[3:]]
    for a, b in zip(rest, full[3:]):
        assert a["batch"]["clip_ids"] == b["batch"]["clip_ids"]
        assert np.array_equal(a["batch"]["word_spans"].numpy(), b["batch"]["word_spans"].numpy())


def test_buffer_shuffle_is_a_bounded_permutation():
    rng = np.random.default_rng(0)
    items = np.arange(500)
    out = buffer_shuffle(items, 20, rng)
    assert sorted(out.tolist()) == items.tolist()
    emit_pos = np.empty(500, int)
    emit_pos[out] = np.arange(500)
    assert (emit_pos >= items - 20).all()  # a reader holding 20 samples can follow the order
    assert np.array_equal(buffer_shuffle(items, 1, rng), items)


def test_shard_order_is_permuted_per_epoch(make_shards):
    index = index_shards(make_shards(n=40, per_shard=5))
    reads = {tuple(epoch_order(index, e, seed=0, buffer=1)[0][::5].tolist()) for e in range(6)}
    assert len(reads) > 1


def test_word_windows_crop_every_modality(make_shards):
    index = index_shards(make_shards(n=24, per_shard=24))
    for epoch in (0, 1):
        s = ClipStream(index, batch_size=24, min_words=5, max_words=20, margin=2)
        s.set_epoch(epoch)
        (item,) = list(s)
        b = item["batch"]
        n_words = b["word_mask"].sum(1)
        for i, cid in enumerate(b["clip_ids"]):
            clip_no = int(cid.split(".")[1])
            kps = b["keypoints"][i][b["frame_mask"][i]]
            assert (kps[:, :, 0] == clip_no).all()
            first_frame = int(kps[0, 0, 1])
            # mel rows and keypoint frames share the crop origin
            assert float(b["mel"][i, 0, 0]) == first_frame
            assert float(b["mel"][i, 4 * (len(kps) - 1), 0]) == first_frame + len(kps) - 1
            spans = b["word_spans"][i, : n_words[i]]
            # words start 3 + 4k in the uncropped clip; re-indexed from the crop start
            assert ((spans[:, 0] + first_frame - 3) % 4 == 0).all()
            assert spans[0, 0] == 2 and (first_frame - 1) % 4 == 0  # margin 2 before the first word
        assert ((n_words >= 3) & (n_words <= 20)).all()
        assert (n_words[n_words >= 5] >= 5).all()
    # same epoch and key -> same window; another epoch -> (almost surely) others
    runs = []
    for epoch in (0, 0, 1):
        s = ClipStream(index, batch_size=24, min_words=5, max_words=20)
        s.set_epoch(epoch)
        runs.append(next(iter(s))["batch"]["word_spans"].numpy())
    assert np.array_equal(runs[0], runs[1]) and not np.array_equal(runs[0], runs[2])


def test_corrupt_shard_and_zero_word_clip_are_skipped_and_counted(make_shards):
    src = make_shards(n=20, per_shard=5, zero_word=(7,))
    index = index_shards(src)
    bad = index.shards[2]
    data = bad.read_bytes()
    bad.write_bytes(data[: len(data) // 2])  # truncated mid-write: the first samples survive
    items = stream_keys(ClipStream(index, batch_size=3, shuffle_buffer=4), epoch=0)
    got = [c for it in items if it["batch"] is not None for c in it["batch"]["clip_ids"]]
    skipped = [k for it in items for k, _ in it["skipped"]]
    assert len(got) + len(skipped) == 20 and not set(got) & {k.replace("_", ".") for k in skipped}
    assert "clip_0007" in skipped
    lost = {k for k in skipped if k != "clip_0007"}
    assert lost and lost <= set(index.keys[2])
    reasons = {k: r for it in items for k, r in it["skipped"]}
    assert "no words" in reasons["clip_0007"] and "truncated" in reasons[sorted(lost)[0]]
    # batches keep their place: indices are consecutive, none shifted
    assert [it["index"] for it in items] == list(range(7))
    clips, skipped_val = read_clip_list(src)
    assert len(clips) == len(got) and sorted(k for k, _ in skipped_val) == sorted(skipped)


def test_holdout_is_fixed_and_layout_independent(make_shards):
    a = index_shards(make_shards(n=50, per_shard=7, name="a"))
    b = index_shards(make_shards(n=50, per_shard=50, name="b"))
    ha, hb = holdout_keys(a, 0.1, 100), holdout_keys(b, 0.1, 100)
    assert ha == hb and len(ha) == 5
    assert holdout_keys(a, 0.5, 3).__len__() == 3
    rest = a.without(ha)
    assert rest.num_samples == 45 and not set(all_keys(rest)) & ha


def test_frame_windows_have_a_fixed_length_and_whole_words(make_shards):
    index = index_shards(make_shards(n=30, per_shard=30))
    s = ClipStream(index, batch_size=30, crop="frames", crop_frames=20)
    s.set_epoch(0)
    (item,) = list(s)
    b = item["batch"]
    lengths = b["frame_mask"].sum(1)
    for i in range(30):
        kps = b["keypoints"][i][b["frame_mask"][i]]
        first = int(kps[0, 0, 1])
        assert int(lengths[i]) == 20 or first == 0  # clips of <= 20 frames stay whole
        spans = b["word_spans"][i][b["word_mask"][i]]
        assert len(spans) >= 1 and (spans[:, 0] >= 0).all() and (spans[:, 1] < lengths[i]).all()
        # whole words only: word k spans frames 3+4k .. 5+4k of the uncropped clip
        assert (((spans[:, 0] + first - 3) % 4 == 0) & (spans[:, 1] - spans[:, 0] == 2)).all()
        assert float(b["mel"][i, 0, 0]) == first
