"""``jegal asd``: segments, the decision rules, and the command on the real two-speaker video."""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest
import torch

from jegal.cli import main
from jegal.data.words import Word
from jegal.use.asd import decide, make_segments, people_cuts, speech_segments
from jegal.use.video import PersonInput, VideoInput

from .conftest import decode_mp4


def _words(spec):
    return [Word.from_display(d, s, e) for d, s, e in spec]


# -- segments ----------------------------------------------------------------------------------------
def test_segments_end_at_sentence_ends_pauses_changes_of_people_and_length():
    words = _words([("So,", 0, 5), ("this", 6, 9), ("works.", 10, 15),  # sentence end after "works."
                    ("Then", 16, 20), ("we", 21, 23),  # pause of 12 frames next
                    ("wait", 36, 40), ("here", 41, 44),  # a person appears at frame 47
                    ("again", 46, 52), ("and", 53, 55)])
    assert speech_segments(words) == [(0, 2), (3, 4), (5, 8)]
    assert speech_segments(words, cuts=[47]) == [(0, 2), (3, 4), (5, 6), (7, 8)]
    assert speech_segments(words, cuts=[50]) == [(0, 2), (3, 4), (5, 8)]  # after the middle of "again": no cut
    assert speech_segments(words, max_pause=20) == [(0, 2), (3, 8)]
    assert speech_segments(words, max_frames=10) == [(0, 1), (2, 2), (3, 4), (5, 6), (7, 8)]
    assert speech_segments(words, max_words=2) == [(0, 1), (2, 2), (3, 4), (5, 6), (7, 8)]
    assert speech_segments(_words([('"Really?"', 0, 5), ("yes", 6, 9)])) == [(0, 0), (1, 1)]


def _person(k, first, last, T, level):
    boxes = np.full((T, 4), np.nan, np.float32)
    boxes[first:last + 1] = [0, 0, 10, 10]
    kp = np.zeros((T, 56, 3), np.float32)
    kp[first:last + 1] = level  # the fake model reads a person's identity from this
    return PersonInput(k, [], [], boxes, keypoints=kp, first_frame=first, last_frame=last)


def _video(people, words=(), T=200):
    return VideoInput(path=__import__("pathlib").Path("fake.mp4"), num_frames=T, fps=25.0, size=(10, 10),
                      words=list(words), transcript_source="given", people=people, name="fake",
                      mel=np.zeros((4 * T, 80), np.float32))


def test_fixed_windows_restart_where_the_people_in_view_change():
    v = _video([_person(0, 0, 119, 200, 1.0), _person(1, 60, 199, 200, 2.0)])
    assert people_cuts(v) == [60, 120]
    segments, how = make_segments(v, segment_frames=50)
    assert how == "fixed"
    assert [(s.start, s.end) for s in segments] == [(0, 49), (50, 59), (60, 109), (110, 119), (120, 169),
                                                    (170, 199)]


def test_transcript_segments_get_context_but_not_across_a_change_of_people():
    words = _words([("one", 20, 30), ("two.", 31, 40), ("three", 64, 70), ("four", 71, 80)])
    v = _video([_person(0, 0, 199, 200, 1.0), _person(1, 60, 199, 200, 2.0)], words)
    segments, how = make_segments(v)
    assert how == "transcript"
    assert [(s.start, s.end, s.words) for s in segments] == [(10, 50, [0, 1]), (60, 90, [2, 3])]
    assert segments[1].text == "three four"


class FakeModel:
    """Content clip vector e0; a person's gesture clip vector leans towards e0 by their keypoint level."""

    def __init__(self, lean: dict[float, float]):
        self.lean = lean

    def embed(self, batch, modalities="ta", parts="gc", space=None):
        if parts == "c":
            return {"content_clip": torch.tensor([[1.0, 0.0]])}
        level = batch["keypoints"][:, :, 0, 0].amax(1)  # (P,)
        a = torch.tensor([self.lean[float(x)] for x in level])
        return {"gesture_clip": torch.stack([a, (1 - a ** 2).sqrt()], 1)}


def test_decisions_gestures_only_person_nobody_and_tie():
    words = _words([("one", 20, 30), ("two.", 31, 40), ("three", 64, 70), ("four.", 71, 80),
                    ("five", 150, 160)])
    people = [_person(0, 0, 199, 200, 1.0), _person(1, 60, 140, 200, 2.0), _person(2, 60, 140, 200, 3.0)]
    v = _video(people, words)
    segments, _ = make_segments(v)
    decide(FakeModel({1.0: 0.2, 2.0: 0.9, 3.0: 0.5}), v, segments, "ta")
    first, second, third = segments
    assert (first.decision, first.speaker, first.reason) == ("only_person", 0, "only one person in view")
    assert first.scores[0] == pytest.approx(0.2) and first.scores[1] is None and first.scores[2] is None
    assert (second.decision, second.speaker) == ("gestures", 1)
    assert second.scores == pytest.approx({0: 0.2, 1: 0.9, 2: 0.5}) and second.margin == pytest.approx(0.4)
    assert third.speaker == 0 and third.decision == "only_person"  # persons 1 and 2 left at frame 140
    tie = decide(FakeModel({1.0: 0.2, 2.0: 0.7, 3.0: 0.7}), v, make_segments(v)[0], "ta")[1]
    assert (tie.decision, tie.reason, tie.speaker) == ("undecided", "tie", None)
    empty = _video([_person(0, 100, 199, 200, 1.0)], _words([("early", 10, 20)]))
    (seg,) = decide(FakeModel({1.0: 0.5}), empty, make_segments(empty)[0], "ta")
    assert (seg.decision, seg.reason, seg.speaker, seg.scores) == ("undecided", "nobody_in_view", None, {0: None})


