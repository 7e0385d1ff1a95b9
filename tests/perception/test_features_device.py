"""GestSync features on a device (``--device cuda`` with a released model): the device reaches the
feature extractor, and where CUDA exists the features it computes there match the CPU's."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.model import released_fixture as rf


@pytest.fixture(scope="module")
def gestsync_file(tmp_path_factory):
    return rf.save_released(tmp_path_factory.mktemp("gs") / "gestsync.pth", rf.recipe_state("gestsync"))


def test_the_model_s_device_reaches_the_feature_extractor(gestsync_file):
    from jegal.perception.features import DEVICE_CHUNK, GestSyncFeatures
    from jegal.use.video import video_preparer

    preparer = video_preparer(asr="none", gestsync_weights=gestsync_file, features_device="cuda")
    try:
        assert preparer.features.device == "cuda" and not preparer.features.loaded  # weights read on first use
    finally:
        preparer.close()
    cpu = GestSyncFeatures(gestsync_file)
    assert cpu.device == "cpu" and cpu.stream().chunk == 32
    assert GestSyncFeatures(gestsync_file, device="cuda").device == "cuda" and DEVICE_CHUNK >= 32


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_features_on_the_gpu_match_the_cpu_s(gestsync_file):
    from jegal.perception.features import GestSyncFeatures

    frames = np.random.default_rng(0).integers(0, 256, size=(150, 270, 480, 3), dtype=np.uint8)
    frames[:, :111] = 0
    out = {}
    for device in ("cpu", "cuda"):
        extractor = GestSyncFeatures(gestsync_file, threads=2, device=device)
        assert extractor.model.device.type == device
        stream = extractor.stream()
        for s in range(0, len(frames), 64):  # as people_features pushes a decoded chunk
            stream.push(frames[s:s + 64])
        out[device] = stream.finish().numpy()
    assert out["cuda"].shape == out["cpu"].shape == (150, 1024)
    # cuDNN may use TF32 (torch's default): about 1e-3 relative
    assert np.abs(out["cuda"] - out["cpu"]).max() <= 1e-2 * np.abs(out["cpu"]).max()
