import numpy as np
import pytest

from jegal.perception.people import body_box, scene_cuts, smooth_boxes, track_faces


def _det(x, y, w=40.0, score=0.9):
    return [x, y, x + w, y + w, score]


def test_two_people_crossing_keep_their_identity():
    # Person A walks right, B walks left; they pass at frame ~30 with B slightly lower.
    dets = []
    for t in range(60):
        a = _det(50 + 4 * t, 100)
        b = _det(290 - 4 * t, 130)
        dets.append(np.array([b, a] if t % 2 else [a, b], np.float32))  # detector order is arbitrary
    tracks = track_faces(dets, min_frames=10)
    assert len(tracks) == 2
    for tr in tracks:
        assert tr.num_frames == 60
        # A track stays on one person: its vertical position never switches between rows.
        ys = tr.faces[:, 1]
        assert np.all(ys == ys[0])


def test_gaps_are_bridged_by_interpolation_and_long_gaps_split():
    dets = [np.array([_det(100 + t, 50)], np.float32) for t in range(40)]
    for t in (10, 11, 12):
        dets[t] = np.zeros((0, 5), np.float32)
    tracks = track_faces(dets, max_gap=5, min_frames=5)
    assert len(tracks) == 1
    np.testing.assert_allclose(tracks[0].faces[11], [111, 50, 151, 90])
    assert tracks[0].scores[11] == 0 and tracks[0].scores[13] > 0
    for t in range(15, 25):
        dets[t] = np.zeros((0, 5), np.float32)
    tracks = track_faces(dets, max_gap=5, min_frames=5)
    assert [(tr.start, tr.end) for tr in tracks] == [(0, 14), (25, 39)]


def test_scene_cut_ends_tracks_and_short_or_weak_tracks_are_dropped():
    dets = [np.array([_det(100, 50)], np.float32) for _ in range(60)]
    dets[5] = np.array([_det(100, 50), _det(300, 50, score=0.9)], np.float32)  # one-frame false face
    for t in range(40, 60):
        dets[t] = np.array([_det(100, 50), _det(300, 60, score=0.3)], np.float32)  # weak detections
    tracks = track_faces(dets, cuts=[0, 30], min_frames=10, min_score=0.5)
    assert [(tr.start, tr.end, tr.scene) for tr in tracks] == [(0, 29, 0), (30, 59, 1)]
    assert [tr.track_id for tr in tracks] == [0, 1]


def test_smooth_boxes_matches_a_plain_moving_average():
    rng = np.random.default_rng(0)
    boxes = rng.normal(size=(23, 4)).astype(np.float32)
    got = smooth_boxes(boxes, window=5)
    ref = np.stack([boxes[max(0, i - 2): i + 3].mean(0) for i in range(len(boxes))])
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


def test_body_box_contains_the_face_and_stays_in_the_frame():
    faces = np.array([[100, 40, 140, 90], [0, 0, 30, 30], [600, 300, 640, 360]], np.float32)
    boxes = body_box(faces, (360, 640))
    assert np.all(boxes[:, 0] <= faces[:, 0]) and np.all(boxes[:, 2] >= faces[:, 2])
    assert np.all(boxes[:, 1] <= faces[:, 1]) and np.all(boxes[:, 3] >= faces[:, 3])
    assert boxes[:, [0, 1]].min() >= 0 and boxes[:, 2].max() <= 640 and boxes[:, 3].max() <= 360


def test_scene_cuts_on_synthetic_shots():
    rng = np.random.default_rng(0)
    red = np.zeros((20, 32, 32, 3), np.uint8)
    red[..., 0] = 200
    blue = np.zeros((15, 32, 32, 3), np.uint8)
    blue[..., 2] = 200
    frames = np.concatenate([red, blue]) + rng.integers(0, 10, (35, 32, 32, 3), dtype=np.uint8)
    assert scene_cuts(frames) == [0, 20]


@pytest.mark.slow
def test_speaker_raw_is_one_track_over_the_whole_video(people, decoded):
    tracks, _ = people["speaker_raw.mp4"]
    assert len(tracks) == 1
    assert tracks[0].num_frames >= 0.95 * decoded["speaker_raw.mp4"].num_frames


@pytest.mark.slow
def test_two_speakers_two_tracks_without_swaps(people, decoded):
    from jegal.data.keypoints import LEFT_SHOULDER, RIGHT_SHOULDER
    from jegal.perception.track import drop_duplicate_people

    tracks, raws = people["two_speakers_raw.mp4"]
    kept = drop_duplicate_people(raws, [t.start for t in tracks], [float(t.scores.mean()) for t in tracks])
    tracks, raws = [tracks[i] for i in kept], [raws[i] for i in kept]
    assert len(tracks) == 2
    # The shot changes at frame 52 (one person faces the camera in each shot).
    assert tracks[0].start == 0 and tracks[1].start == 52
    for tr, raw in zip(tracks, raws):
        centres = (tr.faces[:, :2] + tr.faces[:, 2:]) / 2
        width = tr.faces[:, 2] - tr.faces[:, 0]
        # No swap: the face never jumps by more than half its width between frames...
        assert np.max(np.linalg.norm(np.diff(centres, axis=0), axis=1) / width[1:]) < 0.5
        # ...and the body under it stays put too.
        mid = raw[:, [LEFT_SHOULDER, RIGHT_SHOULDER], :2].mean(1)
        shoulder = np.linalg.norm(raw[:, LEFT_SHOULDER, :2] - raw[:, RIGHT_SHOULDER, :2], axis=-1)
        assert np.max(np.linalg.norm(np.diff(mid, axis=0), axis=1) / shoulder[1:]) < 0.5
    # Two different people: their bodies are in different places of the frame.
    mids = [raw[:, [LEFT_SHOULDER, RIGHT_SHOULDER], 0].mean() for raw in raws]
    assert abs(mids[0] - mids[1]) > 50


def test_face_detection_on_parallel_threads_equals_one_detector(decoded):
    """Detection splits the searched frames over one detector per thread; each image is
    looked at on its own, so the boxes are exactly those of a single detector."""
    from jegal.perception.people import FaceDetector, detect_faces

    frames = decoded["two_speakers_raw.mp4"].frames[:60]
    detectors = [FaceDetector(), FaceDetector()]
    try:
        for stride in (1, 2, 3):
            one = detect_faces(frames, detectors[0], stride=stride)
            two = detect_faces(frames, detectors, stride=stride)
            assert len(one) == len(two) == len(frames)
            assert sum(len(b) for b in one) > 0
            for i, (a, b) in enumerate(zip(one, two)):
                np.testing.assert_array_equal(a, b, err_msg=f"frame {i}, stride {stride}")
                if i % stride:
                    assert len(b) == 0
    finally:
        for d in detectors:
            d.close()
