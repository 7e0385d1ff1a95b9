import numpy as np

from jegal.data.keypoints import LEFT_SHOULDER, RIGHT_SHOULDER
from jegal.perception.track import Part, People, drop_duplicate_people, join_parts, link_parts


def _part(start, n, x, rgb=False):
    faces = np.tile(np.array([[x, 50, x + 40, 90]], np.float32), (n, 1))
    raw = np.full((n, 56, 3), start, np.float32)
    raw[:, LEFT_SHOULDER] = [x + 60, 120, 0.9]
    raw[:, RIGHT_SHOULDER] = [x - 20, 120, 0.9]
    return Part(start, raw, faces, faces.copy(), np.ones((n, 4, 4, 3), np.uint8) if rgb else None, 0.9)


def test_link_continues_bodies_across_chunks_and_join_fills_gaps():
    persons = []
    link_parts(persons, [_part(0, 40, 100, True), _part(5, 35, 300, True)], 0, linkable=False, max_gap=8)
    # Next chunk from frame 40: the person at x=300 continues after a 3-frame gap, the one at
    # x=100 is gone, and someone new appears at x=500.
    link_parts(persons, [_part(43, 20, 305, True), _part(40, 20, 500, True)], 40, linkable=True, max_gap=8)
    assert [[p.start for p in ps] for ps in persons] == [[0], [5, 43], [40]]
    start, raw, faces, rgb = join_parts(persons[1])
    assert start == 5 and len(raw) == len(faces) == len(rgb) == 58  # frames 5..62
    assert np.all(raw[35:38] == 0) and np.all(rgb[35:38] == 0) and np.all(raw[38:, 4:] == 43)
    # Across a scene cut nothing is linked.
    persons2 = []
    link_parts(persons2, [_part(0, 40, 100)], 0, linkable=False, max_gap=8)
    link_parts(persons2, [_part(40, 20, 100)], 40, linkable=False, max_gap=8)
    assert len(persons2) == 2
    # A body whose shoulders were last seen long before the chunk's edge is not continued.
    persons3 = []
    late = _part(0, 40, 100)
    late.raw[10:, [LEFT_SHOULDER, RIGHT_SHOULDER], 2] = 0
    link_parts(persons3, [late], 0, linkable=False, max_gap=8)
    link_parts(persons3, [_part(40, 20, 100)], 40, linkable=True, max_gap=8)
    assert len(persons3) == 2


def _body(T, x, conf=1.0):
    raw = np.zeros((T, 56, 3), np.float32)
    raw[:, LEFT_SHOULDER] = [x + 40, 100, conf]
    raw[:, RIGHT_SHOULDER] = [x, 100, conf]
    return raw


def test_drop_duplicate_people_keeps_the_stronger_over_one_body():
    # 0 and 1: one body (two seeds followed onto it), 1 is stronger; 2 stands elsewhere;
    # 3 is the same place as 1 but later (no overlap); 4 overlaps 1 with shoulders never seen.
    raws = [_body(30, 100), _body(30, 105), _body(30, 400), _body(10, 100), _body(30, 100, conf=0.0)]
    starts = [0, 5, 0, 40, 0]
    scores = [0.6, 0.9, 0.7, 0.5, 0.95]
    assert drop_duplicate_people(raws, starts, scores) == [1, 2, 3, 4]


def test_keypoint_people_are_one_person_over_every_frame():
    raw = np.random.default_rng(0).normal(size=(12, 56, 3)).astype(np.float32)
    people = People.from_keypoints(raw)
    assert people.num_frames == 12 and people.scale == 1.0 and len(people.persons) == 1
    start, kp, faces, rgb = join_parts(people.persons[0])
    assert start == 0 and kp is raw and faces.shape == (12, 4) and rgb is None
