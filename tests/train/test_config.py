import argparse
import json
from pathlib import Path

import pytest

from jegal.config import ConfigError
from jegal.model.config import JEGALConfig, read_preset
from jegal.train import cli
from jegal.train.config import TrainConfig, TrainConfigError, resolve


def parse(argv):
    parser = argparse.ArgumentParser()
    cli.configure(parser)
    return cli.resolve_args(parser.parse_args(argv))


def get(cfg, dotted):
    obj = cfg
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


BASE = ["--data", "D", "--out", "O"]


def test_the_default_is_the_papers_recipe_and_sizes_with_the_recommended_objective():
    cfg = parse(BASE)
    assert cfg.preset == "recommended" and cfg.optim.lr == 5e-5 and cfg.optim.weight_decay == 1e-4
    assert cfg.optim.betas == [0.9, 0.98] and (cfg.data.min_words, cfg.data.max_words) == (5, 20)
    assert cfg.model_config() == JEGALConfig.from_preset("recommended")
    assert cfg.model_config().gesture.d_model == 512
    # the paper preset: the paper's recipe (the training dataclass defaults) and model (the model's)
    paper = parse(BASE + ["--preset", "paper"])
    assert training(paper) == training(cfg) == training(TrainConfig.from_dict({"out": "O", "data": {"train": "D"}}))
    assert paper.model_config() == JEGALConfig(preset="paper")


def training(cfg: TrainConfig) -> dict:
    """The training fields of ``cfg``, without the preset's name and the model."""
    return {k: v for k, v in cfg.to_dict().items() if k not in ("preset", "model_config")}


def test_cpu_preset_sets_training_and_model():
    cfg = parse(BASE + ["--preset", "cpu"])
    assert cfg.optim.lr > 5e-5 and cfg.model_config().gesture.d_model < 512
    assert (cfg.data.crop, cfg.data.crop_frames, cfg.epochs, cfg.optim.warmup_steps) == ("frames", 50, 20, 30)
    assert cfg.text_cache_size == 4096 and cfg.runtime() == {"text_cache_size": 4096, "couple_chunk": 32,
                                                             "couple_checkpoint": True}
    assert "cache_size" not in cfg.to_dict()["model_config"]["text"]  # runtime: not part of the model


@pytest.mark.parametrize("name", ["paper", "recommended", "cpu"])
def test_one_preset_file_holds_the_model_and_the_training(name, tmp_path):
    preset = read_preset(name)
    assert preset["about"] and set(preset) >= {"model", "train"}
    cfg = resolve(preset=name, flags={"data.train": "D", "out": "O"})
    assert cfg.model_config() == JEGALConfig.from_preset(name)
    # a copy of the file given by path is the same preset
    copy = tmp_path / f"{name}.json"
    copy.write_text(Path(preset["path"]).read_text())
    by_path = resolve(preset=str(copy), flags={"data.train": "D", "out": "O"})
    assert {k: v for k, v in by_path.to_dict().items() if k != "preset"} == \
        {k: v for k, v in cfg.to_dict().items() if k != "preset"}


def test_runtime_settings_are_training_fields():
    cfg = parse(BASE + ["--set", "couple_chunk=8", "--set", "couple_checkpoint=false", "--set", "text_cache_size=10"])
    assert cfg.runtime() == {"text_cache_size": 10, "couple_chunk": 8, "couple_checkpoint": False}
    with pytest.raises(ConfigError, match="runtime setting now.*--set couple_chunk="):
        parse(BASE + ["--set", "loss.couple_chunk=8"])
    with pytest.raises(ConfigError, match="is now 'embedding.local_centre'"):
        parse(BASE + ["--set", "loss.local_centre=false"])
    with pytest.raises(TrainConfigError, match="couple_chunk"):
        parse(BASE + ["--set", "couple_chunk=-1"])


