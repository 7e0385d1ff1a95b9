import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from jegal.data.shards import read_clips
from jegal.perception.discover import Item, discover
from jegal.perception.errors import FAILURE_REASONS
from jegal.perception.options import PrepareOptions
from jegal.prepare.pipeline import Preparer, run_prepare, select_shard
from tests.perception.wild import moving_hand_keypoints as _kps


def _kps_inputs(root: Path, real_dir: Path) -> Path:
    """A folder of precomputed-keypoint inputs, good and bad (no mediapipe needed)."""
    rng = np.random.default_rng(0)
    inp = root / "in"
    inp.mkdir()

    def item(name, wav=True, txt=None, kps=True):
        if kps:
            np.savez(inp / f"{name}.kps.npz", keypoints=_kps(rng, 54), fps=25)
        if wav:
            shutil.copy(real_dir / "sample1.wav", inp / f"{name}.wav")
        if txt is not None:
            (inp / f"{name}.txt").write_text(txt)

    ref = (real_dir / "sample1.txt").read_text()
    item("good", txt=ref)
    item("good2", txt=ref)
    item("empty", txt="")
    item("noaudio", wav=False, txt=ref)
    item("notranscript")
    item("long", txt=ref + "later, 30.0, 30.5, 0.9\n")
    item("unalignable", txt="amount of 日本\n")
    (inp / "junk.kps.npz").write_bytes(b"not an npz")
    shutil.copy(real_dir / "sample1.wav", inp / "junk.wav")
    (inp / "junk.txt").write_text(ref)
    return inp


EXPECTED_FAST = {"empty": "empty_transcript", "noaudio": "no_audio", "notranscript": "no_transcript",
                 "long": "transcript_too_long", "unalignable": "unalignable", "junk": "bad_keypoints"}


def _no_partial_files(out: Path):
    return [p for p in out.rglob("*") if ".tmp" in p.name]


def test_keypoint_inputs_end_to_end_with_failures_reruns_and_readback(tmp_path, real_dir):
    inp = _kps_inputs(tmp_path, real_dir)
    out = tmp_path / "out"
    # --asr none: an input without a transcript fails (tests/perception/test_asr.py covers recognition).
    summary = run_prepare(inp, out, PrepareOptions(raw_audio=True, asr="none"), workers=1, progress=False)
    assert (summary["done"], summary["failed"], summary["skipped"]) == (2, 6, 0)
    assert {f["input"]: f["reason"] for f in summary["failures"]} == EXPECTED_FAST
    assert all(f["reason"] in FAILURE_REASONS and f["message"] for f in summary["failures"])
    assert json.loads((out / "summary.json").read_text())["failures"] == summary["failures"]
    # Failed inputs leave no shard, nothing half-written anywhere.
    assert sorted(p.name for p in out.glob("*.tar")) == ["good.tar", "good2.tar"]
    assert not _no_partial_files(out)
    # Shards read back into exactly the clips that were written.
    preparer = Preparer(PrepareOptions())
    written, _, _ = preparer.prepare(discover(inp)[[it.name for it in discover(inp)].index("good")])
    back = [c for c in read_clips(out) if c.clip_id.startswith("good/")]
    assert [c.clip_id for c in back] == [c.clip_id for c in written] == ["good/00000"]
    for a, b in zip(written, back):
        np.testing.assert_allclose(b.keypoints, a.keypoints.astype(np.float16), rtol=0, atol=0)
        np.testing.assert_allclose(b.mel, a.mel.astype(np.float16), rtol=0, atol=0)
        assert b.words == a.words and b.speaker_id == a.speaker_id and b.source == a.source
        assert b.extra == a.extra
    clip = back[0]
    assert clip.num_frames == 54 and clip.words[5].display == "hat,"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["num_clips"] == 2
    # A rerun skips what is finished and retries only the failures.
    again = run_prepare(inp, out, PrepareOptions(raw_audio=True, asr="none"), workers=1, progress=False)
    assert (again["done"], again["skipped"], again["failed"]) == (0, 2, 6)
    # Fixing an input makes the next run pick it up.
    shutil.copy(real_dir / "sample1.txt", inp / "empty.txt")
    third = run_prepare(inp, out, PrepareOptions(asr="none"), workers=1, progress=False)
    assert (third["done"], third["skipped"]) == (1, 2)
    assert json.loads((out / "manifest.json").read_text())["num_clips"] == 3


