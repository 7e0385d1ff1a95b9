"""One people tracker kept across videos (``jegal serve``'s worker, ``jegal prepare``'s workers) gives
the same people as a fresh one: its models' state is cleared between videos."""

from __future__ import annotations

import numpy as np
import pytest


def _same(a, b) -> None:
    assert a.num_frames == b.num_frames and a.scale == b.scale
    assert len(a.persons) == len(b.persons)
    for pa, pb in zip(a.persons, b.persons):
        assert [p.start for p in pa] == [p.start for p in pb]
        for x, y in zip(pa, pb):
            np.testing.assert_array_equal(x.raw, y.raw)
            np.testing.assert_array_equal(x.bodies, y.bodies)
            np.testing.assert_array_equal(x.faces, y.faces)


@pytest.mark.slow
def test_a_video_gives_the_same_people_to_a_fresh_tracker_and_to_one_that_followed_another(real_dir):
    from jegal.perception.track import PeopleTracker

    tracker = PeopleTracker()
    try:
        fresh = tracker.follow(real_dir / "sample1.avi", "sample1", {}, [])
        tracker.follow(real_dir / "sample2.avi", "sample2", {}, [])
        again = tracker.follow(real_dir / "sample1.avi", "sample1", {}, [])
    finally:
        tracker.close()
    assert len(fresh.persons) >= 1
    _same(fresh, again)


@pytest.mark.slow
def test_reset_clears_the_pose_tracking_state(real_dir, decoded):
    """The pose estimator in tracking mode carries what it saw into the next frame; after
    :meth:`PeopleTracker.reset` a frame gives what it gives to a new estimator."""
    from jegal.perception.options import PrepareOptions
    from jegal.perception.track import PeopleTracker

    frames = decoded["speaker_raw.mp4"].frames
    tracker = PeopleTracker(PrepareOptions(threads=1))
    try:
        _, _, (pose,) = tracker._models()
        first = pose.frame(frames[60])
        for f in frames[:40]:
            pose.frame(f)
        tracked = pose.frame(frames[60])
        tracker.reset()
        after = pose.frame(frames[60])
    finally:
        tracker.close()
    assert not np.array_equal(first, tracked)  # the state was there to clear
    np.testing.assert_array_equal(first, after)
