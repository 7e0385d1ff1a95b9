import numpy as np
import pytest

from jegal.metrics import (TIE_RULES, accuracy_by, asd_correct, in_spot_window, rank_counts, recall_at,
                           retrieval_metrics, retrieval_ranks, spot_batch, spot_decisions, spot_word,
                           spotting_probabilities)


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


def test_unknown_tie_rule_is_refused():
    with pytest.raises(ValueError, match="ties"):
        retrieval_metrics(np.eye(3), ties="optimistic")


def test_expected_ties_by_hand():
    # query 0: two candidates tie the truth -> rank 1, 2 or 3 with probability 1/3 each
    # query 1: one candidate above, none tied -> rank 2; query 2: NaN truth -> last (3), as pessimistic
    s = np.array([[0.5, 0.5, 0.5],
                  [0.9, 0.4, 0.1],
                  [0.0, 0.0, np.nan]])
    assert retrieval_ranks(s, ties="expected").tolist() == [2.0, 2.0, 3.0]
    assert retrieval_ranks(s, ties="pessimistic").tolist() == [3, 2, 3]
    m = retrieval_metrics(s, ks=(1, 2, 3), ties="expected")["content_to_gesture"]
    assert m["R@1"] == pytest.approx((1 / 3 + 0 + 0) / 3)
    assert m["R@2"] == pytest.approx((2 / 3 + 1 + 0) / 3)
    assert m["R@3"] == pytest.approx(1.0)
    assert m["median_rank"] == 2.0 and m["mean_rank"] == pytest.approx(7 / 3)
    # a NaN candidate is never a tie: it ranks above under both rules
    assert retrieval_ranks(np.array([[0.5, np.nan], [0.0, 1.0]]), ties="expected").tolist() == [2.0, 1.0]


def _random_order_ranks(scores, rng, draws):
    """The diagonal's rank when every query's candidates are sorted by score with ties ordered by a
    fresh uniform random permutation (a Python loop, draw by draw): (draws, N)."""
    n = len(scores)
    out = np.zeros((draws, n))
    for d in range(draws):
        for i in range(n):
            truth = scores[i][i]
            if np.isnan(truth):
                out[d, i] = n
                continue
            keys = []
            for j in range(n):
                c = scores[i][j]
                keys.append((float("inf") if np.isnan(c) else c, rng.random(), j))
            order = sorted(keys, key=lambda k: (-k[0], k[1]))  # best first, ties in random order
            out[d, i] = 1 + [k[2] for k in order].index(i)
    return out


def test_expected_ties_match_random_tie_breaking_on_random_scores():
    rng = np.random.default_rng(3)
    for n in (7, 17):
        s = rng.integers(0, 3, size=(n, n)).astype(float)  # many ties
        s[rng.random((n, n)) < 0.05] = np.nan
        ranks = _random_order_ranks(s.tolist(), rng, draws=1500)
        got = retrieval_metrics(s, ks=(1, 2, 5, 10), ties="expected")["content_to_gesture"]
        np.testing.assert_allclose(retrieval_ranks(s, ties="expected"), ranks.mean(axis=0), atol=0.15)
        for k in (1, 2, 5, 10):
            assert abs(got[f"R@{k}"] - float((ranks <= k).mean())) < 0.02, k
        assert abs(got["median_rank"] - float(np.median(ranks.mean(axis=0)))) < 0.5


def test_without_ties_both_rules_agree_and_pessimistic_ranks_are_any_order_worst():
    rng = np.random.default_rng(4)
    s = rng.normal(size=(40, 40))
    a, b = retrieval_metrics(s, ties="pessimistic"), retrieval_metrics(s, ties="expected")
    assert a.pop("ties") == "pessimistic" and b.pop("ties") == "expected"
    assert a == b
    # with ties, the pessimistic rank is the worst a random order can give
    t = rng.integers(0, 3, size=(15, 15)).astype(float)
    assert np.all(_random_order_ranks(t.tolist(), rng, 200).max(axis=0) <= retrieval_ranks(t))


