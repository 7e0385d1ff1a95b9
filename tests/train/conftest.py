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


# A model small enough for loop tests to take seconds (the cpu preset, shrunk further).
TINY_MODEL = {"gesture.d_model": 32, "gesture.layers": 1, "gesture.heads": 2, "gesture.ffn": 64,
              "text.head_dim": 32, "text.layers": 1, "text.heads": 2, "text.ffn": 64,
              "speech.channels": "[8, 8, 8, 8]"}
NO_DROPOUT = {"gesture.dropout": 0.0, "text.dropout": 0.0, "speech.dropout": 0.0, "content.dropout": 0.0,
              "content.modality_dropout": 0.0}


def set_args(overrides: dict) -> list[str]:
    return [a for k, v in overrides.items() for a in ("--set", f"{k}={v}")]


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory):
    """A small SynthGest corpus (train/, test/, benchmarks/), generated once per session."""
    from jegal.synth.corpus import generate_corpus

    out = tmp_path_factory.mktemp("synth") / "corpus"
    generate_corpus(out, speakers=6, train_clips=120, test_clips=24, seed=5, progress=False, workers=1,
                    clips_per_shard=25)
    return out
