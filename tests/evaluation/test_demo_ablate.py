"""End-to-end smoke runs of ``jegal demo`` and ``jegal ablate`` with tiny budgets."""

import json
from html.parser import HTMLParser

import pytest

from jegal.cli import main
from jegal.evaluation.protocols import format_value


class _Table(HTMLParser):
    """Cells of <table id="results"> as {row label: {column: text}}."""

    def __init__(self):
        super().__init__()
        self.rows, self._in, self._row, self._col, self._buf = {}, False, None, None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and a.get("id") == "results":
            self._in = True
        elif self._in and tag == "tr" and "data-row" in a:
            self._row = a["data-row"]
            self.rows[self._row] = {}
        elif self._in and tag == "td" and self._row is not None:
            self._col, self._buf = a.get("data-col"), ""

    def handle_data(self, data):
        if self._buf is not None:
            self._buf += data

    def handle_endtag(self, tag):
        if tag == "td" and self._buf is not None:
            self.rows[self._row][self._col] = self._buf
            self._buf = None
        elif tag == "table":
            self._in = False


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, real_dir):
    out = tmp_path_factory.mktemp("demo")
    rc = main(["demo", "--out", str(out), "--speakers", "5", "--train-clips", "40", "--test-clips", "16",
               "--max-steps", "3", "--batch-size", "8", "--real", str(real_dir), "--samples", "sample1", "--quiet"])
    assert rc == 0
    return out


@pytest.mark.slow
def test_demo_report_numbers_come_from_the_run(demo_run):
    out = demo_run
    doc = json.loads((out / "demo.json").read_text())
    html = (out / "report.html").read_text()
    md = (out / "report.md").read_text()
    table = _Table()
    table.feed(html)
    rows = doc["evaluation"]["rows"] + doc["evaluation"]["floors"]
    assert len(table.rows) == len(rows) >= 5
    for r in rows:
        cells = table.rows[r["label"]]
        for col, value in r["metrics"].items():
            assert cells[col] == format_value(value, col), (r["label"], col)
        assert r["label"] in md
    # the table's numbers are the per-task result files of the same run
    for r in doc["evaluation"]["rows"]:
        m = r["modalities"]
        spot = json.loads((out / "eval" / f"spotting_{m}.json").read_text())["metrics"]
        ret = json.loads((out / "eval" / f"retrieval_{m}.json").read_text())["metrics"]
        asd = json.loads((out / "eval" / f"asd_{m}.json").read_text())["metrics"]
        assert r["metrics"]["spot"] == spot["accuracy"] == sum(p["correct"] for p in spot["per_row"]) / spot["rows"]
        assert r["metrics"]["ret R@10 c2g"] == ret["content_to_gesture"]["R@10"]
        assert r["metrics"]["ASD P=4"] == asd["P=4"]["accuracy"]
    assert [r["modalities"] for r in doc["evaluation"]["rows"]] == ["ta", "t", "a"]
    # heatmaps: files exist and the report shows them
    hm = doc["heatmaps"]
    assert hm["synthgest"] and (hm["real"] or hm["real_skipped"])
    for h in hm["synthgest"] + hm["real"]:
        assert (out / "heatmaps" / h["png"]).stat().st_size > 2000
        assert f'heatmaps/{h["png"]}' in html and f'heatmaps/{h["png"]}' in md
    assert set(doc["timings"]) == {"corpus", "train", "evaluate", "heatmaps"}
    tr = doc["training"]  # train()'s own summary, in process
    assert tr["steps"] == 3 and tr["stopped_by"] == "max_steps" and tr["clips_per_s"] > 0
    assert f"Training: 3 steps, {tr['epochs_completed']} epochs, stopped at --max-steps" in md
    assert list((out / "eval" / "cache").glob("*.npz"))


@pytest.mark.slow
def test_demo_report_shows_the_gestured_word_tables(demo_run):
    from jegal.evaluation.gestured import gestured_cell

    out = demo_run
    g = json.loads((out / "demo.json").read_text())["evaluation"]["gestured"]
    assert g == json.loads((out / "eval" / "gestured_ta.json").read_text())
    assert (out / "corpus" / "benchmarks" / "gestured_words.csv").is_file()
    names = [r["name"] for r in g["rows"]]
    assert names[0].startswith("spotting probability") and any(n.startswith("word prior") for n in names)
    md, html = (out / "report.md").read_text(), (out / "report.html").read_text()
    assert "## Gestured words" in md and 'data-table="gestured-detection"' in html
    det = g["tables"]["detection"]
    auc = det["rows"][0]["values"]["AUC"]
    assert f"| {names[0]} | {gestured_cell(auc)} |" in md and f"<td>{gestured_cell(auc)}</td>" in html
    assert "**best floor**" in md and det["best_floor"]["AUC"]["name"] in md
    assert "localisation of a word known to be gestured" in md


