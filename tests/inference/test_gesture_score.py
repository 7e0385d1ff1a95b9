"""The per-word gesture score: the kernel against a slow reference, and what it must mean on a track.

- :func:`score_windows` equals a plain loop over words and controls on random inputs;
- a person who holds still gets no gestured word (every control ties the word);
- a talk repeated three times in one keypoint file gets the same gestured words in each copy;
- in a video with two people, a word counts as gestured only by the person speaking it.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from jegal.inference.gesture_score import ALPHA, MIN_CONTROLS, Window, score_windows
from jegal.metrics import SPOT_MARGIN

VOCAB = ["big", "the", "up", "small", "round", "and"]


def _random_windows(rng, n=7, d=8):
    windows = []
    for v in range(n):
        T = int(rng.integers(20, 40))
        W = int(rng.integers(1, 5))
        starts = np.sort(rng.integers(0, T - 4, W))
        spans = np.stack([starts, np.minimum(starts + rng.integers(1, 6, W), T - 1)], 1)
        seg = "a" if v < 4 else "b"
        windows.append(Window(rng.standard_normal((T, d)).astype(np.float32),
                              rng.standard_normal((W, d)).astype(np.float32),
                              [VOCAB[i] for i in rng.integers(0, len(VOCAB), W)], spans,
                              start=int(rng.integers(0, 60)), segment=seg))
    return windows


def _reference(windows, decide, still, margin=SPOT_MARGIN, tau=0.07):
    """One word and one control at a time, every rule written out."""
    out = []

    def stat(C, j, frames, a, b):
        best, arg = -np.inf, 0
        for t in range(len(frames)):
            if a <= t <= b:
                f = frames[t] / np.linalg.norm(frames[t])
                logits = [float(c @ f) / np.linalg.norm(c) / tau for c in C]
                p = np.exp(logits[j] - max(logits)) / sum(np.exp(x - max(logits)) for x in logits)
                if p > best:
                    best, arg = p, t
        return best, arg

    for v, j in decide:
        win = windows[v]
        a, b = int(win.spans[j, 0]) - margin, int(win.spans[j, 1]) + margin
        obs, peak = stat(win.words, j, win.frames, a, b)
        found = []  # (recording, start, statistic) of every control
        for u, other in enumerate(windows):
            if u == v or len(other.frames) <= win.spans[j, 1]:
                continue
            if other.segment == win.segment and other.start + a <= win.start + b and other.start + b >= win.start + a:
                continue  # the control's frames overlap the word's own
            if any(x == win.texts[j] and s <= b and e >= a for x, (s, e) in zip(other.texts, other.spans)):
                continue  # the same word spoken there
            found.append((other.segment, other.start, stat(win.words, j, other.frames, a, b)[0]))
        controls, weights = [], []
        for seg, start, value in found:  # weight: 1 / the controls whose compared frames overlap this one's
            near = sum(1 for s2, t2, _ in found if s2 == seg and abs(t2 - start) < (b - a + 2) // 2)
            controls.append(value)
            weights.append(1.0 / near)
        if still is not None:
            controls.append(stat(win.words, j, still, a, b)[0])
            weights.append(1.0)
        p = (1 + sum(w for c, w in zip(controls, weights) if c >= obs - 1e-5)) / (1 + sum(weights))
        out.append((obs, peak, sum(weights), p))
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_score_windows_equals_the_slow_reference(seed):
    rng = np.random.default_rng(seed)
    windows = _random_windows(rng)
    windows[2].texts[0] = windows[5].texts[-1] = windows[1].texts[0]  # the same word in several windows
    still = rng.standard_normal((30, 8)).astype(np.float32)
    decide = [(v, j) for v in range(7) for j in range(len(windows[v].texts))]
    got = score_windows(windows, decide, still)
    ref = _reference(windows, decide, still)
    np.testing.assert_allclose(got.observed, [r[0] for r in ref], rtol=1e-4)
    np.testing.assert_array_equal(got.peak, [r[1] for r in ref])
    np.testing.assert_allclose(got.controls, [r[2] for r in ref])
    np.testing.assert_allclose(got.p_value, [r[3] for r in ref], rtol=1e-6)
    np.testing.assert_allclose(got.score, 1 - got.p_value)
    assert (got.gestured == ((got.p_value <= ALPHA) & (got.controls >= MIN_CONTROLS))).all()


def test_a_word_coupled_with_its_own_gesture_beats_its_controls_and_ties_prove_nothing():
    rng = np.random.default_rng(0)
    d, T = 64, 40
    words = rng.standard_normal((3, d)).astype(np.float32)
    spans = np.array([[5, 8], [18, 21], [30, 33]])
    noise = [rng.standard_normal((T, d)).astype(np.float32) for _ in range(25)]
    own = noise[0].copy()
    own[17:23] = words[1] * 3  # word 1's gesture, right on its span
    windows = [Window(own, words, ["a", "b", "c"], spans, 0, "clip0")]
    windows += [Window(f, words, ["x", "y", "z"], spans, 0, f"clip{k}") for k, f in enumerate(noise[1:], 1)]
    got = score_windows(windows, [(0, 0), (0, 1), (0, 2)], still=rng.standard_normal((T, d)).astype(np.float32))
    assert got.controls.tolist() == [25, 25, 25]
    assert got.gestured.tolist() == [False, True, False] and got.p_value[1] == pytest.approx(1 / 26)
    # the same footage as every control: every control ties the word, so nothing is gestured
    same = [Window(own, words, ["x", "y", "z"], spans, 0, f"copy{k}") for k in range(25)]
    tied = score_windows([windows[0], *same], [(0, 1)], None)
    assert tied.p_value[0] == 1.0 and not tied.gestured[0]


def test_overlapping_stretches_count_about_once():
    """Windows one frame apart compare nearly the same frames: together they count about once per span."""
    rng = np.random.default_rng(1)
    d, T = 32, 30
    words = rng.standard_normal((1, d)).astype(np.float32)
    spans = np.array([[10, 12]])  # compared frames 1..21: 21 frames
    windows = [Window(rng.standard_normal((T, d)).astype(np.float32), words, ["w" if s == 0 else "x"], spans, s,
                      "video") for s in [0, *range(40, 140)]]
    got = score_windows(windows, [(0, 0)], None)
    assert 100 / 21 - 1 <= got.controls[0] <= 100 / 21 + 1  # 100 windows, a 21-frame span


# -- on tracks: a trained model ------------------------------------------------------------------------
def _talk(corpus, names):
    """Keypoints (pixels), audio and words of the SynthGest test clips ``names`` played one after another."""
    import soundfile as sf

    from jegal.data.transcripts import read_txt

    kps, waves, words, offset = [], [], [], 0
    for name in names:
        folder = corpus / "media" / name.split("/")[0]
        stem = folder / name.split("/")[1]
        with np.load(f"{stem}.kps.npz") as z:
            kp, size = z["keypoints"], (int(z["width"]), int(z["height"]))
        kps.append(kp)
        waves.append(sf.read(f"{stem}.wav", dtype="float32")[0])
        words += [(w.display, w.start + offset, w.end + offset) for w in read_txt(f"{stem}.txt")]
        offset += len(kp)
    return np.concatenate(kps), np.concatenate(waves), words, size


def _write(folder, name, kp, wave, words, size):
    import soundfile as sf

    np.savez(folder / f"{name}.kps.npz", keypoints=kp, fps=25, width=size[0], height=size[1])
    sf.write(str(folder / f"{name}.wav"), wave, 16000)
    (folder / f"{name}.txt").write_text("Text: -\nLang: en\n\nWORD, START, END, SCORE\n" + "".join(
        f"{w}, {s / 25:.3f}, {(e + 0.999) / 25:.3f}, 1.0\n" for w, s, e in words))
    return folder / f"{name}.kps.npz"


@pytest.fixture(scope="module")
def talk(use_corpus):
    """The names of 16 test clips (3 s each) of one held-out speaker."""
    from jegal.data.shards import read_clips

    by_speaker: dict[str, list[str]] = {}
    for c in read_clips(use_corpus / "test"):
        by_speaker.setdefault(c.speaker_id, []).append(c.clip_id)
    names = max(by_speaker.values(), key=len)[:16]
    assert len(names) == 16
    return names


@pytest.fixture(scope="module")
def model(use_model):
    from jegal.model import JEGAL

    return JEGAL.from_pretrained(use_model).load_text_backbone()


def _spot(model, path):
    from jegal.inference.spotting import spot_person
    from jegal.use.video import read_video

    vi = read_video(path, progress=False)
    (person,) = vi.people
    return vi, spot_person(model, person, vi.words, "ta")


def test_a_person_who_holds_still_gets_no_gestured_word_and_moving_they_do(use_corpus, talk, model, tmp_path):
    kp, wave, words, size = _talk(use_corpus, talk)
    _, moving = _spot(model, _write(tmp_path, "moving", kp, wave, words, size))
    still = np.repeat(kp.mean(0, keepdims=True), len(kp), 0)
    _, held = _spot(model, _write(tmp_path, "still", still, wave, words, size))
    assert (held.controls >= MIN_CONTROLS).all()
    assert not held.gestured.any() and (held.p_value == 1.0).all()  # every control ties: nothing to beat
    assert moving.gestured.any() and (moving.controls >= MIN_CONTROLS).all()


def test_a_talk_repeated_three_times_gets_the_same_gestured_words_in_each_copy(use_corpus, talk, model, tmp_path):
    """2 clips of lead-in, the talk (6 clips, 18 s) three times, 2 clips of lead-out: each word of the talk
    has its own window centred on it in every copy, so the words with the same footage around them (4 s
    either side) get the same decisions, scores and best frames in all three copies."""
    lead = _talk(use_corpus, talk[:2])
    body = _talk(use_corpus, talk[2:8])
    tail = _talk(use_corpus, talk[8:10])
    parts = [lead, body, body, body, tail]
    kp = np.concatenate([p[0] for p in parts])
    wave = np.concatenate([p[1] for p in parts])
    words, offset = [], 0
    for p in parts:
        words += [(w, s + offset, e + offset) for w, s, e in p[2]]
        offset += len(p[0])
    vi, spots = _spot(model, _write(tmp_path, "thrice", kp, wave, words, lead[3]))
    n_lead, n_body, L = len(lead[2]), len(body[2]), len(body[0])
    rows = {int(w): r for r, w in enumerate(spots.word_index)}
    copies = []
    for k in range(3):
        first = n_lead + k * n_body
        idx = [rows[i] for i in range(first, first + n_body)]
        copies.append((spots.gestured[idx], spots.gesture_score[idx], spots.best_frame[idx] - k * L,
                       spots.window[idx] - k * L))
    # a word's window reaches 2 s either side, and the controls it leaves out (overlapping its own
    # frames) up to 2 s more: a word with 4 s of the copy on both sides sees exactly the same footage and
    # the same controls in every copy, so everything about it is equal
    start = len(lead[0]) + 50
    inner = (copies[0][3][:, 0] >= start) & (copies[0][3][:, 1] < start - 100 + L)
    assert inner.sum() >= n_body // 3 and np.ptp(copies[0][1][inner]) > 0  # the scores depend on the word
    for g, s, b, _ in copies[1:]:
        assert (g[inner] == copies[0][0][inner]).all()
        np.testing.assert_allclose(s[inner], copies[0][1][inner], atol=1e-6)
        assert (b[inner] == copies[0][2][inner]).all()


def test_in_a_two_person_video_a_word_is_gestured_only_by_its_speaker(tmp_path, real_dir, use_model):
    """two_speakers_raw.mp4 (two people in each of two shots, four tracks): every person's scores, the
    decision only for the speaker asd names."""
    from jegal.cli import main

    out = tmp_path / "out"
    assert main(["spot", str(real_dir / "two_speakers_raw.mp4"), "--model", str(use_model), "--out", str(out),
                 "--quiet", "--no-video"]) == 0
    doc = json.loads((out / "spot.json").read_text())
    assert doc["attribution"] == "speaker" and len(doc["people"]) >= 2
    speakers = {w["index"]: w["speaker"] for w in doc["words"]}
    assert set(speakers.values()) - {None}, "asd names a speaker"
    for p in doc["people"]:
        for w in p["words"]:
            assert w["speaker"] == speakers[w["index"]]
            assert w["gestured"] == (w["gestured_by_score"] and w["speaker"] == p["person"])
    # with attribution off, the answer is the score's alone
    from jegal.model import JEGAL
    from jegal.use import spot_words

    got = spot_words(real_dir / "two_speakers_raw.mp4", JEGAL.from_pretrained(use_model).load_text_backbone(),
                     out=tmp_path / "all", attribute=False, annotated=False)
    assert got.doc["attribution"] == "none"
    assert all(w["gestured"] == w["gestured_by_score"] and w["speaker"] is None
               for p in got.doc["people"] for w in p["words"])


def test_score_clips_reads_the_heads_space_names():
    """``space="global"`` scores the frames and words of the clip-level heads: the same as the
    model's own readout for a clip-objective model, different for a model that reads both."""
    from dataclasses import replace

    from jegal.inference.gesture_score import score_clips
    from tests.dummy import random_clip
    from tests.model.conftest import tiny_model

    rng = np.random.default_rng(0)
    clips = [replace(random_clip(rng, 30, 5, clip_id=f"c{i}"), speaker_id="s") for i in range(6)]
    both = tiny_model(**{"content.modalities": "a"}).eval()
    own, glob = score_clips(both, clips, modalities="a"), score_clips(both, clips, modalities="a", space="global")
    assert not np.allclose(own["c0"].observed, glob["c0"].observed)
    clip = tiny_model(**{"content.modalities": "a", "loss.objective": "clip"}).eval()
    a, b = score_clips(clip, clips, modalities="a"), score_clips(clip, clips, modalities="a", space="global")
    for c in a:
        np.testing.assert_allclose(a[c].observed, b[c].observed, atol=1e-6)
        np.testing.assert_array_equal(a[c].p_value, b[c].p_value)
    with pytest.raises(ValueError, match="space"):
        score_clips(both, clips, modalities="a", space="frames")
