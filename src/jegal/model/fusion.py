"""Fusion of text and speech word features into content word features.

``concat`` joins the two d/2 halves into d (a missing modality is a zero half); ``avg``
averages the modalities present. Either is followed by an MLP to d. A model trained on one
modality (``content.modalities`` "t" or "a") fuses nothing: its MLP takes that half alone.
``architecture="released"`` is the released checkpoint's fusion: concat with **speech first**
(channels 0..d/2 speech, d/2..d text; a missing modality a zero half, whatever the model was
trained with), then Linear, ReLU, Linear.
"""

from __future__ import annotations

import torch
from torch import nn

from jegal.model.config import ContentConfig


class ContentFusion(nn.Module):
    def __init__(self, cfg: ContentConfig, d: int):
        super().__init__()
        self.fusion = cfg.fusion
        self.modalities = cfg.modalities
        self.half = d // 2
        self.released = cfg.architecture == "released"
        if self.released:
            self.mlp = nn.Sequential(nn.Linear(d, d), nn.ReLU(), nn.Linear(d, d))
            return
        in_dim = d if (cfg.fusion == "concat" and cfg.modalities == "ta") else self.half
        self.mlp = nn.Sequential(nn.Linear(in_dim, d), nn.GELU(), nn.Dropout(cfg.dropout), nn.Linear(d, d))

    def forward(self, text: torch.Tensor | None, speech: torch.Tensor | None,
                keep_text: torch.Tensor | None = None, keep_speech: torch.Tensor | None = None) -> torch.Tensor:
        """text, speech: (B, W, d/2) or None (absent); keep_*: (B,) bool per clip, None = keep all.

        Returns (B, W, d)."""
        ref = text if text is not None else speech
        if ref is None:
            raise ValueError("content fusion needs text, speech or both")
        B = ref.shape[0]
        kt = torch.zeros(B, device=ref.device) if text is None else \
            (torch.ones(B, device=ref.device) if keep_text is None else keep_text.to(ref.dtype))
        ks = torch.zeros(B, device=ref.device) if speech is None else \
            (torch.ones(B, device=ref.device) if keep_speech is None else keep_speech.to(ref.dtype))
        zeros = torch.zeros_like(ref)
        t = zeros if text is None else text * kt[:, None, None]
        s = zeros if speech is None else speech * ks[:, None, None]
        if self.released:
            x = torch.cat([s, t], -1)
        elif self.modalities != "ta":
            x = t if self.modalities == "t" else s
        elif self.fusion == "concat":
            x = torch.cat([t, s], -1)
        else:
            x = (t + s) / (kt + ks).clamp_min(1.0)[:, None, None]
        return self.mlp(x)
