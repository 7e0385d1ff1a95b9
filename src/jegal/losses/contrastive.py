"""The global loss: symmetric InfoNCE between gesture and content clip vectors."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class LogitScale(nn.Module):
    """A learnable temperature, stored as its log (init ``init``), clamped to ``[1, max_value]``."""

    def __init__(self, init: float = 1 / 0.07, max_value: float = 100.0):
        super().__init__()
        self.log_scale = nn.Parameter(torch.tensor(math.log(init)))
        self.max_value = max_value

    def forward(self) -> torch.Tensor:
        return self.log_scale.exp().clamp(1.0, self.max_value)


def symmetric_info_nce(scores_ab: torch.Tensor, scores_ba: torch.Tensor, offset: int = 0) -> torch.Tensor:
    """InfoNCE in both directions for local rows against a global batch.

    ``scores_ab`` (n, N): this rank's a-clips (global rows ``offset .. offset+n``) against all
    b-clips; ``scores_ba`` (n, N) the same for b against a. The positive of local row k is global
    column ``offset + k``. Returns the mean over the n rows of both directions' cross-entropies."""
    labels = torch.arange(scores_ab.shape[0], device=scores_ab.device) + offset
    return 0.5 * (F.cross_entropy(scores_ab, labels) + F.cross_entropy(scores_ba, labels))


def global_scores(gesture_clip: torch.Tensor, content_clip: torch.Tensor, gesture_all: torch.Tensor,
                  content_all: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Cosines of local gesture clips vs all content clips (n, N), and local content vs all gesture (n, N)."""
    return gesture_clip @ content_all.T, content_clip @ gesture_all.T
