"""The JEGAL model: gesture, text and speech encoders, fusion, the two embedding spaces, the loss.

Data flow (one batch from ``jegal.data.batch.collate_clips``)::

    gesture input ─ front-end ─ Transformer ─────────────────── frames (B, T, d)
    words ─ frozen HF backbone ─ text head ─ pool subwords ─┐
    log-mel ─ 2D CNN (time stride 4) ─ pool word frames ────┴─ fusion ─ words (B, W, d)
    frames, words ─ align heads ─ (centre per clip) ─ L2 ─ local space: coupling + spotting losses, heatmaps
    frames, words ─ global heads ─ masked mean ─ L2 ─ clip vectors: global loss, retrieval, ASD
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from jegal.atomic import atomic_path
from jegal.losses.loss import JEGALLoss
from jegal.losses.sync import sync_objective
from jegal.model.card import CardError, ModelCard, read_card, write_card
from jegal.model.config import ConfigError, JEGALConfig
from jegal.model.fusion import ContentFusion
from jegal.model.gesture import GestureEncoder
from jegal.model.layers import BatchStandardise, masked_mean, span_matrix
from jegal.model.speech import build_speech_encoder
from jegal.model.text import TextEncoder

CONFIG_FILE = "config.json"
CONTENT_GROUPS = ("ta", "t", "a")  # the content inputs a clip was encoded with: own clip-level statistics each
# How JEGAL.embed reads a model (JEGAL.readout): the spaces its frames / words and its clip vectors come from
READOUTS = {"both": "frames/words: local heads; clip vectors: global heads",
            "global": "frames/words and clip vectors: global heads",
            "local": "frames/words: local heads; clip vectors: normalised mean of the frames/words"}
WEIGHTS_FILE = "model.safetensors"


@dataclasses.dataclass(frozen=True)
class Runtime:
    """A model's runtime settings (:meth:`JEGAL.set_runtime`): speed and memory only."""

    text_cache_size: int = 0
    couple_chunk: int = 32
    couple_checkpoint: bool = True


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
    >>> model.set_runtime(text_cache_size=4096)  # speed / memory settings, not saved with the weights
    """

    def __init__(self, config: JEGALConfig):
        super().__init__()
        config.validate()
        self.config = config
        d = config.d_model
        mods = config.content.modalities
        self.gesture = GestureEncoder(config.gesture)
        self.text = TextEncoder(config.text, d // 2) if "t" in mods else None
        self.speech = build_speech_encoder(config.speech, d // 2) if "a" in mods else None
        self.fusion = ContentFusion(config.content, d)
        released = config.embedding.architecture == "released"
        if released:  # the reference's alignment heads and no global heads (jegal.model.released)
            from jegal.model.released import align_head

            self.gesture_align, self.content_align = align_head(d), align_head(d)
        else:
            self.gesture_align = nn.Linear(d, d)
            self.content_align = nn.Linear(d, d)
        # standardised clip features need no bias: a shared offset is what collapse is made of
        standardise = config.embedding.global_standardise
        self.gesture_global = None if released else nn.Linear(d, d, bias=not standardise)
        self.content_global = None if released else nn.Linear(d, d, bias=not standardise)
        self.gesture_standardise = BatchStandardise(d) if standardise else None
        self.content_standardise = BatchStandardise(d, groups=len(CONTENT_GROUPS)) if standardise else None
        self.loss = JEGALLoss(config.loss)
        self.runtime = Runtime()
        self.set_runtime()
        self.card: ModelCard | None = None  # the model card it was loaded with / last saved with

    @property
    def device(self) -> torch.device:
        return next(self.gesture_align.parameters()).device

    def set_runtime(self, text_cache_size: int | None = None, couple_chunk: int | None = None,
                    couple_checkpoint: bool | None = None) -> "JEGAL":
        """Settings that change speed and memory, never the numbers; not saved with the weights.

        ``text_cache_size``: clips whose frozen text-backbone states are kept in an in-memory LRU
        (0 = off; worth it when the same clips come back every epoch). ``couple_chunk``: gathered
        clips per chunk of the N x N coupling scores (0 = one chunk). ``couple_checkpoint``:
        recompute each chunk in backward, so peak memory stays ~ N x chunk. None keeps the current
        value (:class:`Runtime` holds the defaults). Returns the model. Raises ValueError for
        negative sizes."""
        changes = {k: v for k, v in (("text_cache_size", text_cache_size), ("couple_chunk", couple_chunk),
                                     ("couple_checkpoint", couple_checkpoint)) if v is not None}
        rt = dataclasses.replace(self.runtime, **changes)
        if rt.text_cache_size < 0 or rt.couple_chunk < 0:
            raise ValueError(f"text_cache_size and couple_chunk must be >= 0, got {rt}")
        self.runtime = rt
        if self.text is not None:
            self.text.backbone.resize_cache(rt.text_cache_size)
        self.loss.couple_chunk, self.loss.couple_checkpoint = rt.couple_chunk, rt.couple_checkpoint
        return self

    # -- encoders ----------------------------------------------------------------------------
    def _pool(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, L, d) frames or words -> (B, d): the mean over the real rows (the paper's pooling)."""
        return masked_mean(x, mask[:, None, :])[:, 0]

    def _clip_vector(self, pooled: torch.Tensor, head: nn.Linear, standardise: BatchStandardise | None,
                     world_size: int, group: torch.Tensor | int = 0) -> torch.Tensor:
        """(B, d) pooled features -> (B, d) unit clip vectors in the global space."""
        if standardise is not None:
            pooled = standardise(pooled, group, world_size)
        return F.normalize(head(pooled), dim=-1)

    def encode_gesture(self, batch: dict, world_size: int = 1) -> dict[str, torch.Tensor]:
        """-> gesture_frames (B, T, d) unit vectors in the local space, gesture_clip (B, d), frame_mask,
        gesture_features (B, T, d): the encoder output both heads read (``embed`` may read it differently).

        ``world_size`` > 1 in DDP training: clip-level batch statistics span every rank."""
        mask = batch["frame_mask"]
        x = self.gesture(batch)  # (B, T, d), zero on padding
        frames = self.gesture_align(x)  # (B, T, d)
        if self.config.embedding.local_centre:  # the clip's static posture lives in the global space
            frames = frames - _clip_mean(frames, mask)
        frames = F.normalize(frames, dim=-1) * mask[..., None]
        if self.gesture_global is None:  # one space: the clip vector is the direction of the mean frame
            clip = F.normalize(self._pool(frames, mask), dim=-1)
        else:
            clip = self._clip_vector(self._pool(x, mask), self.gesture_global, self.gesture_standardise, world_size)
        return {"gesture_frames": frames, "gesture_clip": clip, "frame_mask": mask, "gesture_features": x}

    def encode_content(self, batch: dict, modalities: str | None = None, modality_dropout: float = 0.0,
                       world_size: int = 1, speech_clip: bool = False) -> dict[str, torch.Tensor]:
        """-> content_words (B, W, d) unit vectors in the local space, content_clip (B, d), word_mask,
        content_features (B, W, d): the fused word features the heads read.

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
        if self.config.embedding.local_centre:  # what the words of a clip share lives in the global space
            words = words - _clip_mean(words, word_mask)
        words = F.normalize(words, dim=-1) * word_mask[..., None]
        out = {"content_words": words, "word_mask": word_mask, "content_features": x}
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
        if self.content_global is None:  # one space: the direction of the mean word embedding
            words = F.normalize(self.content_align(x), dim=-1) * word_mask[..., None]
            return F.normalize(self._pool(words, word_mask), dim=-1)
        return self._clip_vector(self._pool(x, word_mask), self.content_global, self.content_standardise, world_size,
                                 group)

    # -- training ----------------------------------------------------------------------------
    def forward(self, batch: dict, rank: int = 0, world_size: int = 1) -> dict[str, torch.Tensor]:
        """Training forward on a ``collate_clips`` batch: the loss ``loss.objective`` names, and its parts.

        - "jegal": :class:`jegal.losses.JEGALLoss`, beta * global + (1 - beta) * coupling (+ the
          word-discrimination and speech-follows terms);
        - "clip": the same module with the global term alone (the config sets beta=1, spot_weight=0);
        - "sync": :func:`jegal.losses.sync.sync_objective` on the local frames and words.

        Returns loss, loss_global, loss_couple, loss_spot, loss_follow, loss_sync (zero where the
        objective has no such term), logit_scale, couple_scale. With ``world_size > 1``
        (torch.distributed initialised) the contrastive negatives come from every rank."""
        batch = self._to_device(batch)
        sync = self.config.loss.objective == "sync"
        g = self.encode_gesture(batch, world_size)
        c = self.encode_content(batch, modality_dropout=self.config.content.modality_dropout if self.training else 0.0,
                                world_size=world_size, speech_clip=not sync)
        if sync:
            return sync_objective(g["gesture_frames"], g["frame_mask"], c["content_words"], batch["word_spans"],
                                  c["word_mask"])
        out = self.loss(g["gesture_frames"], g["frame_mask"], c["content_words"], batch["word_spans"],
                        c["word_mask"], g["gesture_clip"], c["content_clip"], rank=rank, world_size=world_size,
                        content_clip_speech=c.get("content_clip_speech"))
        out["loss_sync"] = torch.zeros((), device=out["loss"].device)
        return out

    # -- inference ---------------------------------------------------------------------------
    def readout(self, space: str | None = None) -> str:
        """The spaces :meth:`embed` reads, as a key of :data:`READOUTS`.

        ``space`` None: the spaces the training shaped. A model trained with both kinds of terms
        reads "both" (frames / words from the local heads, clip vectors from the global heads).
        Trained with the clip-level term alone (objective "clip", or beta=1 without the
        word-discrimination term) its local heads are untrained, so it reads "global": frames
        and words through the global heads too. Trained without a clip-level term (objective
        "sync", or beta=0) its global heads are untrained, so it reads "local": clip vectors are
        the normalised mean of its frames / words (docs/design.md section 7's clip vectors).
        "both", "global" or "local" force that readout; anything else raises ValueError. A model
        without global heads (``embedding.architecture="released"``) reads "local" only."""
        if self.gesture_global is None:
            if space not in (None, "local"):
                raise ValueError(f"space={space!r}: this model has no global heads (embedding.architecture="
                                 f"{self.config.embedding.architecture!r}); its only readout is 'local'")
            return "local"
        if space is not None:
            if space not in READOUTS:
                raise ValueError(f"space must be None or one of {sorted(READOUTS)}, got {space!r}")
            return space
        loss = self.config.loss
        if loss.objective == "clip" or (loss.beta >= 1.0 and loss.spot_weight == 0.0):
            return "global"
        if loss.objective == "sync" or loss.beta <= 0.0:
            return "local"
        return "both"

    @torch.no_grad()
    def embed(self, batch: dict, modalities: str = "ta", parts: str = "gc",
              space: str | None = None) -> dict[str, torch.Tensor]:
        """Embeddings for inference (eval mode, no grad, no modality dropout).

        ``modalities``: content inputs, "ta" (both), "t" (text only) or "a" (speech only).
        ``parts``: "g" gesture, "c" content, "gc" both. ``space``: which heads to read
        (:meth:`readout`; None: the ones the model's training shaped). Returns (all L2-normalised,
        on the model's device): gesture_frames (B, T, d), frame_mask (B, T), gesture_clip (B, d),
        content_words (B, W, d), word_mask (B, W), content_clip (B, d). Frames and words share one
        space (spotting, heatmaps), the clip vectors another (retrieval, ASD). Padding rows of
        frames and words are zero."""
        readout = self.readout(space)
        was_training = self.training
        self.eval()
        try:
            batch = self._to_device(batch)
            out: dict[str, torch.Tensor] = {}
            if "g" in parts:
                g = self.encode_gesture(batch)
                out.update(self._read(g, readout, "gesture_frames", "frame_mask", "gesture_clip",
                                      g.pop("gesture_features"), self.gesture_global))
            if "c" in parts:
                c = self.encode_content(batch, modalities)
                out.update(self._read(c, readout, "content_words", "word_mask", "content_clip",
                                      c.pop("content_features"), self.content_global))
            return out
        finally:
            self.train(was_training)

    @staticmethod
    def _read(enc: dict, readout: str, rows: str, mask: str, clip: str, features: torch.Tensor,
              global_head: nn.Linear) -> dict[str, torch.Tensor]:
        """One side's encoder output ``enc`` read as ``readout`` says: ``rows`` (B, L, d) through
        ``global_head`` from the pre-head ``features`` (B, L, d) for "global" (no centring and no
        batch standardisation, which belong to the local space and to clip means); ``clip`` (B, d)
        as the normalised mean of the real rows for "local"."""
        m = enc[mask][..., None].to(features.dtype)  # (B, L, 1)
        if readout == "global":
            enc[rows] = F.normalize(global_head(features), dim=-1) * m
        elif readout == "local":
            enc[clip] = F.normalize((enc[rows] * m).sum(1), dim=-1)
        return enc

    def _to_device(self, batch: dict) -> dict:
        dev = self.device
        return {k: v.to(dev, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}

    # -- bookkeeping -------------------------------------------------------------------------
    def num_parameters(self, trainable_only: bool = True) -> int:
        """Parameters of the module tree (the frozen text backbone is not part of it)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    def card_facts(self) -> dict:
        """What the model card says about the architecture (``ModelCard.model``), from the config."""
        c = self.config
        facts = {"gesture_frontend": c.gesture.frontend, "content_modalities": c.content.modalities,
                 "d_model": c.d_model, "trainable_parameters": self.num_parameters(),
                 "text_backbone": c.text.backbone if self.text is not None else None}
        archs = {s: getattr(c, s).architecture for s in ("gesture", "text", "speech", "content", "embedding")}
        if any(a != "jegal" for a in archs.values()):
            facts["architecture"] = archs
        return {k: v for k, v in facts.items() if v is not None}

    def save_pretrained(self, path: str | os.PathLike, card: ModelCard | dict | None = None) -> Path:
        """Write the model directory ``path``: ``config.json``, ``model.safetensors`` (no frozen
        backbone weights: the config names the backbone; no runtime settings: they are the loader's
        choice) and the model card, ``card.json`` + ``README.md`` (:mod:`jegal.model.card`).

        ``card``: a :class:`~jegal.model.card.ModelCard` or a dict of its fields (training data,
        steps, metrics, intended use, limits, ...); the preset, the objective and the architecture
        facts come from the config unless ``card`` sets them. Without ``card`` the card holds only
        those (an older card in ``path`` is replaced: its metrics were not measured on these
        weights). Each file is written atomically (:mod:`jegal.atomic`). Returns ``path``."""
        from safetensors.torch import save_file

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        with atomic_path(path / WEIGHTS_FILE) as tmp:
            save_file(state, str(tmp), metadata={"format": "pt", "jegal_preset": self.config.preset})
        self.config.to_json(path / CONFIG_FILE)
        base = ModelCard(preset=self.config.preset, objective=self.config.loss.objective, model=self.card_facts())
        self.card = base.merged(card)
        write_card(path, self.card)
        return path

    save = save_pretrained  # one mechanism; ``save`` is the older name

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike, device: str | torch.device = "cpu",
                        overrides: dict | None = None) -> "JEGAL":
        """Load a model directory written by :meth:`save_pretrained`, with the default runtime
        (:meth:`set_runtime` changes it); its card (or None) is ``model.card``.

        ``overrides`` may change settings that do not touch weights (e.g.
        ``{"text.backbone": "/models/all-MiniLM-L6-v2"}`` for a backbone folder that moved). A
        ``config.json`` written before the configuration was reorganised still loads (its moved keys
        are read at their new place; see :data:`jegal.model.config.MOVED_KEYS`). Raises
        ``FileNotFoundError`` for a missing directory or files (naming ``DIR/model`` when ``path``
        is a training run), :class:`~jegal.model.config.ConfigError` for a config that does not
        build, damaged weights, or weights that do not fit the config. A damaged card only warns."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        path = Path(path)
        if not path.is_dir():
            raise FileNotFoundError(f"{path}: no such model directory")
        cfg_file, w_file = path / CONFIG_FILE, path / WEIGHTS_FILE
        if not cfg_file.is_file() or not w_file.is_file():
            missing = " and ".join(f.name for f in (cfg_file, w_file) if not f.is_file())
            hint = (f"; {path} looks like a training run: its final model is {path / 'model'}"
                    if (path / "model" / CONFIG_FILE).is_file() else "")
            raise FileNotFoundError(f"{path} is not a saved JEGAL model: {missing} missing "
                                    f"(expected {CONFIG_FILE} and {WEIGHTS_FILE}){hint}")
        config = JEGALConfig.from_json(cfg_file)
        if overrides:
            config = config.with_overrides(overrides)
        model = cls(config)
        try:
            state = load_file(str(w_file), device="cpu")
        except SafetensorError as err:
            raise ConfigError(f"{w_file}: damaged or not a safetensors file ({err})") from None
        try:
            missing, unexpected = model.load_state_dict(state, strict=False)
        except RuntimeError as err:  # tensors of other shapes
            raise ConfigError(f"{w_file} does not fit its config: {str(err).splitlines()[-1].strip()}") from None
        if missing or unexpected:
            raise ConfigError(f"{w_file} does not fit its config: missing {missing[:5]}, unexpected {unexpected[:5]}")
        try:
            model.card = read_card(path)
        except CardError as err:
            warnings.warn(f"{err}; the model loads without its card", UserWarning, stacklevel=2)
        return model.to(device)

    load = from_pretrained  # one mechanism; ``load`` is the older name

    @classmethod
    def from_preset(cls, name: str = "cpu", overrides: dict | None = None) -> "JEGAL":
        return cls(JEGALConfig.from_preset(name, overrides))