def test_rank_counts_match_a_loop():
    rng = np.random.default_rng(5)
    s = rng.integers(0, 3, size=(12, 12)).astype(float)
    s[rng.random((12, 12)) < 0.1] = np.nan
    above, tied = rank_counts(s)
    for i in range(12):
        t = s[i, i]
        ref_above = sum(1 for j in range(12) if j != i and (np.isnan(t) or np.isnan(s[i, j]) or s[i, j] > t))
        ref_tied = sum(1 for j in range(12) if j != i and s[i, j] == t)
        assert (above[i], tied[i]) == (ref_above, ref_tied)


def test_recall_at_with_ties_is_the_probability_of_the_rank():
    # pessimistic rank 4 with 3 ties: the rank is uniform over 1..4
    assert recall_at(np.array([4]), (1, 2, 4, 5), tied=np.array([3])) == {"R@1": 0.25, "R@2": 0.5, "R@4": 1.0,
                                                                          "R@5": 1.0}


def test_torch_scores_give_the_numpy_result():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    s = rng.integers(0, 4, size=(30, 30)).astype(np.float32)
    for ties in TIE_RULES:
        assert retrieval_metrics(torch.from_numpy(s), ties=ties) == retrieval_metrics(s, ties=ties)
    m = retrieval_metrics(torch.eye(60, dtype=torch.bfloat16))
    assert m["content_to_gesture"]["R@5"] == 1.0 and m["gesture_to_content"]["median_rank"] == 1.0
    assert retrieval_ranks(torch.zeros(5, 5)).tolist() == [5] * 5  # all tied: worst rank, not best


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


def _slow_spot(frames, words, n_frames, n_words, target, start, end):
    """The protocol for one (clip, target) by loops: per-frame softmax over the real words,
    the best probability over the real frames, every frame sharing it in the window."""
    probs = []
    for t in range(n_frames):
        cos = [float(np.dot(frames[t], words[w]) / np.linalg.norm(frames[t]) / np.linalg.norm(words[w]))
               for w in range(n_words)]
        m = max(cos)
        e = [np.exp((c - m) / 0.07) for c in cos]
        probs.append(e[target] / sum(e))
    best = max(probs)
    best_frames = [t for t in range(n_frames) if probs[t] == best]
    inside = all(start - 9 <= t <= end + 9 for t in best_frames)
    return inside and best >= 0.5


def test_spot_batch_matches_a_slow_reference_with_padding_and_ties():
    rng = np.random.default_rng(7)
    B, T, W, d = 24, 30, 6, 16
    words = rng.normal(size=(B, W, d))
    frames = rng.normal(size=(B, T, d))
    n_frames = rng.integers(10, T + 1, size=B)
    n_words = rng.integers(2, W + 1, size=B)
    target = (rng.random(B) * n_words).astype(int)
    starts = rng.integers(0, 25, size=2 * B)
    ends = starts + rng.integers(0, 4, size=2 * B)
    for b in range(0, B, 2):  # half the clips gesture their target over a run of 4 identical frames
        s0 = int(rng.integers(0, n_frames[b] - 4))
        frames[b, s0 : s0 + 4] = words[b, target[b]]
        starts[2 * b] = ends[2 * b] = max(0, s0 + int(rng.integers(-12, 4)))  # often the run straddles the window
    frames[3, :] = words[3, target[3]]  # a clip whose every frame ties, frame 0 inside the window, the rest not
    starts[6] = ends[6] = 0
    rows_clip = np.repeat(np.arange(B), 2)  # two targets per clip: the gestured one and another
    rows_word = np.stack([target, (target + 1) % n_words], 1).ravel()
    fmask = np.arange(T)[None] < n_frames[:, None]
    wmask = np.arange(W)[None] < n_words[:, None]
    got = spot_batch(frames, words, rows_clip, rows_word, starts, ends, frame_mask=fmask, word_mask=wmask)["correct"]
    ref = [_slow_spot(frames[b], words[b], n_frames[b], n_words[b], w, s0, e0)
           for b, w, s0, e0 in zip(rows_clip, rows_word, starts, ends)]
    assert got.tolist() == ref and 0 < sum(ref) < len(ref)


