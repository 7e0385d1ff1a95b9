import csv

import numpy as np

from jegal.data.benchmarks import read_benchmark
from jegal.metrics import retrieval_metrics
from jegal.synth.baselines import clip_length_retrieval, trivial_baselines, wrist_speed


def test_wrist_speed_matches_a_loop():
    rng = np.random.default_rng(1)
    kp = rng.normal(size=(20, 56, 3)).astype(np.float32)
    ref = [0.0] + [max(np.linalg.norm(kp[t, j, :2] - kp[t - 1, j, :2]) for j in (4, 5)) for t in range(1, 20)]
    np.testing.assert_allclose(wrist_speed(kp), ref, rtol=1e-5)


def test_trivial_baselines_cannot_solve_the_benchmarks(small_corpus):
    out, _ = small_corpus
    b = trivial_baselines(out)
    spot, ret = b["spotting"], b["retrieval"]
    assert spot["oracle"] >= 0.95
    assert spot["fastest_hand"] < spot["oracle"] - 0.2
    for direction in ("content_to_gesture", "gesture_to_content"):
        for k in ("R@5", "R@10", "R@25"):
            assert abs(ret[direction][k] - ret["chance"][k]) < 0.05 + 0.5 * ret["chance"][k]


def test_clip_length_floor_is_the_one_metric_with_expected_ties(small_corpus):
    out, _ = small_corpus
    from jegal.data.shards import read_clips

    bench = read_benchmark(out / "benchmarks" / "ret.csv")
    clips = {c.clip_id: c for c in read_clips(out / "test")}
    got = clip_length_retrieval(bench, clips)
    assert got["ties"] == "expected" and got["rows"] == len(bench.rows)
    # the reference: the lengths by a loop, then the module's metric with the rule spelled out
    content = [r.words[-1].end + 1 for r in bench.rows]
    gesture = [clips[r.filename].num_frames for r in bench.rows]
    scores = np.array([[-abs(c - g) for g in gesture] for c in content], float)
    assert got == {"rows": len(bench.rows), **retrieval_metrics(scores, ties="expected")}
    # the lengths tie by construction, so the rule matters: counting ties against the floor is worse
    worse = retrieval_metrics(scores, ties="pessimistic")["content_to_gesture"]
    assert worse["median_rank"] > got["content_to_gesture"]["median_rank"]


def _write_csv(path, rows):
    with open(path, "w", newline="") as f:
        wr = csv.DictWriter(f, fieldnames=list(rows[0]))
        wr.writeheader()
        wr.writerows(rows)
    return path


def test_word_order_floor_by_hand(tmp_path):
    from jegal.synth.baselines import word_order_spotting

    words = "[['a', 0, 9], ['b', 10, 19], ['c', 60, 69], ['d', 70, 79]]"  # 80 frames, 'c' late
    rows = [
        # target 'b' (k=1 of 4): guess round(1.5 / 4 * 80) = 30, window [1, 28] -> miss
        {"filename": "x", "num_frames": "80", "word_boundaries": words, "target_word_boundary": "['b', 10, 19]",
         "stress_label": "1"},
        # target 'c' (k=2): guess 50, window [51, 78] -> miss by one frame
        {"filename": "x", "num_frames": "80", "word_boundaries": words, "target_word_boundary": "['c', 60, 69]",
         "stress_label": "0"},
        # target 'd' (k=3): guess 70 -> hit; no num_frames: T = last end + 1 = 80
        {"filename": "x", "num_frames": "", "word_boundaries": words, "target_word_boundary": "['d', 70, 79]",
         "stress_label": "0"},
    ]
    out = word_order_spotting(read_benchmark(_write_csv(tmp_path / "spot.csv", rows)))
    assert out["word_order"] == 1 / 3
    assert out["word_order_stressed"] == 0.0 and out["word_order_unstressed"] == 0.5
    # a row the reader cannot parse is a miss, never left out
    bad = {**rows[2], "target_word_boundary": "['e', 80, 85]"}
    out = word_order_spotting(read_benchmark(_write_csv(tmp_path / "spot2.csv", rows + [bad])))
    assert out["rows"] == 4 and out["word_order"] == 1 / 4
