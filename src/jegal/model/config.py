"""Model configuration: one dataclass per section; the defaults are the paper's model and objective.

Sections: ``gesture``, ``text``, ``speech`` (the encoders), ``content`` (fusion and what the
content clip vectors are made of), ``embedding`` (how the two embedding spaces are formed from
the encoders: these change the inference embeddings too) and ``loss`` (the training objective).
Everything here is saved with the weights (``config.json``); settings that only change speed or
memory (the text-state cache, the coupling chunk size and checkpointing) are not part of it:
they are set on a built model with :meth:`jegal.model.JEGAL.set_runtime`.

Presets are JSON files in ``jegal/presets/`` holding a ``model`` section (the fields that differ
from these defaults, or all of them) and a ``train`` section (read by :mod:`jegal.train.config`):

- ``paper``: the paper's model and objective as published (equal to these defaults);
- ``recommended``: the paper's sizes with this project's objective;
- ``cpu``: a small model that trains in minutes on 2 cores, with this project's objective.
- ``released``: the modules of the released checkpoint (``jegal import-released``, docs/released.md).

:meth:`JEGALConfig.from_preset` lays a preset over the defaults, then dotted overrides such as
``{"loss.beta": 1.0}`` (what the CLI's ``--set`` and the ablations use). The rules for keys and
values are :mod:`jegal.config`'s, shared with the training configuration. docs/model.md lists
every difference between the presets and the paper with the measurement behind it.
"""

from __future__ import annotations

import copy
import os
import warnings
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from jegal.atomic import write_json_atomic
from jegal.config import ConfigError, from_dict, pop_dotted, put_dotted, read_json_object, set_dotted, to_dict

__all__ = ["ConfigError", "GestureConfig", "TextConfig", "SpeechConfig", "ContentConfig", "EmbeddingConfig",
           "LossConfig", "JEGALConfig", "PRESET_DIR", "read_preset", "paper_objective_overrides"]

PRESET_DIR = Path(__file__).resolve().parent.parent / "presets"
PRESET_SECTIONS = ("about", "model", "train")  # the top-level keys of a preset file


ARCHITECTURES = ("jegal", "released")  # "released": the released checkpoint's modules (jegal.model.released)


@dataclass
class GestureConfig:
    # "released": the released gesture head on 1024-d GestSync features (frontend "features")
    architecture: str = "jegal"
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
    # False: no absolute frame positions in the temporal Transformer; a frame then knows its time
    # only through the front-end's few-frame receptive field, so spotting cannot lean on "word k of W
    # is near frame (k + 1/2) / W x T" (docs/evaluation.md, the word-order floor)
    positions: bool = True


@dataclass
class TextConfig:
    # "released": the released text head (no positions, no input projection: head width = backbone width)
    architecture: str = "jegal"
    backbone: str = "all-MiniLM-L6-v2"  # packaged offline model; any local path or hub name (paper: xlm-roberta-base)
    backbone_dim: int | None = None  # hidden size of the backbone; read from its config when None
    head_dim: int | None = 768  # width of the text head (paper: 768, XLM-R base's); None = backbone_dim
    layers: int = 3
    heads: int = 8
    ffn: int | None = None  # None = 4 * head_dim
    dropout: float = 0.1
    max_subwords: int = 128


@dataclass
class SpeechConfig:
    # "released": the released speech CNN; it reads the reference's log-mel (jegal.model.released.reference_log_mel)
    architecture: str = "jegal"
    # 2D CNN over the log-mel; the first two blocks stride 2 in time (4 mel frames -> 1 video frame).
    # The paper does not give the CNN's widths; these keep it a minor share of the step.
    channels: list[int] = field(default_factory=lambda: [32, 64, 128, 256])
    dropout: float = 0.1