def test_spot_batch_accepts_torch_and_equals_spot_word_per_clip():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    frames, words = rng.normal(size=(5, 20, 8)), rng.normal(size=(5, 4, 8))
    idx, w = np.arange(5), np.array([0, 1, 2, 3, 0])
    starts, ends = np.array([2, 5, 8, 0, 15]), np.array([4, 6, 9, 1, 19])
    got = spot_batch(torch.from_numpy(frames).float(), torch.from_numpy(words).float(), torch.from_numpy(idx),
                     torch.from_numpy(w), starts, ends, frame_mask=torch.ones(5, 20, dtype=torch.bool))
    for b in range(5):
        one = spot_word(spotting_probabilities(frames[b], words[b]), int(w[b]), int(starts[b]), int(ends[b]))
        assert (bool(got["correct"][b]), int(got["frame"][b]), bool(got["in_window"][b])) == \
            (one["correct"], one["frame"], one["in_window"])
        assert got["prob"][b] == pytest.approx(one["prob"], rel=1e-5)


def test_batched_probabilities_with_word_padding_equal_per_clip_ones():
    rng = np.random.default_rng(9)
    frames, words = rng.normal(size=(3, 7, 5)), rng.normal(size=(3, 4, 5))
    wmask = np.array([[1, 1, 1, 1], [1, 1, 0, 0], [1, 0, 0, 0]], bool)
    p = spotting_probabilities(frames, words, word_mask=wmask)
    for b in range(3):
        n = int(wmask[b].sum())
        np.testing.assert_allclose(p[b, :, :n], spotting_probabilities(frames[b], words[b, :n]), rtol=1e-12)
        assert np.all(p[b, :, n:] == 0)


def test_spot_window_and_padding_never_wins():
    assert in_spot_window(np.arange(0, 40), 10, 14).nonzero()[0].tolist() == list(range(1, 24))
    p = np.array([[0.1, 0.6, 0.2, 0.9]])  # the 0.9 is on a padded frame
    d = spot_decisions(p, [1], [1], frame_mask=np.array([[1, 1, 1, 0]], bool), margin=0)
    assert d["frame"].tolist() == [1] and d["correct"].tolist() == [True]


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


# -- gestured words ---------------------------------------------------------------------------
from itertools import permutations  # noqa: E402

from jegal.metrics import (average_precision, best_precision_at_recall, conditioned_auc,  # noqa: E402
                           expected_calibration_error, first_hit, identification, interval_iou, localisation,
                           precision_recall, roc_auc, stroke_distance)


def _slow_auc(s, y):
    pos = [a for a, l in zip(s, y) if l]
    neg = [b for b, l in zip(s, y) if not l]
    if not pos or not neg:
        return float("nan")
    wins = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in pos for b in neg)
    return wins / (len(pos) * len(neg))


def _slow_flag_curve(s, y):
    """(threshold, precision, recall) flagging every score >= each distinct threshold, highest first."""
    out = []
    for thr in sorted(set(s), reverse=True):
        tp = sum(1 for a, l in zip(s, y) if a >= thr and l)
        fp = sum(1 for a, l in zip(s, y) if a >= thr and not l)
        out.append((thr, tp / (tp + fp), tp / sum(y)))
    return out


def _slow_ap(s, y):
    if not any(y):
        return float("nan")
    ap, last = 0.0, 0.0
    for _, p, r in _slow_flag_curve(s, y):
        ap += (r - last) * p
        last = r
    return ap


def _random_binary(rng, n):
    s = rng.integers(0, 5, size=n).astype(float)  # many ties
    if rng.random() < 0.3:
        s = s + rng.random(n)  # no ties
    return s, rng.random(n) < rng.uniform(0.1, 0.9)


def test_auc_and_ap_match_slow_references_on_random_scores_with_ties():
    rng = np.random.default_rng(1)
    for _ in range(200):
        s, y = _random_binary(rng, int(rng.integers(1, 40)))
        np.testing.assert_allclose(roc_auc(s, y), _slow_auc(s.tolist(), y.tolist()), equal_nan=True)
        np.testing.assert_allclose(average_precision(s, y), _slow_ap(s.tolist(), y.tolist()), equal_nan=True)


