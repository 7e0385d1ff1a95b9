"""The model ``jegal serve`` uses without ``--model``: found (cache, then ``jegal demo``'s run) before
anything is trained, else trained once on SynthGest with progress; and what the page says about it."""

from __future__ import annotations

import json
import time

import pytest

from jegal.model.card import ModelCard
from jegal.serve.default_model import STAMP, SYNTHETIC_CAVEAT, ModelProvider, ModelUnavailable, describe, find_model
from jegal.use import Recipe, last_step


def fake_model(folder):
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"")
    return folder


def test_the_cached_model_wins_over_the_demo_run_and_an_unfinished_cache_does_not_count(tmp_path):
    cache, demo = tmp_path / "cache", tmp_path / "runs" / "demo" / "run"
    assert find_model(cache, (demo,)) is None
    fake_model(demo / "model")
    assert find_model(cache, (demo,)) == (demo / "model", "demo")
    fake_model(cache / "run" / "model")  # trained, but the stamp is missing: an interrupted run
    assert find_model(cache, (demo,))[1] == "demo"
    (cache / STAMP).write_text("{}")
    assert find_model(cache, (demo,)) == (cache / "run" / "model", "cache")


def test_training_progress_is_read_from_the_last_complete_log_line(tmp_path):
    log = tmp_path / "log.jsonl"
    assert last_step(log) == 0
    log.write_text("".join(json.dumps({"step": s, "loss": 1.0}) + "\n" for s in range(1, 8)) + '{"step": 8, "lo')
    assert last_step(log) == 7


def test_the_page_says_plainly_when_a_model_has_only_seen_synthgest(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "synth.json").write_text(json.dumps({"generator": "jegal.synth", "train_speakers": ["s0", "s1", "s2"],
                                                   "counts": {"train_clips": 64}}))
    about = describe(tmp_path / "m", ModelCard(training_data=str(corpus), steps=3, preset="cpu"), "trained")
    assert about["synthetic"] and about["caveat"] == SYNTHETIC_CAVEAT and "real videos" in about["caveat"]
    assert about["kind"] == "synthetic" and about["statement"].startswith("trained on SynthGest only")
    assert "3 synthetic training speakers, 64 clips" in about["statement"] and about["steps"] == 3
    real = describe(tmp_path / "m", ModelCard(training_data="/data/my_talks", steps=9000), "given")
    assert not real["synthetic"] and real["statement"] == "training data of unknown kind: /data/my_talks"
    assert "--model" in real["who"] and real["kind"] == ""
    assert "unknown kind" in describe(tmp_path / "m", None, "given")["statement"]


def test_a_relative_training_data_path_is_found_from_the_model_not_the_servers_folder(tmp_path, monkeypatch):
    """A card written by ``jegal demo`` names its corpus relative to where it ran (``demo_out/corpus/train``);
    the page still says synthetic for a server started from another folder."""
    corpus = tmp_path / "demo_out" / "corpus"
    (corpus / "train").mkdir(parents=True)
    (corpus / "synth.json").write_text(json.dumps({"generator": "jegal.synth", "train_speakers": ["s0", "s1"],
                                                   "counts": {"train_clips": 20}}))
    model_dir = fake_model(tmp_path / "demo_out" / "run" / "model")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    about = describe(model_dir, ModelCard(training_data="demo_out/corpus/train", steps=600), "given")
    assert about["synthetic"] and about["caveat"] == SYNTHETIC_CAVEAT
    assert about["statement"] == ("trained on SynthGest only: 2 synthetic training speakers, 20 clips; "
                                  "findings on real video are not meaningful")
    assert about["training_data"] == str((corpus / "train").resolve())


def test_a_model_that_cannot_be_loaded_is_reported_not_raised(tmp_path):
    provider = ModelProvider(tmp_path / "nothing-here", cache=tmp_path / "cache")
    provider.start()
    with pytest.raises(ModelUnavailable, match="nothing-here"):
        provider.get(timeout=60)
    status = provider.status()
    assert status["state"] == "failed" and "nothing-here" in status["error"]


