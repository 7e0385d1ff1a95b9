"""The paper's kinds of baselines, trained on the same data, and how each model is read.

- **clip-level gesture-text CLIP** (like CLIP4Clip / GestureDiffuCLIP fine-tuned): a JEGAL
  model trained with text only and the global loss only (``content.modalities=t``,
  ``loss.beta=1``): clip-level pairing, no word-level term. Trained by the ordinary
  :func:`jegal.train.loop.train`.
- **sync-style** (like GestSync): gesture against speech only, trained *only on temporal
  synchrony*: :func:`train_sync`. For each clip the positive is its own speech at offset 0
  and the negatives are the same clip's gesture shifted by +-4..16 frames (no other clip is
  ever a negative). The score of an offset is the mean over words of the cosine between the
  word's speech embedding and the gesture frames of its (shifted) span.

How a model is read (:class:`ModelView`, :func:`view_for`): the protocols use the space a
model's training actually shaped. A model trained with the global loss only has untrained
local ("align") heads, so its frame and word embeddings are taken through its *global*
heads; a model trained without the global loss (coupling only, sync-style) has untrained
global heads, so its clip vectors are the normalised mean of its frame / word embeddings
(DESIGN section 7's definition of retrieval clip vectors). Everything else is read as is.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

SYNC_OFFSETS = (-16, -12, -8, -4, 0, 4, 8, 12, 16)
SYNC_MARKER = "baseline.json"


# -- reading a model in the space it was trained in -----------------------------------------------
class ModelView:
    """Wraps a :class:`jegal.model.JEGAL` with ``embed`` reading other heads.

    ``frames="global"``: frame and word embeddings through the global heads.
    ``clips="local_mean"``: clip vectors = normalised mean of frame / word embeddings."""

    def __init__(self, model, frames: str = "local", clips: str = "global"):
        if frames not in ("local", "global") or clips not in ("global", "local_mean"):
            raise ValueError(f"ModelView: frames={frames!r}, clips={clips!r}")
        self.model, self.frames, self.clips = model, frames, clips

    @property
    def config(self):
        return self.model.config

    def describe(self) -> str:
        return f"frames/words: {self.frames} heads; clip vectors: {self.clips.replace('_', ' ')}"

    @contextlib.contextmanager
    def _global_as_local(self):
        m = self.model
        if self.frames != "global":
            yield
            return
        ga, ca = m.gesture_align, m.content_align
        m.gesture_align, m.content_align = m.gesture_global, m.content_global
        try:
            yield
        finally:
            m.gesture_align, m.content_align = ga, ca

    def embed(self, batch: dict, modalities: str = "ta", parts: str = "gc") -> dict:
        with self._global_as_local():
            out = self.model.embed(batch, modalities=modalities, parts=parts)
        if self.clips == "local_mean":
            if "gesture_frames" in out:
                m = out["frame_mask"].to(out["gesture_frames"].dtype)[..., None]
                out["gesture_clip"] = F.normalize((out["gesture_frames"] * m).sum(1), dim=-1)
            if "content_words" in out:
                m = out["word_mask"].to(out["content_words"].dtype)[..., None]
                out["content_clip"] = F.normalize((out["content_words"] * m).sum(1), dim=-1)
        return out


def view_for(model, model_dir: str | os.PathLike | None = None) -> ModelView:
    """The view that reads ``model`` in the spaces its training shaped (module docstring)."""
    marker = Path(model_dir) / SYNC_MARKER if model_dir is not None else None
    if marker is not None and marker.is_file():
        kind = json.loads(marker.read_text()).get("kind")
        if kind == "sync":
            return ModelView(model, frames="local", clips="local_mean")
    beta = float(model.config.loss.beta)
    if beta >= 1.0:
        return ModelView(model, frames="global", clips="global")
    if beta <= 0.0:
        return ModelView(model, frames="local", clips="local_mean")
    return ModelView(model)


# -- the sync-style baseline -------------------------------------------------------------------
def sync_scores(gesture_frames: torch.Tensor, frame_mask: torch.Tensor, content_words: torch.Tensor,
                word_spans: torch.Tensor, word_mask: torch.Tensor, offsets=SYNC_OFFSETS) -> torch.Tensor:
    """(B, K) synchrony score of each clip's speech with its own gesture shifted by each offset.

    Word w's gesture at offset o is the mean of the frames in [s + o, e + o] (clipped to the
    clip); the score is the mean over words that keep at least one frame of the cosine with
    the word's content embedding. An offset that leaves no word any frame scores -inf."""
    B, T, _ = gesture_frames.shape
    t = torch.arange(T, device=gesture_frames.device)
    lengths = frame_mask.sum(1)  # (B,)
    scores = []
    for o in offsets:  # a handful of offsets, each one batched matmul
        s = word_spans[..., 0:1] + o  # (B, W, 1)
        e = word_spans[..., 1:2] + o
        inside = (t >= s) & (t <= e) & (t < lengths[:, None, None]) & word_mask[..., None]  # (B, W, T)
        m = inside.to(gesture_frames.dtype)
        count = m.sum(-1)  # (B, W)
        pooled = torch.bmm(m, gesture_frames) / count.clamp_min(1.0)[..., None]  # (B, W, d)
        cos = (F.normalize(pooled, dim=-1) * content_words).sum(-1)  # (B, W)
        valid = count > 0
        n = valid.sum(1)
        score = (cos * valid).sum(1) / n.clamp_min(1)
        scores.append(torch.where(n > 0, score, torch.full_like(score, float("-inf"))))
    return torch.stack(scores, 1)


