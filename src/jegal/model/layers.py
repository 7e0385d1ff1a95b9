"""Building blocks shared by the encoders: a pre-norm Transformer on fused attention,
sinusoidal positions, and the vectorised span pooling every word-level feature uses."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class TransformerBlock(nn.Module):
    """Pre-norm self-attention + FFN; attention through ``F.scaled_dot_product_attention``."""

    def __init__(self, d: int, heads: int, ffn: int, dropout: float):
        super().__init__()
        if d % heads:
            raise ValueError(f"width {d} is not divisible by {heads} heads")
        self.heads = heads
        self.norm1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)
        self.norm2 = nn.LayerNorm(d)
        self.ff = nn.Sequential(nn.Linear(d, ffn), nn.GELU(), nn.Dropout(dropout), nn.Linear(ffn, d))
        self.drop = nn.Dropout(dropout)
        self.attn_dropout = dropout

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        # x (B, L, d); mask (B, L) True on real positions
        B, L, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(B, L, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        attn_mask = mask[:, None, None, :]  # (B, 1, 1, L): every query sees only real keys
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask,
                                           dropout_p=self.attn_dropout if self.training else 0.0)
        x = x + self.drop(self.out(a.transpose(1, 2).reshape(B, L, d)))
        return x + self.drop(self.ff(self.norm2(x)))


class TransformerStack(nn.Module):
    def __init__(self, d: int, layers: int, heads: int, ffn: int, dropout: float):
        super().__init__()
        self.blocks = nn.ModuleList(TransformerBlock(d, heads, ffn, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(d)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = x + sinusoidal_positions(x.shape[1], x.shape[2], x.device, x.dtype)
        for block in self.blocks:
            x = block(x, mask)
        return self.norm(x)


class ChannelNorm(nn.Module):
    """LayerNorm over the channel axis (dim 1) at every other position: unlike GroupNorm or
    BatchNorm it never mixes time steps, so padding frames cannot leak into real ones."""

    def __init__(self, channels: int):
        super().__init__()
        self.norm = nn.LayerNorm(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.movedim(1, -1)).movedim(-1, 1)


def sinusoidal_positions(length: int, d: int, device, dtype) -> torch.Tensor:
    """(length, d) fixed sinusoidal positions: any clip length, no parameters."""
    pos = torch.arange(length, device=device, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, d, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / d))
    pe = torch.zeros(length, d, device=device, dtype=torch.float32)
    pe[:, 0::2] = torch.sin(pos * freq)
    pe[:, 1::2] = torch.cos(pos * freq[: d // 2])
    return pe.to(dtype)


def span_matrix(spans: torch.Tensor, word_mask: torch.Tensor, length: int) -> torch.Tensor:
    """(B, W, length) bool: position t lies in word w's inclusive span [start, end].

    ``spans`` (B, W, 2); padding words (``word_mask`` False) cover nothing."""
    t = torch.arange(length, device=spans.device)
    inside = (t >= spans[..., :1]) & (t <= spans[..., 1:])  # (B, W, length)
    return inside & word_mask[..., None]


def masked_mean(x: torch.Tensor, membership: torch.Tensor) -> torch.Tensor:
    """Mean of the rows of ``x`` (B, L, d) selected by ``membership`` (B, G, L) -> (B, G, d).

    One batched matmul; a group with no member gets zeros."""
    m = membership.to(x.dtype)
    count = m.sum(-1, keepdim=True).clamp_min(1.0)
    return torch.bmm(m, x) / count


def group_matrix(index: torch.Tensor, groups: int) -> torch.Tensor:
    """(B, groups, L) bool from a per-position group index (B, L); index -1 belongs to none."""
    return index[:, None, :] == torch.arange(groups, device=index.device)[None, :, None]


class BatchStandardise(nn.Module):
    """Per-feature standardisation of clip-level vectors (B, d) with statistics of the whole
    (global) batch in training and running statistics at inference: BatchNorm1d without the
    affine part, whose batch statistics are summed across ranks (with gradient) so a DDP step
    equals one process on the concatenated batch, on CPU (gloo) as on GPU.

    Why: with few training steps the clip-level InfoNCE otherwise falls into its trivial
    minimum, every clip mapped to one vector (loss = ln N exactly, no gradient left);
    standardised features cannot collapse (docs/model.md, "Clip-level collapse")."""

    def __init__(self, d: int, momentum: float = 0.1, eps: float = 1e-5):
        super().__init__()
        self.momentum, self.eps = momentum, eps
        self.register_buffer("running_mean", torch.zeros(d))
        self.register_buffer("running_var", torch.ones(d))

    def forward(self, x: torch.Tensor, world_size: int = 1) -> torch.Tensor:
        if not self.training:
            return (x - self.running_mean) * torch.rsqrt(self.running_var + self.eps)
        xf = x.float()
        stats = torch.cat([xf.sum(0), (xf * xf).sum(0), xf.new_tensor([x.shape[0]])])  # (2d + 1,)
        if world_size > 1:
            import torch.distributed.nn.functional as dist_fn

            stats = dist_fn.all_reduce(stats)
        d = x.shape[1]
        n = stats[-1]
        mean = stats[:d] / n
        var = (stats[d:2 * d] / n - mean * mean).clamp_min(0.0)
        with torch.no_grad():
            unbiased = var * n / (n - 1).clamp_min(1.0)
            self.running_mean.lerp_(mean.detach(), self.momentum)
            self.running_var.lerp_(unbiased.detach(), self.momentum)
        return ((xf - mean) * torch.rsqrt(var + self.eps)).to(x.dtype)
