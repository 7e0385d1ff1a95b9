"""What a model knows, in the outputs of ``jegal spot`` and ``jegal asd``: the ``model`` section of
``spot.json`` / ``asd.json`` (:func:`jegal.model.card.model_record`) and the statement printed once.

The model is untrained (the section does not depend on training) but its card says what training
records for a SynthGest corpus (:func:`jegal.model.card.training_data_fields` on a corpus folder
holding ``synth.json``)."""

from __future__ import annotations

import json

import pytest

from jegal.cli import main

SECTION_KEYS = {"dir", "identity", "kind", "synthetic", "statement", "training_data"}


@pytest.fixture(scope="module")
def synthetic_model(tmp_path_factory):
    """An untrained cpu-preset model whose card says it was trained on a (tiny, fake) SynthGest corpus."""
    from jegal.model import JEGAL
    from jegal.model.card import training_data_fields

    root = tmp_path_factory.mktemp("synthetic_model")
    (root / "corpus" / "train").mkdir(parents=True)
    (root / "corpus" / "synth.json").write_text(json.dumps(
        {"generator": "jegal.synth", "train_speakers": ["s000", "s001", "s002"], "counts": {"train_clips": 42}}))
    JEGAL.from_preset("cpu").save_pretrained(root / "model", card=training_data_fields(root / "corpus" / "train"))
    return root / "model"


def _check_section(section, model_dir):
    from jegal.model import JEGAL

    assert set(section) == SECTION_KEYS
    assert section["dir"] == str(model_dir) and section["identity"] == JEGAL.from_pretrained(model_dir).identity
    assert section["kind"] == "synthetic" and section["synthetic"] is True
    assert section["statement"] == ("trained on SynthGest only: 3 synthetic training speakers, 42 clips; "
                                    "findings on real video are not meaningful")
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
