"""``--rgb-features gestsync``: per-person GestSync features through prepare (jegal.perception.features)."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
import torch

from jegal.data.words import Word
from jegal.model.gestsync import GestSyncRGB, mask_and_resize, video_features
from jegal.perception.discover import Item
from jegal.perception.errors import BadInput
from jegal.perception.features import GestSyncFeatures, check_rgb_features, person_window
from jegal.perception.options import PrepareOptions
from jegal.prepare.segment import cut_clips
from jegal.perception.track import Part, People
from tests.perception.wild import write_video


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """Random GestSync RGB weights saved as an imported model directory would hold them."""
    from safetensors.torch import save_file

    torch.manual_seed(0)
    d = tmp_path_factory.mktemp("gestsync")
    save_file(GestSyncRGB().state_dict(), str(d / "gestsync.safetensors"))
    return d


def test_person_window():
    assert person_window(480, 270, 100.0) == (0, 480)  # 16:9: the whole frame, as the reference
    assert person_window(360, 270, 10.0) == (0, 360)  # narrower: the whole frame (resized like the reference)
    assert person_window(960, 270, 700.0) == (460, 940)  # wider: a 16:9 window centred on the person
    assert person_window(960, 270, 950.0) == (480, 960)  # ... kept inside the frame
    assert person_window(960, 270, 5.0) == (0, 480)


def test_people_features_equal_the_direct_computation(tmp_path, weights):
    """Two people side by side in a 32:9 video, one with a gap between two parts: each gets the
    features of its own masked 16:9 view, frames without a face the no-face band."""
    rng = np.random.default_rng(0)
    T = 14
    frames = [rng.integers(0, 256, size=(270, 960, 3), dtype=np.uint8) for _ in range(T)]
    write_video(tmp_path / "v.mp4", frames)
    from jegal.perception.decode import iter_video

    decoded = np.concatenate(list(iter_video(tmp_path / "v.mp4", max_side=1280)))
    assert decoded.shape == (T, 270, 960, 3)
    faces = np.tile(np.array([[100.0, 20.0, 160.0, 80.0]], np.float32), (T, 1))
    bodies = np.tile(np.array([[60.0, 10.0, 200.0, 270.0]], np.float32), (T, 1))  # centre x = 130
    zeros = np.zeros((T, 56, 3), np.float32)
    left = [Part(2, zeros[:4], faces[:4], bodies[:4], None, 1.0),
            Part(9, zeros[:5], faces[:5] + 2, bodies[:5], None, 1.0)]
    right = [Part(0, zeros, faces + [600, 0, 600, 0], bodies + [600, 0, 600, 0], None, 1.0)]
    people = People([left, right], T, 1.0)
    model = GestSyncFeatures(weights)
    timings: dict = {}
    got = model.people_features(tmp_path / "v.mp4", people, timings)
    assert [g.shape for g in got] == [(12, 1024), (T, 1024)] and timings["features"] > 0
    chins = [80.0] * 4 + [None] * 3 + [82.0] * 5  # frames 2..13 of the left person; 6..8 between its parts
    want = [mask_and_resize(decoded[2 + i, :, 0:480], c, 15.0) for i, c in enumerate(chins)]
    assert np.allclose(got[0], video_features(model.model, np.stack(want)).numpy(), atol=1e-5)
    want = [mask_and_resize(decoded[i, :, 480:960], 80.0, 15.0) for i in range(T)]  # centre 730: the right edge
    assert np.allclose(got[1], video_features(model.model, np.stack(want)).numpy(), atol=1e-5)


def test_cut_clips_slice_the_features_and_store_the_reference_mel():
    T = 60
    kp = np.zeros((T, 56, 3), np.float32)
    kp[:, :, 2] = 1.0
    kp[:, :, 0] = np.linspace(0, 1, 56)
    people = People.from_keypoints(kp)
    feats = [np.arange(T, dtype=np.float32)[:, None] * np.ones((1, 1024), np.float32)]
    audio = (0.1 * np.sin(np.arange(T * 640) / 7)).astype(np.float32)
    options = PrepareOptions(max_frames=30, min_frames=10, mel="reference")
    words = [Word("a", 3, 8), Word("b", 35, 40)]
    clips, _ = cut_clips(Item("x", keypoints="x.kps.npz"), people, words, audio, options, [], feats)
    assert [c.features[:, 0].tolist() for c in clips] == [list(range(0, 30)), list(range(30, 60))]
    from jegal.model.released import reference_log_mel

    assert np.array_equal(clips[1].mel, reference_log_mel(audio, num_frames=T)[120:240])
    assert clips[0].extra["mel"] == "reference"


def test_bad_options_stop_before_any_input(tmp_path, weights):
    with pytest.raises(BadInput, match="needs --gestsync-weights"):
        check_rgb_features(PrepareOptions(rgb_features="gestsync"))
    with pytest.raises(BadInput, match="expected one of"):
        check_rgb_features(PrepareOptions(rgb_features="i3d", gestsync_weights=str(weights)))
    with pytest.raises(BadInput, match=str(tmp_path / "none")):
        check_rgb_features(PrepareOptions(rgb_features="gestsync", gestsync_weights=str(tmp_path / "none")))
    check_rgb_features(PrepareOptions(rgb_features="gestsync", gestsync_weights=str(weights)))


def test_cli_flags_map_onto_options():
    from jegal.prepare import cli

    parser = argparse.ArgumentParser()
    cli.configure(parser)
    args = parser.parse_args(["in", "--out", "o", "--rgb-features", "gestsync", "--gestsync-weights", "w", "--mel",
                              "reference"])
    assert (args.rgb_features, args.gestsync_weights, args.mel) == ("gestsync", "w", "reference")


@pytest.mark.slow
def test_prepare_writes_the_features_into_the_shards(tmp_path, real_dir, weights):
    """The whole pipeline on a real recording: every clip carries one finite feature row per frame and
    the reference log-mel."""
    import shutil

    from jegal.data.shards import read_clips
    from jegal.prepare.pipeline import run_prepare

    inp = tmp_path / "in"
    inp.mkdir()
    for name in ("sample1.avi", "sample1.wav", "sample1.txt"):
        shutil.copy(real_dir / name, inp / name)
    options = PrepareOptions(rgb_features="gestsync", gestsync_weights=str(weights), mel="reference", min_frames=10)
    summary = run_prepare(inp, tmp_path / "out", options, workers=1, progress=False)
    assert summary["done"] == 1 and summary["clips"] >= 1, summary
    clips = list(read_clips(tmp_path / "out"))
    for clip in clips:
        assert clip.features.shape == (clip.num_frames, 1024) and np.isfinite(clip.features).all()
        assert clip.extra["mel"] == "reference"
    assert float(np.abs(clips[0].features).max()) > 0
