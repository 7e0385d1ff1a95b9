import json

import pytest

from jegal.cli import main
from jegal.model.pretrained import ModelNotFound, parse_modalities, resolve_model_dir


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    from jegal.model import JEGAL

    run = tmp_path_factory.mktemp("run")
    JEGAL.from_preset("cpu", {"content.modalities": "a"}).save_pretrained(run / "model")
    return run


def test_eval_cli_writes_json_and_reuses_the_cache(saved_model, tiny_bench, capsys):
    out = tiny_bench["dir"] / "res.json"
    args = ["eval", "asd", "--model", str(saved_model), "--benchmark", str(tiny_bench["asd"]),
            "--data", str(tiny_bench["data"]), "--out", str(out), "--quiet"]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "7 of 9 rows evaluated" in captured.out  # ASD: P=2 needs the fewest clips and "| model (a) |" in captured.out
    assert "1 of 9 clips missing" in captured.err
    doc = json.loads(out.read_text())
    r = doc["results"]["a"]
    assert r["metrics"]["P=6"]["errors"]["missing_clip"] == 6 and not r["embeddings"]["cached"]
    assert main(args) == 0
    assert json.loads(out.read_text())["results"]["a"]["embeddings"]["cached"]
    assert json.loads(out.read_text())["results"]["a"]["metrics"] == r["metrics"]


def test_eval_cli_errors_are_one_line(saved_model, tiny_bench, tmp_path, capsys):
    base = ["--data", str(tiny_bench["data"]), "--quiet"]
    assert main(["eval", "spotting", "--model", str(saved_model), "--benchmark", str(tiny_bench["asd"])] + base) == 1
    assert "asd benchmark, not spotting" in capsys.readouterr().err
    assert main(["eval", "asd", "--model", str(tmp_path), "--benchmark", str(tiny_bench["asd"])] + base) == 1
    assert str(tmp_path) in capsys.readouterr().err
    assert main(["eval", "asd", "--model", str(saved_model), "--benchmark", str(tiny_bench["asd"]),
                 "--modalities", "t"] + base) == 1
    assert "trained with 'a' only" in capsys.readouterr().err


def test_model_resolution_and_modalities(saved_model, tmp_path):
    assert resolve_model_dir(saved_model) == saved_model / "model"
    assert resolve_model_dir(saved_model / "model") == saved_model / "model"
    with pytest.raises(ModelNotFound):
        resolve_model_dir(saved_model, "best")
    assert parse_modalities("t, ta", "ta") == ["t", "ta"]
    assert parse_modalities(None, "t") == ["t"]
    with pytest.raises(ValueError):
        parse_modalities("x", "ta")


def test_eval_spotting_reports_the_word_order_floor_of_the_csv(saved_model, tiny_bench, capsys):
    from jegal.data.benchmarks import read_benchmark
    from jegal.synth.baselines import word_order_spotting

    out = tiny_bench["dir"] / "spot.json"
    assert main(["eval", "spotting", "--model", str(saved_model), "--benchmark", str(tiny_bench["spot"]),
                 "--data", str(tiny_bench["data"]), "--out", str(out), "--quiet"]) == 0
    doc = json.loads(out.read_text())
    assert doc["word_order_floor"] == word_order_spotting(read_benchmark(tiny_bench["spot"]))
    assert "floor: word order, no gesture" in capsys.readouterr().out
