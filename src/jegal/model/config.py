"""Model configuration: one dataclass per section; the defaults are the paper's model and objective.

Sections: ``gesture``, ``text``, ``speech`` (the encoders), ``content`` (fusion and what the
content clip vectors are made of), ``embedding`` (how the two embedding spaces are formed from
the encoders: these change the inference embeddings too) and ``loss`` (the training objective).
Everything here is saved with the weights (``config.json``); settings that only change speed or
memory (the text-state cache, the coupling chunk size and checkpointing) are not part of it:
they are set on a built model with :meth:`jegal.model.JEGAL.set_runtime`.

The ``loss`` section is :class:`jegal.losses.config.LossConfig` (it lives with the losses). Presets
are JSON files in ``jegal/presets/`` (read by :mod:`jegal.model.presets`) holding a ``model``
section (the fields that differ from these defaults, or all of them) and a ``train`` section (read
by :mod:`jegal.train.config`):

- ``paper``: the paper's model and objective as published (equal to these defaults);
- ``recommended``: the paper's sizes with this project's objective;
- ``cpu``: a small model that trains in minutes on 2 cores, with this project's objective.
- ``released``: the modules of the released checkpoint (``jegal import-released``, docs/released.md).

:meth:`JEGALConfig.from_preset` lays a preset over the defaults, then dotted overrides such as
``{"loss.beta": 1.0}`` (what the CLI's ``--set`` and the ablations use). The rules for keys and
values are :mod:`jegal.config`'s, shared with the training configuration; keys of the older layout
are read by :mod:`jegal.model.legacy`. docs/model.md lists every difference between the presets and
the paper with the measurement behind it.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from typing import Any

from jegal.atomic import write_json_atomic
from jegal.config import ConfigError, from_dict, read_json_object, set_dotted, to_dict
from jegal.losses.config import OBJECTIVE_WEIGHTS, LossConfig
from jegal.model.legacy import legacy_key_message, upgrade
from jegal.model.presets import PRESET_DIR, paper_objective_overrides, read_preset

__all__ = ["ConfigError", "GestureConfig", "TextConfig", "SpeechConfig", "ContentConfig", "EmbeddingConfig",
           "LossConfig", "JEGALConfig", "OBJECTIVE_WEIGHTS", "PRESET_DIR", "read_preset", "paper_objective_overrides",
           "GESTURE_FRONTENDS", "DEFAULT_RGB_SIZE"]

GESTURE_FRONTENDS = ("keypoints", "rgb", "features")
DEFAULT_RGB_SIZE = 112  # pixels of the square person crops an rgb model reads (jegal prepare --rgb-size's default)
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
    rgb_size: int = DEFAULT_RGB_SIZE  # side of the square face-masked person crops (pixels) the rgb front end reads
    # A safetensors state dict that initialises the 3D-conv backbone of a *new* model (training). Not saved:
    # once built, the backbone's weights are part of the model's own weights (JEGAL.save_pretrained).
    rgb_checkpoint: str | None = None
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
        """A checked copy of this config; ``self`` is never changed. The copy's ``loss`` holds the
        weights its objective implies (:meth:`jegal.losses.config.LossConfig.validated`). Raises
        :class:`ConfigError` naming the first offending key."""
        cfg = copy.deepcopy(self)
        cfg._check_sections()
        cfg.loss = cfg.loss.validated()
        return cfg

    def _check_sections(self) -> None:
        """The checks of the encoder, content and embedding sections (the loss checks its own)."""
        g, c = self.gesture, self.content
        if g.frontend not in GESTURE_FRONTENDS:
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
        if g.frontend == "rgb" and g.rgb_size < 8:
            raise ConfigError(f"gesture.rgb_size must be at least 8 pixels, got {g.rgb_size}")
        if g.d_model % 2 or g.d_model % g.heads:
            raise ConfigError(f"gesture.d_model={g.d_model} must be even and divisible by gesture.heads={g.heads}")
        if c.fusion not in ("concat", "avg"):
            raise ConfigError(f"content.fusion must be concat or avg, got {c.fusion!r}")
        if c.modalities not in ("ta", "t", "a"):
            raise ConfigError(f"content.modalities must be ta, t or a, got {c.modalities!r}")
        if c.speech_clip_follows and c.global_speech:
            raise ConfigError("content.speech_clip_follows needs content.global_speech=false: with speech in the "
                              "text clip vectors there is no separate speech-only clip vector to train")
        if not 0.0 <= c.modality_dropout <= 1.0:
            raise ConfigError(f"content.modality_dropout must lie in [0, 1], got {c.modality_dropout}")

    # -- (de)serialisation ---------------------------------------------------------------
    def to_dict(self) -> dict:
        return to_dict(self)

    @classmethod
    def from_dict(cls, d: dict, source: str = "model config") -> "JEGALConfig":
        """Build from a nested dict (``to_dict``'s layout). Keys of the old layout are read as
        :data:`jegal.model.legacy.MOVED_KEYS` says (with a warning) or refused with their new name; unknown keys raise
        :class:`ConfigError` naming the key."""
        return from_dict(cls, upgrade(d, source)).validate()

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