def sync_loss(scores: torch.Tensor, offsets=SYNC_OFFSETS, scale: float = 1 / 0.07) -> torch.Tensor:
    target = torch.full((scores.shape[0],), list(offsets).index(0), device=scores.device)
    return F.cross_entropy(scores * scale, target)


def train_sync(corpus: str | os.PathLike, out: str | os.PathLike, epochs: int = 1, max_steps: int = 0,
               batch_size: int = 32, lr: float = 1e-3, seed: int = 0, model_overrides: dict | None = None,
               progress: bool = True, threads: int = 0) -> dict:
    """Train the sync-style baseline on ``corpus`` (a shard dir, or a corpus dir with ``train/``)
    and save it to ``out/model`` with a ``baseline.json`` marker. Returns a summary."""
    from tqdm.auto import tqdm

    from jegal.model import JEGAL, JEGALConfig
    from jegal.train.data import ClipStream, index_shards

    if threads:
        torch.set_num_threads(threads)
    corpus, out = Path(corpus), Path(out)
    train_dir = corpus / "train" if (corpus / "train").is_dir() else corpus
    torch.manual_seed(seed)
    overrides = {"content.modalities": "a", "content.modality_dropout": 0.0, **(model_overrides or {})}
    model = JEGAL(JEGALConfig.from_preset("cpu", overrides))
    model.train()
    index = index_shards(train_dir)
    stream = ClipStream(index, batch_size, seed=seed, shuffle_buffer=500)
    steps_per_epoch = stream.num_batches()
    total = max_steps or epochs * steps_per_epoch
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=1e-4, betas=(0.9, 0.98), eps=1e-6)
    warmup = min(30, max(1, total // 10))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + np.cos(np.pi * min(1.0, s / max(1, total)))))
    t0 = time.perf_counter()
    step, losses, skipped = 0, [], 0
    bar = tqdm(total=total, desc="train sync baseline", unit="step", disable=not progress)
    epoch = 0
    while step < total:
        stream.set_epoch(epoch)
        for item in stream:
            if step >= total:
                break
            skipped += len(item["skipped"])
            batch = item["batch"]
            if batch is None:
                continue
            g = model.encode_gesture(batch)
            c = model.encode_content(batch, "a")
            scores = sync_scores(g["gesture_frames"], g["frame_mask"], c["content_words"], batch["word_spans"],
                                 c["word_mask"])
            loss = sync_loss(scores)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            losses.append(loss.item())
            step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{losses[-1]:.3f}")
        epoch += 1
    bar.close()
    model.save(out / "model")
    summary = {"kind": "sync", "offsets": list(SYNC_OFFSETS), "steps": step, "epochs": epoch, "skipped": skipped,
               "final_loss": float(np.mean(losses[-10:])) if losses else None,
               "chance_loss": float(np.log(len(SYNC_OFFSETS))), "train_seconds": round(time.perf_counter() - t0, 1)}
    tmp = out / "model" / f".{SYNC_MARKER}.tmp"
    tmp.write_text(json.dumps(summary, indent=2) + "\n")
    os.replace(tmp, out / "model" / SYNC_MARKER)
    return summary
