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
