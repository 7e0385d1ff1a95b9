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
    """Pre-norm Transformer blocks and a final LayerNorm; ``positions`` adds sinusoidal absolute
    positions first (without them attention sees a set, and order comes only from the input)."""

    def __init__(self, d: int, layers: int, heads: int, ffn: int, dropout: float, positions: bool = True):
        super().__init__()
        self.blocks = nn.ModuleList(TransformerBlock(d, heads, ffn, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(d)
        self.positions = positions

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.positions:
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

    ``groups`` > 1 keeps separate statistics per group of clips (``group`` (B,) in forward):
    content clips seen with text and speech, text only or speech only are three distributions
    (modality dropout makes all three in training), and standardising them with one mean
    would leave a constant offset in the clip vectors of the two not seen at test time.

    Why: with few training steps the clip-level InfoNCE otherwise falls into its trivial
    minimum, every clip mapped to one vector (loss = ln N exactly, no gradient left);
    standardised features cannot collapse (docs/model.md, "The clip-level space")."""

    def __init__(self, d: int, groups: int = 1, momentum: float = 0.1, eps: float = 1e-5):
        super().__init__()
        self.momentum, self.eps = momentum, eps
        self.register_buffer("running_mean", torch.zeros(groups, d))
        self.register_buffer("running_var", torch.ones(groups, d))

    def forward(self, x: torch.Tensor, group: torch.Tensor | int = 0, world_size: int = 1) -> torch.Tensor:
        B, d = x.shape
        G = self.running_mean.shape[0]
        if isinstance(group, int):
            group = torch.full((B,), group, dtype=torch.long, device=x.device)
        if not self.training:
            return (x - self.running_mean[group]) * torch.rsqrt(self.running_var[group] + self.eps)
        xf = x.float()
        member = (group[None, :] == torch.arange(G, device=x.device)[:, None]).to(xf.dtype)  # (G, B)
        # two passes (mean, then squared deviations): E[x^2] - E[x]^2 loses the variance in float32
        # exactly when it matters, for nearly identical vectors with a large common part
        sums = member @ torch.cat([xf, torch.ones_like(xf[:, :1])], 1)  # (G, d + 1): sums and counts
        sums = _all_reduce(sums, world_size)
        n = sums[:, -1:]  # (G, 1)
        mean = sums[:, :d] / n.clamp_min(1.0)
        centred = xf - mean[group]
        var = _all_reduce(member @ (centred * centred), world_size) / n.clamp_min(1.0)
        with torch.no_grad():
            seen = (n > 0).to(xf.dtype) * self.momentum  # groups absent from this batch keep their statistics
            self.running_mean.add_(seen * (mean.detach() - self.running_mean))
            unbiased = var.detach() * n / (n - 1).clamp_min(1.0)
            self.running_var.add_(seen * (unbiased - self.running_var))
        return (centred * torch.rsqrt(var[group] + self.eps)).to(x.dtype)


def _all_reduce(x: torch.Tensor, world_size: int) -> torch.Tensor:
    """Sum over ranks with gradient (the backward sums the ranks' gradients too)."""
    if world_size == 1:
        return x
    import torch.distributed.nn.functional as dist_fn

    return dist_fn.all_reduce(x)