@dataclass
class ContentConfig:
    # "released": concat fusion with speech first, Linear-ReLU-Linear (needs fusion "concat")
    architecture: str = "jegal"
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
class EmbeddingConfig:
    """How the two embedding spaces are made from the encoders' outputs (both off in the paper).

    These change the modules and what :meth:`jegal.model.JEGAL.embed` returns, not only training."""

    # "released": the reference's alignment heads (Linear-ReLU-Linear) and no global heads: one space,
    # clip vectors are the normalised mean of the frame / word embeddings (JEGAL.readout is "local")
    architecture: str = "jegal"

    # Subtract each clip's mean frame / mean word from the local heads' outputs before the L2 norm:
    # the local space must tell the words of one clip apart for spotting, and what is constant over
    # a clip (posture, voice, topic) cannot (docs/model.md, "Word discrimination in the local space").
    local_centre: bool = False
    # Standardise pooled clip features with batch statistics (running ones at inference) before the
    # then bias-free global heads, so the clip-level InfoNCE cannot collapse to one vector per
    # modality (docs/model.md, "The clip-level space").
    global_standardise: bool = False


@dataclass
class LossConfig:
    # What the model is trained for (saved with the weights, so the model knows which of its spaces
    # are trained: JEGAL.embed): "jegal" (the paper's objective, with beta and spot_weight below),
    # "clip" (the clip-level CLIP baseline: the global InfoNCE alone; sets beta=1, spot_weight=0) or
    # "sync" (the sync-style baseline, jegal.losses.sync: no clip-level term; sets beta=0, spot_weight=0)
    objective: str = "jegal"
    beta: float = 0.5  # total = beta * global + (1 - beta) * coupling
    window: int = 10  # frames each side of a word in which its gesture may lead or lag
    gamma: float = 10.0  # sharpness of the windowed attention pooling softmax(gamma * g.c)
    logit_scale_init: float = 1 / 0.07
    logit_scale_max: float = 100.0
    # Word discrimination (docs/model.md, "Word discrimination"): a per-frame softmax over
    # the words of the (gathered) batch, each clip's own words the targets; not in the paper (0 = off).
    spot_weight: float = 0.0
    spot_temperature: float = 0.07  # that softmax's temperature: the spotting protocol's 0.07


# loss.objective -> the (beta, spot_weight) it implies, None where they are free
OBJECTIVE_WEIGHTS: dict[str, tuple[float, float] | None] = {"jegal": None, "clip": (1.0, 0.0), "sync": (0.0, 0.0)}


# Keys of model configs written before the configuration was reorganised (issue 11). A saved
# config.json or a preset file that holds them still loads (moved keys are read at their new place,
# runtime settings are dropped, removed options must hold the one behaviour that is left); a dotted
# override that names one is refused with the new name, so scripts get corrected instead of ignored.
MOVED_KEYS = {"loss.local_centre": "embedding.local_centre",
              "loss.global_standardise": "embedding.global_standardise"}
RUNTIME_KEYS = {"text.cache_size": "text_cache_size", "loss.couple_chunk": "couple_chunk",
                "loss.couple_checkpoint": "couple_checkpoint"}
# removed key -> (the value whose behaviour is kept, None when any value loads the same model; why)
REMOVED_KEYS = {
    "loss.global_pool": ("mean", "clip vectors are the mean of frames / words (max pooling measured no better)"),
    "loss.spot_negatives": (None, "the word-discrimination term always takes its negatives from the whole batch "
                                  "(within-clip negatives spotted worse)"),
    "gesture.separate_global": (False, "the clip vectors pool the one gesture encoder's features (a separate "
                                       "clip-level encoder measured no better)"),
}


def legacy_key_message(key: str) -> str | None:
    """Why a dotted key of the old layout is not a key now, naming its replacement; None for other keys."""
    if key in MOVED_KEYS:
        return f"config key {key!r} is now {MOVED_KEYS[key]!r}"
    if key in RUNTIME_KEYS:
        name = RUNTIME_KEYS[key]
        return (f"config key {key!r} is a runtime setting now, not saved with the model: training "
                f"`--set {name}=VALUE` (TrainConfig.{name}), or JEGAL.set_runtime({name}=...)")
    if key in REMOVED_KEYS:
        return f"config key {key!r} was removed: {REMOVED_KEYS[key][1]} (docs/model.md)"
    return None


