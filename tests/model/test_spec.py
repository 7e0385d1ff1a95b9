"""What a model reads, as data on the model (jegal.model.spec.InputSpec), and the log-mel kinds."""

import numpy as np
import pytest

from jegal.model import InputSpec, JEGAL, JEGALConfig
from jegal.model.spec import log_mel_for

from .conftest import TINY


def test_each_front_end_says_what_it_reads(tmp_path):
    keypoints = JEGAL.from_preset("cpu", TINY).input_spec
    assert (keypoints.gesture, keypoints.mel, keypoints.rgb_size, keypoints.feature_extractor) == \
        ("keypoints", "jegal", None, None)
    rgb = JEGAL.from_preset("cpu", {**TINY, "gesture.frontend": "rgb", "gesture.rgb_channels": [4, 8],
                                    "gesture.rgb_size": 64}).input_spec
    assert (rgb.gesture, rgb.rgb_size, rgb.feature_weights) == ("rgb", 64, None) and "crops" in rgb.preprocessing
    features = JEGAL.from_preset("cpu", {**TINY, "gesture.frontend": "features"})
    spec = features.input_spec
    assert (spec.gesture, spec.feature_dim, spec.feature_extractor, spec.feature_weights) == \
        ("features", 1024, "gestsync", None)  # GestSync's width, but no weights: the model was not loaded from disk
    path = features.save_pretrained(tmp_path / "m")
    (path / "gestsync.safetensors").write_bytes(b"weights")
    loaded = JEGAL.from_pretrained(path)
    assert loaded.input_spec.feature_weights == path / "gestsync.safetensors"
    other = InputSpec.from_config(JEGALConfig.from_preset("cpu", {"gesture.frontend": "features",
                                                                   "gesture.feature_dim": 12}), path)
    assert other.feature_extractor is None and other.feature_weights is None  # not features jegal can compute
    with pytest.raises(AttributeError):
        loaded.input_spec.mel = "reference"  # frozen: read, not changed


def test_the_released_speech_cnn_reads_the_reference_log_mel():
    from jegal.data.audio import log_mel
    from jegal.model.released import reference_log_mel

    cfg = JEGALConfig.from_preset("released")
    spec = InputSpec.from_config(cfg)
    assert spec.mel == "reference" and spec.gesture == "features" and spec.feature_extractor == "gestsync"
    assert InputSpec.from_config(JEGALConfig.from_preset("cpu")).mel == "jegal"
    wave = np.random.default_rng(0).uniform(-0.5, 0.5, 16000).astype(np.float32)
    np.testing.assert_array_equal(spec.log_mel(wave, 25), reference_log_mel(wave, 25))
    np.testing.assert_array_equal(log_mel_for("jegal")(wave, 25), log_mel(wave, 25))
    assert not np.allclose(log_mel_for("jegal")(wave, 25), log_mel_for("reference")(wave, 25))
    with pytest.raises(ValueError, match="mel kind"):
        log_mel_for("librosa")