@pytest.mark.slow
def test_ablate_trains_variants_and_writes_one_table(demo_run, tmp_path):
    out = tmp_path / "abl"
    rc = main(["ablate", "--corpus", str(demo_run / "corpus"), "--out", str(out), "--variants", "sync,clip_clip",
               "--max-steps", "2", "--batch-size", "8", "--quiet"])
    assert rc == 0
    doc = json.loads((out / "ablation.json").read_text())
    assert [r["variant"] for r in doc["rows"]] == ["sync", "clip_clip"]
    saved = json.loads((out / "runs" / "sync" / "model" / "config.json").read_text())
    assert saved["loss"]["objective"] == "sync"  # the model says what it was trained for
    assert doc["training"]["sync"]["steps"] == 2 and doc["training"]["sync"]["readout"] == "local"
    assert doc["training"]["clip_clip"]["readout"] == "global"
    md = (out / "ablation.md").read_text()
    for r in doc["rows"] + doc["floors"]:
        assert r["label"] in md
    assert f"{100 * doc['rows'][1]['metrics']['ASD P=2']:.1f}" in md
    assert doc["results"]["clip_clip"]["spotting"]["t"]["metrics"]["rows"] == 16
    # a rerun reuses the finished runs
    rc = main(["ablate", "--corpus", str(demo_run / "corpus"), "--out", str(out), "--variants", "sync",
               "--max-steps", "2", "--quiet"])
    assert rc == 0 and json.loads((out / "ablation.json").read_text())["training"]["sync"]["reused"]


def test_max_steps_is_not_cut_short_by_the_default_epoch_limit(demo_run, tmp_path):
    # 40 training clips in batches of 8: the default 4 epochs would stop at 20 steps
    out = tmp_path / "abl"
    rc = main(["ablate", "--corpus", str(demo_run / "corpus"), "--out", str(out), "--variants", "clip_clip",
               "--max-steps", "24", "--batch-size", "8", "--quiet"])
    assert rc == 0
    assert json.loads((out / "ablation.json").read_text())["training"]["clip_clip"]["steps"] == 24
    rc = main(["ablate", "--corpus", str(demo_run / "corpus"), "--out", str(tmp_path / "capped"), "--variants",
               "clip_clip", "--max-steps", "24", "--epochs", "1", "--batch-size", "8", "--quiet"])
    assert rc == 0  # an explicit --epochs still limits
    assert json.loads((tmp_path / "capped" / "ablation.json").read_text())["training"]["clip_clip"]["steps"] < 24


def test_ablate_rejects_unknown_variants(tmp_path, capsys):
    assert main(["ablate", "--corpus", str(tmp_path), "--out", str(tmp_path / "o"), "--variants", "nope"]) == 1
    assert "unknown variants" in capsys.readouterr().err


@pytest.mark.slow
def test_a_variant_stops_at_its_time_budget_in_process(demo_run, tmp_path):
    """What the demo's --train-minutes does: the loop stops at the budget (here: after the first
    step) and saves a loadable model; the summary comes from train(), not from the run's files."""
    from jegal.evaluation.suite import VARIANTS, Budget, train_variant
    from jegal.model import JEGAL

    budget = Budget(max_seconds=1e-3, batch_size=8)
    info = train_variant(VARIANTS["sync"], demo_run / "corpus", tmp_path / "run", budget, progress=False)
    assert info["stopped_on_time"] and info["stopped_by"] == "max_seconds" and info["steps"] == 1
    assert info["clips_per_s"] > 0 and info["final_loss"] > 0
    assert JEGAL.from_pretrained(tmp_path / "run").readout() == "local"
    doc = json.loads((demo_run / "demo.json").read_text())["training"]
    assert doc["stopped_by"] == "max_steps" and doc["steps"] == 3 and doc["train_minutes"] is None


def test_usage_lines_and_docs_name_paths_that_jegal_demo_writes(demo_run):
    """Every ``demo_out/...`` path in the commands' usage lines, the README and docs/ exists after a
    demo run (its output folder stands for demo_out; this run prepares sample1 only, so sample2's files
    stand for sample1's), and ``--model demo_out`` finds the demo's model."""
    import importlib
    import re
    from pathlib import Path

    from jegal.cli import COMMANDS, usage_lines
    from jegal.model.pretrained import resolve_model_dir

    root = Path(__file__).resolve().parents[2]
    texts = [usage_lines(importlib.import_module(module).__doc__) or "" for module, _ in COMMANDS.values()]
    texts += [p.read_text(encoding="utf-8") for p in [root / "README.md", *sorted((root / "docs").glob("*.md"))]]
    paths = {p.rstrip(".") for t in texts for p in re.findall(r"(?<![\w/.])demo_out(?:/[\w.-]+)*", t)}
    assert "demo_out/real/input/sample1.avi" in paths
    missing = [p for p in sorted(paths)
               if not (demo_run / p.replace("sample2", "sample1")[len("demo_out"):].lstrip("/")).exists()]
    assert not missing, f"paths a demo run does not write: {missing}"
    assert resolve_model_dir(demo_run) == demo_run / "run" / "model"
