"""Random clips and batches of the real shapes, for tests, benchmarks and smoke runs."""

from __future__ import annotations

import numpy as np

from jegal.data.batch import collate_clips
from jegal.data.clip import Clip
from jegal.data.keypoints import NUM_JOINTS
from jegal.data.words import Word
from jegal.timebase import MEL_BINS, MEL_PER_FRAME

VOCAB = ("the big round ball went up over hills and far away we saw enormous waves crash "
         "small tiny little pointed there here you me going coming unbelievable yesterday").split()


def random_clip(rng: np.random.Generator, num_frames: int, num_words: int, clip_id: str = "clip",
                feature_dim: int = 0, rgb_size: int = 0) -> Clip:
    """A clip with ``num_frames`` frames and ``num_words`` non-overlapping words covering edges:
    the first word starts at frame 0, the last ends at the last frame, lengths vary from 1 frame."""
    T, W = num_frames, num_words
    if W > T:
        raise ValueError(f"{W} words do not fit in {T} frames")
    cuts = np.sort(rng.choice(np.arange(1, T), size=W - 1, replace=False)) if W > 1 else np.array([], dtype=int)
    starts = np.concatenate([[0], cuts])
    ends = np.concatenate([cuts - 1, [T - 1]])
    words = [Word(str(rng.choice(VOCAB)), int(s), int(e)) for s, e in zip(starts, ends)]
    kp = rng.normal(size=(T, NUM_JOINTS, 3)).astype(np.float32)
    kp[..., 2] = rng.uniform(0, 1, size=(T, NUM_JOINTS)) > 0.1
    mel = rng.normal(-4, 2, size=(MEL_PER_FRAME * T, MEL_BINS)).astype(np.float32)
    clip = Clip(clip_id=clip_id, keypoints=kp, mel=mel, words=words, speaker_id=f"spk{clip_id}")
    if feature_dim:
        clip.features = rng.normal(size=(T, feature_dim)).astype(np.float32)
    if rgb_size:
        clip.rgb = rng.integers(0, 256, size=(T, rgb_size, rgb_size, 3), dtype=np.uint8)
    return clip.validate()


def random_batch(batch_size: int, num_frames: int | tuple[int, int] = (20, 40),
                 num_words: int | tuple[int, int] = (3, 8), seed: int = 0, feature_dim: int = 0, rgb_size: int = 0) -> dict:
    """A collated batch of random clips; ranges (lo, hi) give ragged lengths (inclusive)."""
    rng = np.random.default_rng(seed)

    def draw(v):
        return int(rng.integers(v[0], v[1] + 1)) if isinstance(v, tuple) else int(v)

    clips = []
    for i in range(batch_size):
        T = draw(num_frames)
        clips.append(random_clip(rng, T, min(draw(num_words), T), f"c{i}", feature_dim, rgb_size))
    return collate_clips(clips)
