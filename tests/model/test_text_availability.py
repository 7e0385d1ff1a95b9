"""Whether a model reads text here is a property of the model (JEGAL.text_problem / text_available /
speech_only), looked for in local copies only and kept on the model."""

import pytest

from jegal.model import JEGAL, TextBackboneError

from .conftest import TINY

MISSING = {**TINY, "text.backbone": "no-such-org/no-such-text-backbone", "text.backbone_dim": 384}


def test_a_model_whose_backbone_is_here_reads_text():
    model = JEGAL.from_preset("cpu", TINY)
    assert model.text_problem is None and model.text_available and not model.speech_only
    assert model.text.backbone.loaded  # looked for, and read, once
    assert model.load_text_backbone() is model
    assert model.content_modalities() == "ta" and model.content_modalities("t") == "t"
    speech = JEGAL.from_preset("cpu", {**TINY, "content.modalities": "a"})
    assert speech.text is None and speech.text_problem is None and not speech.text_available
    with pytest.raises(ValueError, match="trained with 'a' only"):
        speech.content_modalities("ta")


def test_a_missing_backbone_is_the_models_problem_and_is_never_downloaded(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)  # online or not, only local copies are looked at
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    model = JEGAL.from_preset("cpu", MISSING)
    problem = model.text_problem
    assert isinstance(problem, TextBackboneError) and "only local copies were looked at" in str(problem)
    assert model.text_problem is problem  # kept on the model
    assert not model.text_available and not model.speech_only  # only the released text head runs without it
    with pytest.raises(TextBackboneError):
        model.load_text_backbone()
    assert model.content_modalities("a") == "a"
    with pytest.raises(TextBackboneError):
        model.content_modalities("ta")
    other = JEGAL.from_preset("cpu", TINY)  # another model's answer is its own
    assert other.text_problem is None


def test_the_released_text_head_without_its_backbone_runs_with_speech_only(monkeypatch):
    model = JEGAL.from_preset("cpu", {**MISSING, "text.architecture": "released", "text.head_dim": None,
                                      "text.heads": 2})
    assert model.speech_only and not model.text_available
    assert "run the model with speech only" in str(model.text_problem)
    assert model.load_text_backbone() is model  # not an error for this head
    assert model.content_modalities() == "a" and model.content_modalities("a") == "a"
    with pytest.raises(TextBackboneError, match="--modalities a"):
        model.content_modalities("t")
