"""``jegal ablate --seeds N``: the interval over seeds, the generic aggregation, the paired-difference
rule, the table, and a tiny end-to-end run with two seeds."""

import json
import math

import pytest

from jegal.evaluation.ablate import (aggregate, differences_markdown, interval, means, paired_differences, seeds_table,
                                     t_quantile)


def test_t_quantiles_are_the_textbook_ones():
    # two-sided 95 % critical values of Student's t (any statistics table)
    for df, t in [(1, 12.706), (2, 4.303), (3, 3.182), (4, 2.776), (9, 2.262), (30, 2.042)]:
        assert t_quantile(0.975, df) == pytest.approx(t, abs=5e-4)


def test_interval_by_hand():
    iv = interval([1, 2, 3])  # sd 1, t(0.975, 2) = 4.3027
    assert iv["mean"] == 2 and iv["n"] == 3
    assert iv["half_width"] == pytest.approx(4.302653 / math.sqrt(3), rel=1e-6) == pytest.approx(2.484, abs=5e-4)
    assert (iv["low"], iv["high"]) == pytest.approx((2 - 2.48414, 2 + 2.48414), abs=1e-5)
    iv = interval([0.5, None, 0.7])  # None: that seed lacks the number
    assert iv["n"] == 2 and iv["mean"] == pytest.approx(0.6)
    assert iv["half_width"] == pytest.approx(12.7062 * (0.1 * math.sqrt(2)) / math.sqrt(2), rel=1e-4)
    assert interval([4.0]) == {"mean": 4.0, "half_width": None, "low": None, "high": None, "n": 1}
    assert interval([None])["n"] == 0 and interval([])["mean"] is None
    assert interval([0.3, 0.3, 0.3])["half_width"] == 0.0


def test_aggregate_is_generic_over_nested_dicts_with_missing_keys():
    seeds = [{"spot": 0.25, "ret": {"c2g": {"R@10": 0.2}, "MedR": 10}, "note": "text", "ok": True},
             {"spot": 0.5, "ret": {"c2g": {"R@10": 0.4}, "new protocol": 0.9}},
             {"spot": 0.75, "ret": {"c2g": {"R@10": None}}}]
    agg = aggregate(seeds)
    assert set(agg) == {"spot", "ret"}  # strings and booleans are not numbers
    assert agg["spot"]["values"] == [0.25, 0.5, 0.75] and agg["spot"]["mean"] == 0.5 and agg["spot"]["n"] == 3
    assert agg["spot"]["half_width"] == pytest.approx(4.302653 * 0.25 / math.sqrt(3), rel=1e-6)
    r10 = agg["ret"]["c2g"]["R@10"]
    assert r10["values"] == [0.2, 0.4, None] and r10["n"] == 2 and r10["mean"] == pytest.approx(0.3)
    assert r10["half_width"] == pytest.approx(12.7062 * 0.1, rel=1e-4)  # sd 0.1414, / sqrt(2)
    assert agg["ret"]["MedR"]["values"] == [10.0, None, None] and agg["ret"]["MedR"]["half_width"] is None
    assert agg["ret"]["new protocol"]["n"] == 1
    m = means(agg)
    assert m["ret"]["c2g"]["R@10"] == pytest.approx(0.3)
    m["ret"]["c2g"]["R@10"] = 0.3
    assert m == {"spot": 0.5, "ret": {"c2g": {"R@10": 0.3}, "MedR": 10.0, "new protocol": 0.9}}


def _rows(full: dict, other: dict) -> list[dict]:
    return [{"variant": "full", "modalities": "ta", "label": "full", "metrics": full},
            {"variant": "global_only", "modalities": "ta", "label": "global only", "metrics": other}]


