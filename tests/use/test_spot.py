"""``jegal spot``: its outputs on the real samples, and its decisions against SynthGest's ground truth."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from jegal.cli import main
from jegal.metrics import SPOT_MARGIN, SPOT_THRESHOLD

from .conftest import decode_mp4

SPOT_KEYS = {"model", "modalities", "window_frames", "overlap_frames", "video", "num_frames", "fps", "duration_s",
             "size", "transcript_source", "transcript", "gesture_score", "threshold", "margin_frames", "attribution",
             "words", "people", "coverage", "outputs", "warnings", "timings"}
WORD_KEYS = {"index", "word", "start_frame", "end_frame", "start_s", "end_s", "gesture_score", "p_value", "controls",
             "gestured", "gestured_by_score", "speaker", "best_frame", "best_s", "probability", "in_window",
             "above_threshold", "localised", "window"}


@pytest.fixture(scope="module")
def sample1(tmp_path_factory, real_dir, random_model):
    out = tmp_path_factory.mktemp("spot") / "out"
    assert main(["spot", str(real_dir / "sample1.avi"), "--model", str(random_model), "--out", str(out),
                 "--quiet"]) == 0
    return out


def test_spot_json_has_every_documented_key_and_a_decision_per_word(sample1, real_dir):
    doc = json.loads((sample1 / "spot.json").read_text())
    assert set(doc) == SPOT_KEYS
    assert doc["num_frames"] == 56 and doc["fps"] == 25.0 and doc["size"] == [228, 314]
    assert doc["transcript_source"] == "given" and doc["threshold"] == SPOT_THRESHOLD
    assert [w["word"] for w in doc["words"]] == ["amount", "of", "numbers", "inside", "the", "hat,", "mixing", "the"]
    (person,) = doc["people"]
    assert len(person["words"]) == len(doc["words"])  # one window holds every word
    for w in person["words"]:
        assert set(w) == WORD_KEYS
        inside = w["start_frame"] - SPOT_MARGIN <= w["best_frame"] <= w["end_frame"] + SPOT_MARGIN
        assert w["in_window"] == inside
        assert w["above_threshold"] == (w["probability"] >= SPOT_THRESHOLD)
        assert w["localised"] == (inside and w["above_threshold"])
        assert person["first_frame"] <= w["best_frame"] <= person["last_frame"]
        assert w["best_s"] == pytest.approx(w["best_frame"] / 25)
        # 56 frames: one window, its only control is the still pose (the word is not decided)
        assert w["gesture_score"] == pytest.approx(1 - w["p_value"], abs=1e-3) and w["speaker"] == 0
        assert w["gestured"] == w["gestured_by_score"] == (w["p_value"] <= 0.05 and w["controls"] >= 19)
    assert person["gestured"] == [w for w in person["words"] if w["gestured"]]
    assert person["heatmaps"] == ["heatmaps/person0-000.png"]
    assert (sample1 / person["heatmaps"][0]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_maps_are_per_frame_softmaxes_over_words_and_agree_with_the_decisions(sample1):
    doc = json.loads((sample1 / "spot.json").read_text())
    person = doc["people"][0]
    with np.load(sample1 / "maps.npz", allow_pickle=False) as z:
        probs, cosine, words = z["person0_probs"], z["person0_cosine"], z["person0_words"]
        assert int(z["person0_first_frame"]) == person["first_frame"]
        assert z["word_spans"].shape == (8, 2) and list(z["word_text"])[5] == "hat,"
    T = person["last_frame"] - person["first_frame"] + 1
    assert probs.shape == cosine.shape == (8, T) and words.tolist() == list(range(8))
    np.testing.assert_allclose(probs.sum(0), 1.0, atol=1e-5)  # one window: every frame's softmax over all 8 words
    assert (np.abs(cosine) <= 1 + 1e-5).all()
    expected = np.exp(cosine / 0.07) / np.exp(cosine / 0.07).sum(0)
    np.testing.assert_allclose(probs, expected, atol=1e-4)
    for r, w in enumerate(person["words"]):
        assert w["best_frame"] - person["first_frame"] == int(np.argmax(probs[r]))
        assert w["probability"] == pytest.approx(float(probs[r].max()), abs=1e-4)


def test_words_csv_has_one_row_per_person_and_word_matching_the_json(sample1):
    doc = json.loads((sample1 / "spot.json").read_text())
    with open(sample1 / "words.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    words = doc["people"][0]["words"]
    assert len(rows) == len(words)
    for row, w in zip(rows, words):
        assert row["person"] == "0" and row["word"] == w["word"] and int(row["best_frame"]) == w["best_frame"]
        assert float(row["probability"]) == pytest.approx(w["probability"])
        assert row["localised"] == str(int(w["localised"])) and row["gestured"] == str(int(w["gestured"]))
        assert float(row["gesture_score"]) == pytest.approx(w["gesture_score"]) and row["speaker"] == "0"


def test_annotated_video_decodes_with_every_frame_at_25_fps_and_the_audio(sample1):
    frames, seconds, kinds, codec = decode_mp4(sample1 / "annotated.mp4")
    assert frames == 56 and seconds == pytest.approx(56 / 25, abs=0.04)
    assert kinds == ["audio", "video"] and codec == "h264"


@pytest.mark.slow
def test_speaker_raw_without_transcript_is_recognised_and_spotted(tmp_path, real_dir, random_model):
    out = tmp_path / "out"
    assert main(["spot", str(real_dir / "speaker_raw.mp4"), "--model", str(random_model), "--out", str(out),
                 "--quiet"]) == 0
    doc = json.loads((out / "spot.json").read_text())
    assert doc["transcript_source"].startswith("asr:faster-whisper/tiny.en@") and doc["outputs"]["transcript"] == \
        "transcripts/speaker_raw.txt"
    assert (out / "transcripts" / "speaker_raw.txt").is_file() and len(doc["words"]) > 5
    assert len(doc["people"]) == 1 and doc["people"][0]["words"]
    frames, seconds, _, _ = decode_mp4(out / "annotated.mp4")
    assert frames == doc["num_frames"] and seconds == pytest.approx(doc["num_frames"] / 25, abs=0.04)


def test_errors_are_one_line_naming_the_problem(tmp_path, real_dir, random_model, capsys):
    from jegal.model import JEGAL

    features = tmp_path / "features_model"
    JEGAL.from_preset("cpu", {"gesture.frontend": "features"}).save_pretrained(features)
    video = str(real_dir / "sample1.avi")
    assert main(["spot", video, "--model", str(features), "--out", str(tmp_path / "o1"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("jegal spot: ") and "front end is 'features'" in err and len(err.strip().splitlines()) == 1
    assert main(["spot", video, "--model", str(tmp_path / "nomodel"), "--quiet"]) == 1
    assert "no such model directory" in capsys.readouterr().err
    assert main(["spot", video, "--model", str(random_model), "--overlap-frames", "100", "--quiet"]) == 1
    assert "--overlap-frames" in capsys.readouterr().err
    assert main(["spot", video, "--model", str(random_model), "--device", "cuda:7", "--quiet"]) == 1
    assert "--device cuda:7" in capsys.readouterr().err
    assert main(["spot", str(tmp_path / "missing.mp4"), "--model", str(random_model), "--quiet"]) == 1
    assert "missing.mp4: no such file" in capsys.readouterr().err


# -- SynthGest: the decisions against the ground truth ------------------------------------------------
ROWS = 40  # spotting rows of the corpus used (one 3 s clip each)


@pytest.fixture(scope="module")
def synth_spots(use_corpus, use_model):
    """Per spotting row: the row, and jegal spot's decisions on the clip's media (``.kps.npz`` + wav + txt)."""
    from jegal.data.benchmarks import read_benchmark
    from jegal.model import JEGAL
    from jegal.inference.spotting import spot_person
    from jegal.use.video import read_video

    model = JEGAL.from_pretrained(use_model).load_text_backbone()
    bench = read_benchmark(use_corpus / "benchmarks" / "spot.csv")
    out = []
    for row in bench.rows[:ROWS]:
        vi = read_video(use_corpus / "media" / f"{row.filename}.kps.npz", progress=False)
        (person,) = vi.people
        spots = spot_person(model, person, vi.words, "ta")
        target = row.target  # the txt's times (ms) may round a frame away from the CSV's frames
        near = sorted((abs(w.start - target.start) + abs(w.end - target.end), i)
                      for i, w in enumerate(vi.words) if w.text == target.text)
        assert near and near[0][0] <= 2, f"{row.filename}: the target {target} is not one of the media's words"
        out.append((row, vi, spots, list(spots.word_index).index(near[0][1])))
    return model, bench, out


def test_spotting_a_video_decides_the_target_word_as_the_benchmark_does(synth_spots, use_corpus):
    """The media of a test clip through jegal spot, and its shard clip through jegal eval's protocol:
    the same decisions (the inputs differ only by storage rounding: 16-bit audio, fp16 keypoints)."""
    from jegal.data.benchmarks import Benchmark
    from jegal.evaluation.benchmarks import load_clips
    from jegal.evaluation.protocols import evaluate_benchmark

    model, bench, spots = synth_spots
    rows = [r for r, _, _, _ in spots]
    sub = Benchmark(bench.path, bench.task, rows, [])
    result = evaluate_benchmark(model, sub, load_clips(use_corpus / "test", sub.clip_ids()), modalities="ta")
    per_row = result["metrics"]["per_row"]
    same = [bool(s.localised[k]) == p["correct"] for (_, _, s, k), p in zip(spots, per_row)]
    prob_gap = [abs(float(s.prob[k]) - p["prob"]) for (_, _, s, k), p in zip(spots, per_row)]
    assert np.mean(same) >= 0.95 and np.median(prob_gap) < 1e-3, (np.mean(same), np.median(prob_gap))


def test_the_gestured_word_is_localised_far_above_chance(synth_spots):
    """The benchmark's target is a word the synthetic speaker truly gestured. It must be localised (best
    frame within its span +- 9 frames, probability >= 0.5) far more often than chance: a best frame
    drawn at random lands in that window with probability (window frames in the clip) / T, an upper
    bound for a random map's hit rate (which must also pass the threshold)."""
    _, _, spots = synth_spots
    spotted, chance = [], []
    for row, vi, s, k in spots:
        t, T = row.target, vi.num_frames
        spotted.append(bool(s.localised[k]))
        chance.append((min(T - 1, t.end + SPOT_MARGIN) - max(0, t.start - SPOT_MARGIN) + 1) / T)
    rate, floor = np.mean(spotted), np.mean(chance)
    assert rate > floor + 0.15 and rate > 1.5 * floor, (rate, floor)


def test_a_keypoint_input_gets_an_annotated_video_of_its_skeleton(use_corpus, use_model, tmp_path):
    from jegal.data.benchmarks import read_benchmark

    row = read_benchmark(use_corpus / "benchmarks" / "spot.csv").rows[0]
    out = tmp_path / "out"
    assert main(["spot", str(use_corpus / "media" / f"{row.filename}.kps.npz"), "--model", str(use_model),
                 "--out", str(out), "--quiet"]) == 0
    doc = json.loads((out / "spot.json").read_text())
    from jegal.synth.motion import CANVAS

    assert doc["num_frames"] == row.num_frames == 75 and doc["size"] == [CANVAS, CANVAS]
    frames, seconds, kinds, _ = decode_mp4(out / "annotated.mp4")
    assert frames == 75 and seconds == pytest.approx(3.0, abs=0.04) and kinds == ["audio", "video"]
