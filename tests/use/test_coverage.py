"""Coverage reported by ``jegal spot`` and ``jegal asd`` (issue 22): per person the frames in view and
with keypoints, and every word spoken while nobody is tracked listed as not scored, in the JSON and
on the terminal, never silently dropped."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from jegal.data.keypoints import LEFT_SHOULDER
from jegal.data.words import Word
from jegal.perception.coverage import coverage_record, person_coverage, scored_by, unscored_line, unscored_words

from ..perception.wild import synthetic_keypoints

FRAMES = 150  # 6 s of keypoints
TRACK_END = 99  # the person's track is cut here (4 s): the words after it are spoken while nobody is tracked
WORDS = [(f"w{i}", 0.2 + 0.45 * i, 0.2 + 0.45 * i + 0.3) for i in range(12)]  # 0.2 .. 5.45 s


@dataclasses.dataclass
class _Part:
    start: int
    raw: np.ndarray


def test_a_person_is_in_view_in_their_parts_frames_and_has_keypoints_where_both_shoulders_are_found():
    raw = np.ones((10, 56, 3), np.float32)
    raw[2:4, LEFT_SHOULDER, 2] = 0.0  # a shoulder missing
    parts = [_Part(5, raw[:6]), _Part(20, raw[6:])]  # frames 5..10 and 20..23: a gap of 9 frames
    got = person_coverage(3, parts)
    assert (got.person, got.first_frame, got.last_frame) == (3, 5, 23)
    assert got.track_frames == 19 and got.frames_in_view == 10 and got.frames_with_keypoints == 8
    assert got.to_json()["end_s"] == pytest.approx(24 / 25)


def test_a_word_is_scored_only_by_a_track_holding_its_whole_span():
    words = [Word("a", 0, 4), Word("b", 8, 12), Word("c", 18, 22), Word("d", 30, 31)]
    tracks = [(0, 10), (10, 25)]
    assert scored_by(words, tracks) == [[0], [], [1], []]  # b straddles both tracks' ends: nobody holds it all
    assert unscored_words(words, tracks) == [1, 3]
    record = coverage_record([person_coverage(0, [_Part(0, np.zeros((11, 56, 3)))])], words, 40)
    assert record["words"] == 4 and record["scored_words"] == 1
    assert [w["index"] for w in record["unscored_words"]] == [1, 2, 3]
    assert record["unscored_words"][0] == {"index": 1, "word": "b", "start_frame": 8, "end_frame": 12,
                                           "start_s": 0.32, "end_s": 0.52}
    assert record["frames_tracked"] == 11


def test_the_terminal_line_counts_the_unscored_words_and_says_when_they_are_spoken():
    words = [Word(f"w{i}", 10 * i, 10 * i + 5) for i in range(9)]
    record = coverage_record([person_coverage(0, [_Part(0, np.zeros((16, 56, 3)))])], words, 100)
    line = unscored_line(record)
    assert line.startswith("7 of 9 words are spoken while nobody is tracked: not scored (0.8-1.0 s 'w2'")
    assert line.endswith("and 1 more)")
    all_in = coverage_record([person_coverage(0, [_Part(0, np.zeros((100, 56, 3)))])], words, 100)
    assert unscored_line(all_in) == "all 9 words are spoken while someone is tracked"


# -- the commands -------------------------------------------------------------------------------------
@pytest.fixture
def short_track(tmp_path, monkeypatch):
    """A keypoint input of 6 s with 12 words whose one person is tracked for its first 4 s only (the
    people stage's result cut, as a track that ends early would be)."""
    import soundfile as sf

    from jegal.perception.track import People

    kp = synthetic_keypoints(FRAMES, seed=3)
    np.savez(tmp_path / "talk.kps.npz", keypoints=kp, fps=25, width=640, height=480)
    rng = np.random.default_rng(0)
    sf.write(str(tmp_path / "talk.wav"), (rng.standard_normal(FRAMES * 640) * 0.05).astype(np.float32), 16000)
    (tmp_path / "talk.txt").write_text("Text: -\nLang: en\n\nWORD, START, END, SCORE\n"
                                       + "".join(f"{w}, {s:.2f}, {e:.2f}, 1.0\n" for w, s, e in WORDS))
    whole = People.from_keypoints

    def cut(raw):
        people = whole(raw)
        part = people.persons[0][0]
        n = len(part.raw)
        cut_part = dataclasses.replace(part, **{f.name: getattr(part, f.name)[:TRACK_END + 1]
                                                for f in dataclasses.fields(part)
                                                if isinstance(getattr(part, f.name), np.ndarray)
                                                and len(getattr(part, f.name)) == n})
        people.persons[0] = [cut_part]
        return people

    monkeypatch.setattr(People, "from_keypoints", staticmethod(cut))
    return tmp_path / "talk.kps.npz"


def _expected_unscored():
    return [i for i, (_, s, e) in enumerate(WORDS) if round(e * 25) > TRACK_END]


@pytest.mark.parametrize("command", ["spot", "asd"])
def test_words_spoken_while_nobody_is_tracked_are_listed_in_the_json_and_on_the_terminal(
        command, short_track, random_model, tmp_path, capsys):
    from jegal.cli import main

    out = tmp_path / command
    assert main([command, str(short_track), "--model", str(random_model), "--out", str(out), "--no-video",
                 "--quiet"]) == 0
    doc = json.loads((out / f"{command}.json").read_text())
    cov = doc["coverage"]
    missing = _expected_unscored()
    assert missing and len(missing) < len(WORDS)
    assert [w["index"] for w in cov["unscored_words"]] == missing
    assert cov["words"] == len(WORDS) == len(doc["words"] if command == "spot" else WORDS)
    assert cov["scored_words"] == len(WORDS) - len(missing)
    assert [w["word"] for w in cov["unscored_words"]] == [WORDS[i][0] for i in missing]
    (p,) = cov["people"]
    assert (p["first_frame"], p["last_frame"], p["frames_in_view"]) == (0, TRACK_END, TRACK_END + 1)
    assert 0 < p["frames_with_keypoints"] <= p["frames_in_view"]
    if command == "spot":  # every word is either scored for someone or listed: none dropped
        scored = {w["index"] for person in doc["people"] for w in person["words"]}
        assert scored.isdisjoint(missing) and scored | set(missing) == set(range(len(WORDS)))
    printed = capsys.readouterr().out
    assert f"{len(missing)} of {len(WORDS)} words are spoken while nobody is tracked: not scored" in printed
    assert f"in view {TRACK_END + 1} of the track's {TRACK_END + 1} frames" in printed
