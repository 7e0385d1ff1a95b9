"""The one shard reader and writer (jegal.data.shards): listing, streaming with a wanted-key
filter, damage reports, atomic writes, the WebDataset member layout."""

import io
import tarfile

import numpy as np
import pytest

from jegal.data.clip import Clip
from jegal.data.shards import (ShardError, clip_key, encode_clip, index_shards, iter_samples, list_shards,
                               read_clip_list, read_samples, scan_keys, write_shard, write_shards)
from jegal.data.words import Word


def clip(i: int, T: int = 12) -> Clip:
    kps = np.full((T, 56, 3), i, np.float32)
    mel = np.zeros((4 * T, 80), np.float32)
    return Clip(f"vid.{i}/{i:03d}", kps, mel, [Word(f"w{i}", 1, 3), Word("x", 5, 6)], speaker_id=f"s{i % 2}")


def key(i: int) -> str:
    return clip_key(f"vid.{i}/{i:03d}")


@pytest.fixture
def source(tmp_path):
    return write_shards([clip(i) for i in range(10)], tmp_path / "shards", clips_per_shard=4)


def truncate(path, fraction=0.5):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])


def test_members_are_webdataset_samples(tmp_path):
    path = tmp_path / "one.tar"
    c = clip(3)
    c.rgb = np.zeros((12, 4, 4, 3), np.uint8)
    write_shard([c, clip(4)], path, extra_members={c.clip_id: {"audio.npy": b"raw"}})
    with tarfile.open(path) as tar:
        names = tar.getnames()
    # one key per clip ('.' of the id replaced: WebDataset splits names at the first dot), members contiguous
    assert names == [f"vid_3/003.{s}" for s in ("kps.npy", "mel.npy", "words.json", "meta.json", "rgb.npy",
                                                 "audio.npy")] + [f"vid_4/004.{s}" for s in
                                                                  ("kps.npy", "mel.npy", "words.json", "meta.json")]
    (k, members), _ = list(iter_samples(path))
    assert k == "vid_3/003" and members["audio.npy"] == b"raw" and members.keys() >= encode_clip(c).keys()


def test_the_same_clips_give_the_same_bytes(tmp_path):
    a = write_shard([clip(1), clip(2)], tmp_path / "a.tar")
    b = write_shard([clip(1), clip(2)], tmp_path / "b.tar")
    assert a == b == ["vid.1/001", "vid.2/002"]
    assert (tmp_path / "a.tar").read_bytes() == (tmp_path / "b.tar").read_bytes()


def test_a_failed_write_keeps_the_old_shard_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "s.tar"
    write_shard([clip(1)], path)
    before = path.read_bytes()

    def clips():
        yield clip(2)
        raise RuntimeError("source died")

    with pytest.raises(RuntimeError, match="source died"):
        write_shard(clips(), path)
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["s.tar"]


def test_unwanted_members_are_never_read(source, monkeypatch):
    shard = list_shards(source)[0]
    read = []
    extract = tarfile.TarFile.extractfile
    monkeypatch.setattr(tarfile.TarFile, "extractfile", lambda self, m: read.append(m.name) or extract(self, m))
    got = list(iter_samples(shard, wanted={key(2)}))
    assert [k for k, _ in got] == [key(i) for i in range(4)]
    assert [m is None for _, m in got] == [True, True, False, True]
    assert read and all(name.startswith(key(2) + ".") for name in read)
    read.clear()
    assert scan_keys(shard) == [key(i) for i in range(4)] and read == []  # headers only


def test_a_damaged_shard_yields_what_precedes_the_damage(source):
    shard = list_shards(source)[1]  # clips 4..7
    truncate(shard)
    with pytest.raises(ShardError, match="truncated") as err:
        list(iter_samples(shard))
    assert shard.name in str(err.value)
    got, damage = read_samples(shard)
    assert 0 < len(got) < 4 and list(got) == [key(i) for i in range(4, 4 + len(got))]
    assert shard.name in damage and "truncated" in damage
    assert read_samples(list_shards(source)[0])[1] is None


def test_index_from_the_manifest_equals_the_header_scan(source):
    with_manifest = index_shards(source)
    assert with_manifest.keys == [[key(i) for i in range(a, min(a + 4, 10))] for a in (0, 4, 8)]
    (source / "manifest.json").unlink()
    assert index_shards(source).keys == with_manifest.keys
    assert index_shards(list_shards(source)[2]).keys == [[key(8), key(9)]]
    truncate(list_shards(source)[0])
    with pytest.raises(ShardError, match="shard-000000"):
        index_shards(source)  # a tar that must be scanned and cannot be


def test_read_clip_list_reports_every_unusable_sample_by_reason(source):
    shards = list_shards(source)
    truncate(shards[1], 0.3)
    # clip 9 in the last shard: drop a member (unreadable); clip 8: a word past the end (invalid)
    bad = [(k, m) for k, m in iter_samples(shards[2])]
    with tarfile.open(shards[2], "w") as tar:
        for k, members in bad:
            for suffix, data in members.items():
                if k == key(9) and suffix == "mel.npy":
                    continue
                if k == key(8) and suffix == "words.json":
                    data = b'[{"text": "late", "start": 2, "end": 40}]'
                info = tarfile.TarInfo(f"{k}.{suffix}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    survivors = list(read_samples(shards[1])[0])
    clips, skipped = read_clip_list(source)
    reasons = dict(skipped)
    assert [clip_key(c.clip_id) for c in clips] == [key(i) for i in range(4)] + survivors
    lost = [key(i) for i in range(4, 8) if key(i) not in survivors]
    assert lost and sorted(reasons) == sorted(lost + [key(8), key(9)])
    assert all(reasons[k].startswith("missing:") and "truncated" in reasons[k] for k in lost)
    assert reasons[key(9)].startswith("unreadable:") and "mel.npy" in reasons[key(9)]
    assert reasons[key(8)].startswith("invalid:") and "outside" in reasons[key(8)]
    assert len(clips) + len(skipped) == 10

    # wanted keys: only those, a key found nowhere is missing, shards holding none are not opened
    shards[0].unlink()
    clips, skipped = read_clip_list(source, {key(5), key(9), "nothere"})
    reasons = dict(skipped)
    assert [c.clip_id for c in clips] == (["vid.5/005"] if key(5) in survivors else [])
    assert reasons["nothere"] == f"missing: not in {source}" and reasons[key(9)].startswith("unreadable:")
    assert len(clips) + len(skipped) == 3

    # without a manifest, what a damaged tar lost after the damage is reported under the tar
    (source / "manifest.json").unlink()
    clips, skipped = read_clip_list(source)
    reasons = dict(skipped)
    assert str(shards[1]) in reasons and "truncated" in reasons[str(shards[1])]
    clips, skipped = read_clip_list(source, {key(7), "nothere"})
    assert {k for k, _ in skipped} == {key(7), "nothere"}
    assert all("damaged shards" in r and shards[1].name in r for _, r in skipped)
