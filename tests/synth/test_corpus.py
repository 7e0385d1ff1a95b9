import ast
import csv
import json
from pathlib import Path

import numpy as np
import pytest

from jegal.data.audio import load_audio
from jegal.data.keypoints import NUM_JOINTS, normalise
from jegal.data.shards import read_clips
from jegal.data.transcripts import parse_word_boundaries, read_txt
from jegal.synth import SynthError, generate_corpus
from jegal.synth.baselines import wrist_speed
from jegal.timebase import SAMPLES_PER_FRAME

from .conftest import SMALL


def _files(root: Path) -> dict:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _truth(out):
    with open(out / "ground_truth.jsonl") as f:
        return {r["clip_id"]: r for r in map(json.loads, f)}


@pytest.mark.slow
def test_same_seed_same_bytes_any_workers_and_seed_changes_output(small_corpus, tmp_path):
    out, _ = small_corpus
    # 70 training clips take the multiprocessing path with 2 workers, the inline path with 1.
    args = {**SMALL, "train_clips": 70}
    a = generate_corpus(tmp_path / "a", workers=2, **args)
    b = generate_corpus(tmp_path / "b", workers=1, **args)
    fa, fb = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert fa.keys() == fb.keys()
    assert [k for k in fa if fa[k] != fb[k]] == []
    assert a["counts"] == b["counts"]
    c = generate_corpus(tmp_path / "c", workers=1, **{**args, "seed": SMALL["seed"] + 1})
    fc = _files(tmp_path / "c")
    assert fa["train/shard-000000.tar"] != fc["train/shard-000000.tar"]
    assert fa["benchmarks/ret.csv"] != fc["benchmarks/ret.csv"]
    assert c["speakers"] != a["speakers"]


def test_layout_and_counts(small_corpus):
    out, summary = small_corpus
    for rel in ("train/manifest.json", "test/manifest.json", "benchmarks/spot.csv", "benchmarks/ret.csv",
                "benchmarks/asd.csv", "ground_truth.jsonl", "synth.json"):
        assert (out / rel).is_file(), rel
    written = json.loads((out / "synth.json").read_text())
    assert written["counts"] == summary["counts"]
    train = list(read_clips(out / "train"))
    test = list(read_clips(out / "test"))
    assert len(train) == SMALL["train_clips"]
    assert len(test) == summary["counts"]["test_clips"]
    for c in train[:10] + test[:10]:
        c.validate()
        assert c.source == "synthgest"
        assert c.keypoints.shape[1:] == (NUM_JOINTS, 3)
    assert all(50 <= c.num_frames <= 100 for c in train)
    # Train and test speakers are disjoint.
    assert {c.speaker_id for c in train}.isdisjoint({c.speaker_id for c in test})
    assert set(written["train_speakers"]).isdisjoint(written["test_speakers"])
    for n in ("spot", "ret", "asd"):
        assert len(_rows(out / "benchmarks" / f"{n}.csv")) == SMALL["test_clips"]


def test_benchmarks_have_avs_columns_and_parse(small_corpus, avs_dir):
    out, _ = small_corpus
    test_ids = {c.clip_id: c for c in read_clips(out / "test")}
    for ours, theirs in (("spot", "avs_spot"), ("ret", "avs_ret"), ("asd", "avs_asd")):
        with open(out / "benchmarks" / f"{ours}.csv") as f, open(avs_dir / f"{theirs}.csv") as g:
            assert next(csv.reader(f)) == next(csv.reader(g))
        for row in _rows(out / "benchmarks" / f"{ours}.csv"):
            clip = test_ids[row["filename"]]  # every benchmark clip is in the test shards
            words = parse_word_boundaries(row["word_boundaries"], row["filename"])
            assert [(w.text, w.start, w.end) for w in words] == [(w.text, w.start, w.end) for w in clip.words]
            assert row["phrase"] == " ".join(w.display for w in clip.words)
            assert row["filename"].startswith(row["video_id"] + "_")
    for row in _rows(out / "benchmarks" / "asd.csv"):
        negs = ast.literal_eval(row["neg_files"])
        assert len(negs) == 5
        for n in negs:
            assert n in test_ids, n
            assert test_ids[n].speaker_id != test_ids[row["filename"]].speaker_id


def test_spotting_targets_are_truly_gestured(small_corpus):
    out, _ = small_corpus
    truth = _truth(out)
    stress_labels = set()
    for row in _rows(out / "benchmarks" / "spot.csv"):
        words = parse_word_boundaries(row["word_boundaries"])
        target = parse_word_boundaries(row["target_word_boundary"])[0]
        key = (target.display, target.start, target.end)
        idx = [i for i, w in enumerate(words) if (w.display, w.start, w.end) == key]
        assert len(idx) == 1
        rec = truth[row["filename"]]
        gestured = [g for g in rec["gestures"] if g["kind"] == "semantic" and g["word_index"] == idx[0]]
        assert gestured and gestured[0]["word"] == target.text.lower()
        assert int(row["stress_label"]) == int(rec["stressed"][idx[0]])
        stress_labels.add(int(row["stress_label"]))
        s, e = gestured[0]["stroke"]
        assert 0 <= s <= e < int(row["num_frames"])
    assert stress_labels == {0, 1}


