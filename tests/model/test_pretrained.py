"""JEGAL.from_pretrained / save_pretrained and the model card."""

import json
import shutil
import warnings

import pytest
import torch

from jegal.model import JEGAL
from jegal.model.card import CARD_FILE, README_FILE, ModelCard, metrics_entry, read_card, update_card
from jegal.model.config import ConfigError, JEGALConfig
from tests.dummy import random_batch
from tests.evaluation.conftest import tiny_bench  # noqa: F401 (a fixture)
from tests.model.conftest import TINY, tiny_model

CARD = {"training_data": "SynthGest, 600 clips of 8 speakers", "steps": 300,
        "metrics": {"validation": metrics_entry({"spot_acc": 0.625, "ret_R@10_mean": 0.4}, source="test/ at step 300")},
        "limits": "Synthetic data only.", "released_by": "the tests"}


def test_round_trip_gives_the_same_outputs_and_the_card(tmp_path):
    model = tiny_model()
    model.save_pretrained(tmp_path / "m", card=CARD)
    again = JEGAL.from_pretrained(tmp_path / "m")
    batch = random_batch(3, seed=4)
    a, b = model.embed(batch, modalities="ta"), again.embed(batch, modalities="ta")
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)
    card = again.card
    assert card.training_data == CARD["training_data"] and card.steps == 300 and card.limits == "Synthetic data only."
    assert card.preset == "cpu" and card.objective == "jegal"  # from the config, as the caller did not set them
    assert card.model["d_model"] == 32 and card.model["gesture_frontend"] == "keypoints"
    assert card.model["trainable_parameters"] == model.num_parameters()
    assert card.metrics["validation"]["values"] == {"spot_acc": 0.625, "ret_R@10_mean": 0.4}
    assert card.extra == {"released_by": "the tests"}
    readme = (tmp_path / "m" / README_FILE).read_text()
    assert readme.startswith("---\nlibrary_name: jegal\n")
    for text in ("| training steps | 300 |", "### validation", "test/ at step 300", "| spot_acc | 0.625 |",
                 "Synthetic data only.", "| released_by | the tests |", "JEGAL.from_pretrained"):
        assert text in readme
    assert json.loads((tmp_path / "m" / CARD_FILE).read_text())["steps"] == 300
    assert not hasattr(JEGAL, "save") and not hasattr(JEGAL, "load")  # one saver, one loader


def test_saving_without_a_card_drops_the_old_metrics_and_updates_merge(tmp_path):
    model = tiny_model()
    path = model.save_pretrained(tmp_path / "m", card=CARD)
    model.save_pretrained(path)  # new weights, no card: metrics measured on the old ones must not stay
    card = read_card(path)
    assert card.metrics == {} and card.steps is None and card.model["d_model"] == 32
    assert "Not evaluated yet" in (path / README_FILE).read_text()
    update_card(path, metrics={"retrieval: ret.csv (ta)": {"c2g R@10": 0.5}})
    update_card(path, card={"steps": 12}, metrics={"asd: asd.csv (ta)": metrics_entry({"P=2": 0.9})})
    update_card(path, metrics={"retrieval: ret.csv (ta)": {"c2g R@10": 0.75}})  # the same evaluation again: replaced
    card = read_card(path)
    assert card.steps == 12 and card.model["d_model"] == 32
    assert {k: v["values"] for k, v in card.metrics.items()} == {"retrieval: ret.csv (ta)": {"c2g R@10": 0.75},
                                                                 "asd: asd.csv (ta)": {"P=2": 0.9}}
    assert "| c2g R@10 | 0.75 |" in (path / README_FILE).read_text()
    assert ModelCard.from_dict(card.to_dict()) == card


