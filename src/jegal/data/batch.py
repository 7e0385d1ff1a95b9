"""Collating clips into the padded batch every model entry point takes.

The batch is a plain dict (easy to move between devices, processes and loaders):

====================  =================  ==============================================
key                   shape / type       meaning
====================  =================  ==============================================
``keypoints``         (B, T, 56, 3) f32  normalised keypoints, zero on padding frames
``features``          (B, T, F) f32      only when every clip has precomputed features
``rgb``               (B, T, H, W, 3) u8 only when every clip has rgb crops
``frame_mask``        (B, T) bool        True on real frames
``mel``               (B, 4T, 80) f32    log-mel, padded with the log floor
``word_spans``        (B, W, 2) i64      inclusive [start, end] frames; (0, 0) on padding
``word_mask``         (B, W) bool        True on real words
``words``             list[list[str]]    normalised word texts, for the text encoder
``clip_ids``          list[str]
``speaker_ids``       list[str]
====================  =================  ==============================================
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from jegal.data.audio import LOG_FLOOR
from jegal.data.clip import Clip
from jegal.timebase import MEL_PER_FRAME


def _pad_stack(arrays: Sequence[np.ndarray], length: int, fill: float = 0.0, dtype=None) -> torch.Tensor:
    first = arrays[0]
    out = np.full((len(arrays), length, *first.shape[1:]), fill, dtype=dtype or first.dtype)
    for i, a in enumerate(arrays):  # copying ragged arrays into one buffer; not a model loop
        out[i, : len(a)] = a
    return torch.from_numpy(out)


def collate_clips(clips: Sequence[Clip]) -> dict:
    if not clips:
        raise ValueError("cannot collate an empty list of clips")
    T = max(c.num_frames for c in clips)
    W = max(len(c.words) for c in clips)
    lengths = torch.tensor([c.num_frames for c in clips])
    n_words = torch.tensor([len(c.words) for c in clips])
    spans = np.zeros((len(clips), W, 2), dtype=np.int64)
    for i, c in enumerate(clips):
        if c.words:
            spans[i, : len(c.words)] = [(w.start, w.end) for w in c.words]
    batch = {
        "keypoints": _pad_stack([c.keypoints for c in clips], T, dtype=np.float32),
        "frame_mask": torch.arange(T)[None, :] < lengths[:, None],
        "mel": _pad_stack([c.mel for c in clips], MEL_PER_FRAME * T, fill=float(np.log(LOG_FLOOR)), dtype=np.float32),
        "word_spans": torch.from_numpy(spans),
        "word_mask": torch.arange(W)[None, :] < n_words[:, None],
        "words": [[w.text for w in c.words] for c in clips],
        "clip_ids": [c.clip_id for c in clips],
        "speaker_ids": [c.speaker_id for c in clips],
    }
    if all(c.features is not None for c in clips):
        batch["features"] = _pad_stack([c.features for c in clips], T, dtype=np.float32)
    if all(c.rgb is not None for c in clips):
        batch["rgb"] = _pad_stack([c.rgb for c in clips], T, dtype=np.uint8)
    return batch


def batch_to(batch: dict, device: torch.device | str) -> dict:
    """Move the tensors of a batch to ``device``; lists stay as they are."""
    return {k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
