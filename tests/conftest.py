import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
REAL = SHARED / "data" / "real"
AVS = SHARED / "data" / "avs"


@pytest.fixture(scope="session")
def real_dir() -> Path:
    if not REAL.is_dir():
        pytest.fail(f"real sample data not found at {REAL}: clone the repo with shared/ beside it")
    return REAL


@pytest.fixture(scope="session")
def avs_dir() -> Path:
    if not AVS.is_dir():
        pytest.fail(f"AVS benchmark CSVs not found at {AVS}: clone the repo with shared/ beside it")
    return AVS


# One SynthGest corpus (shared by tests/train/test_learning.py too) and one small trained model,
# shared by every test that needs a model that learned something (tests/use, tests/serve). Budget as in tests/train/test_learning.py: 10
# speakers, 600 training clips, 300 steps of the cpu preset (about 2 min on 2 quiet cores). Content
# is trained with text and speech (modality dropout on), so text-only, speech-only and both can be
# queried.
USE_MODEL_STEPS = 300


@pytest.fixture(scope="session")
def use_corpus(tmp_path_factory):
    """SynthGest corpus (train/, test/, benchmarks/) generated once per session, with the media
    (wav, txt, kps.npz) of the training clips too, so a search test can query clips the model
    was trained on by their recordings."""
    from jegal.synth.corpus import generate_corpus

    out = tmp_path_factory.mktemp("use") / "corpus"
    generate_corpus(out, speakers=10, train_clips=600, test_clips=60, seed=3, progress=False, workers=1,
                    train_media=True)
    return out


@pytest.fixture(scope="session")
def use_model(use_corpus, tmp_path_factory):
    """Directory of the final model (``config.json`` + ``model.safetensors``) of a 300-step cpu-preset run."""
    from jegal.train.config import resolve
    from jegal.train.loop import train

    run = tmp_path_factory.mktemp("use_run") / "run"
    cfg = resolve(preset="cpu", flags={"data.train": str(use_corpus), "out": str(run), "max_steps": USE_MODEL_STEPS,
                                       "epochs": 100, "validate_every": 0, "progress": False, "tensorboard": False})
    train(cfg)
    return run / "model"
