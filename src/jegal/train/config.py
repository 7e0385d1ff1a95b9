"""Training configuration: dataclasses whose defaults are the paper's recipe.

Resolution order (later wins): dataclass defaults < training preset (``cpu`` / ``paper``,
which also names the model preset) < ``--config FILE`` (JSON, any subset of the fields of
:class:`TrainConfig`) < explicit CLI flags < ``--set key=value`` overrides. A ``--set`` key
whose first part is a training section (``data.``, ``optim.``) or a top-level training field
sets that field; any other key (``loss.beta``, ``content.fusion``, ...) is a dotted model
override applied to the model preset. The resolved config, including the full model config,
is written to ``RUN_DIR/train_config.json``.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

from jegal.model.config import JEGALConfig


class TrainConfigError(ValueError):
    """A training configuration that cannot be used; the message names the field or file."""


@dataclass
class DataConfig:
    train: str = ""  # shard dir / tar, or a corpus dir with train/ and test/ (jegal synth)
    val: str = ""  # validation shards; "" = <corpus>/test, else a held-out fraction of train
    val_spot: str = ""  # spotting CSV (AVS columns); "" = <val>/../benchmarks/spot.csv if present
    val_fraction: float = 0.05  # held out of train by key hash when there is no validation set
    val_max_clips: int = 500
    batch_size: int = 32  # clips per process; the global batch is batch_size * world size
    crop: str = "words"  # "words": min_words..max_words consecutive words (paper); "frames": crop_frames frames
    crop_frames: int = 50  # window length for crop="frames"
    min_words: int = 5  # random windows of min_words..max_words consecutive words (paper: 5-20)
    max_words: int = 20
    margin: int = 10  # frames of context kept each side of the window (= the loss window)
    shuffle_buffer: int = 1000  # samples held by the streaming shuffle
    workers: int = 0  # DataLoader worker processes per rank
    speakers_per_batch: int = 0  # 0 = off; k = batches of k speakers x batch_size/k clips (same-speaker negatives)
    augment: bool = False  # mirror / scale / rotate keypoints, shift / scale log-mel (jegal.train.augment)


@dataclass
class OptimConfig:
    lr: float = 5e-5  # paper
    weight_decay: float = 1e-4  # paper
    betas: list[float] = field(default_factory=lambda: [0.9, 0.98])  # paper
    eps: float = 1e-6
    warmup_steps: int = 1000
    schedule: str = "cosine"  # "cosine" (to min_lr_ratio * lr) | "constant" (after warmup)
    min_lr_ratio: float = 0.0
    grad_clip: float = 1.0  # max global grad norm; 0 = off
    max_bad_steps: int = 20  # consecutive non-finite losses before the run aborts


@dataclass
class TrainConfig:
    out: str = ""  # run directory
    preset: str = "paper"  # training preset; also the model preset unless model_preset is set
    model_preset: str = ""  # "" = preset
    model: dict = field(default_factory=dict)  # dotted model overrides, e.g. {"loss.beta": 1.0}
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    epochs: int = 10
    max_steps: int = 0  # stop after this many optimiser steps (0 = run all epochs)
    seed: int = 0
    device: str = "auto"  # "auto" (cuda if available), "cpu", "cuda", "cuda:1", ...
    precision: str = "auto"  # "auto" (bf16 on CUDA, fp32 on CPU) | "fp32" | "bf16" | "fp16"
    threads: int = 0  # torch CPU threads per process (0 = CPUs / local processes)
    checkpoint_every: int = 500  # steps between checkpoints (also one at every epoch end and at the end)
    keep_checkpoints: int = 2  # most recent step checkpoints kept
    log_every: int = 10  # steps between TensorBoard scalars
    validate_every: int = 1  # epochs between validations (0 = only at the end)
    best_metric: str = "auto"  # "auto" (spotting accuracy if available, else mean R@10) or a metrics key
    resume: bool = False  # continue from RUN_DIR's latest checkpoint if there is one
    progress: bool = True
    tensorboard: bool = True
    ddp_find_unused: bool = False  # DDP find_unused_parameters (needed if some parameters get no grad)

    # -- building ----------------------------------------------------------------------------
    def model_config(self) -> JEGALConfig:
        return JEGALConfig.from_preset(self.model_preset or self.preset, overrides=dict(self.model))

    def validate(self) -> "TrainConfig":
        if not self.data.train:
            raise TrainConfigError("data.train is empty: pass --data SHARDS_OR_CORPUS_DIR")
        if not self.out:
            raise TrainConfigError("out is empty: pass --out RUN_DIR")
        if self.optim.schedule not in ("cosine", "constant"):
            raise TrainConfigError(f"optim.schedule must be cosine or constant, got {self.optim.schedule!r}")
        if self.data.crop not in ("words", "frames"):
            raise TrainConfigError(f"data.crop must be words or frames, got {self.data.crop!r}")
        if self.precision not in ("auto", "fp32", "bf16", "fp16"):
            raise TrainConfigError(f"precision must be auto, fp32, bf16 or fp16, got {self.precision!r}")
        if len(self.optim.betas) != 2:
            raise TrainConfigError(f"optim.betas must hold two numbers, got {self.optim.betas}")
        k = self.data.speakers_per_batch
        if k < 0 or k and self.data.batch_size % k:
            raise TrainConfigError(f"data.speakers_per_batch must be 0 (off) or divide data.batch_size "
                                   f"({self.data.batch_size}), got {k}")
        if self.data.batch_size < 1 or self.epochs < 1 and self.max_steps < 1:
            raise TrainConfigError("data.batch_size must be >= 1 and epochs or max_steps positive")
        self.model_config()  # raises ConfigError naming a bad model key
        return self

    def to_dict(self) -> dict:
        d = asdict(self)
        d["model_config"] = self.model_config().to_dict()  # for the record; not read back
        return d

    def save(self, path: str | os.PathLike) -> None:
        path = Path(path)
        tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
        tmp.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        os.replace(tmp, path)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        cfg = cls()
        update(cfg, {k: v for k, v in d.items() if k != "model_config"})
        return cfg


# Training presets: the fields they change. "paper" is the paper's recipe (the defaults);
# "cpu" trains the small model on SynthGest in minutes on 2 cores: a learning rate 10x the
# paper's (a few thousand steps in all; 2e-3 was measured worse, docs/train.md), and fixed 2 s
# crops instead of 5-20-word windows, because with word windows on SynthGest's short clips the
# losses first learn to match clip lengths (frames <-> words), which says nothing on the
# fixed-length test clips (measured in docs/train.md).
TRAIN_PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    "cpu": {"data": {"batch_size": 32, "shuffle_buffer": 500, "crop": "frames", "crop_frames": 50}, "epochs": 20,
            "optim": {"lr": 5e-4, "warmup_steps": 30}, "checkpoint_every": 100, "log_every": 5},
}


def preset_config(name: str) -> TrainConfig:
    cfg = TrainConfig()
    if name in TRAIN_PRESETS:
        update(cfg, TRAIN_PRESETS[name])
    cfg.preset = name  # an unknown name may still be a model preset file; model_config() checks it
    return cfg


TRAIN_SECTIONS = {f.name for f in fields(TrainConfig)}


def apply_overrides(cfg: TrainConfig, overrides: dict[str, Any]) -> TrainConfig:
    """Dotted ``key=value`` pairs: training fields by name, anything else a model override."""
    for key, value in overrides.items():
        head = key.split(".", 1)[0]
        if head in TRAIN_SECTIONS and head != "model":
            set_dotted(cfg, key, value)
        else:
            cfg.model[key.removeprefix("model.")] = value
    return cfg


def set_dotted(obj: Any, key: str, value: Any) -> None:
    *parents, leaf = key.split(".")
    for p in parents:
        if not is_dataclass(getattr(obj, p, None)):
            raise TrainConfigError(f"unknown training config key {key!r}")
        obj = getattr(obj, p)
    names = {f.name for f in fields(obj)}
    if leaf not in names:
        raise TrainConfigError(f"unknown training config key {key!r}; fields here: {sorted(names)}")
    setattr(obj, leaf, coerce(value, getattr(obj, leaf), key))


def coerce(value: Any, current: Any, key: str) -> Any:
    """CLI strings become the field's type (JSON-parsed where the field is not a string)."""
    if isinstance(value, str) and not isinstance(current, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise TrainConfigError(f"config key {key!r}: cannot parse {value!r}") from None
    if isinstance(current, bool) and not isinstance(value, bool):
        raise TrainConfigError(f"config key {key!r} takes true/false, got {value!r}")
    if isinstance(current, float) and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if isinstance(current, int) and not isinstance(current, bool) and isinstance(value, float) and value.is_integer():
        value = int(value)
    if current is not None and type(current) is not type(value) and not isinstance(current, dict):
        raise TrainConfigError(f"config key {key!r} takes {type(current).__name__}, got {value!r}")
    return value


def update(obj: Any, d: dict, prefix: str = "") -> None:
    if not isinstance(d, dict):
        raise TrainConfigError(f"config section {prefix or '<root>'} must be an object, got {type(d).__name__}")
    names = {f.name for f in fields(obj)}
    for key, value in d.items():
        if key not in names:
            raise TrainConfigError(f"unknown training config key {prefix + key!r}; known: {sorted(names)}")
        current = getattr(obj, key)
        if is_dataclass(current):
            update(current, value, prefix + key + ".")
        elif isinstance(current, dict):
            setattr(obj, key, {**current, **value})
        else:
            setattr(obj, key, coerce(value, current, prefix + key))


def load_config_file(path: str | os.PathLike) -> dict:
    try:
        d = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise TrainConfigError(f"cannot read training config {path}: {err}") from None
    if not isinstance(d, dict):
        raise TrainConfigError(f"{path}: a training config must be a JSON object")
    return d


def resolve(preset: str | None = None, config_file: str | None = None, flags: dict[str, Any] | None = None,
            overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Build a config in the documented order. ``flags`` maps dotted field names to values
    (the CLI passes only flags the user gave)."""
    file_d = load_config_file(config_file) if config_file else {}
    name = preset or file_d.get("preset") or "paper"
    cfg = preset_config(name)
    update(cfg, {k: v for k, v in file_d.items() if k not in ("preset", "model_config")})
    for key, value in (flags or {}).items():
        set_dotted(cfg, key, value)
    apply_overrides(cfg, overrides or {})
    return cfg.validate()
