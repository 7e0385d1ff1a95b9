"""``jegal prepare`` on the real recordings, bad copies of them included (one run, shared)."""

import json
import shutil

import numpy as np
import pytest

from jegal.data.shards import read_clips
from jegal.data.transcripts import read_txt
from jegal.perception.options import PrepareOptions
from jegal.prepare.pipeline import run_prepare

pytestmark = pytest.mark.slow

WORDS = "Text: -\nLang: en\n\nWORD, START, END, SCORE\n" + "".join(
    f"w{i}, {0.2 + 0.6 * i:.2f}, {0.6 + 0.6 * i:.2f}, 1.0\n" for i in range(8))  # 0.2 .. 4.8 s


def _write_blank_video(path, frames=50):
    import av

    with av.open(str(path), "w") as c:
        s = c.add_stream("mpeg4", rate=25)
        s.width, s.height, s.pix_fmt = 160, 120, "yuv420p"
        img = np.full((120, 160, 3), 90, np.uint8)
        for _ in range(frames):
            for pkt in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory, real_dir):
    root = tmp_path_factory.mktemp("prepare_real")
    inp = root / "in"
    inp.mkdir()
    for name in ("sample1.avi", "sample1.wav", "sample1.txt", "sample2.avi", "sample2.wav",
                 "speaker_raw.mp4", "two_speakers_raw.mp4"):
        shutil.copy(real_dir / name, inp / name)
    (inp / "sample1.en.vtt").write_text("WEBVTT\n")  # beside sample1.txt, which wins: said, not read
    # sample2 gets only its plain words: they are force-aligned.
    words = [line.rsplit(",", 3)[0].strip() for line in (real_dir / "sample2.txt").read_text().splitlines()[4:]]
    (inp / "sample2.txt").write_text(" ".join(words) + "\n")
    (inp / "noperson.txt").write_text((real_dir / "sample1.txt").read_text())
    for name in ("speaker_raw", "two_speakers_raw", "garbage", "truncated"):
        (inp / f"{name}.txt").write_text(WORDS)
    (inp / "garbage.mp4").write_bytes(np.random.default_rng(0).integers(0, 256, 40_000, dtype=np.uint8).tobytes())
    data = (real_dir / "speaker_raw.mp4").read_bytes()
    (inp / "truncated.mp4").write_bytes(data[: len(data) // 2])
    shutil.copy(real_dir / "sample1.avi", inp / "toolong.avi")
    shutil.copy(real_dir / "sample1.wav", inp / "toolong.wav")
    (inp / "toolong.txt").write_text((real_dir / "sample1.txt").read_text() + "later, 9.0, 9.4, 0.9\n")
    shutil.copy(real_dir / "sample2.avi", inp / "noaudio.avi")
    (inp / "noaudio.txt").write_text((real_dir / "sample2.txt").read_text())
    _write_blank_video(inp / "noperson.avi")
    shutil.copy(real_dir / "sample1.wav", inp / "noperson.wav")
    (inp / "empty.avi").write_bytes((real_dir / "sample1.avi").read_bytes())
    shutil.copy(real_dir / "sample1.wav", inp / "empty.wav")
    (inp / "empty.txt").write_text("")
    out = root / "out"
    summary = run_prepare(inp, out, PrepareOptions(rgb_size=32), workers=2, progress=False)
    return inp, out, summary, {c.clip_id: c for c in read_clips(out)}


def test_summary_counts_and_failure_reasons(prepared):
    _, out, summary, _ = prepared
    assert summary["done"] == 4 and summary["failed"] == 6 and summary["skipped"] == 0
    assert {f["input"]: f["reason"] for f in summary["failures"]} == {
        "garbage": "corrupt_video", "truncated": "corrupt_video", "toolong": "transcript_too_long",
        "noaudio": "no_audio", "noperson": "no_person", "empty": "empty_transcript"}
    for f in summary["failures"]:
        assert f["input"] in f["message"]
    # No partial shard: failed inputs have none, and no temporary file is left.
    assert sorted(p.stem for p in out.glob("*.tar")) == ["sample1", "sample2", "speaker_raw", "two_speakers_raw"]
    assert not [p for p in out.rglob("*") if ".tmp" in p.name]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["num_clips"] == len(prepared[3]) == 7  # two_speakers_raw: two people in each of two shots
    unused = [w for w in summary["warnings"] if "not used" in w]
    assert len(unused) == 1 and unused[0].startswith(str(prepared[0] / "sample1.en.vtt"))
    assert unused[0].endswith("(using sample1.txt)")


def test_speaker_raw_one_clip_at_25fps_with_duration_kept(prepared):
    clips = prepared[3]
    ids = [c for c in clips if c.startswith("speaker_raw/")]
    assert ids == ["speaker_raw/00000"]
    clip = clips[ids[0]]
    assert 120 <= clip.num_frames <= 126  # 5.0 s of video at 25 fps, whole track
    assert clip.mel.shape == (4 * clip.num_frames, 80)
    assert clip.rgb.shape == (clip.num_frames, 32, 32, 3)
    assert [w.text for w in clip.words] == [f"w{i}" for i in range(8)]


def test_two_speakers_two_people_in_each_of_two_shots(prepared):
    """two_speakers_raw.mp4 is two shots (a cut at frame 52) with both people in view in each: in
    shot 1 the man facing the camera right of centre and the woman in profile left of him, in shot 2
    the woman facing the camera left of centre and the man seen from behind right of her. A cut ends
    every track, so four clips, two per shot, one speaker each."""
    clips = prepared[3]
    ids = sorted(c for c in clips if c.startswith("two_speakers_raw/"))
    assert len(ids) == 4
    centre = lambda c: (c.extra["face_box"][0] + c.extra["face_box"][2]) / 2  # noqa: E731  source pixels (1280x720)
    shots = {}
    for c in (clips[i] for i in ids):
        shots.setdefault(c.extra["start_frame"], []).append(c)
    assert sorted(shots) == [0, 52]
    for start, pair in shots.items():
        assert len(pair) == 2 and pair[0].speaker_id != pair[1].speaker_id
        left, right = sorted(pair, key=centre)
        assert centre(left) < 640 < centre(right)
        facing = right if start == 0 else left
        seen = lambda c: (c.keypoints[:, [0, 1], 2] > 0).all(axis=1).mean()  # noqa: E731  both shoulders
        assert seen(facing) > 0.95
        assert seen(left if facing is right else right) > 0.8  # in profile / from behind


def test_forced_alignment_in_the_pipeline_matches_reference_frames(prepared, real_dir):
    clip = prepared[3]["sample2/00000"]
    ref = read_txt(real_dir / "sample2.txt")
    assert [w.text for w in clip.words] == [w.text for w in ref]
    err = np.mean([abs(a.start - b.start) + abs(a.end - b.end) for a, b in zip(clip.words, ref)]) / 2
    assert err < 2.5  # frames, i.e. 0.1 s


def test_rerun_skips_everything_finished(prepared):
    inp, out, _, _ = prepared
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("*.tar")}
    (inp / "garbage.mp4").unlink()
    (inp / "truncated.mp4").unlink()
    again = run_prepare(inp, out, PrepareOptions(rgb_size=32), workers=1, progress=False)
    assert again["skipped"] == 4 and again["done"] == 0
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.tar")} == before


def test_chunked_decoding_gives_the_same_people(prepared, real_dir):
    from jegal.perception.discover import Item
    from jegal.prepare.pipeline import Preparer

    inp, _, _, clips = prepared
    # 172 frames in chunks of 52: the shot change at frame 52 falls exactly on a chunk edge.
    preparer = Preparer(PrepareOptions(chunk_frames=52))
    try:
        chunked, _, _ = preparer.prepare(Item(name="two_speakers_raw", video=inp / "two_speakers_raw.mp4",
                                              transcript=inp / "two_speakers_raw.txt"))
    finally:
        preparer.close()
    # The same people: each chunked clip is the whole run's clip of its shot whose face lies nearest
    # (ids follow the order people are found in, which chunking may change).
    whole_clips = [c for k, c in clips.items() if k.startswith("two_speakers_raw/")]
    assert len(chunked) == len(whole_clips)
    centre = lambda c: (c.extra["face_box"][0] + c.extra["face_box"][2]) / 2  # noqa: E731  source pixels
    for c in chunked:
        whole = min((w for w in whole_clips if w.extra["start_frame"] == c.extra["start_frame"]),
                    key=lambda w: abs(centre(w) - centre(c)))
        assert abs(centre(whole) - centre(c)) < 100
        facing = (c.extra["start_frame"] == 0) == (centre(c) > 640)  # the person facing the camera in each shot
        if not facing:  # in profile / from behind: pose restarts at a chunk edge may find the body later
            continue
        assert c.num_frames == whole.num_frames and c.words == whole.words
        # Pose restarts at chunk edges, so values differ a little, but the person is the same.
        seen = (c.keypoints[:, :2, 2] > 0).all(1) & (whole.keypoints[:, :2, 2] > 0).all(1)
        assert np.median(np.abs(c.keypoints[seen, 2:6, :2] - whole.keypoints[seen, 2:6, :2])) < 0.1