def test_auc_ap_by_hand_and_edge_cases():
    assert roc_auc([0.1, 0.9, 0.5], [0, 1, 0]) == 1.0
    assert roc_auc([0.9, 0.1], [0, 1]) == 0.0
    assert roc_auc(np.ones(7), [1, 0, 0, 1, 0, 0, 0]) == 0.5  # a constant score: every pair ties
    assert np.isnan(roc_auc([1, 2], [1, 1]))
    assert average_precision(np.ones(5), [1, 0, 0, 0, 1]) == pytest.approx(0.4)  # constant -> base rate
    assert average_precision([3, 2, 1], [1, 0, 1]) == pytest.approx((1 + 2 / 3) / 2)
    assert roc_auc([-np.inf, np.inf], [0, 1]) == 1.0
    with pytest.raises(ValueError, match="NaN"):
        roc_auc([np.nan, 1], [0, 1])


def test_conditioned_auc_by_groups_and_a_group_prior_gets_half():
    rng = np.random.default_rng(2)
    for _ in range(50):
        n = int(rng.integers(5, 60))
        g = rng.integers(0, 6, size=n)
        y = rng.random(n) < rng.random(6)[g]
        s, _ = _random_binary(rng, n)
        res = conditioned_auc(s, y, g.tolist())
        mixed = [k for k in set(g.tolist()) if 0 < y[g == k].sum() < (g == k).sum()]
        keep = np.isin(g, mixed)
        assert res["groups"] == len(mixed) and res["rows"] == int(keep.sum())
        if mixed:
            np.testing.assert_allclose(res["pooled"], _slow_auc(s[keep].tolist(), y[keep].tolist()))
            per = [(_slow_auc(s[g == k].tolist(), y[g == k].tolist()), (g == k).sum()) for k in mixed]
            np.testing.assert_allclose(res["per_group_mean"], sum(a * w for a, w in per) / sum(w for _, w in per))
            prior = np.array([y[g == k].mean() for k in g])  # a score that depends only on the group
            assert conditioned_auc(prior, y, g.tolist())["per_group_mean"] == pytest.approx(0.5)
        else:
            assert np.isnan(res["pooled"])


def test_precision_recall_and_best_precision_at_recall_match_slow_references():
    rng = np.random.default_rng(3)
    for _ in range(200):
        s, y = _random_binary(rng, int(rng.integers(1, 30)))
        if not y.any():
            assert np.isnan(best_precision_at_recall(s, y, 0.5)["precision"])
            continue
        r_min = float(rng.choice([0.0, 0.3, 0.6, 1.0]))
        curve = [c for c in _slow_flag_curve(s.tolist(), y.tolist()) if c[2] >= r_min - 1e-12]
        best = max(curve, key=lambda c: (c[1], c[2]))
        got = best_precision_at_recall(s, y, r_min)
        assert (got["threshold"], got["precision"], got["recall"]) == pytest.approx(best)
        thr = got["threshold"]
        pr = precision_recall(s >= thr, y)
        assert pr["precision"] == pytest.approx(best[1]) and pr["recall"] == pytest.approx(best[2])
        assert pr["flagged_fraction"] == pytest.approx(got["flagged_fraction"])


def test_precision_recall_by_hand():
    pr = precision_recall([1, 1, 0, 0, 1], [1, 0, 0, 1, 1])
    got = (pr["precision"], pr["recall"], pr["base_rate"], pr["flagged_fraction"])
    assert got == pytest.approx((2 / 3, 2 / 3, 0.6, 0.6))
    assert pr["f1"] == pytest.approx(2 / 3)
    nothing = precision_recall([0, 0], [1, 0])
    assert np.isnan(nothing["precision"]) and nothing["recall"] == 0 and np.isnan(nothing["f1"])


def _slow_ece(p, y, bins=10):
    total = 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        idx = [i for i, x in enumerate(p) if lo <= x < hi or (b == bins - 1 and x == 1.0)]
        if idx:
            total += len(idx) / len(p) * abs(sum(p[i] for i in idx) / len(idx) - sum(y[i] for i in idx) / len(idx))
    return total