def test_paired_differences_support_only_intervals_that_exclude_zero():
    full = [{"a": 0.1, "b": 0.5, "c": 0.4, "d": 0.2, "e": {"x": 0.2}},
            {"a": 0.5, "b": 0.5, "c": 0.4, "d": 0.2, "e": {"x": 0.3}},
            {"a": 0.9, "b": 0.5, "c": 0.4, "d": 0.2}]
    other = [{"a": 0.2, "b": 0.4, "c": 0.4, "d": 0.5, "e": {"x": 0.1}, "f": 0.3},
             {"a": 0.6, "b": 0.6, "c": 0.4, "d": 0.6, "e": {"x": 0.35}, "f": 0.3},
             {"a": 1.0, "b": 0.55, "c": 0.4, "d": 0.7, "e": {"x": 0.0}, "f": 0.3}]
    diffs = paired_differences([_rows(f, o) for f, o in zip(full, other)])
    by = {d["metric"]: d for d in diffs}
    assert set(by) == {"a", "b", "c", "d", "e / x", "f"} and all(d["variant"] == "global_only" for d in diffs)
    # a: the seeds spread both rows widely, but every paired difference is +0.1: supported
    assert by["a"]["mean"] == pytest.approx(0.1) and by["a"]["half_width"] == pytest.approx(0, abs=1e-12)
    assert by["a"]["supported"]
    # b: differences -0.1, 0.1, 0.05 -> the interval contains 0
    assert by["b"]["mean"] == pytest.approx(0.05 / 3) and by["b"]["low"] < 0 < by["b"]["high"]
    assert not by["b"]["supported"]
    assert not by["c"]["supported"] and by["c"]["low"] == by["c"]["high"] == 0  # identical: no difference
    # d: differences 0.3, 0.4, 0.5: mean 0.4, half-width t(0.975, 2) * 0.1 / sqrt(3) = 0.248 -> excludes 0
    assert by["d"]["half_width"] == pytest.approx(4.302653 * 0.1 / math.sqrt(3), rel=1e-6) and by["d"]["supported"]
    assert by["e / x"]["n"] == 2 and not by["e / x"]["supported"]  # only the seeds where both have it are paired
    assert by["f"]["n"] == 0 and not by["f"]["supported"]  # the reference never has it
    md = differences_markdown(diffs)
    assert md.startswith("2 of 6 differences from `full`")
    line = next(x for x in md.splitlines() if x.startswith("- global only: "))
    assert "b +1.7 ± " in line and "c +0.0 ± 0.0" in line and "f (no pair)" in line
    assert " a " not in line and " d " not in line
    assert md.splitlines()[-1] == f"Supported: global only: a +10.0 ± 0.0; global only: d +40.0 ± {100 * 0.24841:.1f}"


def test_paired_differences_need_the_reference_row():
    rows = _rows({"a": 0.1}, {"a": 0.2})[1:]
    assert paired_differences([rows, rows]) == []


def test_seeds_table_shows_mean_and_half_width_of_every_number():
    agg = aggregate([{"spot": 0.25, "ret MedR c2g": 10, "new": {"k": 0.5}},
                     {"spot": 0.5, "ret MedR c2g": 12, "new": {"k": 0.7}},
                     {"spot": 0.75, "ret MedR c2g": 14}])
    rows = [{"label": "full", "interval": agg}]
    floors = [{"label": "floor: chance", "metrics": {"spot": 0.34, "ret MedR c2g": 150.5}}]
    table = seeds_table(rows, floors, 3)
    head, _, full_line, floor_line = table.splitlines()
    # HEADLINE's order first, then the numbers it does not know (nested keys joined)
    assert head == "| model (mean ± 95 % interval, 3 seeds) | ret MedR c2g | spot | new / k |"
    half = 100 * 4.302653 * 0.25 / math.sqrt(3)
    medr = 4.302653 * 2 / math.sqrt(3)
    assert full_line == f"| full | 12.0 ± {medr:.1f} | 50.0 ± {half:.1f} | 60.0 ± 127.1 (n=2) |"
    assert floor_line == "| floor: chance | 150.5 | 34.0 | - |"


