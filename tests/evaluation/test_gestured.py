"""The gestured-word protocols (jegal.evaluation.gestured), their CSV (jegal.data.gestured_words)
and ``jegal eval gestured``."""

import json
import sys
import types
from dataclasses import dataclass, replace

import numpy as np
import pytest

from jegal.data.gestured_words import (COLUMNS, GesturedWord, GesturedWords, GesturedWordsError, find_gestured_words,
                                       format_gestured_words, read_gestured_words, rows_from_ground_truth,
                                       write_gestured_words)
from jegal.evaluation.benchmarks import load_clips
from jegal.evaluation.gestured import (WordScores, WordTable, evaluate_gestured, gestured_markdown, score_row,
                                       word_prior)
from tests.evaluation.conftest import WORD_SPANS, clip_id

# -- the CSV ----------------------------------------------------------------------------------
def _random_rows(rng, clips=40, words=(2, 8), vocab=12, split="test", prefix="c"):
    rows = []
    for k in range(clips):
        for i in range(int(rng.integers(*words))):
            g = bool(rng.random() < 0.25)
            s = 5 * i
            stroke = (s + 1, s + 4) if g and rng.random() < 0.8 else None
            rows.append(GesturedWord(f"{prefix}{k}", split, f"s{k % 3}", i, f"w{int(rng.integers(vocab))}", s, s + 4,
                                     g, stroke, int(rng.integers(2))))
    return rows


def test_csv_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    rows = _random_rows(rng, split="train", prefix="t") + _random_rows(rng)
    path = write_gestured_words(tmp_path / "gw.csv", rows)
    back = read_gestured_words(path)
    assert [replace(r, line=0) for r in back.rows] == rows
    assert back.columns == COLUMNS and back.has_strokes and back.has_stress
    assert [r.line for r in back.rows] == list(range(2, len(rows) + 2))
    assert format_gestured_words(back.rows) == path.read_text()


