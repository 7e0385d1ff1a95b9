"""What a model knows (:mod:`jegal.model.card`): the card fields training records, and
:func:`~jegal.model.card.training_statement`, the one answer every output gives, for new cards and for
cards written before ``training_kind`` existed."""

from __future__ import annotations

import json

from jegal.model.card import ModelCard, read_card, training_data_fields, training_statement, write_card

SYNTH = {"generator": "jegal.synth", "train_speakers": ["s0", "s1", "s2"], "counts": {"train_clips": 30}}
SAID = "trained on SynthGest only: 3 synthetic training speakers, 30 clips; findings on real video are not meaningful"


def synth_corpus(folder):
    (folder / "train").mkdir(parents=True)
    (folder / "synth.json").write_text(json.dumps(SYNTH))
    return folder


def test_training_data_fields_tell_synthgest_prepared_video_and_unknown_shards_apart(tmp_path):
    corpus = synth_corpus(tmp_path / "corpus")
    for data in (corpus, corpus / "train"):  # the corpus folder, or its shards
        f = training_data_fields(data)
        assert f == {"training_data": str(data.resolve()), "training_kind": "synthetic", "training_statement": SAID}
    (tmp_path / "other" / "gen").mkdir(parents=True)  # a synth.json by something else is not SynthGest
    (tmp_path / "other" / "synth.json").write_text(json.dumps({**SYNTH, "generator": "elsewhere"}))
    assert training_data_fields(tmp_path / "other" / "gen")["training_kind"] == ""
    prepared = tmp_path / "prepared"
    prepared.mkdir()
    (prepared / "summary.json").write_text(json.dumps({"input": "/videos/talks", "clips": 120}))
    f = training_data_fields(prepared)
    assert f["training_kind"] == "real" and "120 clips prepared from /videos/talks" in f["training_statement"]


def test_a_new_card_is_taken_at_its_word_and_round_trips(tmp_path):
    card = ModelCard(**training_data_fields(synth_corpus(tmp_path / "corpus") / "train"))
    (tmp_path / "model").mkdir()
    write_card(tmp_path / "model", card)
    back = read_card(tmp_path / "model")
    assert back.training_kind == "synthetic" and back.training_statement == SAID
    assert "| what it knows | " + SAID in (tmp_path / "model" / "README.md").read_text()
    (tmp_path / "corpus" / "synth.json").unlink()  # the corpus is gone: the card still knows
    got = training_statement(back, tmp_path / "model")
    assert got == {"kind": "synthetic", "synthetic": True, "statement": SAID, "training_data": card.training_data}
    real = training_statement({"training_kind": "real", "training_data": "/data/talks"})
    assert real["kind"] == "real" and not real["synthetic"] and real["statement"].startswith("trained on real video")


def test_an_old_card_is_inferred_from_its_corpus_found_from_the_model_not_the_working_folder(tmp_path, monkeypatch):
    synth_corpus(tmp_path / "demo_out" / "corpus")
    model_dir = tmp_path / "demo_out" / "run" / "model"
    model_dir.mkdir(parents=True)
    old = {"training_data": "demo_out/corpus/train", "steps": 600}  # as jegal demo wrote it, relative to where it ran
    monkeypatch.chdir(model_dir)
    got = training_statement(old, model_dir)
    assert got["kind"] == "synthetic" and got["synthetic"] and got["statement"] == SAID
    assert got["training_data"] == str((tmp_path / "demo_out" / "corpus" / "train").resolve())


def test_an_old_card_of_unknown_data_says_so_naming_it(tmp_path, monkeypatch):
    synth_corpus(tmp_path / "work" / "demo_out" / "corpus")  # in the working folder, but not above the model
    monkeypatch.chdir(tmp_path / "work")
    elsewhere = tmp_path / "elsewhere" / "model"
    elsewhere.mkdir(parents=True)
    got = training_statement(ModelCard(training_data="demo_out/corpus/train"), elsewhere)
    assert got == {"kind": "", "synthetic": False, "statement": "training data of unknown kind: demo_out/corpus/train",
                   "training_data": "demo_out/corpus/train"}
    assert training_statement(None)["statement"] == "training data of unknown kind: its card names none"
    assert training_statement(ModelCard(preset="released"))["kind"] == "real"  # an older imported checkpoint


def test_a_model_without_training_data_on_its_card_is_described_from_its_training_run(tmp_path):
    corpus = synth_corpus(tmp_path / "corpus")
    (tmp_path / "run" / "model").mkdir(parents=True)
    (tmp_path / "run" / "train_config.json").write_text(json.dumps({"preset": "cpu", "data": {"train": str(corpus)}}))
    assert training_statement(None, tmp_path / "run" / "model")["statement"] == SAID
    (tmp_path / "run" / "best").mkdir()  # a run's best/ has a card with the config's facts only
    assert training_statement(ModelCard(preset="cpu"), tmp_path / "run" / "best")["kind"] == "synthetic"
