"""The people stage's frames are held once: a decoded chunk is not also kept as a list of frames."""

from __future__ import annotations

import tracemalloc

import numpy as np

from .wild import write_video


def test_a_decoded_chunk_costs_its_own_size_not_twice(tmp_path):
    from jegal.perception.decode import iter_video

    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (96, 128, 3), np.uint8) for _ in range(60)]
    write_video(tmp_path / "v.avi", frames)
    tracemalloc.start()
    try:
        chunks = [c for c in iter_video(tmp_path / "v.avi", chunk_frames=40)]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    size = sum(c.nbytes for c in chunks)
    assert len(chunks) == 2 and len(chunks[0]) == 40
    # Both chunks are kept here (all 60 frames); a list stacked into each chunk would be 1.67x that.
    assert peak < 1.25 * size, (peak, size)
    np.testing.assert_allclose(np.concatenate(chunks).mean(), np.mean(frames), atol=3)


def test_a_video_longer_than_its_header_says_is_decoded_whole(tmp_path, monkeypatch):
    """The first chunk is sized from the header's duration and grows when the stream holds more."""
    import jegal.perception.decode as decode

    frames = [np.full((32, 48, 3), 6 * i, np.uint8) for i in range(40)]
    write_video(tmp_path / "v.avi", frames)
    whole = np.concatenate(list(decode.iter_video(tmp_path / "v.avi")))
    monkeypatch.setattr(decode, "declared_seconds", lambda stream, container: 0.2)  # claims 5 frames
    got = list(decode.iter_video(tmp_path / "v.avi", chunk_frames=1 << 30))
    assert len(got) == 1 and len(whole) >= 38
    np.testing.assert_array_equal(got[0], whole)
    np.testing.assert_allclose(whole[:, 16, 24, 0], [6 * i for i in range(len(whole))], atol=6)
