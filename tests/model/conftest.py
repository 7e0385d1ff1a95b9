import pytest
import torch

from jegal.model import JEGAL

# a small deterministic model: no dropout, no modality dropout
TINY = {"gesture.d_model": 32, "gesture.heads": 2, "gesture.ffn": 64, "gesture.dropout": 0.0,
        "text.head_dim": 32, "text.heads": 2, "text.ffn": 64, "text.dropout": 0.0,
        "speech.channels": [4, 8, 8], "speech.dropout": 0.0, "content.dropout": 0.0,
        "content.modality_dropout": 0.0}


def tiny_model(**overrides) -> JEGAL:
    torch.manual_seed(0)
    return JEGAL.from_preset("cpu", {**TINY, **overrides})


@pytest.fixture(scope="module")
def model() -> JEGAL:
    return tiny_model()
