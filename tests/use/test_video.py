"""``jegal.use.video``: windows and their merge, a video or keypoint file read as per-person model
inputs (through the prepare stages), and the errors a user meets."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from jegal.data.keypoints import normalise
from jegal.data.transcripts import read_txt
from jegal.model.config import JEGALConfig
from jegal.perception.errors import BadInput, CorruptVideo, MissingFile, NoAudio, NoPerson, NoTranscript
from jegal.timebase import MEL_PER_FRAME
from jegal.inference.windows import central_window, cut_windows, merge_frames
from jegal.use.video import DEFAULT_RGB_SIZE, FrontEndMismatch, gesture_input, read_video

from ..perception.wild import synthetic_keypoints, write_video

LONG = 300  # frames of the generated keypoint input (12 s)
GAP = (140, 159)  # frames where nobody is seen in it


# -- windows ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("start,end,window,overlap", [(0, 99, 100, 50), (0, 100, 100, 50), (10, 260, 100, 50),
                                                      (5, 30, 100, 50), (0, 999, 100, 0), (3, 1234, 75, 25)])
def test_windows_cover_the_span_with_at_least_the_overlap_and_no_more_windows_than_needed(start, end, window, overlap):
    wins = cut_windows(start, end, window, overlap)
    assert wins[0][0] == start and wins[-1][1] == end
    n = end - start + 1
    if n <= window:
        assert wins == [(start, end)]
        return
    assert all(e - s + 1 == window for s, e in wins)
    assert all(b[0] - a[0] <= window - overlap for a, b in zip(wins, wins[1:]))  # neighbours share >= overlap
    assert all(b[0] > a[0] for a, b in zip(wins, wins[1:]))
    # one window fewer could not cover the span with that overlap
    assert (len(wins) - 2) * (window - overlap) + window < n


def test_bad_window_settings_are_refused():
    with pytest.raises(ValueError, match="overlap"):
        cut_windows(0, 10, 50, 50)
    with pytest.raises(ValueError, match="empty"):
        cut_windows(5, 4)


def test_central_window_takes_the_window_with_most_context_and_minus_one_outside():
    wins = [(0, 99), (50, 149), (100, 199)]
    frames = np.array([0, 40, 74, 75, 76, 120, 199, 200])
    # frame 75: 25 frames to the edge of window 1 and 24 of window 0 -> window 1; 74: a tie of 25/24 -> 0
    assert central_window(frames, frames, wins).tolist() == [0, 0, 0, 1, 1, 1, 2, -1]
    # a span must lie wholly inside: 95..105 fits windows 1 only, 45..155 none
    assert central_window([95, 45], [105, 155], wins).tolist() == [1, -1]


def test_merge_frames_takes_each_frame_from_its_central_window_and_fills_the_rest():
    wins = [(10, 109), (60, 159)]
    per = [(np.full((100, 2), k) + np.arange(100)[:, None] / 1000).astype(np.float32) for k in range(len(wins))]
    out = merge_frames(per, wins, 200)
    assert out.shape == (200, 2)
    assert np.isnan(out[:10]).all() and np.isnan(out[160:]).all()
    frames = np.arange(10, 160)
    pick = central_window(frames, frames, wins)
    expected = np.array([per[k][t - wins[k][0]] for t, k in zip(frames, pick)])
    np.testing.assert_array_equal(out[10:160], expected)
    assert set(pick[:40]) == {0} and set(pick[-40:]) == {1}


# -- a real video ---------------------------------------------------------------------------------
RGB = 32  # crop size asked of read_video in the sample1 fixture


@pytest.fixture(scope="module")
def sample1(real_dir):
    return read_video(real_dir / "sample1.avi", progress=False, rgb_size=RGB)


def test_sample1_is_one_person_with_its_given_words_and_boxes(sample1, real_dir):
    vi = sample1
    assert vi.num_frames == 56 and vi.fps == 25.0 and vi.size == (228, 314)  # the avi is 228 x 314 at 25 fps
    assert vi.transcript_source == "given" and vi.transcript_path == real_dir / "sample1.txt"
    given = read_txt(real_dir / "sample1.txt")
    assert [(w.text, w.start, w.end) for w in vi.words] == [(w.text, w.start, w.end) for w in given]
    assert len(vi.people) == 1
    p = vi.people[0]
    assert p.person == 0 and p.boxes.shape == (56, 4) and p.keypoints.shape == (56, 56, 3)
    seen = p.visible
    assert seen[p.first_frame:p.last_frame + 1].all() and not seen[:p.first_frame].any()
    assert not seen[p.last_frame + 1:].any()
    box = p.boxes[seen]
    assert (box[:, 0] < box[:, 2]).all() and (box[:, 1] < box[:, 3]).all()
    assert box.min() >= 0 and (box[:, [0, 2]] <= 228).all() and (box[:, [1, 3]] <= 314).all()
    assert vi.mel.shape == (MEL_PER_FRAME * 56, 80) and vi.audio.ndim == 1


def test_sample1_windows_carry_the_model_inputs_of_the_prepare_pipeline(sample1, real_dir):
    from jegal.perception.discover import discover
    from jegal.prepare.pipeline import Preparer

    p = sample1.people[0]
    assert p.windows == [(p.first_frame, p.last_frame)]  # 55 frames: one window
    clip = p.clips[0]
    assert clip.extra["start_frame"] == p.start_frame[0] == p.first_frame
    assert [(w.text, w.start + p.first_frame, w.end + p.first_frame) for w in clip.words] == \
        [(w.text, w.start, w.end) for w in sample1.words if w.start >= p.first_frame and w.end <= p.last_frame]
    s = p.first_frame
    np.testing.assert_array_equal(clip.mel, sample1.mel[MEL_PER_FRAME * s:MEL_PER_FRAME * (p.last_frame + 1)])
    preparer = Preparer()
    try:
        prepared, _, _ = preparer.prepare(discover(real_dir / "sample1.avi")[0])
    finally:
        preparer.close()
    assert len(prepared) == 1
    np.testing.assert_allclose(clip.keypoints, prepared[0].keypoints, atol=1e-5)
    np.testing.assert_allclose(clip.mel, prepared[0].mel, atol=1e-5)


def test_an_rgb_model_runs_on_the_face_masked_crops_read_video_cuts(sample1):
    from jegal.model import JEGAL
    from jegal.inference.spotting import spot_person

    p = sample1.people[0]
    n = p.last_frame - p.first_frame + 1
    assert p.rgb.shape == (n, RGB, RGB, 3) and p.clips[0].rgb.shape == (n, RGB, RGB, 3)
    assert p.gesture_clip(10, 20).rgb.shape == (11, RGB, RGB, 3)
    model = JEGAL.from_preset("cpu", {"gesture.frontend": "rgb"}).eval()
    spots = spot_person(model, p, sample1.words)
    assert spots.probs.shape == (len(sample1.words), n)
    np.testing.assert_allclose(spots.probs.sum(0), 1.0, atol=1e-5)


# -- a long keypoint input --------------------------------------------------------------------------
def _long_input(folder, with_transcript: bool = True):
    import soundfile as sf

    kp = synthetic_keypoints(LONG, seed=1)
    kp[GAP[0]:GAP[1] + 1] = 0.0  # nobody seen
    np.savez(folder / "talk.kps.npz", keypoints=kp, fps=25, width=640, height=480)
    rng = np.random.default_rng(0)
    sf.write(str(folder / "talk.wav"), (rng.standard_normal(LONG * 640) * 0.05).astype(np.float32), 16000)
    words = [(f"w{i}", 0.1 + 0.4 * i, 0.1 + 0.4 * i + 0.3) for i in range(29)]  # 0.1 .. 11.6 s
    if with_transcript:
        (folder / "talk.txt").write_text("Text: -\nLang: en\n\nWORD, START, END, SCORE\n"
                                         + "".join(f"{w}, {s:.2f}, {e:.2f}, 1.0\n" for w, s, e in words))
    return kp


def test_a_long_input_is_cut_into_overlapping_windows_holding_every_word(tmp_path):
    raw = _long_input(tmp_path)
    vi = read_video(tmp_path / "talk.kps.npz", progress=False)
    assert not vi.is_video and vi.num_frames == LONG and vi.size == (640, 480)
    (p,) = vi.people
    assert p.windows == cut_windows(0, LONG - 1)
    assert len(p.windows) == 5
    norm = normalise(raw)
    for (s, e), clip in zip(p.windows, p.clips):
        np.testing.assert_array_equal(clip.keypoints, norm[s:e + 1])
        np.testing.assert_array_equal(clip.mel, vi.mel[MEL_PER_FRAME * s:MEL_PER_FRAME * (e + 1)])
        assert [(w.text, w.start + s, w.end + s) for w in clip.words] == \
            [(w.text, w.start, w.end) for w in vi.words if w.start >= s and w.end <= e]
    held = central_window([w.start for w in vi.words], [w.end for w in vi.words], p.windows)
    assert (held >= 0).all() and len(vi.words) == 29
    # boxes come from the keypoints: NaN where nobody is seen, around the joints elsewhere
    assert np.isnan(p.boxes[GAP[0]:GAP[1] + 1]).all() and not np.isnan(p.boxes[:GAP[0]]).any()
    seen = raw[10, :, 2] > 0
    assert p.boxes[10, 0] < raw[10, seen, 0].min() and p.boxes[10, 2] > raw[10, seen, 0].max()
    np.testing.assert_allclose(p.pixels, raw)


def test_without_words_require_words_decides_between_an_error_and_an_empty_transcript(tmp_path):
    _long_input(tmp_path, with_transcript=False)
    with pytest.raises(NoTranscript, match="talk"):
        read_video(tmp_path / "talk.kps.npz", asr="none", progress=False)
    vi = read_video(tmp_path / "talk.kps.npz", asr="none", progress=False, require_words=False)
    assert vi.words == [] and vi.transcript_source == "none"
    assert all(c.words == [] for c in vi.people[0].clips) and len(vi.people[0].clips) == 5


# -- errors -----------------------------------------------------------------------------------------
def test_bad_inputs_raise_the_prepare_errors_naming_the_file(tmp_path, real_dir):
    with pytest.raises(BadInput, match="nothere.mp4"):
        read_video(tmp_path / "nothere.mp4", progress=False)
    (tmp_path / "notes.pdf").write_bytes(b"%PDF")
    with pytest.raises(BadInput, match="not a video"):
        read_video(tmp_path / "notes.pdf", progress=False)
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(np.random.default_rng(0).integers(0, 256, 30_000, dtype=np.uint8).tobytes())
    with pytest.raises(CorruptVideo, match="garbage.mp4"):
        read_video(garbage, progress=False)
    shutil.copy(real_dir / "sample1.avi", tmp_path / "sample1.avi")
    with pytest.raises(MissingFile, match="missing.txt"):
        read_video(tmp_path / "sample1.avi", tmp_path / "missing.txt", progress=False)
    _long_input(tmp_path)
    (tmp_path / "talk.wav").unlink()
    with pytest.raises(NoAudio, match="talk.kps.npz"):
        read_video(tmp_path / "talk.kps.npz", progress=False)


def test_a_video_with_nobody_in_it_is_no_person(tmp_path, real_dir):
    frames = [np.full((120, 160, 3), 90, np.uint8) for _ in range(50)]
    write_video(tmp_path / "empty_room.avi", frames)
    shutil.copy(real_dir / "sample1.wav", tmp_path / "empty_room.wav")
    (tmp_path / "empty_room.txt").write_text((real_dir / "sample1.txt").read_text().replace("0.031", "0.040"))
    with pytest.raises(NoPerson, match="empty_room.avi"):
        read_video(tmp_path / "empty_room.avi", progress=False)


def test_the_model_front_end_decides_what_a_video_must_give():
    assert gesture_input(JEGALConfig.from_preset("cpu"), "talk.mp4") is None
    rgb = JEGALConfig.from_preset("cpu", {"gesture.frontend": "rgb"})
    assert gesture_input(rgb, "talk.mp4") == DEFAULT_RGB_SIZE and gesture_input(rgb, "talk.mp4", 64) == 64
    with pytest.raises(FrontEndMismatch, match="talk.kps.npz.*keypoints only"):
        gesture_input(rgb, "talk.kps.npz")
    with pytest.raises(FrontEndMismatch, match="talk.mp4.*'features'"):
        gesture_input(JEGALConfig.from_preset("cpu", {"gesture.frontend": "features"}), "talk.mp4")