@pytest.mark.slow
def test_without_a_model_one_is_trained_once_with_progress_and_then_reused(tmp_path):
    cache = tmp_path / "cache"
    recipe = Recipe(speakers=3, train_clips=64, test_clips=2, steps=3)
    provider = ModelProvider(None, cache=cache, recipe=recipe, demo_runs=())
    provider.start()
    seen = set()
    deadline = time.time() + 600
    while provider.status()["state"] not in ("ready", "failed") and time.time() < deadline:
        status = provider.status()
        seen.add((status["state"], status["stage"].split(":")[0]))
        time.sleep(0.05)
    net, model_dir, about = provider.get(timeout=1)
    assert ("training", "generating a SynthGest corpus (3 synthetic speakers, 64 clips)") in seen
    assert any(state == "training" and stage.startswith("training the cpu preset") for state, stage in seen)
    assert about["source"] == "trained" and about["synthetic"] and about["steps"] == 3
    assert model_dir == cache / "run" / "model" and json.loads((cache / STAMP).read_text())["steps"] == 3
    assert net.card is not None and net.card.steps == 3
    # a second start finds it: no training
    log = (cache / "run" / "log.jsonl").read_text()
    again = ModelProvider(None, cache=cache, recipe=recipe, demo_runs=())
    _, dir2, about2 = again.get(timeout=120)
    assert dir2 == model_dir and about2["source"] == "cache" and about2["synthetic"]
    assert (cache / "run" / "log.jsonl").read_text() == log  # not one more step


def test_a_model_without_a_card_is_described_from_its_training_run(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "synth.json").write_text(json.dumps({"generator": "jegal.synth", "train_speakers": ["a", "b"],
                                                   "counts": {"train_clips": 10}}))
    run = tmp_path / "run"
    fake_model(run / "model")
    (run / "train_config.json").write_text(json.dumps({"preset": "cpu", "data": {"train": str(corpus)}}))
    (run / "metrics.json").write_text(json.dumps({"steps": 42}))
    about = describe(run / "model", None, "demo")
    assert about["synthetic"] and about["steps"] == 42 and about["preset"] == "cpu"
    assert about["statement"].startswith("trained on SynthGest only: 2 synthetic training speakers, 10 clips")
    assert "jegal demo" in about["who"]


def test_provenance_is_fixed_when_the_card_is_written_and_reads_the_same_from_any_folder(tmp_path, monkeypatch):
    """A model trained in folder A (its corpus named relative to A) and served from folder B: the page says
    what ``jegal spot``'s outputs say (jegal.model.card.model_record), word for word, even once the corpus
    is gone: the kind and the sentence were fixed when the card was written."""
    import shutil
    from types import SimpleNamespace

    from jegal.model.card import model_record, read_card, training_data_fields, write_card

    a, b = tmp_path / "A", tmp_path / "B"
    corpus = a / "demo_out" / "corpus"
    (corpus / "train").mkdir(parents=True)
    (corpus / "synth.json").write_text(json.dumps({"generator": "jegal.synth", "train_speakers": ["s0", "s1", "s2"],
                                                   "counts": {"train_clips": 30}}))
    model_dir = fake_model(a / "demo_out" / "run" / "model")
    monkeypatch.chdir(a)
    fields = training_data_fields("demo_out/corpus/train")  # as training passes it: relative to where it ran
    write_card(model_dir, ModelCard(**fields, steps=600))
    assert fields["training_kind"] == "synthetic" and fields["training_data"] == str((corpus / "train").resolve())
    b.mkdir()
    monkeypatch.chdir(b)
    for gone in (False, True):
        if gone:
            shutil.rmtree(corpus)
        card = read_card(model_dir)
        about = describe(model_dir, card, "given")
        spot = model_record(SimpleNamespace(card=card, source_dir=model_dir, identity=None))
        assert about["statement"] == spot["statement"] == fields["training_statement"] == (
            "trained on SynthGest only: 3 synthetic training speakers, 30 clips; findings on real video are not "
            "meaningful")
        assert about["kind"] == spot["kind"] == "synthetic" and about["caveat"] == SYNTHETIC_CAVEAT
