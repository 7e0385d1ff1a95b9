"""The sync-style baseline objective (like GestSync): gesture against content, temporal synchrony only.

For each clip the positive is its own content (speech, in the ``sync`` ablation) at offset 0 and
the negatives are the same clip's gesture shifted by +-4..16 frames: no other clip is ever a
negative, so nothing in it asks clips to be told apart. The score of an offset is the mean over
words of the cosine between the word's content embedding and the mean gesture frame of its
(shifted) span, both in the local space. It is :class:`jegal.model.JEGAL`'s training objective
with ``loss.objective = "sync"``; such a model has no trained clip-level term, so its clip
vectors are read as the normalised mean of its frames / words (``JEGAL.embed``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

SYNC_OFFSETS = (-16, -12, -8, -4, 0, 4, 8, 12, 16)  # frames; 0 is the positive
SYNC_SCALE = 1 / 0.07  # fixed logit scale of the offset softmax (CLIP's initial temperature)


def sync_scores(gesture_frames: torch.Tensor, frame_mask: torch.Tensor, content_words: torch.Tensor,
                word_spans: torch.Tensor, word_mask: torch.Tensor,
                offsets: Sequence[int] = SYNC_OFFSETS) -> torch.Tensor:
    """(B, K) synchrony score of each clip's content with its own gesture shifted by each offset.

    gesture_frames (B, T, d), frame_mask (B, T), content_words (B, W, d) unit vectors,
    word_spans (B, W, 2) inclusive frame spans, word_mask (B, W). Word w's gesture at offset o
    is the mean of the frames in [s + o, e + o] (clipped to the clip's real frames); the score
    is the mean, over the words that keep at least one frame, of the cosine between that mean
    and the word's embedding. An offset that leaves no word any frame scores -inf."""
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


def sync_loss(scores: torch.Tensor, offsets: Sequence[int] = SYNC_OFFSETS, scale: float = SYNC_SCALE) -> torch.Tensor:
    """Mean over clips of the cross-entropy of offset 0 among ``offsets`` (scores (B, K) from
    :func:`sync_scores`). Chance level: log(K)."""
    target = torch.full((scores.shape[0],), list(offsets).index(0), device=scores.device)
    return F.cross_entropy(scores * scale, target)


def sync_objective(gesture_frames: torch.Tensor, frame_mask: torch.Tensor, content_words: torch.Tensor,
                   word_spans: torch.Tensor, word_mask: torch.Tensor) -> dict[str, torch.Tensor]:
    """The training output of the sync objective, with the keys of :class:`jegal.losses.JEGALLoss`'s
    (the terms it does not have are zero) so the training loop logs both alike.

    Each clip is scored against itself only, so with several processes no features are gathered:
    each rank's mean over its clips, averaged by DDP over ranks of equal batch size, is the
    global batch's mean."""
    loss = sync_loss(sync_scores(gesture_frames, frame_mask, content_words, word_spans, word_mask))
    zero = torch.zeros((), device=loss.device)
    scale = torch.tensor(SYNC_SCALE, device=loss.device)
    return {"loss": loss, "loss_sync": loss.detach(), "loss_global": zero, "loss_couple": zero, "loss_spot": zero,
            "loss_detect": zero, "loss_follow": zero, "logit_scale": scale, "couple_scale": scale}
