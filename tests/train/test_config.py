import argparse
import json

import pytest

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


def test_paper_defaults_are_the_papers_recipe():
    cfg = parse(BASE)
    assert cfg.preset == "paper" and cfg.optim.lr == 5e-5 and cfg.optim.weight_decay == 1e-4
    assert cfg.optim.betas == [0.9, 0.98] and (cfg.data.min_words, cfg.data.max_words) == (5, 20)
    assert cfg.model_config().gesture.d_model == 512


def test_cpu_preset_sets_training_and_model():
    cfg = parse(BASE + ["--preset", "cpu"])
    assert cfg.optim.lr > 5e-5 and cfg.model_config().gesture.d_model < 512


def test_every_flag_sets_exactly_its_field():
    default = parse(BASE)
    samples = {str: "cosine", int: 7, float: 0.25}
    for flag, (field, typ, _) in cli.FLAGS.items():
        if field in ("data.train", "out"):
            continue
        value = {"model_preset": "cpu", "precision": "bf16", "device": "cpu", "best_metric": "spot_acc",
                 "data.val": "V", "data.val_spot": "S.csv", "optim.schedule": "constant", "data.crop": "frames",
                 "data.speakers_per_batch": 8}.get(field, samples[typ])
        if field in ("data.min_words",):
            value = 3
        cfg = parse(BASE + [flag, str(value)])
        assert get(cfg, field) == value, flag
        changed = [k for k in flat(cfg) if flat(cfg)[k] != flat(default)[k]]
        assert changed == [field] or (field == "model_preset" and set(changed) == {"model_preset", "model_config"}), flag
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
