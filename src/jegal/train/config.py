"""Training configuration: dataclasses whose defaults are the paper's recipe.

Resolution order (later wins): dataclass defaults < the preset's ``train`` section (the preset
file also holds the model: ``jegal/presets/{paper,recommended,cpu}.json``, or a path) <
``--config FILE`` (JSON, any subset of the fields of :class:`TrainConfig`) < explicit CLI flags <
``--set key=value`` overrides. A ``--set`` key whose first part is a training section (``data.``,
``optim.``) or a top-level training field sets that field; any other key (``loss.beta``,
``content.fusion``, ...) is a dotted model override applied to the model preset. Keys and values
follow :mod:`jegal.config`, the same rules as the model configuration. The resolved config,
including the full model config, is written to ``RUN_DIR/train_config.json``.

Runtime settings of the model (``text_cache_size``, ``couple_chunk``, ``couple_checkpoint``) are
training fields: they change speed and memory, never the result, so they are not saved with the
weights (the loop applies them with :meth:`jegal.model.JEGAL.set_runtime`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from typing import Any

from jegal.atomic import write_json_atomic
from jegal.config import ConfigError, pop_dotted, read_json_object, set_dotted, to_dict, update
from jegal.model.config import JEGALConfig, read_preset

DEFAULT_PRESET = "recommended"  # the paper's sizes and recipe with this project's objective


class TrainConfigError(ConfigError):
    """A training configuration or run that cannot be used; the message names the field or file."""


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
    preset: str = DEFAULT_PRESET  # preset name or file: its train section, and the model unless model_preset is set
    model_preset: str = ""  # "" = preset
    model: dict = field(default_factory=dict)  # dotted model overrides, e.g. {"loss.beta": 1.0}
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    # A run stops at the first of these limits (0 = none; at least one must be set). A preset's
    # epochs are a default length: resolve() drops them when max_steps is given and epochs is not.
    epochs: int = 10
    max_steps: int = 0  # stop after this many optimiser steps
    max_seconds: float = 0.0  # time budget, checked after every step; the lr schedule ends with it (jegal.train.loop)
    seed: int = 0
    device: str = "auto"  # "auto" (cuda if available), "cpu", "cuda", "cuda:1", ...
    precision: str = "auto"  # "auto" (bf16 on CUDA, fp32 on CPU) | "fp32" | "bf16" | "fp16"
    threads: int = 0  # torch CPU threads per process (0 = CPUs / local processes)
    # model runtime (JEGAL.set_runtime): speed and memory only, not saved with the weights
    text_cache_size: int = 0  # clips whose frozen text-backbone states are kept in memory (0 = off)
    couple_chunk: int = 32  # gathered clips per chunk of the N x N coupling scores (0 = one chunk)
    couple_checkpoint: bool = True  # recompute coupling chunks in backward: peak memory ~ N x chunk
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

    def runtime(self) -> dict[str, Any]:
        """The keyword arguments of :meth:`jegal.model.JEGAL.set_runtime` this run uses."""
        return {"text_cache_size": self.text_cache_size, "couple_chunk": self.couple_chunk,
                "couple_checkpoint": self.couple_checkpoint}

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
        if self.data.batch_size < 1:
            raise TrainConfigError(f"data.batch_size must be >= 1, got {self.data.batch_size}")
        if min(self.epochs, self.max_steps, self.max_seconds) < 0 or not (self.epochs or self.max_steps
                                                                          or self.max_seconds):
            raise TrainConfigError("epochs, max_steps and max_seconds must be >= 0 (0 = no limit) and one of them "
                                   f"positive, got {self.epochs}, {self.max_steps}, {self.max_seconds}")
        if self.text_cache_size < 0 or self.couple_chunk < 0:
            raise TrainConfigError("text_cache_size and couple_chunk must be >= 0 (0 = off / one chunk)")
        self.model_config()  # raises ConfigError naming a bad model key
        return self

    def to_dict(self) -> dict:
        d = to_dict(self)
        d["model_config"] = self.model_config().to_dict()  # for the record; not read back
        return d

    def save(self, path: str | os.PathLike) -> None:
        write_json_atomic(path, self.to_dict())

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        """A saved ``train_config.json`` (its ``model_config`` record is ignored) or any subset.

        ``data.speakers_per_batch``, a removed option, is read when it is 0 (off) and refused otherwise."""
        cfg = cls()
        update(cfg, _upgrade(d))
        return cfg


def _upgrade(d: dict) -> dict:
    """``d`` without the ``model_config`` record and with the old layout's training keys handled."""
    d = {k: (dict(v) if isinstance(v, dict) else v) for k, v in d.items() if k != "model_config"}
    found, value = pop_dotted(d, "data.speakers_per_batch")
    if found and value:
        raise TrainConfigError(f"data.speakers_per_batch={value} was removed: speaker-grouped batches measured no "
                               "better (docs/train.md); drop the key")
    return d


def preset_config(name: str) -> TrainConfig:
    """The defaults with the ``train`` section of the preset ``name`` (a name or a JSON path) laid over them."""
    cfg = TrainConfig()
    preset = read_preset(name)
    try:
        update(cfg, _upgrade(preset["train"]))
    except ConfigError as err:
        raise TrainConfigError(f"{preset['path']}, section 'train': {err}") from None
    cfg.preset = name
    return cfg


TRAIN_KEYS = {f.name for f in fields(TrainConfig)} - {"model"}


def apply_overrides(cfg: TrainConfig, overrides: dict[str, Any]) -> TrainConfig:
    """Dotted ``key=value`` pairs: training fields by name, anything else a model override."""
    for key, value in overrides.items():
        if key.split(".", 1)[0] in TRAIN_KEYS:
            set_dotted(cfg, key, value)
        else:
            cfg.model[key.removeprefix("model.")] = value
    return cfg


def resolve(preset: str | None = None, config_file: str | None = None, flags: dict[str, Any] | None = None,
            overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Build a config in the documented order. ``flags`` maps dotted field names to values
    (the CLI passes only flags the user gave)."""
    file_d = read_json_object(config_file, "training config") if config_file else {}
    name = preset or file_d.get("preset") or DEFAULT_PRESET
    cfg = preset_config(name)
    update(cfg, _upgrade({k: v for k, v in file_d.items() if k != "preset"}))
    for key, value in (flags or {}).items():
        set_dotted(cfg, key, value)
    apply_overrides(cfg, overrides or {})
    if cfg.max_steps and "epochs" not in {*file_d, *(flags or {}), *(overrides or {})}:
        cfg.epochs = 0  # max_steps sets the length; the preset's epochs would cut it short unasked
    return cfg.validate()
