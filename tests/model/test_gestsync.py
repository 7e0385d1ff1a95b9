"""The GestSync RGB branch: the fixture's window and per-frame features, the fast whole-video path
against the reference's sliding-window procedure, the frame preparation and the weight checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from jegal.model.gestsync import (AUDIO_PREFIXES, FeatureStream, GestSyncRGB, convert_gestsync, frames_to_tensor,
                                  mask_and_resize, sliding_window_features, video_features)
from jegal.model.released import ReleasedCheckpointError
from tests.model import released_fixture as rf
from tests.model.test_released import close


@pytest.fixture(scope="module")
def gestsync() -> GestSyncRGB:
    model = GestSyncRGB()
    model.load_state_dict(convert_gestsync(rf.recipe_state("gestsync"), "recipe").state)
    return model


def random_video(T: int, seed: int) -> np.ndarray:
    frames = np.random.default_rng(seed).integers(0, 256, size=(T, 270, 480, 3), dtype=np.uint8)
    frames[:, :111] = 0
    return frames


def test_one_window_parity(gestsync):
    x = frames_to_tensor(rf.gestsync_window_frames())[None]
    assert float(x.double().sum()) == pytest.approx(2862655.598015045, abs=1e-6)
    with torch.no_grad():
        steps = gestsync.net_vid(x)
        close(steps, "gestsync_window.conv_feats")
        close(gestsync.head(steps.transpose(1, 2)), "gestsync_window.after_transformer")
        close(gestsync.forward_vid(x), "gestsync_window.out")


def test_fast_path_gives_the_fixture_features(gestsync):
    close(video_features(gestsync, rf.gestsync_video_frames()), "gestsync_video.features")


def test_sliding_window_equals_fast_path_on_random_video(gestsync):
    """Four frames: every window is edge-padded on both sides, with distinct frames at each end."""
    frames = random_video(4, seed=11)
    slow = sliding_window_features(gestsync, frames, batch=2)
    fast = video_features(gestsync, frames)
    assert slow.shape == fast.shape == (4, 1024)
    assert float((slow - fast).abs().max()) <= 1e-5 * float(slow.abs().max())
    assert float((fast[0] - fast[-1]).abs().max()) > 1e-3  # the ends do see different frames


@pytest.mark.slow
def test_sliding_window_procedure_gives_the_fixture_features(gestsync):
    close(sliding_window_features(gestsync, rf.gestsync_video_frames(), batch=6), "gestsync_video.features")


def test_stream_in_pieces_equals_one_push(gestsync):
    frames = random_video(9, seed=12)
    stream = FeatureStream(gestsync, chunk=3, window_batch=4)
    for a, b in ((0, 1), (1, 3), (3, 3), (3, 9)):
        stream.push(frames[a:b])
    whole = video_features(gestsync, frames)
    assert torch.allclose(stream.finish(), whole, atol=1e-6, rtol=0)
    unfolded = FeatureStream(gestsync, folded=False)  # the reference's layers, the same algorithm
    unfolded.push(frames)
    assert float((unfolded.finish() - whole).abs().max()) <= 1e-5 * float(whole.abs().max())


def test_frames_are_checked(gestsync):
    with pytest.raises(ValueError, match="uint8"):
        video_features(gestsync, np.zeros((3, 100, 100, 3), np.uint8))
    with pytest.raises(ValueError, match="no frames"):
        FeatureStream(gestsync).finish()


def test_mask_and_resize_as_the_reference():
    frame = np.full((540, 960, 3), 200, np.uint8)
    face = mask_and_resize(frame, chin_y=100)  # rows 0..115 of 540 black, then halved
    assert face.shape == (270, 480, 3) and face.dtype == np.uint8
    assert (face[:57] == 0).all() and (face[59:] == 200).all()
    none = mask_and_resize(frame, None)
    assert (none[:111] == 0).all() and (none[111:] == 200).all()
    assert (frame == 200).all()  # the caller's frame is not painted


def test_gestsync_weights_are_checked():
    state = rf.recipe_state("gestsync")
    state["net_vid.conv2.weight"] = torch.zeros(128, 64, 1, 3, 3)
    del state["ff_vid.2.bias"]
    with pytest.raises(ReleasedCheckpointError) as err:
        convert_gestsync(state, "gestsync.pth")
    assert "misshaped key net_vid.conv2.weight" in str(err.value) and "missing key ff_vid.2.bias" in str(err.value)
    rgb_only = {k: v for k, v in rf.recipe_state("gestsync").items() if not k.startswith(AUDIO_PREFIXES)}
    with pytest.raises(ReleasedCheckpointError, match="no GestSync audio branch"):
        convert_gestsync(rgb_only, "other.pth")
