import numpy as np
import pytest

from jegal.evaluation.metrics import (accuracy_by, asd_correct, recall_at, retrieval_metrics, retrieval_ranks,
                                      spot_word, spotting_probabilities)


# -- retrieval --------------------------------------------------------------------------------
def test_retrieval_ranks_by_hand():
    s = np.array([[0.9, 0.1, 0.2],   # true best -> rank 1
                  [0.5, 0.4, 0.6],   # two candidates above -> rank 3
                  [0.3, 0.7, 0.5]])  # one above -> rank 2
    assert retrieval_ranks(s).tolist() == [1, 3, 2]


def test_ties_rank_below_the_candidates():
    # a constant score must give the worst rank, not the best
    assert retrieval_ranks(np.ones((4, 4))).tolist() == [4, 4, 4, 4]
    s = np.array([[0.5, 0.5, 0.1], [0.2, 0.3, 0.3], [0.0, 0.0, 0.9]])
    assert retrieval_ranks(s).tolist() == [2, 2, 1]


def test_nan_never_helps():
    s = np.array([[np.nan, 0.1, 0.2], [0.5, 0.4, np.nan], [0.3, 0.7, 0.9]])
    # row 0: true score missing -> last; row 1: NaN candidate counts above, 0.5 above -> 3
    assert retrieval_ranks(s).tolist() == [3, 3, 1]


def _slow_ranks(s):
    n = len(s)
    out = []
    for i in range(n):
        rank = 1
        for j in range(n):
            if j != i and not (s[i][j] < s[i][i]):
                rank += 1
        out.append(rank)
    return out


def test_ranks_match_a_loop_reference_on_random_scores():
    rng = np.random.default_rng(0)
    for _ in range(20):
        n = int(rng.integers(1, 30))
        s = rng.integers(0, 4, size=(n, n)).astype(float)  # many ties
        s[rng.random((n, n)) < 0.05] = np.nan
        assert retrieval_ranks(s).tolist() == _slow_ranks(s.tolist())


def test_retrieval_metrics_both_directions():
    # content 0 ranks gesture 0 second; gesture 0 ranks content 0 first
    s = np.array([[0.5, 0.6, 0.0],
                  [0.1, 0.9, 0.0],
                  [0.2, 0.3, 0.8]])
    m = retrieval_metrics(s, ks=(1, 2))
    assert m["content_to_gesture"]["R@1"] == pytest.approx(2 / 3)
    assert m["content_to_gesture"]["median_rank"] == 1.0
    # columns: gesture 1 sees content 1 (0.9) above content 0 (0.6): rank 1; all ranks 1
    assert m["gesture_to_content"]["R@1"] == 1.0
    assert m["candidates"] == 3


def test_recall_at_and_median_of_ranks():
    ranks = np.array([1, 5, 6, 10, 11, 60])
    r = recall_at(ranks, (5, 10, 50))
    assert r == {"R@5": 2 / 6, "R@10": 4 / 6, "R@50": 5 / 6}


def test_retrieval_rejects_non_square():
    with pytest.raises(ValueError):
        retrieval_ranks(np.zeros((2, 3)))


# -- spotting ---------------------------------------------------------------------------------
def test_spotting_probabilities_match_a_loop_reference():
    rng = np.random.default_rng(1)
    g, c = rng.normal(size=(7, 5)), rng.normal(size=(3, 5))
    p = spotting_probabilities(g, c)
    for t in range(7):
        cos = [np.dot(g[t], c[w]) / np.linalg.norm(g[t]) / np.linalg.norm(c[w]) for w in range(3)]
        e = np.exp(np.array(cos) / 0.07)
        np.testing.assert_allclose(p[t], e / e.sum(), rtol=1e-10)


def _probs_with_peak(T, W, word, frame, value):
    """(T, W) with word ``word`` at ``value`` on ``frame`` and lower elsewhere."""
    p = np.full((T, W), 1.0 / W)
    p[:, word] = 0.1
    p[frame, word] = value
    return p


@pytest.mark.parametrize("frame,expected", [(10 - 9, True), (10 - 10, False), (14 + 9, True), (14 + 10, False), (12, True)])
def test_spotting_window_edges(frame, expected):
    p = _probs_with_peak(40, 3, 1, frame, 0.8)
    assert spot_word(p, 1, 10, 14)["correct"] is expected


@pytest.mark.parametrize("value,expected", [(0.5, True), (0.4999, False), (0.9, True)])
def test_spotting_threshold(value, expected):
    p = _probs_with_peak(30, 3, 0, 5, value)
    assert spot_word(p, 0, 5, 5)["correct"] is expected


def test_spotting_tied_best_frames_must_all_be_inside():
    p = np.full((50, 2), 0.2)
    p[[12, 40], 0] = 0.9  # tied peaks, one far outside the word
    r = spot_word(p, 0, 10, 14)
    assert not r["correct"] and not r["in_window"]
    p[40, 0] = 0.8
    assert spot_word(p, 0, 10, 14)["correct"]


def test_spotting_end_to_end_on_embeddings():
    # word 1's embedding equals the frame embeddings at frames 20-22: it is spotted there
    rng = np.random.default_rng(2)
    d = 16
    words = np.linalg.qr(rng.normal(size=(d, d)))[0][:3]  # orthonormal words
    frames = np.tile(words[0], (40, 1)) + 0.01 * rng.normal(size=(40, d))
    frames[20:23] = words[1]
    p = spotting_probabilities(frames, words)
    assert spot_word(p, 1, 19, 21)["correct"]
    assert not spot_word(p, 1, 35, 36)["correct"]  # peak at 20 is outside [26, 45]
    assert not spot_word(p, 2, 20, 22)["correct"]  # word 2 never wins a frame: prob < 0.5


def test_accuracy_by_stress():
    r = accuracy_by([True, False, True, True], ["1", "1", "0", ""])
    assert r == {"0": {"n": 1, "correct": 1, "accuracy": 1.0}, "1": {"n": 2, "correct": 1, "accuracy": 0.5}}


# -- ASD --------------------------------------------------------------------------------------
def test_asd_by_hand():
    q = np.array([1.0, 0.0])
    own = np.array([0.8, 0.6])
    others = np.array([[0.6, 0.8], [0.0, 1.0]])
    assert asd_correct(q, own, others)  # 0.8 > 0.6, 0.0
    assert not asd_correct(q, own, np.array([[0.9, 0.1]]))
    assert not asd_correct(q, own, np.array([[0.8, -0.6]]))  # tie is an error
    assert not asd_correct(q, own, np.array([[np.nan, np.nan]]))


@pytest.mark.parametrize("P", [2, 4, 6])
def test_asd_matches_reference_on_random_inputs(P):
    rng = np.random.default_rng(P)
    for _ in range(50):
        q, own, others = rng.normal(size=4), rng.normal(size=4), rng.normal(size=(P - 1, 4))
        ref = all(float(q @ own) > float(q @ o) for o in others)
        assert asd_correct(q, own, others) == ref