def test_raw_audio_member_is_written(tmp_path, real_dir):
    import io
    import tarfile

    inp = _kps_inputs(tmp_path, real_dir)
    out = tmp_path / "out"
    run_prepare(inp / "good.kps.npz", out, PrepareOptions(raw_audio=True), workers=1, progress=False)
    with tarfile.open(out / "good.tar") as tar:
        names = tar.getnames()
        audio = np.load(io.BytesIO(tar.extractfile("good/00000.audio.npy").read()))
    assert "good/00000.kps.npy" in names and audio.dtype == np.int16 and len(audio) == 54 * 640


def test_min_activity_and_segments(tmp_path, real_dir):
    inp = _kps_inputs(tmp_path, real_dir)
    preparer = Preparer(PrepareOptions(max_frames=20, min_frames=10))
    item = next(it for it in discover(inp) if it.name == "good")
    clips, _, result = preparer.prepare(item)
    # 54 frames -> segments of 18; each keeps only the words wholly inside it.
    assert [c.clip_id for c in clips] == ["good/00000-000", "good/00000-001", "good/00000-002"]
    assert [c.extra["start_frame"] for c in clips] == [0, 18, 36]
    for c in clips:
        assert c.num_frames == 18 and all(0 <= w.start <= w.end < 18 for w in c.words)
    still = Preparer(PrepareOptions(min_activity=1e6))
    clips, _, result = still.prepare(item)
    assert clips == [] and any("min-activity" in w for w in result.warnings)


def test_shards_split_items_deterministically():
    items = [Item(name=f"v{i:03d}") for i in range(50)]
    parts = [select_shard(items, i, 4) for i in range(4)]
    names = [it.name for p in parts for it in p]
    assert sorted(names) == [it.name for it in items]  # a partition: every item once
    assert all(len(p) > 0 for p in parts)
    assert [it.name for it in select_shard(items[:25], 1, 4)] == [it.name for it in parts[1] if it.name < "v025"]
    with pytest.raises(ValueError):
        select_shard(items, 4, 4)


def test_cli_with_shards_and_csv(tmp_path, real_dir, capsys):
    from jegal.cli import main

    _kps_inputs(tmp_path, real_dir)  # the files the CSV names
    csv = tmp_path / "list.csv"
    csv.write_text("keypoints,wav,transcript,speaker_id\n"
                   "in/good.kps.npz,in/good.wav,in/good.txt,alice\n"
                   "in/empty.kps.npz,in/empty.wav,in/empty.txt,bob\n"
                   "in/gone.mp4,,in/good.txt,carol\n")
    out = tmp_path / "out"
    codes = [main(["prepare", str(csv), "--out", str(out), "--shard", f"{i}/2", "--quiet", "--workers", "1"])
             for i in range(2)]
    assert codes == [0, 0]
    summaries = [json.loads((out / f"summary-{i}-of-2.json").read_text()) for i in range(2)]
    assert sum(s["done"] for s in summaries) == 1 and sum(s["failed"] for s in summaries) == 2
    reasons = sorted(f["reason"] for s in summaries for f in s["failures"])
    assert reasons == ["empty_transcript", "missing_file"]
    clips = list(read_clips(out))
    assert [c.speaker_id for c in clips] == ["alice"] and clips[0].clip_id == "in/good/00000"
    (out / "manifest.json").unlink()
    assert main(["prepare", str(csv), "--out", str(out), "--rebuild-manifest"]) == 0
    assert [c.clip_id for c in read_clips(out)] == ["in/good/00000"]
    capsys.readouterr()
    assert main(["prepare", str(tmp_path / "missing"), "--out", str(out), "--quiet"]) == 2
    assert "missing" in capsys.readouterr().err
