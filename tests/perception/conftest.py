"""Expensive results on the real samples, computed once per test session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def decoded(real_dir):
    """name -> Decoded for the four real videos (frames at most 640 px, 25 fps)."""
    from jegal.perception.decode import decode_video

    return {name: decode_video(real_dir / name, max_side=640)
            for name in ("sample1.avi", "sample2.avi", "speaker_raw.mp4", "two_speakers_raw.mp4")}


@pytest.fixture(scope="session")
def people(real_dir):
    """name -> People (jegal.perception.track) of the four real videos, each person followed by their body."""
    from jegal.perception.track import PeopleTracker

    tracker = PeopleTracker()
    try:
        return {name: tracker.follow(real_dir / name, name, {}, [])
                for name in ("sample1.avi", "sample2.avi", "speaker_raw.mp4", "two_speakers_raw.mp4")}
    finally:
        tracker.close()