def test_bad_directories_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such model directory"):
        JEGAL.from_pretrained(tmp_path / "nope")
    run = tmp_path / "run"
    tiny_model().save_pretrained(run / "model")
    assert JEGAL.from_pretrained(run).source_dir == run / "model"  # a training run: its final model
    (run / "model" / "config.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"not a saved JEGAL model.*run/model \(config.json missing\)"):
        JEGAL.from_pretrained(run)  # the error names what each place it looked in lacks
    tiny_model().save_pretrained(run / "model")
    (run / "model" / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(ConfigError, match="damaged or not a safetensors file"):
        JEGAL.from_pretrained(run / "model")
    other = tmp_path / "other"
    JEGAL.from_preset("cpu", {"gesture.d_model": 16, "gesture.heads": 2, "text.head_dim": 16, "text.heads": 2,
                              "content.modalities": "a"}).save_pretrained(other)
    (other / "config.json").write_text((run / "model" / "config.json").read_text())
    with pytest.raises(ConfigError, match="does not fit its config"):
        JEGAL.from_pretrained(other)


def test_a_damaged_card_warns_but_the_model_loads(tmp_path):
    path = tiny_model().save_pretrained(tmp_path / "m")
    (path / CARD_FILE).write_text("{ not json")
    with pytest.warns(UserWarning, match="card.json: unreadable model card"):
        model = JEGAL.from_pretrained(path)
    assert model.card is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert JEGAL.from_pretrained(tiny_model().save_pretrained(tmp_path / "ok")).card is not None


def test_jegal_eval_puts_its_results_on_the_card(tmp_path, tiny_bench, capsys, monkeypatch):  # noqa: F811
    from jegal.cli import main

    model_dir = JEGAL.from_preset("cpu", {"content.modalities": "a"}).save_pretrained(tmp_path / "run" / "model")
    out = tmp_path / "asd.json"
    args = ["eval", "asd", "--model", str(tmp_path / "run"), "--benchmark", str(tiny_bench["asd"]),
            "--data", str(tiny_bench["data"]), "--out", str(out), "--quiet"]
    assert main(args) == 0
    result = json.loads(out.read_text())["results"]["a"]["metrics"]
    entry = read_card(model_dir).metrics["asd: asd.csv (a)"]
    assert entry["values"] == {"P=2": result["P=2"]["accuracy"], "P=4": result["P=4"]["accuracy"],
                               "P=6": result["P=6"]["accuracy"]}
    assert entry["source"] == str(tiny_bench["asd"]) and entry["date"]
    assert "### asd: asd.csv (a)" in (model_dir / README_FILE).read_text()
    before = (model_dir / CARD_FILE).read_text()
    monkeypatch.setattr("jegal.evaluation.cli.os.access", lambda *a: False)  # a read-only model directory
    assert main(args) == 0
    assert "model card not updated" in capsys.readouterr().err and (model_dir / CARD_FILE).read_text() == before


# -- the one loader, the model's identity, its files ------------------------------------------------
def test_one_loader_takes_a_model_a_run_or_jegal_demos_output(tmp_path):
    demo = tmp_path / "demo_out"  # jegal demo's layout: OUT/run/model and OUT/run/best
    final = tiny_model().save_pretrained(demo / "run" / "model")
    torch.manual_seed(3)
    best = JEGAL.from_preset("cpu", {"gesture.d_model": 32, "gesture.heads": 2, "text.head_dim": 32, "text.heads": 2,
                                     "text.ffn": 64}).save_pretrained(demo / "run" / "best")
    for given, checkpoint, expected in ((demo, "final", final), (demo, "best", best), (demo / "run", "final", final),
                                        (demo / "run", "best", best), (final, "final", final), (best, "final", best)):
        model = JEGAL.from_pretrained(given, checkpoint=checkpoint)
        assert model.source_dir == expected, (given, checkpoint)
        assert not model.training  # ready for inference
    a = JEGAL.from_pretrained(demo).state_dict()
    b = JEGAL.from_pretrained(demo, checkpoint="best").state_dict()
    assert any(not torch.equal(a[k], b[k]) for k in a)  # "best" is really the other model
    with pytest.raises(ValueError, match="checkpoint"):
        JEGAL.from_pretrained(demo, checkpoint="last")


def test_model_not_found_names_every_place_looked_in(tmp_path):
    from jegal.model import ModelNotFound

    empty = tmp_path / "empty"
    (empty / "run" / "model").mkdir(parents=True)
    (empty / "run" / "model" / "config.json").write_text("{}")
    with pytest.raises(ModelNotFound) as err:
        JEGAL.from_pretrained(empty)
    message = str(err.value)
    assert isinstance(err.value, FileNotFoundError)
    for candidate, lacks in ((empty, "config.json and model.safetensors missing"),
                             (empty / "model", "no such directory"),
                             (empty / "run" / "model", "(model.safetensors missing)")):
        assert f"{candidate} " in message and lacks in message.split(f"{candidate} ", 1)[1], candidate
    with pytest.raises(ModelNotFound, match=r"no such model directory.*nope/best.*nope/run/best"):
        JEGAL.from_pretrained(tmp_path / "nope", checkpoint="best")


def test_identity_is_a_digest_of_every_model_file_but_the_card(tmp_path):
    from jegal.model.pretrained import model_identity

    path = tiny_model().save_pretrained(tmp_path / "m")
    (path / "gestsync.safetensors").write_bytes(b"feature extractor weights")
    model = JEGAL.from_pretrained(path)
    first = model.identity
    assert first == model_identity(path) and len(first) == 16
    update_card(path, metrics={"asd: a.csv (ta)": metrics_entry({"P=2": 0.5})})  # jegal eval records its numbers
    assert model_identity(path) == first
    (path / "gestsync.safetensors").write_bytes(b"other feature extractor weights")
    assert model_identity(path) != first
    assert JEGAL.from_pretrained(path).identity == model_identity(path)
    (path / "gestsync.safetensors").unlink()
    assert model_identity(path) != first
    assert tiny_model().identity is None  # not loaded from a directory


def test_a_saved_copy_of_a_loaded_model_takes_its_other_files_along(tmp_path):
    path = tiny_model().save_pretrained(tmp_path / "m")
    (path / "gestsync.safetensors").write_bytes(b"feature extractor weights")
    copy = JEGAL.from_pretrained(path).save_pretrained(tmp_path / "copy")
    assert (copy / "gestsync.safetensors").read_bytes() == b"feature extractor weights"
    fresh = tiny_model().save_pretrained(tmp_path / "fresh")  # a model built here has no such file
    assert not (fresh / "gestsync.safetensors").exists()


def test_an_rgb_model_saved_on_one_machine_loads_on_another(tmp_path):
    from safetensors.torch import load_file, save_file

    from jegal.model.gesture import RGBBackbone

    rgb = {"gesture.frontend": "rgb", "gesture.rgb_channels": [4, 8], "content.modalities": "a"}
    cfg = JEGALConfig.from_preset("cpu", {**TINY, **rgb})
    torch.manual_seed(5)
    init = tmp_path / "machine_a" / "rgb_init.safetensors"  # a backbone checkpoint on the training machine
    init.parent.mkdir()
    save_file({k: v + 0.5 for k, v in RGBBackbone(cfg.gesture).state_dict().items()}, str(init))
    torch.manual_seed(0)
    model = JEGAL(JEGALConfig.from_preset("cpu", {**TINY, **rgb, "gesture.rgb_checkpoint": str(init)}))
    torch.testing.assert_close(model.gesture.frontend.backbone.state_dict(), load_file(str(init)))  # initialised
    saved = model.save_pretrained(tmp_path / "machine_a" / "model")
    assert json.loads((saved / "config.json").read_text())["gesture"]["rgb_checkpoint"] is None  # not persisted
    init.unlink()  # the other machine has no such file
    moved = tmp_path / "machine_b" / "model"
    shutil.copytree(saved, moved)
    shutil.rmtree(tmp_path / "machine_a")
    again = JEGAL.from_pretrained(moved)
    batch = random_batch(2, seed=3, rgb_size=16)
    a, b = model.embed(batch, modalities="a"), again.embed(batch, modalities="a")
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)
    # a config.json written before the fix, naming a path that is not there, loads the same
    stale = json.loads((moved / "config.json").read_text())
    stale["gesture"]["rgb_checkpoint"] = str(tmp_path / "gone" / "rgb_init.safetensors")
    (moved / "config.json").write_text(json.dumps(stale))
    torch.testing.assert_close(JEGAL.from_pretrained(moved).embed(batch, modalities="a")["gesture_clip"],
                               a["gesture_clip"], rtol=0, atol=0)
