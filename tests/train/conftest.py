from pathlib import Path

import numpy as np
import pytest

from jegal.data.clip import Clip
from jegal.data.shards import write_shards
from jegal.data.words import Word


def fake_clip(i: int, n_words: int, rng: np.random.Generator) -> Clip:
    """A clip whose every frame carries its clip number and frame index, so crops can be checked."""
    frames_per_word = 4
    T = n_words * frames_per_word + 6
    kps = np.zeros((T, 56, 3), np.float32)
    kps[:, :, 0] = i
    kps[:, :, 1] = np.arange(T)[:, None]
    mel = np.repeat(np.arange(T, dtype=np.float32), 4)[:, None].repeat(80, axis=1)
    words = [Word(f"w{k}", 3 + k * frames_per_word, 3 + k * frames_per_word + 2) for k in range(n_words)]
    return Clip(f"clip.{i:04d}", kps, mel, words, speaker_id=f"s{i % 3}", source="fake")


@pytest.fixture
def make_shards(tmp_path):
    def make(n: int = 40, per_shard: int = 7, seed: int = 0, name: str = "shards", zero_word: tuple = ()) -> Path:
        rng = np.random.default_rng(seed)
        clips = []
        for i in range(n):
            c = fake_clip(i, int(rng.integers(3, 30)), rng)
            if i in zero_word:
                c.words = []
            clips.append(c)
        return write_shards(clips, tmp_path / name, clips_per_shard=per_shard)
    return make
