"""The JEGAL model: gesture, text and speech encoders, fusion, the two embedding spaces, the loss.

Data flow (one batch from ``jegal.data.batch.collate_clips``)::

    gesture input ─ front-end ─ Transformer ─────────────────── frames (B, T, d)
    words ─ frozen HF backbone ─ text head ─ pool subwords ─┐
    log-mel ─ 2D CNN (time stride 4) ─ pool word frames ────┴─ fusion ─ words (B, W, d)
    frames, words ─ align heads ─ (centre per clip) ─ L2 ─ local space: coupling + spotting losses, heatmaps
    frames, words ─ global heads ─ masked mean ─ L2 ─ clip vectors: global loss, retrieval, ASD
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from jegal.losses.loss import JEGALLoss
from jegal.model.config import ConfigError, JEGALConfig
from jegal.model.fusion import ContentFusion
from jegal.model.gesture import GestureEncoder
from jegal.model.layers import BatchStandardise, masked_mean, span_matrix
from jegal.model.speech import SpeechEncoder
from jegal.model.text import TextEncoder

CONFIG_FILE = "config.json"
CONTENT_GROUPS = ("ta", "t", "a")  # the content inputs a clip was encoded with: own clip-level statistics each
WEIGHTS_FILE = "model.safetensors"


def _clip_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B, 1, d) masked mean of each clip's rows of x (B, L, d) for centring the local space;
    zero for a clip with fewer than two real rows, which centring would turn into a zero vector."""
    several = (mask.sum(-1) >= 2).to(x.dtype)[:, None, None]
    return masked_mean(x, mask[:, None, :]) * several