def test_ground_truth_agrees_with_motion(small_corpus):
    """Hands move clearly faster in gestured strokes than at ungestured words of the same clip."""
    out, _ = small_corpus
    truth = _truth(out)
    clips = {c.clip_id: c for c in list(read_clips(out / "train")) + list(read_clips(out / "test"))}
    ratios = []
    for cid, rec in truth.items():
        kp = clips[cid].keypoints
        # A 5-frame moving average removes estimator jitter, as any speed measure would.
        kern = np.ones(5) / 5
        smooth = np.apply_along_axis(lambda x: np.convolve(x, kern, mode="same"), 0, kp)
        speed = wrist_speed(smooth)
        busy = np.zeros(len(speed), bool)
        for g in rec["gestures"]:
            busy[max(0, g["prep_start"]) : max(0, g["retract_end"] + 1)] = True
        idle = [w for w in rec["words"] if not busy[w[1] : w[2] + 1].any()]
        if not idle:
            continue
        idle_speed = np.mean([speed[s : e + 1].mean() for _, s, e in idle])
        for g in rec["gestures"]:
            if g["kind"] == "semantic" and g["stroke_inside"]:
                s, e = g["stroke"]
                ratios.append(speed[s : e + 1].mean() / idle_speed)
    ratios = np.asarray(ratios)
    assert len(ratios) >= 15
    assert np.median(ratios) > 3.0, np.median(ratios)
    assert np.mean(ratios > 1.5) > 0.8


def test_gestures_follow_words_with_the_speaker_lag(small_corpus):
    out, summary = small_corpus
    lags = {s["speaker_id"]: s["lag"] for s in summary["speakers"]}
    assert all(-0.4 <= v <= 0.4 for v in lags.values())
    offsets = {}
    for rec in _truth(out).values():
        for g in rec["gestures"]:
            if g["kind"] == "semantic" and g["word_index"] >= 0 and g["stroke_inside"]:
                _, ws, we = rec["words"][g["word_index"]]
                offsets.setdefault(rec["speaker_id"], []).append((sum(g["stroke"]) - ws - we) / 2 / 25)
    checked = 0
    for spk, vals in offsets.items():
        if len(vals) >= 4:
            assert abs(np.median(vals) - lags[spk]) < 0.12, (spk, np.median(vals), lags[spk])
            checked += 1
    assert checked >= 2


def test_media_match_the_shards(small_corpus):
    out, _ = small_corpus
    test = list(read_clips(out / "test"))
    for clip in test[:5]:
        base = out / "media" / clip.clip_id
        wave = load_audio(base.with_name(base.name + ".wav"))
        assert len(wave) == clip.num_frames * SAMPLES_PER_FRAME
        words = read_txt(base.with_name(base.name + ".txt"))
        assert [(w.text, w.start, w.end) for w in words] == [(w.text, w.start, w.end) for w in clip.words]
        # Speech sits inside the word spans of the clip's own time base (offset applied once).
        inside = np.zeros(len(wave), bool)
        for w in words:
            inside[w.start * SAMPLES_PER_FRAME : (w.end + 1) * SAMPLES_PER_FRAME] = True
        spoken = np.arange(len(wave)) < (words[-1].end + 1) * SAMPLES_PER_FRAME
        gaps = spoken & ~inside
        assert np.mean(wave[inside] ** 2) > 10 * np.mean(wave[gaps] ** 2) if gaps.any() else True
        lead = wave[: max(0, words[0].start - 1) * SAMPLES_PER_FRAME]  # one frame of rounding slack
        if len(lead):
            assert np.sqrt(np.mean(lead ** 2)) < 0.1 * np.sqrt(np.mean(wave[inside] ** 2))
        with np.load(base.with_name(base.name + ".kps.npz")) as z:
            raw, fps = z["keypoints"], int(z["fps"])
        assert fps == 25 and raw.shape == clip.keypoints.shape
        np.testing.assert_allclose(normalise(raw), clip.keypoints, atol=2e-2)
        # `jegal prepare` reads the same file back unchanged.
        from jegal.perception.importers import load_keypoints_npz

        np.testing.assert_allclose(load_keypoints_npz(base.with_name(base.name + ".kps.npz")), raw)
    assert not any((out / "media").glob("sg-train-*")), "train media are written only with train_media=True"


def test_some_clips_have_no_semantic_gesture_and_beats_exist(small_corpus):
    out, summary = small_corpus
    counts = summary["counts"]
    assert 0 < counts["clips_without_semantic_gesture"] < counts["train_clips"] + counts["test_clips"]
    assert counts["beats"] > 0 and counts["semantic_gestures"] > 0
    families = {g["family"] for r in _truth(out).values() for g in r["gestures"] if g["kind"] == "semantic"}
    assert len(families) >= 10


def test_bad_settings_are_reported(tmp_path):
    with pytest.raises(SynthError, match="speakers"):
        generate_corpus(tmp_path / "x", speakers=2, train_clips=5, test_clips=5, progress=False)


def test_a_sentence_espeak_cannot_time_is_redrawn(monkeypatch):
    from jegal.synth.corpus import ClipSpec, make_clip
    from jegal.synth.speakers import make_speakers
    from jegal.synth.speech import SpeechError, get_speech

    speakers = make_speakers(3, 0)
    spec = ClipSpec("train", 0, 0, 60)
    plain = make_clip(spec, speakers, 0)["truth"]["words"]
    speech = get_speech()
    real = type(speech).synthesize
    calls = []

    def flaky(self, words, *args, **kw):
        calls.append(list(words))
        if len(calls) == 1:
            raise SpeechError("espeak reported 3 word marks for 9 words")
        return real(self, words, *args, **kw)

    monkeypatch.setattr(type(speech), "synthesize", flaky)
    first = make_clip(spec, speakers, 0)["truth"]["words"]
    calls.clear()
    again = make_clip(spec, speakers, 0)["truth"]["words"]
    assert first == again != plain  # redrawn, and still deterministic
    assert len(calls) == 2 and calls[0] != calls[1]

    def broken(self, words, *args, **kw):
        raise SpeechError("no audio")

    monkeypatch.setattr(type(speech), "synthesize", broken)
    with pytest.raises(SynthError, match="sg-train-000000"):
        make_clip(spec, speakers, 0)