# -- the command on real videos -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def two_speakers(tmp_path_factory, real_dir, random_model):
    out = tmp_path_factory.mktemp("asd") / "out"
    code = main(["asd", str(real_dir / "two_speakers_raw.mp4"), "--model", str(random_model), "--out", str(out),
                 "--quiet"])
    assert code == 0
    return out


def test_two_speakers_every_segment_is_assigned_or_explicitly_undecided(two_speakers):
    doc = json.loads((two_speakers / "asd.json").read_text())
    # two people in each of two shots; a cut ends every track: four people
    assert len(doc["people"]) == 4 and doc["segmentation"] == "transcript"
    people = {str(p["person"]) for p in doc["people"]}
    assert doc["transcript_source"].startswith("asr:faster-whisper/tiny.en@")  # the default recogniser
    assert (two_speakers / "transcripts" / "two_speakers_raw.txt").is_file()
    segments = doc["segments"]
    assert segments and sum(doc["decisions"].values()) == len(segments)
    for seg in segments:
        assert set(seg["scores"]) == set(seg["visible"]) == people
        assert seg["decision"] in ("gestures", "only_person", "undecided")
        assert (seg["speaker"] is None) == (seg["decision"] == "undecided")
        in_view = {p for p, v in seg["visible"].items() if v >= doc["min_visible"]}
        assert {p for p, s in seg["scores"].items() if s is not None} == in_view
        if seg["decision"] == "gestures":
            assert len(in_view) >= 2
            assert seg["speaker"] == int(max(in_view, key=lambda p: seg["scores"][p]))
        elif seg["decision"] == "only_person":
            assert in_view == {str(seg["speaker"])}
        else:
            assert seg["reason"] in ("tie", "nobody_in_view")
        assert 0 <= seg["start_frame"] <= seg["end_frame"] < doc["num_frames"]
    # both people are in view in every shot: the speaker is chosen by the gestures somewhere
    assert any(s["decision"] == "gestures" for s in segments)
    with open(two_speakers / "asd.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(segments)
    for row, seg in zip(rows, segments):
        assert row["decision"] == seg["decision"] and row["speaker"] == ("" if seg["speaker"] is None
                                                                         else str(seg["speaker"]))
        for p in sorted(people):
            s = seg["scores"][p]
            assert (row[f"score_person{p}"] == "") == (s is None)
            if s is not None:
                assert float(row[f"score_person{p}"]) == pytest.approx(s)


def test_two_speakers_annotated_video_has_every_frame_and_the_audio(two_speakers):
    doc = json.loads((two_speakers / "asd.json").read_text())
    frames, seconds, kinds, _ = decode_mp4(two_speakers / "annotated.mp4")
    assert frames == doc["num_frames"] and seconds == pytest.approx(doc["num_frames"] / 25, abs=0.04)
    assert kinds == ["audio", "video"]


def test_without_words_asd_scores_fixed_windows_of_speech(tmp_path, real_dir, random_model):
    shutil.copy(real_dir / "sample1.avi", tmp_path / "s.avi")
    shutil.copy(real_dir / "sample1.wav", tmp_path / "s.wav")
    out = tmp_path / "out"
    assert main(["asd", str(tmp_path / "s.avi"), "--model", str(random_model), "--out", str(out), "--asr", "none",
                 "--no-video", "--quiet"]) == 0
    doc = json.loads((out / "asd.json").read_text())
    assert doc["segmentation"] == "fixed" and doc["modalities"] == "a" and doc["transcript_source"] == "none"
    p = doc["people"][0]
    spans = [(s["start_frame"], s["end_frame"]) for s in doc["segments"]]
    edges = sorted({0, p["first_frame"], p["last_frame"] + 1, doc["num_frames"]})
    expected = [(s, min(b, s + 50) - 1) for a, b in zip(edges, edges[1:]) for s in range(a, b, 50)]
    assert spans == expected
    for seg in doc["segments"]:
        inside = p["first_frame"] <= seg["start_frame"] and seg["end_frame"] <= p["last_frame"]
        assert seg["decision"] == ("only_person" if inside else "undecided")
    assert not (out / "annotated.mp4").exists()


def test_asd_errors_are_one_line(tmp_path, real_dir, random_model, capsys):
    assert main(["asd", str(tmp_path / "none.mp4"), "--model", str(random_model), "--quiet"]) == 1
    assert "jegal asd:" in capsys.readouterr().err
    assert main(["asd", str(real_dir / "sample1.avi"), "--model", str(random_model), "--min-visible", "2",
                 "--quiet"]) == 1
    assert "--min-visible" in capsys.readouterr().err