def test_gestured_columns_come_from_the_model_rows_of_evaluate_gestured(monkeypatch):
    from jegal.evaluation import ablate, gestured

    row = {"kind": "model", "detection": {"auc": 0.8, "ap": 0.4, "conditioned": {"pooled": 0.7}},
           "flag": {"precision": None, "recall": 0.5, "flagged_fraction": 0.1},
           "identification": {"top1": 0.3, "mrr": 0.5}, "localisation": {"in_stroke": 0.6}}
    res = {"rows": [{**row, "name": "spotting probability (window max; flag: AVS rule)"},
                    {**row, "name": "gesture score", "detection": {"auc": 0.9}},
                    {**row, "name": "gesture score p-value (1 - p)", "detection": {"auc": 0.1}},
                    {**row, "name": "word prior (training split)", "kind": "floor", "detection": {"auc": 0.95}}]}
    m = ablate.gestured_metrics(res)
    assert m["gw score AUC"] == 0.9 and m["gw score AUC cond"] is None  # not the p-value row, not a floor
    assert m["gw prob AUC"] == 0.8 and m["gw prob AUC cond"] == 0.7 and m["gw prob P"] is None
    assert m["gw prob top-1"] == 0.3 and m["gw prob in stroke"] == 0.6 and len(m) == 2 * len(ablate.GW_COLUMNS)
    # no gesture-score row (an ensemble that could not compute it): only the probability's columns
    assert set(ablate.gestured_metrics({"rows": res["rows"][:1]})) == {f"gw prob {c}" for c, _ in ablate.GW_COLUMNS}

    # the late-fusion ensemble: a gesture score that fails leaves its cells empty; any other model fails loudly
    calls = []

    def fake(truth, clips, model, modalities="ta", reuse=None, gesture_score=True):
        calls.append(gesture_score)
        if gesture_score:
            raise RuntimeError("no gesture score for this model")
        return {"rows": res["rows"][:1] + res["rows"][3:], "counts": {}, "model": {}, "seconds": 0.0}

    monkeypatch.setattr(gestured, "evaluate_gestured", fake)
    gw = {"truth": object(), "clips": object()}
    out = ablate.evaluate_gestured_row(gw, object(), {}, None, "ta", ensemble=True, log=lambda *_: None)
    assert calls == [True, False] and "RuntimeError" in out["note"]
    assert [r["name"] for r in out["rows"]] == [res["rows"][0]["name"]]  # the model rows only
    assert not any(k.startswith("gw score") for k in ablate.gestured_metrics(out))
    with pytest.raises(RuntimeError):
        ablate.evaluate_gestured_row(gw, object(), {}, None, "ta", ensemble=False)
    assert ablate.evaluate_gestured_row({"skipped": "no truth"}, object(), {}, None, "ta", ensemble=False) is None


# -- end to end -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory):
    from jegal.synth import generate_corpus

    out = tmp_path_factory.mktemp("corpus")
    generate_corpus(out, speakers=4, train_clips=24, test_clips=8, seed=0, progress=False, workers=1)
    return out


