"""The people stage against a hand-made truth (issue 22's acceptance): the right number of people,
each true person held by ONE identity for >= 95 % of the frames it is in view, boxes around the
landmarks found.

The videos and their truth: :mod:`tests.perception.people_videos` (``occluded``: a panel hides the
speaker for half a second; ``masked``: her face painted over; ``crossing``: two people walk past
each other; the real speaker_raw.mp4 and two_speakers_raw.mp4, whose truth was made by looking at
their frames). ``python bench/exp_people.py --baseline DIR`` prints the same numbers as a table,
side by side with another checkout.

Box bounds, and why: the keypoint layout holds the upper body (shoulders to hips) and the hands,
no head (:mod:`jegal.data.keypoints`), so a box around the person as a viewer sees them (head
included) with a margin of 15 % a side is about 1.3x the keypoints' extent wide and about
1.3 x 1.35 (the head is about a third of the shoulder-to-hip height) tall: about 2.3x in area.
Bounds: median width <= 1.6x (a margin of at most 30 % a side), median area <= 2.5x, 90th
percentile of the area <= 3x. The face-first tracker's boxes (7 face widths wide) are 2.1-2.7x
wide and 4-5x in area: "far wider than the person".
"""

from __future__ import annotations

import pytest

from tests.perception.people_videos import MADE, REAL, Tracked, follow, make_all, score

COVERAGE = 0.95  # share of a true person's in-view frames its best single identity must hold
CONTAINS = 0.95  # share of frames whose box holds every keypoint found
WIDTH_MEDIAN = 1.6
AREA_MEDIAN = 2.5
AREA_P90 = 3.0

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def truths(tmp_path_factory, real_dir):
    """name -> Truth, the made videos written once."""
    return make_all(tmp_path_factory.mktemp("people_videos"), real_dir, MADE + REAL)


@pytest.fixture(scope="module")
def scored(truths, people):
    """name -> (truth, score): every video tracked once by the current people stage; the real videos'
    people are the session's (``people`` of tests/perception/conftest.py: the same default options,
    followed once for every test that needs them; a tracker kept across videos gives what a fresh
    one does, tests/perception/test_people_reuse.py)."""
    out = {}
    for name, truth in truths.items():
        real = people.get(f"{name}.mp4")
        tracked = follow(truth.path)[0] if real is None else [Tracked.from_parts(ps) for ps in real.persons]
        out[name] = (truth, score(truth, tracked))
    return out


NAMES = ["occluded", "masked", "crossing", "speaker_raw", "two_speakers_raw"]


@pytest.mark.parametrize("name", NAMES)
def test_the_number_of_people_is_the_truth(scored, name):
    truth, got = scored[name]
    assert got["found"] == len(truth.persons), (
        f"{name}: {got['found']} people (tracks {got['tracks']}), truth {len(truth.persons)}: "
        + "; ".join(p.label for p in truth.persons))


@pytest.mark.parametrize("name", NAMES)
def test_each_person_is_one_identity_for_95_percent_of_the_frames_in_view(scored, name):
    truth, got = scored[name]
    short = [f"{p['label']}: {p['coverage']:.0%} of frames {p['first']}..{p['last']} ({p['in_view']} in view) "
             f"by one identity, {p['identities']} identities" for p in got["persons"] if p["coverage"] < COVERAGE]
    assert not short, f"{name}: " + "; ".join(short) + f"; tracks {got['tracks']}"


@pytest.mark.parametrize("name", NAMES)
def test_boxes_hold_the_landmarks_and_are_not_far_wider(scored, name):
    _, got = scored[name]
    if not got["box_frames"]:
        pytest.fail(f"{name}: no tracked frame with a box and keypoints")
    assert got["contains"] >= CONTAINS, f"{name}: {got['contains']:.0%} of boxes hold every keypoint found"
    assert got["width_median"] <= WIDTH_MEDIAN, f"{name}: boxes {got['width_median']:.2f}x the keypoints' width"
    assert got["area_median"] <= AREA_MEDIAN and got["area_p90"] <= AREA_P90, (
        f"{name}: box area {got['area_median']:.2f}x (median), {got['area_p90']:.2f}x (90th percentile) "
        "the keypoints' extent")


def test_the_truth_is_what_the_videos_show(truths):
    """The made videos' truth: the occluder hides the speaker for about half a second, the
    crossing hides B behind A for about half a second, the masked face leaves her in every frame."""
    hidden = 100 - len(truths["occluded"].persons[0].frames)
    assert 10 <= hidden <= 16
    a, b = truths["crossing"].persons
    assert len(a.frames) == 100 and 10 <= 100 - len(b.frames) <= 16
    assert len(truths["masked"].persons[0].frames) == 100
    assert [len(p.frames) for p in truths["two_speakers_raw"].persons] == [52, 52, 120, 120]