def _upgrade(d: dict, source: str) -> dict:
    """A copy of the nested model-config dict ``d`` with the old layout's keys handled (see MOVED_KEYS)."""
    d = copy.deepcopy(d)
    notes = []
    for old, new in MOVED_KEYS.items():
        found, value = pop_dotted(d, old)
        if found:
            if pop_dotted(d, new)[0]:  # (d is not used after the error)
                raise ConfigError(f"{source}: both {old!r} and its new name {new!r} are set; keep only {new!r}")
            put_dotted(d, new, value)
            notes.append(f"{old} -> {new}")
    for old in RUNTIME_KEYS:
        pop_dotted(d, old)  # speed / memory only: the loader of the model sets them (JEGAL.set_runtime)
    for old, (kept, why) in REMOVED_KEYS.items():
        found, value = pop_dotted(d, old)
        if found and kept is not None and value != kept:
            raise ConfigError(f"{source}: {old}={value!r} is no longer supported: {why} (docs/model.md); "
                              f"this model cannot be built")
    if notes:
        warnings.warn(f"{source}: read old config keys at their new place ({', '.join(notes)}); "
                      "save the config again to update it", UserWarning, stacklevel=3)
    return d


@dataclass
class JEGALConfig:
    gesture: GestureConfig = field(default_factory=GestureConfig)
    text: TextConfig = field(default_factory=TextConfig)
    speech: SpeechConfig = field(default_factory=SpeechConfig)
    content: ContentConfig = field(default_factory=ContentConfig)
    embedding: EmbeddingConfig = field(default_factory=EmbeddingConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    preset: str = ""

    @property
    def d_model(self) -> int:
        return self.gesture.d_model

    def validate(self) -> "JEGALConfig":
        g, c = self.gesture, self.content
        if g.frontend not in ("keypoints", "rgb", "features"):
            raise ConfigError(f"gesture.frontend must be keypoints, rgb or features, got {g.frontend!r}")
        for section in ("gesture", "text", "speech", "content", "embedding"):
            arch = getattr(self, section).architecture
            if arch not in ARCHITECTURES:
                raise ConfigError(f"{section}.architecture must be one of {list(ARCHITECTURES)}, got {arch!r}")
        if g.architecture == "released" and g.frontend != "features":
            raise ConfigError("gesture.architecture='released' reads per-frame GestSync features: "
                              f"gesture.frontend must be 'features', got {g.frontend!r}")
        t = self.text
        if t.architecture == "released" and t.head_dim is not None and t.backbone_dim is not None \
                and t.head_dim != t.backbone_dim:
            raise ConfigError(f"text.architecture='released' has no input projection: text.head_dim ({t.head_dim}) "
                              f"must equal text.backbone_dim ({t.backbone_dim}) or be null")
        if c.architecture == "released" and c.fusion != "concat":
            raise ConfigError(f"content.architecture='released' concatenates: content.fusion must be 'concat', "
                              f"got {c.fusion!r}")
        e = self.embedding
        if e.architecture == "released" and (e.local_centre or e.global_standardise):
            raise ConfigError("embedding.architecture='released' has no global heads: embedding.local_centre and "
                              "embedding.global_standardise must be false")
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
        if self.loss.window < 0:
            raise ConfigError(f"loss.window must be >= 0, got {self.loss.window}")
        if self.loss.objective not in OBJECTIVE_WEIGHTS:
            raise ConfigError(f"loss.objective must be one of {sorted(OBJECTIVE_WEIGHTS)}, got {self.loss.objective!r}")
        weights = OBJECTIVE_WEIGHTS[self.loss.objective]
        if weights is not None:  # a baseline has no weights to choose: the saved config says what it trained
            self.loss.beta, self.loss.spot_weight = weights
        return self

    # -- (de)serialisation ---------------------------------------------------------------
    def to_dict(self) -> dict:
        return to_dict(self)

    @classmethod
    def from_dict(cls, d: dict, source: str = "model config") -> "JEGALConfig":
        """Build from a nested dict (``to_dict``'s layout). Keys of the old layout are read as
        :data:`MOVED_KEYS` says (with a warning) or refused with their new name; unknown keys raise
        :class:`ConfigError` naming the key."""
        return from_dict(cls, _upgrade(d, source)).validate()

    def to_json(self, path: str | os.PathLike) -> None:
        write_json_atomic(path, self.to_dict())

    @classmethod
    def from_json(cls, path: str | os.PathLike) -> "JEGALConfig":
        """A model config file (``config.json`` beside saved weights, or ``to_json``'s output)."""
        return cls.from_dict(read_json_object(path, "model config"), source=str(path))

    @classmethod
    def from_preset(cls, name: str = "cpu", overrides: dict[str, Any] | None = None) -> "JEGALConfig":
        """A preset by name (``paper``, ``recommended``, ``cpu``) or a path to a JSON file (a preset
        file, or a plain model config such as a saved ``config.json``), then dotted overrides."""
        preset = read_preset(name)
        cfg = cls.from_dict(preset["model"], source=preset["path"])
        cfg.preset = cfg.preset or preset["name"]
        return cfg.with_overrides(overrides or {})

    def with_overrides(self, overrides: dict[str, Any]) -> "JEGALConfig":
        """A copy with dotted keys set, e.g. ``{"content.fusion": "avg", "loss.beta": 1.0}``.

        String values are parsed as JSON where the field is not a string, so CLI flags like
        ``--set loss.beta=1.0`` work unchanged. A key of the old layout (``loss.local_centre``)
        raises :class:`ConfigError` naming its new name."""
        cfg = JEGALConfig.from_dict(self.to_dict())
        for key, value in overrides.items():
            message = legacy_key_message(key)
            if message is not None:
                raise ConfigError(message)
            set_dotted(cfg, key, value)
        if "text.backbone" in overrides and "text.backbone_dim" not in overrides:
            cfg.text.backbone_dim = None  # another backbone: its width is read again from its config
        return cfg.validate()


def read_preset(name: str) -> dict[str, Any]:
    """The preset ``name`` (a file in :data:`PRESET_DIR`) or a path to a JSON file, as
    ``{"name", "path", "about", "model", "train"}``.

    A preset file holds ``model`` (model config fields, nested by section) and ``train``
    (training config fields, read by :mod:`jegal.train.config`) and optionally ``about``.
    Any other JSON object is taken as a plain model config (a saved ``config.json``) with no
    training part. Raises :class:`ConfigError` for an unknown name or an unreadable file."""
    path = Path(name)
    if not (path.suffix == ".json" and path.is_file()):
        path = PRESET_DIR / f"{name}.json"
    if not path.is_file():
        known = sorted(p.stem for p in PRESET_DIR.glob("*.json"))
        raise ConfigError(f"unknown preset {name!r}: expected one of {known} or a path to a .json file")
    d = read_json_object(path, "preset")
    if "model" in d or "train" in d:
        extra = sorted(set(d) - set(PRESET_SECTIONS))
        if extra:
            raise ConfigError(f"{path}: unknown preset section(s) {extra}; a preset holds {list(PRESET_SECTIONS)}")
        model, train = d.get("model", {}), d.get("train", {})
    else:
        model, train = d, {}
    for section, value in (("model", model), ("train", train)):
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: the preset's {section!r} section must be an object")
    return {"name": path.stem, "path": str(path), "about": d.get("about", ""), "model": model, "train": train}


def paper_objective_overrides() -> dict[str, Any]:
    """Dotted overrides that give any preset the paper's objective and embedding heads.

    Every field of the ``embedding`` and ``loss`` sections, and the ``content`` fields that
    decide what the clip vectors are made of and how modalities are dropped, set to the
    ``paper`` preset's values (= the dataclass defaults); the encoders' sizes are left alone.
    Used by the ``paper_objective`` ablation."""
    paper = JEGALConfig.from_preset("paper")
    out = {f"{section}.{f.name}": getattr(getattr(paper, section), f.name)
           for section in ("embedding", "loss") for f in fields(getattr(paper, section))}
    for name in ("modality_dropout", "global_speech", "speech_clip_follows"):
        out[f"content.{name}"] = getattr(paper.content, name)
    return out
