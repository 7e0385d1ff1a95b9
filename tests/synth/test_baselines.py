import numpy as np

from jegal.synth.baselines import retrieval_metrics, trivial_baselines, wrist_speed


def _reference_metrics(scores, rng, draws=4000):
    """Random tie-breaking simulated: add tiny random noise, rank, average."""
    n = len(scores)
    hits = {k: 0.0 for k in (5, 10, 25, 50)}
    ranks = np.zeros((draws, n))
    for d in range(draws):
        noisy = scores + rng.random(scores.shape) * 1e-6
        ranks[d] = 1 + (noisy > np.diag(noisy)[:, None]).sum(axis=1)
    for k in hits:
        hits[k] = float((ranks <= k).mean())
    return hits, float(np.median(ranks.mean(axis=0)))


def test_retrieval_metrics_match_random_tie_breaking():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 4, (60, 60)).astype(float)  # many ties
    got = retrieval_metrics(scores)
    ref, median = _reference_metrics(scores, rng)
    for k, v in ref.items():
        assert abs(got[f"R@{k}"] - v) < 0.01, (k, got[f"R@{k}"], v)
    assert abs(got["median_rank"] - median) < 0.5


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


def test_word_order_floor_by_hand():
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
    out = word_order_spotting(rows)
    assert out["word_order"] == 1 / 3
    assert out["word_order_stressed"] == 0.0 and out["word_order_unstressed"] == 0.5
