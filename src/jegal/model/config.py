"""Model configuration: one dataclass per part, defaults are the paper's values.

Presets are small JSON files in ``jegal/presets/`` (``paper``, ``cpu``) holding only the
fields they change; :meth:`JEGALConfig.from_preset` lays them over the defaults, then
applies dotted overrides such as ``{"loss.beta": 1.0}`` (what the CLI's ``--set`` and the
ablations use).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

PRESET_DIR = Path(__file__).resolve().parent.parent / "presets"


class ConfigError(ValueError):
    """A configuration that cannot be built; the message names the field or file."""


@dataclass
class GestureConfig:
    frontend: str = "keypoints"  # "keypoints" | "rgb" | "features"
    d_model: int = 512  # d: the width of the joint embedding space
    layers: int = 6
    heads: int = 8
    ffn: int = 2048
    dropout: float = 0.1
    num_joints: int = 56  # jegal.data.keypoints.NUM_JOINTS
    conv_kernel: int = 5  # temporal receptive field of the keypoint front-end, in frames
    feature_dim: int = 1024  # input width of the "features" front-end
    rgb_channels: list[int] = field(default_factory=lambda: [32, 64, 128, 256])
    rgb_first_kernel: int = 5  # frames seen by the first 3D conv
    rgb_trainable: bool = True  # False freezes the 3D-conv backbone (the paper's setting)
    rgb_checkpoint: str | None = None  # safetensors state dict for the 3D-conv backbone
    # True: the clip vectors get their own encoder (front-end + Transformer), so the word-level
    # terms do not shape the features the clip-level space pools (measured no better: docs/model.md,
    # "Clips without text in the clip-level loss")
    separate_global: bool = False
    # False: no absolute frame positions in the temporal Transformer; a frame then knows its time
    # only through the front-end's few-frame receptive field, so spotting cannot lean on "word k of W
    # is near frame (k + 1/2) / W x T" (docs/evaluation.md, the word-order floor)
    positions: bool = True


@dataclass
class TextConfig:
    backbone: str = "all-MiniLM-L6-v2"  # packaged offline model; any local path or hub name
    backbone_dim: int | None = None  # hidden size of the backbone; read from its config when None
    head_dim: int | None = None  # width of the text head; None = backbone_dim (the paper's 768)
    layers: int = 3
    heads: int = 8
    ffn: int | None = None  # None = 4 * head_dim
    dropout: float = 0.1
    max_subwords: int = 128
    cache_size: int = 0  # clips whose frozen subword states are kept in memory (0 = off)


@dataclass
class SpeechConfig:
    # 2D CNN over the log-mel; the first two blocks stride 2 in time (4 mel frames -> 1 video frame).
    # The paper does not give the CNN's widths; these keep it a minor share of the step.
    channels: list[int] = field(default_factory=lambda: [32, 64, 128, 256])
    dropout: float = 0.1


@dataclass
class ContentConfig:
    fusion: str = "concat"  # "concat" | "avg"
    modalities: str = "ta"  # what the model is trained with: "ta" | "t" | "a"
    modality_dropout: float = 0.5  # p of zeroing one of speech/text per clip in training
    # False: with text present the clip vector (global space) is made from text alone and speech
    # feeds only the word-level space, where it cannot pair voices with bodies (docs/model.md)
    global_speech: bool = True
    # True (with global_speech false, trained on "ta"): in training the content clip vector always
    # comes from the text, whatever modality dropout removed from the words, and every clip also
    # gets a speech-only clip vector trained by its own InfoNCE against the gesture clip vectors held
    # fixed: speech learns to point into the gesture space without pulling it towards voices
    # (docs/model.md, "Clips without text in the clip-level loss")
    speech_clip_follows: bool = False
    dropout: float = 0.1


@dataclass
class LossConfig:
    beta: float = 0.5  # total = beta * global + (1 - beta) * coupling
    window: int = 10  # frames each side of a word in which its gesture may lead or lag
    gamma: float = 10.0  # sharpness of the windowed attention pooling softmax(gamma * g.c)
    logit_scale_init: float = 1 / 0.07
    logit_scale_max: float = 100.0
    couple_chunk: int = 32  # gathered clips per chunk of the N x N coupling scores (0 = one chunk)
    couple_checkpoint: bool = True  # recompute chunks in backward so peak memory stays ~ N x chunk
    # The local space (frames / words) must tell the words of one clip apart for spotting; the
    # coupling InfoNCE only rewards clip-level agreement (docs/model.md, "Word discrimination").
    local_centre: bool = False  # subtract each clip's mean frame / mean word before the local L2 norm
    spot_weight: float = 0.0  # weight of the within-clip word-discrimination term (0 = off)
    spot_temperature: float = 0.07  # its per-frame softmax over words: the spotting protocol's 0.07
    spot_negatives: str = "clip"  # that softmax runs over the words of the clip ("clip") or of the whole batch ("batch")
    # Standardise pooled clip features with batch statistics before the global heads, so the
    # clip-level InfoNCE cannot collapse to one vector per modality (docs/model.md, "The clip-level space").
    global_standardise: bool = False
    global_pool: str = "mean"  # frames / words -> clip vector: "mean" (paper) | "max"


@dataclass
class JEGALConfig:
    gesture: GestureConfig = field(default_factory=GestureConfig)
    text: TextConfig = field(default_factory=TextConfig)
    speech: SpeechConfig = field(default_factory=SpeechConfig)
    content: ContentConfig = field(default_factory=ContentConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    preset: str = ""

    @property
    def d_model(self) -> int:
        return self.gesture.d_model

    def validate(self) -> "JEGALConfig":
        g, c = self.gesture, self.content
        if g.frontend not in ("keypoints", "rgb", "features"):
            raise ConfigError(f"gesture.frontend must be keypoints, rgb or features, got {g.frontend!r}")
        if g.d_model % 2 or g.d_model % g.heads:
            raise ConfigError(f"gesture.d_model={g.d_model} must be even and divisible by gesture.heads={g.heads}")
        if c.fusion not in ("concat", "avg"):
            raise ConfigError(f"content.fusion must be concat or avg, got {c.fusion!r}")
        if c.modalities not in ("ta", "t", "a"):
            raise ConfigError(f"content.modalities must be ta, t or a, got {c.modalities!r}")
        if not 0.0 <= self.loss.beta <= 1.0:
            raise ConfigError(f"loss.beta must lie in [0, 1], got {self.loss.beta}")
        if c.speech_clip_follows and c.global_speech:
            raise ConfigError("content.speech_clip_follows needs content.global_speech=false: with speech in the "
                              "text clip vectors there is no separate speech-only clip vector to train")
        if not 0.0 <= c.modality_dropout <= 1.0:
            raise ConfigError(f"content.modality_dropout must lie in [0, 1], got {c.modality_dropout}")
        if self.loss.spot_weight < 0 or self.loss.spot_temperature <= 0:
            raise ConfigError("loss.spot_weight must be >= 0 and loss.spot_temperature > 0")
        if self.loss.global_pool not in ("mean", "max"):
            raise ConfigError(f"loss.global_pool must be mean or max, got {self.loss.global_pool!r}")
        if self.loss.spot_negatives not in ("clip", "batch"):
            raise ConfigError(f"loss.spot_negatives must be clip or batch, got {self.loss.spot_negatives!r}")
        if self.loss.couple_chunk < 0 or self.loss.window < 0:
            raise ConfigError("loss.couple_chunk and loss.window must be >= 0")
        return self

    # -- (de)serialisation ---------------------------------------------------------------
    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "JEGALConfig":
        cfg = cls()
        _update(cfg, d, prefix="")
        return cfg.validate()

    def to_json(self, path: str | os.PathLike) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def from_json(cls, path: str | os.PathLike) -> "JEGALConfig":
        try:
            d = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise ConfigError(f"cannot read model config {path}: {e}") from e
        return cls.from_dict(d)

    @classmethod
    def from_preset(cls, name: str = "cpu", overrides: dict[str, Any] | None = None) -> "JEGALConfig":
        """A preset by name (``paper``, ``cpu``) or a path to a JSON file, then dotted overrides."""
        path = Path(name)
        if not (path.suffix == ".json" and path.is_file()):
            path = PRESET_DIR / f"{name}.json"
        if not path.is_file():
            known = sorted(p.stem for p in PRESET_DIR.glob("*.json"))
            raise ConfigError(f"unknown preset {name!r}: expected one of {known} or a path to a .json file")
        cfg = cls.from_json(path)
        if not cfg.preset:
            cfg.preset = path.stem
        return cfg.with_overrides(overrides or {})

    def with_overrides(self, overrides: dict[str, Any]) -> "JEGALConfig":
        """A copy with dotted keys set, e.g. ``{"content.fusion": "avg", "loss.beta": 1.0}``.

        String values are parsed as JSON where the field is not a string, so CLI flags like
        ``--set loss.beta=1.0`` work unchanged."""
        cfg = JEGALConfig.from_dict(self.to_dict())
        for key, value in overrides.items():
            *parents, leaf = key.split(".")
            obj = cfg
            for p in parents:
                if not hasattr(obj, p) or not is_dataclass(getattr(obj, p)):
                    raise ConfigError(f"unknown config key {key!r}")
                obj = getattr(obj, p)
            names = {f.name: f for f in fields(obj)}
            if leaf not in names:
                raise ConfigError(f"unknown config key {key!r}; fields here: {sorted(names)}")
            setattr(obj, leaf, _coerce(value, getattr(obj, leaf), key))
        if "text.backbone" in overrides and "text.backbone_dim" not in overrides:
            cfg.text.backbone_dim = None  # another backbone: its width is read again from its config
        return cfg.validate()


def _coerce(value: Any, current: Any, key: str) -> Any:
    if isinstance(value, str) and not isinstance(current, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            if current is not None:
                raise ConfigError(f"config key {key!r}: cannot parse {value!r}") from None
    if isinstance(current, bool) and not isinstance(value, bool):
        raise ConfigError(f"config key {key!r} takes true/false, got {value!r}")
    if isinstance(current, float) and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    return value


def _update(obj: Any, d: dict, prefix: str) -> None:
    if not isinstance(d, dict):
        raise ConfigError(f"config section {prefix or '<root>'} must be an object, got {type(d).__name__}")
    names = {f.name for f in fields(obj)}
    for key, value in d.items():
        if key not in names:
            raise ConfigError(f"unknown config key {prefix + key!r}; known: {sorted(names)}")
        current = getattr(obj, key)
        if is_dataclass(current):
            _update(current, value, prefix + key + ".")
        else:
            setattr(obj, key, _coerce(value, current, prefix + key))
