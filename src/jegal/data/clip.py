"""The clip: gesture input for T frames, log-mel for 4T frames, its words, its metadata.

All modalities of a clip share one origin, frame 0 of ``keypoints``: word boundaries,
mel rows (4 per frame) and optional rgb/feature frames are indexed from it. Cropping
goes through :meth:`Clip.crop`, which moves all of them together (the reference code
shifted word indices without cropping the audio; that defect cannot happen here).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from jegal.data.keypoints import NUM_JOINTS
from jegal.data.words import Word
from jegal.timebase import MEL_BINS, MEL_PER_FRAME


class ClipError(ValueError):
    """A clip whose parts do not fit together; the message names the clip."""


@dataclass
class Clip:
    clip_id: str
    keypoints: np.ndarray  # (T, NUM_JOINTS, 3) normalised (x, y, confidence)
    mel: np.ndarray  # (4T, 80) log-mel
    words: list[Word]
    speaker_id: str = ""
    source: str = ""
    rgb: np.ndarray | None = None  # (T, H, W, 3) uint8, face-masked person crop
    features: np.ndarray | None = None  # (T, F) precomputed per-frame features
    extra: dict = field(default_factory=dict)  # JSON-serialisable metadata

    @property
    def num_frames(self) -> int:
        return int(self.keypoints.shape[0])

    def validate(self) -> "Clip":
        T = self.num_frames
        if self.keypoints.ndim != 3 or self.keypoints.shape[1:] != (NUM_JOINTS, 3):
            raise ClipError(f"clip {self.clip_id}: keypoints must be (T, {NUM_JOINTS}, 3), got {self.keypoints.shape}")
        if self.mel.shape != (MEL_PER_FRAME * T, MEL_BINS):
            raise ClipError(f"clip {self.clip_id}: mel must be ({MEL_PER_FRAME * T}, {MEL_BINS}) for {T} frames, got {self.mel.shape}")
        if not self.words:
            raise ClipError(f"clip {self.clip_id}: no words")
        for w in self.words:
            if w.start < 0 or w.end >= T:
                raise ClipError(f"clip {self.clip_id}: word {w.display!r} spans frames {w.start}-{w.end}, outside the clip's {T} frames")
        for name in ("rgb", "features"):
            arr = getattr(self, name)
            if arr is not None and len(arr) != T:
                raise ClipError(f"clip {self.clip_id}: {name} has {len(arr)} frames, keypoints have {T}")
        return self

    def crop(self, start: int, end: int, words: list[Word] | None = None) -> "Clip":
        """Frames ``start..end`` inclusive of every modality; words re-indexed from ``start``.

        ``words`` defaults to the words lying wholly inside the span.
        """
        T = self.num_frames
        start, end = max(0, start), min(T - 1, end)
        if end < start:
            raise ClipError(f"clip {self.clip_id}: empty crop {start}-{end}")
        if words is None:
            words = [w for w in self.words if w.start >= start and w.end <= end]
        return replace(
            self,
            keypoints=self.keypoints[start : end + 1],
            mel=self.mel[MEL_PER_FRAME * start : MEL_PER_FRAME * (end + 1)],
            words=[w.shifted(start) for w in words],
            rgb=None if self.rgb is None else self.rgb[start : end + 1],
            features=None if self.features is None else self.features[start : end + 1],
            extra={**self.extra, "crop": [start, end]},
        )

    def word_window(self, first: int, last: int, margin: int = 10) -> "Clip":
        """Crop to words ``first..last`` (inclusive indices into ``words``) with ``margin``
        frames of context each side, so a gesture that leads or lags its word survives."""
        ws = self.words[first : last + 1]
        return self.crop(ws[0].start - margin, ws[-1].end + margin, ws)