def test_ece_matches_a_slow_reference_and_is_zero_when_calibrated():
    rng = np.random.default_rng(4)
    for _ in range(100):
        n = int(rng.integers(1, 50))
        p = rng.choice([0.0, 0.1, 0.25, 0.5, 0.999, 1.0], size=n) if rng.random() < 0.5 else rng.random(n)
        y = rng.random(n) < 0.4
        assert expected_calibration_error(p, y) == pytest.approx(_slow_ece(p.tolist(), y.tolist()))
    assert expected_calibration_error([0.25] * 4, [1, 0, 0, 0]) == pytest.approx(0.0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        expected_calibration_error([1.5], [1])


def _slow_first_hit(s, y, ties):
    """Every order of the words consistent with the scores (tie-breaking by a permutation)."""
    n = len(s)
    if ties == "pessimistic":  # gestured words after non-gestured ones among ties
        order = sorted(range(n), key=lambda i: (-s[i], y[i]))
        r = next(k for k, i in enumerate(order, 1) if y[i])
        return float(r == 1), 1 / r
    top, rr, count = 0.0, 0.0, 0
    for perm in permutations(range(n)):
        order = sorted(range(n), key=lambda i: (-s[i], perm[i]))
        r = next(k for k, i in enumerate(order, 1) if y[i])
        top, rr, count = top + (r == 1), rr + 1 / r, count + 1
    return top / count, rr / count


def test_identification_matches_a_slow_reference_under_both_tie_rules():
    rng = np.random.default_rng(5)
    clips_s, clips_y = [], []
    for _ in range(150):
        w = int(rng.integers(1, 7))
        s = rng.integers(0, 3, size=w).astype(float)
        y = rng.random(w) < 0.4
        clips_s.append(s)
        clips_y.append(y)
        if y.any():
            for ties in ("pessimistic", "expected"):
                assert first_hit(s, y, ties) == pytest.approx(_slow_first_hit(s.tolist(), y.tolist(), ties))
    for ties in ("pessimistic", "expected"):
        res = identification(clips_s, clips_y, ties)
        ref = [_slow_first_hit(s.tolist(), y.tolist(), ties) for s, y in zip(clips_s, clips_y)
               if len(y) >= 2 and y.any()]
        assert res["clips"] == len(ref)
        assert res["top1"] == pytest.approx(np.mean([r[0] for r in ref]))
        assert res["mrr"] == pytest.approx(np.mean([r[1] for r in ref]))


def test_identification_label_score_is_perfect_and_constant_is_chance():
    ys = [np.array([0, 1, 0, 0]), np.array([1, 0]), np.array([0, 0, 1, 1, 0])]
    res = identification([y.astype(float) for y in ys], ys)
    assert res["top1"] == 1.0 and res["mrr"] == 1.0
    const = identification([np.zeros(len(y)) for y in ys], ys, "pessimistic")
    assert const["top1"] == 0.0  # pessimistic: a constant score never wins
    exp = identification([np.zeros(len(y)) for y in ys], ys, "expected")
    assert exp["top1"] == pytest.approx(np.mean([1 / 4, 1 / 2, 2 / 5])) == pytest.approx(exp["chance_top1"])


def test_localisation_matches_slow_references():
    rng = np.random.default_rng(6)
    s = rng.integers(0, 50, size=300)
    e = s + rng.integers(0, 10, size=300)
    f = rng.integers(0, 70, size=300).astype(float)
    ps = rng.integers(0, 60, size=300).astype(float)
    pe = ps + rng.integers(-2, 12, size=300)
    d = stroke_distance(f, s, e)
    iou = interval_iou(ps, pe, s, e)
    for i in range(300):
        stroke = set(range(s[i], e[i] + 1))
        assert d[i] == min(abs(f[i] - x) for x in stroke)
        pred = set(range(int(ps[i]), int(pe[i]) + 1))
        assert iou[i] == pytest.approx(len(pred & stroke) / len(pred | stroke))
    f[:5] = np.nan
    loc = localisation(f, s, e)
    dd = stroke_distance(f, s, e)
    assert loc["missing"] == 5 and loc["n"] == 300
    assert loc["in_stroke"] == pytest.approx(np.sum(dd[5:] == 0) / 300)
    assert loc["within_margin"] == pytest.approx(np.sum(dd[5:] <= 9) / 300)
    assert loc["mean_distance"] == pytest.approx(dd[5:].mean())
    assert np.isnan(interval_iou([np.nan], [3], [1], [2])[0])