def test_a_users_csv_needs_only_the_required_columns(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text("word,filename,word_index,start_frame,end_frame,gestured\n"
                    "Hello,a,0,0,5,0\nworld!,a,1,6,12,yes\n\nbig,b,0,3,9,true\n")
    gw = read_gestured_words(path)
    assert [(r.filename, r.split, r.word, r.text, r.gestured, r.stroke, r.stress) for r in gw.rows] == [
        ("a", "test", "Hello", "hello", False, None, None), ("a", "test", "world!", "world", True, None, None),
        ("b", "test", "big", "big", True, None, None)]
    assert not gw.has_strokes and not gw.has_stress and list(gw.clips()) == ["a", "b"]


@pytest.mark.parametrize("line, message", [
    ("a,0,x,0,5,2", "gestured='2'"),
    ("a,0,x,5,2,0", "word frames 5-2"),
    ("a,0,x,0,5,1.5", "gestured"),
    ("a,-1,x,0,5,0", "negative"),
    ("a,0,x,0,five,0", "end_frame='five' is not a number"),
    ("a,0,x,0,5,0,7,9", "stroke (7-9) on a word marked gestured=0"),
    ("a,0,x,0,5,1,7,", "both stroke_start and stroke_end"),
    ("a,0,x,0,5,1,9,7", "stroke frames 9-7"),
    (",0,x,0,5,0", "filename is empty"),
    ("a,0,,0,5,0", "word is empty"),
    ("a,0,x,0,5,0,,,,extra", "more field"),
])
def test_bad_rows_name_the_file_and_the_line(tmp_path, line, message):
    path = tmp_path / "bad.csv"
    path.write_text("filename,word_index,word,start_frame,end_frame,gestured,stroke_start,stroke_end\n"
                    "ok,0,fine,0,3,0,,\n" + line + "\n")
    with pytest.raises(GesturedWordsError) as err:
        read_gestured_words(path)
    assert str(path) in str(err.value) and "line 3:" in str(err.value) and message in str(err.value)


def test_clip_level_problems_and_missing_columns(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("filename,split,word_index,word,start_frame,end_frame,gestured\n"
                    "a,test,0,x,0,3,0\na,test,0,y,4,6,1\nb,train,0,x,0,3,0\nb,test,1,y,4,6,0\n")
    with pytest.raises(GesturedWordsError) as err:
        read_gestured_words(path)
    assert "line 3: clip 'a' word_index 0 already on line 2" in str(err.value)
    assert "line 5: clip 'b' is split 'test' here and 'train' on line 4" in str(err.value)
    path.write_text("filename,word,start_frame\na,x,0\n")
    with pytest.raises(GesturedWordsError, match="missing column.*word_index, end_frame, gestured"):
        read_gestured_words(path)
    path.write_text("filename,word_index,word,start_frame,end_frame,gestured\n")
    with pytest.raises(GesturedWordsError, match="no rows"):
        read_gestured_words(path)
    with pytest.raises(GesturedWordsError, match="no such file"):
        find_gestured_words(tmp_path / "benchmarks" / "gestured_words.csv")


def test_rows_from_ground_truth_and_building_a_missing_csv(tmp_path):
    rec = {"clip_id": "c0", "split": "test", "speaker_id": "s1", "num_frames": 40,
           "words": [["Big", 0, 5], ["dog", 6, 10], ["ran", 12, 20]], "stressed": [True, False, False],
           "gestures": [{"kind": "semantic", "word_index": 0, "stroke": [2, 8]},
                        {"kind": "beat", "word_index": 1, "stroke": [6, 8]},
                        {"kind": "semantic", "word_index": 2, "stroke": [39, 38]},  # stroke outside the clip
                        {"kind": "semantic", "word_index": -1, "stroke": [0, 3]}]}
    rows = rows_from_ground_truth([rec, {**rec, "clip_id": "t0", "split": "train"}])
    assert [(r.filename, r.split, r.word_index, r.gestured, r.stroke, r.stress) for r in rows] == [
        ("t0", "train", 0, True, (2, 8), 1), ("t0", "train", 1, False, None, 0), ("t0", "train", 2, True, None, 0),
        ("c0", "test", 0, True, (2, 8), 1), ("c0", "test", 1, False, None, 0), ("c0", "test", 2, True, None, 0)]
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "ground_truth.jsonl").write_text(json.dumps(rec) + "\n")
    built = find_gestured_words(tmp_path / "benchmarks" / "gestured_words.csv")
    assert built.path == tmp_path / "ground_truth.jsonl" and len(built.rows) == 3
    assert not (tmp_path / "benchmarks" / "gestured_words.csv").exists()  # nothing written


# -- the protocols on synthetic scores --------------------------------------------------------
def _table(seed=1, clips=80):
    rng = np.random.default_rng(seed)
    return WordTable(_random_rows(rng, clips=clips)), rng


def test_a_score_equal_to_the_label_is_perfect_everywhere():
    table, _ = _table()
    y = table.label.astype(float)
    peak = np.where(np.isnan(table.stroke[:, 0]), 0, table.stroke[:, 0])
    ws = WordScores("oracle", "model", score=y, probability=True, flag=table.label, peak=peak, interval=table.stroke)
    r = score_row(table, ws)
    assert r["detection"]["auc"] == 1.0 and r["detection"]["ap"] == 1.0
    assert r["detection"]["conditioned"]["pooled"] == 1.0 and r["detection"]["conditioned"]["per_group_mean"] == 1.0
    assert r["detection"]["ece"] == 0.0 and r["detection"]["precision_at_recall"] == 1.0
    assert r["identification"]["top1"] == 1.0 and r["identification"]["mrr"] == 1.0
    assert r["localisation"]["in_stroke"] == 1.0 and r["localisation"]["iou"] == 1.0
    assert r["flag"]["precision"] == r["flag"]["recall"] == r["flag"]["f1"] == 1.0


def test_a_pure_word_prior_gets_one_half_conditioned_on_the_word():
    table, _ = _table(clips=300)
    prior = {w: table.label[table.text == w].mean() for w in set(table.text)}  # even the test split's own rates
    r = score_row(table, WordScores("prior", "floor", score=np.array([prior[w] for w in table.text])))
    cond = r["detection"]["conditioned"]
    assert cond["groups"] > 3 and cond["per_group_mean"] == pytest.approx(0.5)
    assert r["detection"]["auc"] >= 0.5  # unconditioned, a prior may carry information


def test_missing_words_never_help_and_a_constant_model_is_pessimistic_on_identification():
    table, _ = _table()
    nan = WordScores("gone", "model", score=np.full(len(table), np.nan), flag=np.ones(len(table), bool),
                     peak=np.full(len(table), np.nan), missing=np.ones(len(table), bool))
    r = score_row(table, nan)
    all_gestured = [table.label[i].all() for i in table.clips.values() if len(i) >= 2 and table.label[i].any()]
    assert r["detection"]["auc"] == 0.0 and r["identification"]["top1"] == pytest.approx(np.mean(all_gestured))
    assert r["flag"]["precision"] == 0.0 and r["flag"]["flagged"] == int((~table.label).sum())
    assert r["localisation"]["in_stroke"] == 0.0 and r["localisation"]["missing"] == r["localisation"]["n"]
    const_model = score_row(table, WordScores("c", "model", score=np.zeros(len(table))))
    const_floor = score_row(table, WordScores("c", "floor", score=np.zeros(len(table))))
    assert const_model["identification"]["top1"] == pytest.approx(np.mean(all_gestured))
    assert const_floor["identification"]["top1"] == pytest.approx(const_floor["identification"]["chance_top1"])
    assert const_model["detection"]["auc"] == const_floor["detection"]["auc"] == 0.5


def test_word_prior_smoothing():
    train = [GesturedWord("a", "train", "", i, w, 0, 1, g) for i, (w, g) in
             enumerate([("hat", 1), ("hat", 1), ("hat", 0), ("the", 0), ("the", 0), ("Dog", 0)])]
    p, rate = word_prior(train, ["hat", "the", "dog", "new"])
    assert rate == pytest.approx(2 / 6)
    assert p.tolist() == pytest.approx([(2 + 2 * rate) / 5, (0 + 2 * rate) / 4, (2 * rate) / 3, rate])


# -- floors on a generated corpus -------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory):
    from jegal.synth import generate_corpus

    out = tmp_path_factory.mktemp("gestured") / "corpus"
    generate_corpus(out, speakers=4, train_clips=60, test_clips=10, seed=5, progress=False)
    return out


def test_floors_on_a_generated_corpus(tiny_corpus):
    truth = read_gestured_words(tiny_corpus / "benchmarks" / "gestured_words.csv")
    clips = load_clips(tiny_corpus / "test", truth.clips("test").keys())
    assert not clips.problems
    res = evaluate_gestured(truth, clips)
    rows = {r["name"].split(" (")[0]: r for r in res["rows"]}
    assert set(rows) == {"chance", "word position", "word duration", "word prior", "stress", "fastest hand",
                         "word middle"}
    for r in res["rows"]:
        assert r["kind"] == "floor"
        for part in ("detection", "identification", "localisation", "flag"):
            for k, v in (r[part] or {}).items():
                if k in ("auc", "ap", "precision_at_recall", "top1", "mrr", "in_stroke", "within_margin", "iou"):
                    assert 0.0 <= v <= 1.0, (r["name"], k, v)
    assert rows["word prior"]["detection"]["auc"] > rows["chance"]["detection"]["auc"] == 0.5
    assert rows["chance"]["detection"]["ap"] == pytest.approx(res["counts"]["base_rate"])
    assert rows["fastest hand"]["localisation"] is not None and rows["word middle"]["localisation"]["iou"] > 0
    det = res["tables"]["detection"]
    assert det["best_floor"]["AUC"]["value"] == max(r["values"]["AUC"] for r in det["rows"])
    text = gestured_markdown(res)
    assert "**best floor**" in text and "floor: word prior (training split)" in text
    assert res["counts"]["train_words"] > 0 and res["counts"]["test_clips"] == len(truth.clips("test"))


def test_the_floors_run_on_a_csv_with_only_test_rows(tiny_corpus, tmp_path):
    truth = read_gestured_words(tiny_corpus / "benchmarks" / "gestured_words.csv")
    path = tmp_path / "user.csv"
    path.write_text("filename,word_index,word,start_frame,end_frame,gestured\n" + "".join(
        f"{r.filename},{r.word_index},{r.word},{r.start},{r.end},{int(r.gestured)}\n" for r in truth.split("test")))
    res = evaluate_gestured(read_gestured_words(path), load_clips(tiny_corpus / "test", truth.clips("test").keys()))
    names = [r["name"] for r in res["rows"]]
    assert not any(n.startswith("word prior") or n.startswith("stress") for n in names)
    assert res["tables"]["localisation"]["rows"] == []  # no strokes
    assert any("left out: word prior" in n for n in res["notes"])


# -- model rows -------------------------------------------------------------------------------
def _tiny_truth(tiny_bench) -> GesturedWords:
    """Clip k gestures word b (word a for clip 3, 19+ frames late); clip 8 is not in the shards."""
    rows = []
    for k in range(9):
        g = 0 if k == 3 else 1
        for i, (s, e) in enumerate(WORD_SPANS):
            stroke = ((25, 28) if k == 3 else (s, e)) if i == g else None
            rows.append(GesturedWord(clip_id(k), "test", f"s{k}", i, f"w{k}{'abc'[i]}", s, e, i == g, stroke, 0))
    return GesturedWords(rows)


def test_spotting_probability_row_with_a_transparent_model(tiny_bench, fake_model, tmp_path):
    truth = _tiny_truth(tiny_bench)
    clips = load_clips(tiny_bench["data"], truth.clips("test").keys())
    res = evaluate_gestured(truth, clips, fake_model, cache_dir=tmp_path / "cache", model_id="fake",
                            gesture_score=False)
    row = res["rows"][0]
    assert row["name"].startswith("spotting probability") and row["kind"] == "model" and row["missing"] == 3
    # clips 0-7 but 3: word b's window holds its gesture (P ~ 1), words a and c only frames of no word (1/3);
    # clip 3: no word's window sees a gesture of its own word: all three tie at 1/3 -> a pessimistic miss;
    # clip 8 (missing): the worst score and the wrong flag for each of its words
    assert row["identification"]["clips"] == 9 and row["identification"]["top1"] == pytest.approx(7 / 9)
    assert row["flag"]["flagged"] == 7 + 2 and row["flag"]["precision"] == pytest.approx(7 / 9)
    assert row["flag"]["recall"] == pytest.approx(7 / 9)
    assert row["localisation"]["in_stroke"] == pytest.approx(7 / 9)
    assert row["detection"]["auc"] < 1.0
    assert res["counts"]["clips_missing"] == 1
    calls = fake_model.calls
    evaluate_gestured(truth, clips, fake_model, cache_dir=tmp_path / "cache", model_id="fake", gesture_score=False)
    assert fake_model.calls == calls  # embeddings read from the cache


def test_the_gesture_score_interface_is_wired(tiny_bench, fake_model, monkeypatch):
    @dataclass
    class ClipWordScores:
        score: np.ndarray
        p_value: np.ndarray
        gestured: np.ndarray
        peak: np.ndarray

    seen = {}

    def score_clips(model, clips, modalities="ta", batch_size=32, progress=False):
        seen["clips"] = [(c.clip_id, [w.text for w in c.words]) for c in clips]
        out = {}
        for c in clips:
            g = 0 if c.clip_id == clip_id(3) else 1
            y = np.arange(len(c.words)) == g
            out[c.clip_id] = ClipWordScores(y * 0.9 + 0.05, np.where(y, 0.01, 0.7), y,
                                            np.array([w.start for w in c.words]))
        return out

    module = types.ModuleType("jegal.inference.gesture_score")
    module.score_clips = score_clips
    monkeypatch.setitem(sys.modules, "jegal.inference.gesture_score", module)
    truth = _tiny_truth(tiny_bench)
    res = evaluate_gestured(truth, load_clips(tiny_bench["data"], truth.clips("test").keys()), fake_model)
    assert seen["clips"][0] == (clip_id(0), ["w0a", "w0b", "w0c"]) and len(seen["clips"]) == 8
    rows = {r["name"]: r for r in res["rows"]}
    gs = rows["gesture score"]
    assert gs["missing"] == 3 and gs["flag"]["precision"] == pytest.approx(8 / 10)
    assert gs["flag"]["recall"] == pytest.approx(8 / 9)
    assert gs["identification"]["top1"] == pytest.approx(8 / 9) and "ece" in gs["detection"]
    assert gs["localisation"]["in_stroke"] is not None
    assert rows["gesture score p-value (1 - p)"]["detection"]["auc"] == gs["detection"]["auc"]
    margins = res["tables"]["detection"]["margins"]
    assert set(margins) == {"gesture score", "gesture score p-value (1 - p)",
                            "spotting probability (window max; flag: AVS rule)"}


# -- jegal eval gestured ----------------------------------------------------------------------
def test_eval_gestured_cli_floors_only_and_errors(tiny_bench, tmp_path, capsys):
    from jegal.cli import main

    csv_path = write_gestured_words(tmp_path / "gw.csv", _tiny_truth(tiny_bench).rows)
    out = tmp_path / "res.json"
    args = ["eval", "gestured", "--floors-only", "--truth", str(csv_path), "--data", str(tiny_bench["data"]),
            "--out", str(out), "--quiet"]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "1 of 9 test clips missing" in captured.err and "**best floor**" in captured.out
    doc = json.loads(out.read_text())
    assert doc["task"] == "gestured" and doc["results"]["-"]["counts"]["test_words"] == 27
    assert main(["eval", "gestured", "--truth", str(csv_path), "--data", str(tiny_bench["data"])]) == 1
    assert "--model unless --floors-only" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("filename,word_index,word,start_frame,end_frame,gestured\na,0,x,3,1,0\n")
    assert main(["eval", "gestured", "--floors-only", "--truth", str(bad), "--data", str(tiny_bench["data"])]) == 1
    assert f"{bad}: 1 bad row(s)" in capsys.readouterr().err
    assert main(["eval", "spotting", "--data", str(tiny_bench["data"]), "--model", str(tmp_path)]) == 1
    assert "--model and --benchmark are required" in capsys.readouterr().err


def test_eval_gestured_cli_with_a_model(tiny_bench, tmp_path, capsys):
    from jegal.cli import main
    from jegal.model import JEGAL

    JEGAL.from_preset("cpu", {"content.modalities": "a"}).save_pretrained(tmp_path / "run" / "model")
    csv_path = write_gestured_words(tmp_path / "gw.csv", _tiny_truth(tiny_bench).rows)
    assert main(["eval", "gestured", "--model", str(tmp_path / "run"), "--truth", str(csv_path),
                 "--data", str(tiny_bench["data"]), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "| spotting probability (window max; flag: AVS rule) |" in out and "- best floor |" in out
    doc = json.loads((tmp_path / "run" / "eval" / "gestured_gw.json").read_text())
    rows = doc["results"]["a"]["rows"]
    assert rows[0]["kind"] == "model" and rows[0]["missing"] == 3
    assert doc["results"]["a"]["tables"]["flag"]["rows"][0]["name"].startswith("spotting probability")


def test_benchmark_embeddings_are_reused_only_where_the_words_agree(tiny_bench, fake_model):
    from jegal.data.benchmarks import read_benchmark
    from jegal.evaluation.gestured import clips_with_words, reusable_embeddings
    from jegal.inference.embed import embed_clips

    truth = _tiny_truth(tiny_bench)
    clips = load_clips(tiny_bench["data"], truth.clips("test").keys())
    bench = read_benchmark(tiny_bench["spot"])
    table = WordTable(truth.split("test"))
    emb = embed_clips(fake_model, clips_with_words(table, clips), clips_with_words(table, clips))
    rows = [replace(r, end=r.end + 1) if r.filename == clip_id(0) and r.word_index == 2 else r for r in truth.rows]
    changed = GesturedWords(rows)
    reuse = reusable_embeddings(changed, {"spotting": bench}, {"spotting": emb})
    assert set(reuse.gesture_ids) == {clip_id(k) for k in range(8)}
    assert set(reuse.content_ids) == {clip_id(k) for k in range(1, 8)}  # clip 0's words differ from the CSV's
    calls = fake_model.calls
    with_reuse = evaluate_gestured(changed, clips, fake_model, reuse=reuse, gesture_score=False)
    assert fake_model.calls == calls + 1  # one content batch (clip 0), no gesture batch
    without = evaluate_gestured(changed, clips, fake_model, gesture_score=False)
    assert with_reuse["rows"] == without["rows"]
