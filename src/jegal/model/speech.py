"""The speech encoder: a 2D CNN over the log-mel with time stride 4 -> one feature per video frame.

Blocks 1-2 stride 2 in time and frequency (4T mel frames -> T frames), later blocks stride
in frequency only. Padding mel frames are zeroed before every convolution, at that block's
time resolution, so each real frame sees exactly what a zero-padded single clip would see:
a clip's features do not depend on the padding its batch adds.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from jegal.data.audio import LOG_FLOOR
from jegal.model.config import SpeechConfig
from jegal.model.layers import ChannelNorm
from jegal.timebase import MEL_BINS, MEL_PER_FRAME

# Fixed input scaling: log-mel of speech lies roughly in [log(1e-5), 5]; this maps it to about [-1.5, 1.5]
# with the log floor (silence, padding) at -1.5, before masking sets padding to 0.
MEL_CENTRE = (math.log(LOG_FLOOR) + 5.0) / 2
MEL_SCALE = (5.0 - math.log(LOG_FLOOR)) / 3


def build_speech_encoder(cfg: SpeechConfig, d_out: int) -> nn.Module:
    """The speech encoder ``cfg.architecture`` names: :class:`SpeechEncoder`, or the released CNN
    (:class:`jegal.model.released.ReleasedSpeechEncoder`, which reads the reference's log-mel).
    Both map mel (B, 4T, 80), frame_mask (B, T) to (B, T, d_out)."""
    if cfg.architecture == "released":
        from jegal.model.released import ReleasedSpeechEncoder

        return ReleasedSpeechEncoder(d_out)
    return SpeechEncoder(cfg, d_out)


class SpeechEncoder(nn.Module):
    def __init__(self, cfg: SpeechConfig, d_out: int):
        super().__init__()
        chans = cfg.channels
        if len(chans) < 2:
            raise ValueError("speech.channels needs at least 2 blocks (the two time-stride-2 blocks)")
        self.blocks = nn.ModuleList()
        self.time_strides = []
        cin, freq = 1, MEL_BINS
        for i, cout in enumerate(chans):
            st = 2 if i < 2 else 1
            sf = 2 if freq >= 8 else 1
            self.blocks.append(nn.Sequential(nn.Conv2d(cin, cout, 3, stride=(st, sf), padding=1),
                                             ChannelNorm(cout), nn.GELU()))
            self.time_strides.append(st)
            cin, freq = cout, (freq + sf - 1) // sf
        self.out = nn.Sequential(nn.Dropout(cfg.dropout), nn.Linear(cin * freq, d_out))

    def forward(self, mel: torch.Tensor, frame_mask: torch.Tensor) -> torch.Tensor:
        """mel (B, 4T, 80), frame_mask (B, T) -> (B, T, d_out), zero on padding frames."""
        B, T = frame_mask.shape
        if mel.shape[1] != MEL_PER_FRAME * T:
            raise ValueError(f"mel has {mel.shape[1]} frames; {T} video frames need {MEL_PER_FRAME * T}")
        lengths = frame_mask.sum(1) * MEL_PER_FRAME  # (B,) real mel frames
        x = ((mel - MEL_CENTRE) / MEL_SCALE)[:, None]  # (B, 1, 4T, F)
        res = 1
        for block, st in zip(self.blocks, self.time_strides):
            L = x.shape[2]
            keep = torch.arange(L, device=x.device)[None, :] * res < lengths[:, None]  # (B, L)
            x = block(x * keep[:, None, :, None])
            res *= st
        x = x.permute(0, 2, 1, 3).flatten(2)  # (B, T, C * F')
        return self.out(x) * frame_mask[..., None]