class JEGAL(nn.Module):
    """The tri-modal gesture / speech / text model.

    >>> model = JEGAL(JEGALConfig.from_preset("cpu"))
    >>> out = model(batch)                       # training: out["loss"], out["loss_global"], ...
    >>> emb = model.embed(batch, modalities="t")  # inference with text only
    """

    def __init__(self, config: JEGALConfig):
        super().__init__()
        config.validate()
        self.config = config
        d = config.d_model
        mods = config.content.modalities
        self.gesture = GestureEncoder(config.gesture)
        self.gesture_for_global = GestureEncoder(config.gesture) if config.gesture.separate_global else None
        self.text = TextEncoder(config.text, d // 2) if "t" in mods else None
        self.speech = SpeechEncoder(config.speech, d // 2) if "a" in mods else None
        self.fusion = ContentFusion(config.content, d)
        self.gesture_align = nn.Linear(d, d)
        self.content_align = nn.Linear(d, d)
        # standardised clip features need no bias: a shared offset is what collapse is made of
        standardise = config.loss.global_standardise
        self.gesture_global = nn.Linear(d, d, bias=not standardise)
        self.content_global = nn.Linear(d, d, bias=not standardise)
        self.gesture_standardise = BatchStandardise(d) if standardise else None
        self.content_standardise = BatchStandardise(d, groups=len(CONTENT_GROUPS)) if standardise else None
        self.loss = JEGALLoss(config.loss)

    @property
    def device(self) -> torch.device:
        return self.gesture_align.weight.device

    # -- encoders ----------------------------------------------------------------------------
    def _pool(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, L, d) frames or words -> (B, d): their mean, or with ``loss.global_pool = "max"``
        their per-feature maximum, which a short gesture (or one gestured word) moves as much in
        a long clip as in a short one."""
        if self.config.loss.global_pool == "max":
            return x.masked_fill(~mask[..., None], torch.finfo(x.dtype).min).amax(1) * (mask.any(1)[:, None])
        return masked_mean(x, mask[:, None, :])[:, 0]

    def _clip_vector(self, pooled: torch.Tensor, head: nn.Linear, standardise: BatchStandardise | None,
                     world_size: int, group: torch.Tensor | int = 0) -> torch.Tensor:
        """(B, d) pooled features -> (B, d) unit clip vectors in the global space."""
        if standardise is not None:
            pooled = standardise(pooled, group, world_size)
        return F.normalize(head(pooled), dim=-1)

    def encode_gesture(self, batch: dict, world_size: int = 1) -> dict[str, torch.Tensor]:
        """-> gesture_frames (B, T, d) unit vectors in the local space, gesture_clip (B, d), frame_mask.

        ``world_size`` > 1 in DDP training: clip-level batch statistics span every rank."""
        mask = batch["frame_mask"]
        x = self.gesture(batch)  # (B, T, d), zero on padding
        frames = self.gesture_align(x)  # (B, T, d)
        if self.config.loss.local_centre:  # the clip's static posture lives in the global space
            frames = frames - _clip_mean(frames, mask)
        frames = F.normalize(frames, dim=-1) * mask[..., None]
        if self.gesture_for_global is not None:
            x = self.gesture_for_global(batch)
        clip = self._clip_vector(self._pool(x, mask), self.gesture_global, self.gesture_standardise, world_size)
        return {"gesture_frames": frames, "gesture_clip": clip, "frame_mask": mask}

    def encode_content(self, batch: dict, modalities: str | None = None, modality_dropout: float = 0.0,
                       world_size: int = 1, speech_clip: bool = False) -> dict[str, torch.Tensor]:
        """-> content_words (B, W, d) unit vectors in the local space, content_clip (B, d), word_mask.

        ``modalities`` ("ta", "t", "a") picks the inputs used; default: what the model was trained with.
        ``speech_clip``: with ``content.speech_clip_follows`` also content_clip_speech (B, d), the
        speech-only clip vectors the loss trains (inference gets them with ``modalities="a"``)."""
        trained = self.config.content.modalities
        mods = modalities or trained
        if mods not in ("ta", "t", "a") or not set(mods) <= set(trained):
            raise ValueError(f"modalities={mods!r} not available: this model was trained with {trained!r}")
        word_mask, spans = batch["word_mask"], batch["word_spans"]
        B, W = word_mask.shape
        text = self.text(batch["words"], W) if "t" in mods else None  # (B, W, d/2)
        speech = None
        if "a" in mods:
            per_frame = self.speech(batch["mel"], batch["frame_mask"])  # (B, T, d/2)
            speech = masked_mean(per_frame, span_matrix(spans, word_mask, per_frame.shape[1]))  # (B, W, d/2)
        keep_text = keep_speech = None
        group: torch.Tensor | int = CONTENT_GROUPS.index(mods)
        if modality_dropout > 0 and mods == "ta":
            drop = torch.rand(B, device=word_mask.device) < modality_dropout
            drop_text = drop & (torch.rand(B, device=word_mask.device) < 0.5)
            keep_text, keep_speech = ~drop_text, ~(drop & ~drop_text)
            group = torch.where(drop, torch.where(drop_text, 2, 1), 0)  # index into CONTENT_GROUPS
        x = self.fusion(text, speech, keep_text, keep_speech) * word_mask[..., None]  # (B, W, d)
        words = self.content_align(x)  # (B, W, d)
        if self.config.loss.local_centre:  # what the words of a clip share lives in the global space
            words = words - _clip_mean(words, word_mask)
        words = F.normalize(words, dim=-1) * word_mask[..., None]
        out = {"content_words": words, "word_mask": word_mask}
        if mods != "ta" or self.config.content.global_speech:
            out["content_clip"] = self._content_clip(x, word_mask, group, world_size)
            return out
        # the clip vector from text alone (speech shapes only the words); from speech where the text
        # was dropped in training, unless speech has a clip vector of its own that follows (JEGALLoss)
        every = torch.ones(B, dtype=torch.bool, device=word_mask.device)
        follows = self.config.content.speech_clip_follows
        has_text = every if (keep_text is None or follows) else keep_text
        group = torch.where(has_text, CONTENT_GROUPS.index("t"), CONTENT_GROUPS.index("a"))
        x_clip = self.fusion(text, speech, has_text, ~has_text) * word_mask[..., None]
        out["content_clip"] = self._content_clip(x_clip, word_mask, group, world_size)
        if follows and speech_clip:
            x_speech = self.fusion(text, speech, ~every, every) * word_mask[..., None]
            out["content_clip_speech"] = self._content_clip(x_speech, word_mask, CONTENT_GROUPS.index("a"),
                                                            world_size)
        return out

    def _content_clip(self, x: torch.Tensor, word_mask: torch.Tensor, group: torch.Tensor | int,
                      world_size: int) -> torch.Tensor:
        return self._clip_vector(self._pool(x, word_mask), self.content_global, self.content_standardise, world_size,
                                 group)

    # -- training ----------------------------------------------------------------------------
    def forward(self, batch: dict, rank: int = 0, world_size: int = 1) -> dict[str, torch.Tensor]:
        """Training forward on a ``collate_clips`` batch: the total loss and its parts.

        With ``world_size > 1`` (torch.distributed initialised) negatives come from every rank."""
        batch = self._to_device(batch)
        g = self.encode_gesture(batch, world_size)
        c = self.encode_content(batch, modality_dropout=self.config.content.modality_dropout if self.training else 0.0,
                                world_size=world_size, speech_clip=True)
        return self.loss(g["gesture_frames"], g["frame_mask"], c["content_words"], batch["word_spans"],
                         c["word_mask"], g["gesture_clip"], c["content_clip"], rank=rank, world_size=world_size,
                         content_clip_speech=c.get("content_clip_speech"))

    # -- inference ---------------------------------------------------------------------------
    @torch.no_grad()
    def embed(self, batch: dict, modalities: str = "ta", parts: str = "gc") -> dict[str, torch.Tensor]:
        """Embeddings for inference (eval mode, no grad, no modality dropout).

        ``modalities``: content inputs, "ta" (both), "t" (text only) or "a" (speech only).
        ``parts``: "g" gesture, "c" content, "gc" both. Returns (all L2-normalised, on the model's device):
        gesture_frames (B, T, d), frame_mask (B, T), gesture_clip (B, d), content_words (B, W, d),
        word_mask (B, W), content_clip (B, d). Frames and words share the local space (spotting,
        heatmaps); the clip vectors share the global space (retrieval, ASD)."""
        was_training = self.training
        self.eval()
        try:
            batch = self._to_device(batch)
            out: dict[str, torch.Tensor] = {}
            if "g" in parts:
                out.update(self.encode_gesture(batch))
            if "c" in parts:
                out.update(self.encode_content(batch, modalities))
            return out
        finally:
            self.train(was_training)

    def _to_device(self, batch: dict) -> dict:
        dev = self.device
        return {k: v.to(dev, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}

    # -- bookkeeping -------------------------------------------------------------------------
    def num_parameters(self, trainable_only: bool = True) -> int:
        """Parameters of the module tree (the frozen text backbone is not part of it)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    def save(self, path: str | os.PathLike) -> Path:
        """Write ``path/config.json`` and ``path/model.safetensors`` (no frozen backbone weights:
        the config names the backbone). Files are written to temp names and renamed."""
        from safetensors.torch import save_file

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        tmp_w, tmp_c = path / (WEIGHTS_FILE + ".tmp"), path / (CONFIG_FILE + ".tmp")
        save_file(state, str(tmp_w), metadata={"format": "pt", "jegal_preset": self.config.preset})
        tmp_c.write_text(json.dumps(self.config.to_dict(), indent=2) + "\n")
        os.replace(tmp_w, path / WEIGHTS_FILE)
        os.replace(tmp_c, path / CONFIG_FILE)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike, device: str | torch.device = "cpu",
             overrides: dict | None = None) -> "JEGAL":
        """Load a directory written by :meth:`save`. ``overrides`` may change settings that do not
        touch weights (e.g. ``{"text.cache_size": 0}``)."""
        from safetensors.torch import load_file

        path = Path(path)
        cfg_file, w_file = path / CONFIG_FILE, path / WEIGHTS_FILE
        if not cfg_file.is_file() or not w_file.is_file():
            raise FileNotFoundError(f"{path} is not a saved JEGAL model: expected {CONFIG_FILE} and {WEIGHTS_FILE}")
        config = JEGALConfig.from_json(cfg_file)
        if overrides:
            config = config.with_overrides(overrides)
        model = cls(config)
        state = load_file(str(w_file), device="cpu")
        missing, unexpected = model.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise ConfigError(f"{w_file} does not fit its config: missing {missing[:5]}, unexpected {unexpected[:5]}")
        return model.to(device)

    @classmethod
    def from_preset(cls, name: str = "cpu", overrides: dict | None = None) -> "JEGAL":
        return cls(JEGALConfig.from_preset(name, overrides))
