"""What a model knows, in the outputs of ``jegal spot`` and ``jegal asd``: the ``model`` section of
``spot.json`` / ``asd.json`` (:func:`jegal.model.card.model_record`) and the statement printed once.

The model is untrained (the section does not depend on training) but its card says what training
records for a SynthGest corpus (:func:`jegal.model.card.training_data_fields` on a tiny generated
one). ``jegal embed`` records the same in its file's ``meta`` (``model_training``), ``jegal search``
in its index and its JSON results (``model``); each prints the statement once."""

from __future__ import annotations

import json

import pytest

from jegal.cli import main

STATEMENT = ("trained on SynthGest only: 1 synthetic training speaker, 8 clips; "
             "findings on real video are not meaningful")
SECTION_KEYS = {"dir", "identity", "kind", "synthetic", "statement", "training_data"}


@pytest.fixture(scope="module")
def synth_corpus(tmp_path_factory):
    """A tiny SynthGest corpus (3 speakers: 1 for training, 8 training clips, 4 test clips)."""
    from jegal.synth.corpus import generate_corpus

    out = tmp_path_factory.mktemp("synthetic_model") / "corpus"
    generate_corpus(out, speakers=3, train_clips=8, test_clips=4, seed=1, progress=False, workers=1)
    return out


@pytest.fixture(scope="module")
def synthetic_model(synth_corpus):
    """An untrained cpu-preset model whose card says what training on ``synth_corpus`` records."""
    from jegal.model import JEGAL
    from jegal.model.card import training_data_fields

    out = synth_corpus.parent / "model"
    JEGAL.from_preset("cpu").save_pretrained(out, card=training_data_fields(synth_corpus / "train"))
    return out


def _check_section(section, model_dir):
    from jegal.model import JEGAL

    assert set(section) == SECTION_KEYS
    assert section["dir"] == str(model_dir) and section["identity"] == JEGAL.from_pretrained(model_dir).identity
    assert section["kind"] == "synthetic" and section["synthetic"] is True
    assert section["statement"] == STATEMENT
    assert section["training_data"].endswith("corpus/train")


@pytest.mark.parametrize("command", ["spot", "asd"])
def test_spot_and_asd_json_say_what_the_model_knows_and_print_it_once(command, synthetic_model, real_dir,
                                                                      tmp_path, capsys):
    video = "sample1.avi" if command == "spot" else "two_speakers_raw.mp4"
    out = tmp_path / "out"
    assert main([command, str(real_dir / video), "--model", str(synthetic_model), "--out", str(out), "--quiet",
                 "--no-video"]) == 0
    doc = json.loads((out / f"{command}.json").read_text())
    _check_section(doc["model"], synthetic_model)
    printed = capsys.readouterr().out
    assert printed.count("SynthGest only") == 1 and printed.startswith("model: trained on SynthGest only")


def test_embed_and_search_record_what_the_model_knows_and_print_it_once(synthetic_model, synth_corpus, tmp_path,
                                                                        capsys):
    from jegal.inference.search import GalleryIndex
    from jegal.use.embed import EmbedSet

    npz = tmp_path / "test.npz"
    assert main(["embed", str(synth_corpus / "test"), "--model", str(synthetic_model), "--out", str(npz),
                 "--quiet", "--clip-vectors-only"]) == 0
    assert capsys.readouterr().out.count(STATEMENT) == 1
    known = EmbedSet.load(npz).meta["model_training"]
    assert known["kind"] == "synthetic" and known["synthetic"] and known["statement"] == STATEMENT

    index = tmp_path / "index"
    assert main(["search", "build", str(npz), "--model", str(synthetic_model), "--index", str(index),
                 "--quiet"]) == 0
    assert capsys.readouterr().out.count(STATEMENT) == 1
    assert GalleryIndex.load(index).info["model_training"]["statement"] == STATEMENT
    assert main(["search", "query", "--index", str(index), "--text", "a big round ball", "-k", "2"]) == 0
    assert capsys.readouterr().out.count(STATEMENT) == 1
    assert main(["search", "query", "--index", str(index), "--text", "a big round ball", "-k", "2", "--json"]) == 0
    _check_section(json.loads(capsys.readouterr().out)["model"], synthetic_model)


@pytest.mark.parametrize("synthetic", [True, False])
def test_the_annotated_video_says_so_on_every_frame_for_a_synthetic_model(synthetic, monkeypatch, tmp_path):
    """``annotated.mp4``'s status line carries the caveat of a SynthGest-only model, and only of one."""
    from types import SimpleNamespace

    from jegal.use import annotate, media

    written = []
    monkeypatch.setattr(media, "write_videos", lambda video, targets, **kw: written.extend(targets))
    caption = lambda t: annotate.Caption(status=f"{t} s")  # noqa: E731
    outputs, timings = {}, {}
    annotate.add_annotated_video(tmp_path, SimpleNamespace(), lambda img, t, s: None, caption, outputs, timings,
                                 model={"synthetic": synthetic})
    (target,) = written
    status = target.caption(3).status
    assert status.startswith("3 s") and (annotate.SYNTHETIC_NOTE in status) == synthetic
    assert outputs["video"] == "annotated.mp4"