def test_a_saved_config_of_the_old_layout_reads_back(tmp_path):
    cfg = parse(BASE + ["--preset", "cpu"])
    d = cfg.to_dict()
    d["data"]["speakers_per_batch"] = 0  # a removed option, off: read
    assert TrainConfig.from_dict(d).to_dict() == cfg.to_dict()
    d["data"]["speakers_per_batch"] = 4  # on: refused, naming it
    with pytest.raises(TrainConfigError, match="speakers_per_batch=4 was removed"):
        TrainConfig.from_dict(d)
    with pytest.raises(ConfigError, match="unknown config key 'data.speakers_per_batch'"):
        parse(BASE + ["--set", "data.speakers_per_batch=2"])
    assert issubclass(TrainConfigError, ConfigError)  # one error type for every configuration


def test_every_flag_sets_exactly_its_field():
    default = parse(BASE)
    samples = {str: "cosine", int: 7, float: 0.25}
    for flag, (field, typ, _) in cli.FLAGS.items():
        if field in ("data.train", "out"):
            continue
        value = {"model_preset": "cpu", "precision": "bf16", "device": "cpu", "best_metric": "spot_acc",
                 "data.val": "V", "data.val_spot": "S.csv", "optim.schedule": "constant",
                 "data.crop": "frames"}.get(field, samples[typ])
        if field in ("data.min_words",):
            value = 3
        cfg = parse(BASE + [flag, str(value)])
        assert get(cfg, field) == value, flag
        changed = [k for k in flat(cfg) if flat(cfg)[k] != flat(default)[k]]
        # --model-preset also changes the recorded model; --max-steps alone also lifts the preset's epoch limit
        also = {"model_preset": {"model_config"}, "max_steps": {"epochs"}}.get(field, set())
        assert set(changed) == {field} | also, flag
    for flag, (field, value, _) in cli.SWITCHES.items():
        # a switch back to the default (--no-augment) must win over its opposite given before it
        opposite = [f for f, (fd, v, _) in cli.SWITCHES.items() if fd == field and v != value]
        cfg = parse(BASE + opposite + [flag])
        assert get(cfg, field) == value and (opposite or get(default, field) != value), flag


def flat(cfg):
    out = {}

    def walk(d, prefix):
        for k, v in d.items():
            if isinstance(v, dict) and k not in ("model", "model_config"):
                walk(v, prefix + k + ".")
            else:
                out[prefix + k] = v
    walk(cfg.to_dict(), "")
    return out


def test_resolution_order_and_overrides(tmp_path):
    f = tmp_path / "c.json"
    f.write_text(json.dumps({"preset": "cpu", "epochs": 3, "optim": {"lr": 0.01, "warmup_steps": 9},
                             "model": {"loss.beta": 0.25}}))
    cfg = parse(BASE + ["--config", str(f), "--lr", "0.02", "--set", "optim.warmup_steps=4",
                        "--set", "content.fusion=avg", "--set", "loss.beta=1.0"])
    assert cfg.preset == "cpu" and cfg.epochs == 3  # file over preset
    assert cfg.optim.lr == 0.02  # flag over file
    assert cfg.optim.warmup_steps == 4  # --set over file
    m = cfg.model_config()
    assert m.content.fusion == "avg" and m.loss.beta == 1.0 and m.gesture.d_model == 128
    # the saved config reads back to the same thing
    cfg.save(tmp_path / "saved.json")
    again = TrainConfig.from_dict(json.loads((tmp_path / "saved.json").read_text()))
    assert again.to_dict() == cfg.to_dict()


@pytest.mark.parametrize("argv,needle", [
    (["--set", "loss.nope=1"], "loss.nope"),
    (["--set", "optim.nope=1"], "optim.nope"),
    (["--set", "optim.lr=fast"], "optim.lr"),
    (["--set", "novalue"], "KEY=VALUE"),
    (["--preset", "tiny"], "tiny"),
])
def test_bad_settings_name_the_field(argv, needle):
    with pytest.raises((TrainConfigError, ValueError)) as err:
        parse(BASE + argv)
    assert needle in str(err.value)


def test_missing_data_or_out_is_an_error():
    with pytest.raises(TrainConfigError, match="--data"):
        resolve(flags={"out": "O"})
    with pytest.raises(TrainConfigError, match="--out"):
        resolve(flags={"data.train": "D"})