@pytest.mark.slow
def test_ablate_with_two_seeds(tiny_corpus, tmp_path, capsys):
    from jegal.cli import main

    out = tmp_path / "abl"
    args = ["ablate", "--corpus", str(tiny_corpus), "--out", str(out), "--variants", "full,global_only",
            "--max-steps", "2", "--batch-size", "8", "--threads", "1", "--quiet", "--seeds", "2", "--seed", "3"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    for s in (3, 4):
        for v in ("full", "global_only"):
            assert (out / "runs" / f"seed{s}" / v / "model" / "model.safetensors").is_file()
    assert not (out / "runs" / "full").exists()  # the one-seed layout is left alone
    a, b = ((out / "runs" / f"seed{s}" / "full" / "model" / "model.safetensors").read_bytes() for s in (3, 4))
    assert a != b  # two seeds, two different models
    doc = json.loads((out / "ablation.json").read_text())
    assert doc["seeds"] == [3, 4]
    assert json.loads((out / "runs" / "seed4" / "full" / "train_config.json").read_text())["seed"] == 4
    assert set(doc["training"]["full"]) == {"seed3", "seed4"}
    full = doc["rows"][0]
    assert (full["variant"], full["modalities"]) == ("full", "ta")
    per = full["per_seed"]
    assert set(per) == {"seed3", "seed4"} and per["seed3"] != per["seed4"]
    for key, stats in full["interval"].items():  # every number: mean and interval of the per-seed values
        values = [per["seed3"].get(key), per["seed4"].get(key)]
        assert stats["values"] == values
        if None not in values:
            assert stats["mean"] == pytest.approx(sum(values) / 2) == full["metrics"][key]
            assert stats["half_width"] == pytest.approx(12.7062 * abs(values[0] - values[1]) / 2, rel=1e-4)
    assert doc["results"]["full"]["seed4"]["spotting"]["ta"]["metrics"]["rows"] == 8
    assert {(d["variant"], d["modalities"]) for d in doc["differences"]} == {("full", "t"), ("full", "a"),
                                                                           ("global_only", "ta")}
    md = (out / "ablation.md").read_text()
    assert "(mean ± 95 % interval, 2 seeds)" in md and "## Differences the intervals do not support" in md
    table_lines = [x for x in md.splitlines() if x.startswith("| JEGAL") or x.startswith("| global loss")]
    assert len(table_lines) == 4 and all(" ± " in x for x in table_lines)
    floor_line = next(x for x in md.splitlines() if x.startswith("| floor: chance |"))
    assert " ± " not in floor_line
    assert "seeds)" in printed and "holds in" in md
    # the gestured-word protocols: every model row has both scorers' columns, per seed and as mean ± half-width
    from jegal.evaluation.ablate import GW_COLUMNS

    gw_cols = [f"{p} {c}" for p in ("gw score", "gw prob") for c, _ in GW_COLUMNS]
    for row in doc["rows"]:
        assert set(gw_cols) <= set(row["interval"]), row["label"]
        for seed, metrics in row["per_seed"].items():
            res = doc["results"][row["variant"]][seed]["gestured"][row["modalities"]]
            auc = next(r for r in res["rows"] if r["name"] == "gesture score")["detection"]["auc"]
            assert metrics["gw score AUC"] == auc
        assert row["interval"]["gw prob AUC"]["n"] == 2
    head = next(x for x in md.splitlines() if x.startswith("| model (mean"))
    cols = [c.strip() for c in head.strip("|").split("|")][1:]
    assert cols[-len(gw_cols):] == gw_cols  # HEADLINE's columns first, then the gestured-word ones
    at = cols.index("gw score AUC") + 1
    assert all(" ± " in x.split("|")[at + 1] for x in table_lines)
    gw_floors = [x for x in md.splitlines() if x.startswith("| gw floor: ")]
    names = [x.split("|")[1].strip() for x in gw_floors]
    for floor in ("chance", "word position", "word prior", "fastest hand"):
        assert sum(n.startswith(f"gw floor: {floor}") for n in names) == 1, floor  # once, not per seed
    assert not any(" ± " in x for x in gw_floors)
    assert doc["gestured"]["counts"]["test_words"] > 0 and "`gw score`" in md
    assert any(f["claim"].startswith("the gesture score beats every gestured-word floor") for f in doc["findings"])
    # a rerun reuses every seed's runs
    assert main(args) == 0
    doc = json.loads((out / "ablation.json").read_text())
    assert all(t["reused"] for runs in doc["training"].values() for t in runs.values())


@pytest.mark.slow
def test_one_seed_keeps_the_layout_and_the_plain_table(tiny_corpus, tmp_path):
    from jegal.cli import main

    out = tmp_path / "abl"
    assert main(["ablate", "--corpus", str(tiny_corpus), "--out", str(out), "--variants", "global_only,no_positions",
                 "--max-steps", "2", "--batch-size", "8", "--threads", "1", "--quiet"]) == 0
    assert (out / "runs" / "global_only" / "model" / "model.safetensors").is_file()
    doc = json.loads((out / "ablation.json").read_text())
    assert doc["seeds"] == [0] and "interval" not in doc["rows"][0] and doc["training"]["global_only"]["steps"] == 2
    md = (out / "ablation.md").read_text()
    assert " ± " not in md and "Differences the intervals" not in md
    # no_positions: the full model's objective with the gesture encoder's absolute positions off, as saved
    saved = json.loads((out / "runs" / "no_positions" / "model" / "config.json").read_text())
    assert saved["gesture"]["positions"] is False and saved["loss"]["objective"] == "jegal"
    assert doc["training"]["no_positions"]["steps"] == 2
    # the one-seed table has the gestured-word columns too, after HEADLINE's
    row = next(r for r in doc["rows"] if r["variant"] == "no_positions")
    assert row["metrics"]["gw score AUC"] is not None and "gw prob top-1" in row["metrics"]
    head = next(x for x in md.splitlines() if x.startswith("| model |"))
    assert head.index("ASD P=6") < head.index("gw score AUC") < head.index("gw prob AUC")
    line = next(x for x in md.splitlines() if x.startswith("| JEGAL without absolute frame positions"))
    assert f"{100 * row['metrics']['gw score AUC']:.1f}" in line


def test_seeds_must_be_positive(tmp_path, capsys):
    from jegal.cli import main

    assert main(["ablate", "--corpus", str(tmp_path), "--out", str(tmp_path / "o"), "--seeds", "0"]) == 1
    assert "--seeds must be at least 1" in capsys.readouterr().err


def test_help_documents_seeds(capsys):
    from jegal.cli import main

    with pytest.raises(SystemExit):
        main(["ablate", "--help"])
    text = "".join(capsys.readouterr().out.split())  # argparse wraps lines anywhere, hyphens included
    assert "--seedsN" in text and "95%Student-tinterval" in text and "runs/seed<S>/<variant>" in text
