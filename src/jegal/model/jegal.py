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
from jegal.model.pretrained import model_files, model_identity, parse_modalities, resolve_model_dir
from jegal.model.spec import InputSpec
from jegal.model.speech import build_speech_encoder
from jegal.model.text import TextBackboneError, TextEncoder, backbone_hidden_size

CONFIG_FILE = "config.json"
CONTENT_GROUPS = ("ta", "t", "a")  # the content inputs a clip was encoded with: own clip-level statistics each
# How JEGAL.embed reads a model (JEGAL.readout): the spaces its frames / words and its clip vectors come from
READOUTS = {"both": "frames/words: local heads; clip vectors: global heads",
            "global": "frames/words and clip vectors: global heads",
            "local": "frames/words: local heads; clip vectors: normalised mean of the frames/words"}
WEIGHTS_FILE = "model.safetensors"
_UNCHECKED = object()  # JEGAL._text_problem before the text backbone was looked for


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
    >>> model = JEGAL.from_pretrained("demo_out")  # a model directory, a training run or jegal demo's output
    >>> model.input_spec, model.identity, model.text_available  # what it reads, its digest, text here or not
    """

    def __init__(self, config: JEGALConfig):
        """Build the modules of ``config`` (checked by :meth:`JEGALConfig.validate`, which returns a copy:
        ``config`` itself is never changed). ``self.config`` is that copy, with ``text.backbone_dim`` read
        from the backbone where it was None, and ``gesture.rgb_checkpoint`` consumed: the rgb backbone is
        initialised from it here and its weights are part of the model's own from then on."""
        super().__init__()
        config = config.validate()
        if "t" in config.content.modalities and config.text.backbone_dim is None:
            config.text.backbone_dim = backbone_hidden_size(config.text.backbone)
        rgb_checkpoint, config.gesture.rgb_checkpoint = config.gesture.rgb_checkpoint, None
        self.config = config
        d = config.d_model
        mods = config.content.modalities
        self.gesture = GestureEncoder(config.gesture)
        if rgb_checkpoint and config.gesture.frontend == "rgb" and config.gesture.architecture == "jegal":
            self.gesture.frontend.load_backbone(rgb_checkpoint)
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
        self.source_dir: Path | None = None  # the directory from_pretrained read it from
        self._identity: str | None = None
        self._text_problem: object = _UNCHECKED

    @property
    def device(self) -> torch.device:
        return next(self.gesture_align.parameters()).device

    # -- what the model is ------------------------------------------------------------------
    @property
    def input_spec(self) -> InputSpec:
        """What this model reads (:class:`jegal.model.spec.InputSpec`): its gesture front end and how that
        input is made, the log-mel kind, the rgb crop size, the feature extractor and its weights (from
        :attr:`source_dir`). Every caller that makes the model's inputs reads it here."""
        return InputSpec.from_config(self.config, self.source_dir)

    @property
    def identity(self) -> str | None:
        """The digest of the files this model was loaded from (:func:`jegal.model.pretrained.model_identity`
        of :attr:`source_dir`: config, weights, feature extractor weights), computed on first use; None for
        a model that was not loaded from a directory."""
        if self._identity is None and self.source_dir is not None:
            self._identity = model_identity(self.source_dir)
        return self._identity

    @property
    def text_problem(self) -> TextBackboneError | None:
        """Why this model cannot read text here, or None (it can, or it has no text encoder). Looks for the
        frozen text backbone on first use, in local copies only (the hub is never asked), and reads it when
        it is there; the answer is kept. For the released text head the error says how to run with speech
        only (``--modalities a``) or give it the backbone."""
        if self._text_problem is _UNCHECKED:
            self._text_problem = None if self.text is None else self.text.problem()
        return self._text_problem  # type: ignore[return-value]

    @property
    def text_available(self) -> bool:
        """Whether this model reads text here: it has a text encoder and its backbone is available."""
        return self.text is not None and self.text_problem is None

    @property
    def speech_only(self) -> bool:
        """Whether this model runs with speech only by default here: it was trained with speech, and its
        text head may run without its backbone (the released one, ``jegal import-released``: its
        xlm-roberta-base cannot be installed offline, docs/released.md), which is missing here."""
        return (self.text is not None and self.text.released and self.text_problem is not None
                and "a" in self.config.content.modalities)

    def load_text_backbone(self) -> "JEGAL":
        """Read the frozen text backbone now (it is read on first use otherwise), so a missing one fails
        here rather than in the middle of a job. Returns the model. Raises :attr:`text_problem` when the
        backbone is not available, except where the model runs with :attr:`speech_only`."""
        if self.text_problem is not None and not self.speech_only:
            raise self.text_problem
        return self

    def content_modalities(self, asked: str | None = None) -> str:
        """The content inputs to embed with: ``asked`` ("t", "a" or "ta"), or by default what the model was
        trained with ("a" for a model that runs with :attr:`speech_only` here). Raises ValueError when the
        model was not trained with ``asked``, and :attr:`text_problem` when ``asked`` holds text that the
        model cannot read here."""
        trained = self.config.content.modalities
        if asked is None:
            return "a" if self.speech_only else trained
        modalities = parse_modalities(asked, trained)
        if len(modalities) != 1:
            raise ValueError(f"one content input, t, a or ta, not {asked!r}")
        if "t" in modalities[0] and self.text_problem is not None:
            raise self.text_problem
        return modalities[0]

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
          word-discrimination, detection-contrast and speech-follows terms);
        - "clip": the same module with the global term alone (the config sets beta=1, spot_weight=0);
        - "sync": :func:`jegal.losses.sync.sync_objective` on the local frames and words.

        Returns loss, loss_global, loss_couple, loss_spot, loss_detect, loss_follow, loss_sync (zero where the
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
        word-level terms) its local heads are untrained, so it reads "global": frames
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
        if loss.objective == "clip" or (loss.beta >= 1.0 and loss.spot_weight == 0.0 and loss.detect_weight == 0.0):
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
        weights). A model loaded from a directory (:attr:`source_dir`) takes the other files it was
        loaded with along (e.g. ``gestsync.safetensors``, its feature extractor's weights). Each file is
        written atomically (:mod:`jegal.atomic`). Returns ``path``."""
        import shutil

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
        if self.source_dir is not None and self.source_dir.resolve() != path.resolve():
            for extra in model_files(self.source_dir):
                if extra.name not in (CONFIG_FILE, WEIGHTS_FILE):
                    with atomic_path(path / extra.name) as tmp:
                        shutil.copyfile(extra, tmp)
        return path

    @classmethod
    def from_pretrained(cls, path_or_run: str | os.PathLike, checkpoint: str = "final",
                        device: str | torch.device = "cpu", overrides: dict | None = None) -> "JEGAL":
        """The one loader: a model written by :meth:`save_pretrained`, in eval mode (``.train()`` to
        train it further), with the default runtime (:meth:`set_runtime` changes it).

        ``path_or_run``: a model directory (``config.json`` + ``model.safetensors``), a training run
        directory (its ``model/``, or ``best/`` with ``checkpoint="best"``), or ``jegal demo``'s output
        folder (its ``run/model``, ``run/best``); :func:`jegal.model.pretrained.model_dir_candidates`
        says in which order. The model remembers where it came from: :attr:`source_dir`, and its digest
        :attr:`identity`; its card (or None) is ``model.card``. ``overrides`` may change settings that do
        not touch weights (e.g. ``{"text.backbone": "/models/all-MiniLM-L6-v2"}`` for a backbone folder
        that moved). A ``config.json`` of the older layout still loads (:mod:`jegal.model.legacy`); a
        ``gesture.rgb_checkpoint`` in it is ignored (the rgb backbone's weights are in the state dict).

        Raises :class:`jegal.model.pretrained.ModelNotFound` (a FileNotFoundError) naming every directory
        looked in, ValueError for another ``checkpoint``, :class:`~jegal.model.config.ConfigError` for a
        config that does not build, damaged weights, or weights that do not fit the config. A damaged
        card only warns."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        path = resolve_model_dir(path_or_run, checkpoint)
        config = JEGALConfig.from_json(path / CONFIG_FILE)
        config.gesture.rgb_checkpoint = None  # a path on the machine that trained it: the weights are saved
        if overrides:
            config = config.with_overrides(overrides)
        model = cls(config)
        w_file = path / WEIGHTS_FILE
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
        model.source_dir = path
        return model.to(device).eval()

    @classmethod
    def from_preset(cls, name: str = "cpu", overrides: dict | None = None) -> "JEGAL":
        return cls(JEGALConfig.from_preset(name, overrides))
