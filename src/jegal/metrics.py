"""The benchmark metrics of docs/design.md section 7: one implementation for every caller.

Training validation, ``jegal eval``, the SynthGest floors, ``jegal ablate`` and ``jegal demo``
all score through these functions, so every row of every table is computed the same way. Plain
numpy on precomputed similarities or embeddings (torch tensors are accepted and converted), so
each rule can be checked by hand:

- **Retrieval** (:func:`retrieval_ranks`, :func:`retrieval_metrics`): the rank of the true
  match (the diagonal) among all candidates, with an explicit rule for candidates whose score
  *ties* the true one (:data:`TIE_RULES`):

  - ``"pessimistic"`` (model rows): ties count as ranked above the true match, rank = 1 +
    #{other candidates scoring >= the truth}, so a model that gives every clip the same score
    gets the worst rank, not the best;
  - ``"expected"`` (floors whose scores tie by construction, such as clip length): the truth
    and the candidates tied with it are ordered uniformly at random; the rank is the expected
    rank (fractional) and R@k the probability that the rank is <= k.

  Under both rules a NaN score (a missing clip) never helps: a NaN true score ranks last and a
  NaN candidate ranks above the true one.
- **Spotting** (:func:`spotting_probabilities`, :func:`spot_word`, :func:`spot_decisions`,
  :func:`spot_batch`): per frame, a softmax over the clip's words of ``cos(g_t, c_w) / 0.07``;
  the target word's best frame must lie in ``[start - 9, end + 9]`` (:func:`in_spot_window`)
  and have probability >= 0.5. When several frames share the best probability, every one of
  them must lie in the window.
- **ASD** (:func:`asd_correct`): the query's own gesture clip must score strictly above each
  of the P - 1 other candidates; a tie is an error, and so is a missing (NaN) candidate.
- **Gestured words** (the questions of GRW: Hegde, Prajwal, Zisserman, "Recognizing Co-Speech
  Gestures in-the-Wild", arXiv 2605.31589; protocols in :mod:`jegal.evaluation.gestured`), on one
  score per word (higher = more likely gestured) and a 0/1 label:

  - *detection* (is this word gestured?): :func:`roc_auc` (Mann-Whitney: a tie between a
    gestured and a non-gestured word counts half), :func:`conditioned_auc` (within words that are
    gestured in some clips and not in others), :func:`average_precision` (tied scores enter the
    ranking together, as one threshold), :func:`best_precision_at_recall`,
    :func:`precision_recall` (a boolean decision), :func:`expected_calibration_error`
    (probabilities);
  - *identification* (which word of a clip carries the gesture?): :func:`identification`, top-1
    and the reciprocal rank of the first gestured word, ties by :data:`TIE_RULES` (pessimistic:
    every tied non-gestured word ranks above; expected: random tie-breaking, exactly);
  - *localisation* (where?): :func:`stroke_distance` (frames from a peak frame to the annotated
    stroke, 0 inside it), :func:`interval_iou` (inclusive frame intervals), :func:`localisation`.

  A NaN score is an error here (a protocol decides how a missing word counts); +-inf are ordinary
  scores.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

RECALL_AT = (5, 10, 25, 50)
SPOT_TEMPERATURE = 0.07
SPOT_MARGIN = 9  # frames either side of the target word
SPOT_THRESHOLD = 0.5
ASD_SIZES = (2, 4, 6)
TIE_RULES = {  # rule -> what it means, as the tables' notes say it
    "pessimistic": "ties count against the true match, rank = 1 + the candidates scoring at least as high",
    "expected": "expected rank under random tie-breaking, R@k = the probability that the rank is <= k",
}


def as_array(x, dtype=np.float64) -> np.ndarray:
    """``x`` (numpy, a torch tensor on any device and dtype, or nested sequences) as a numpy array."""
    if hasattr(x, "detach"):  # a torch tensor; duck-typed so this module does not import torch
        x = x.detach().cpu()
        x = x.float() if x.is_floating_point() else x  # bfloat16/half have no numpy dtype
        x = x.numpy()
    return np.asarray(x, dtype=dtype)


# -- retrieval --------------------------------------------------------------------------------
def _check_ties(ties: str) -> None:
    if ties not in TIE_RULES:
        raise ValueError(f"ties={ties!r}: use one of {', '.join(TIE_RULES)}")


def _square(scores) -> np.ndarray:
    scores = as_array(scores)
    if scores.ndim != 2 or scores.shape[0] != scores.shape[1]:
        raise ValueError(f"retrieval scores must be square (queries x candidates), got {scores.shape}")
    return scores


def rank_counts(scores) -> tuple[np.ndarray, np.ndarray]:
    """Per query row of ``scores`` (Q, Q), the true match on the diagonal: ``(above, tied)``, each
    (Q,) int, the numbers of other candidates ranked surely above the truth and tied with it.

    Above: a strictly higher score or a NaN one; every other candidate when the true score is NaN.
    Tied: an equal score. Every tie rule is a way of splitting ``tied``."""
    scores = _square(scores)
    diag = np.diag(scores)[:, None]
    with np.errstate(invalid="ignore"):
        above = ~(scores <= diag)  # NaN on either side compares False, so it lands here
        tied = scores == diag
    np.fill_diagonal(above, False)
    np.fill_diagonal(tied, False)
    return above.sum(axis=1), tied.sum(axis=1)


def retrieval_ranks(scores, ties: str = "pessimistic") -> np.ndarray:
    """1-based rank of the true match (the diagonal) for each query row of ``scores`` (Q, Q).

    ``ties="pessimistic"``: int ranks, 1 + above + tied (ties count against the truth; a NaN
    truth ranks last, Q). ``ties="expected"``: float ranks, 1 + above + tied / 2, the mean rank
    when the truth and its ties are ordered uniformly at random. See :func:`rank_counts`."""
    _check_ties(ties)
    above, tied = rank_counts(scores)
    return 1 + above + tied if ties == "pessimistic" else 1 + above + tied / 2


def recall_at(ranks, ks: Sequence[int] = RECALL_AT, tied=None) -> dict[str, float]:
    """R@k for each k: the mean over queries of P(rank <= k).

    ``ranks`` (Q,) int: the pessimistic ranks (every tie counted above the truth). ``tied`` (Q,)
    or None: the number of candidates tied with each truth; when given, the truth's rank is
    uniform over ``ranks - tied .. ranks`` (random tie-breaking), otherwise it is ``ranks``."""
    ranks = as_array(ranks)
    tied = np.zeros_like(ranks) if tied is None else as_array(tied)
    best = ranks - tied  # the rank if the truth won every tie
    out = {}
    for k in ks:
        p = np.clip((k - best + 1) / (tied + 1), 0.0, 1.0)
        out[f"R@{k}"] = float(np.mean(p)) if len(p) else float("nan")
    return out


def retrieval_metrics(scores, ks: Sequence[int] = RECALL_AT, ties: str = "pessimistic") -> dict:
    """R@k, median and mean rank in both directions for a (content, gesture) score matrix (N, N)
    whose diagonal holds the true pairs, under the tie rule ``ties`` (see :data:`TIE_RULES`).

    Returns ``{"content_to_gesture": {"R@k", "median_rank", "mean_rank"}, "gesture_to_content":
    {...}, "candidates": N, "chance": {"R@k", "median_rank"}, "ties": ties}``."""
    _check_ties(ties)
    scores = _square(scores)
    out: dict = {}
    for name, s in (("content_to_gesture", scores), ("gesture_to_content", scores.T)):
        above, tied = rank_counts(s)
        worst = 1 + above + tied
        ranks = worst if ties == "pessimistic" else 1 + above + tied / 2
        out[name] = {**recall_at(worst, ks, tied if ties == "expected" else None),
                     "median_rank": float(np.median(ranks)) if len(ranks) else float("nan"),
                     "mean_rank": float(np.mean(ranks)) if len(ranks) else float("nan")}
    n = scores.shape[0]
    out["candidates"] = int(n)
    out["chance"] = {**{f"R@{k}": min(1.0, k / max(1, n)) for k in ks}, "median_rank": (n + 1) / 2}
    out["ties"] = ties
    return out


# -- spotting ---------------------------------------------------------------------------------
def spotting_probabilities(gesture_frames, content_words, temperature: float = SPOT_TEMPERATURE,
                           word_mask=None) -> np.ndarray:
    """Per frame, the softmax over words of cos(g_t, c_w) / temperature: (..., T, W).

    ``gesture_frames`` (..., T, d) and ``content_words`` (..., W, d), one clip or a batch of
    clips (leading dimensions broadcast); they are L2-normalised here, so the product is the
    cosine whatever the caller passes. ``word_mask`` (..., W) bool, True on real words: padded
    words get probability 0 (a row needs at least one real word)."""
    g = as_array(gesture_frames)
    c = as_array(content_words)
    g = g / np.maximum(np.linalg.norm(g, axis=-1, keepdims=True), 1e-12)
    c = c / np.maximum(np.linalg.norm(c, axis=-1, keepdims=True), 1e-12)
    logits = g @ np.swapaxes(c, -1, -2) / temperature  # (..., T, W)
    if word_mask is not None:
        logits = np.where(as_array(word_mask, bool)[..., None, :], logits, -np.inf)
    logits -= logits.max(axis=-1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(axis=-1, keepdims=True)


def in_spot_window(frame, start, end, margin: int = SPOT_MARGIN):
    """Does ``frame`` lie in the spotting window ``[start - margin, end + margin]`` of a word
    spanning frames ``start..end`` (inclusive)? Scalars or broadcasting arrays."""
    return (frame >= start - margin) & (frame <= end + margin)


def spot_decisions(target_probs, starts, ends, frame_mask=None, margin: int = SPOT_MARGIN,
                   threshold: float = SPOT_THRESHOLD) -> dict[str, np.ndarray]:
    """The spotting rule for R (clip, target word) rows at once.

    ``target_probs`` (R, T): P(target word | frame) from :func:`spotting_probabilities`;
    ``starts``, ``ends`` (R,): the target's inclusive frames; ``frame_mask`` (R, T) bool or None:
    True on real frames (padding never wins). Returns arrays of shape (R,): ``correct`` (the best
    probability is >= ``threshold`` and every frame sharing it lies in the window), ``frame``
    (the first best frame), ``prob`` (the best probability) and ``in_window``."""
    p = np.atleast_2d(as_array(target_probs))
    if frame_mask is not None:
        p = np.where(np.atleast_2d(as_array(frame_mask, bool)), p, -np.inf)
    starts, ends = as_array(starts, np.int64)[:, None], as_array(ends, np.int64)[:, None]
    best = p.max(axis=1)  # (R,)
    is_best = p == best[:, None]  # (R, T)
    inside = in_spot_window(np.arange(p.shape[1])[None, :], starts, ends, margin)  # (R, T)
    in_window = np.all(~is_best | inside, axis=1)
    return {"correct": in_window & (best >= threshold), "frame": is_best.argmax(axis=1), "prob": best,
            "in_window": in_window}


def spot_word(probs, word_index: int, start: int, end: int, margin: int = SPOT_MARGIN,
              threshold: float = SPOT_THRESHOLD) -> dict:
    """Is word ``word_index`` of one clip spotted? ``probs`` (T, W) from
    :func:`spotting_probabilities`; the rule of :func:`spot_decisions` for one row, as
    ``{"correct": bool, "frame": int, "prob": float, "in_window": bool}``."""
    d = spot_decisions(as_array(probs)[:, word_index][None, :], [start], [end], None, margin, threshold)
    return {"correct": bool(d["correct"][0]), "frame": int(d["frame"][0]), "prob": float(d["prob"][0]),
            "in_window": bool(d["in_window"][0])}


def spot_batch(gesture_frames, content_words, clip_index, word_index, starts, ends, frame_mask=None,
               word_mask=None, temperature: float = SPOT_TEMPERATURE, margin: int = SPOT_MARGIN,
               threshold: float = SPOT_THRESHOLD) -> dict[str, np.ndarray]:
    """Spotting decisions for R targets in a padded batch of B clips (training validation).

    ``gesture_frames`` (B, T, d), ``content_words`` (B, W, d), ``frame_mask`` (B, T) and
    ``word_mask`` (B, W) as the model's ``embed`` returns them (numpy or torch); row r asks for
    word ``word_index[r]`` of clip ``clip_index[r]``, spanning ``starts[r]..ends[r]``. The
    probabilities are computed once per clip, then :func:`spot_decisions` decides each row."""
    probs = spotting_probabilities(gesture_frames, content_words, temperature, word_mask)  # (B, T, W)
    clip_index, word_index = as_array(clip_index, np.int64), as_array(word_index, np.int64)
    target = probs[clip_index, :, word_index]  # (R, T)
    mask = None if frame_mask is None else as_array(frame_mask, bool)[clip_index]
    return spot_decisions(target, starts, ends, mask, margin, threshold)


def accuracy_by(values: Sequence[bool], groups: Sequence) -> dict:
    """Mean of ``values`` per group label (labels as strings; None/"" are left out), as
    ``{label: {"n", "correct", "accuracy"}}`` sorted by label."""
    out: dict[str, dict] = {}
    for v, g in zip(values, groups):
        if g is None or g == "":
            continue
        d = out.setdefault(str(g), {"n": 0, "correct": 0})
        d["n"] += 1
        d["correct"] += int(v)
    for d in out.values():
        d["accuracy"] = d["correct"] / d["n"]
    return dict(sorted(out.items()))


# -- active speaker detection -----------------------------------------------------------------
def asd_correct(query, own, others) -> bool:
    """Does the query content clip vector ``query`` (d,) score its own gesture clip ``own`` (d,)
    strictly above each of ``others`` (P - 1, d)? A tie is an error; so is a NaN (missing clip)."""
    query = as_array(query)
    own_score = float(np.dot(query, as_array(own)))
    other_scores = as_array(others) @ query
    if not np.isfinite(own_score) or not np.all(np.isfinite(other_scores)):
        return False
    return bool(np.all(own_score > other_scores))


# -- gestured words: detection ----------------------------------------------------------------
def _scores_labels(scores, labels) -> tuple[np.ndarray, np.ndarray]:
    s = as_array(scores).ravel()
    y = as_array(labels, bool).ravel()
    if s.shape != y.shape:
        raise ValueError(f"scores {s.shape} and labels {y.shape} differ in length")
    if np.isnan(s).any():
        raise ValueError(f"{int(np.isnan(s).sum())} NaN score(s): give every word a score (a protocol decides how "
                         "a missing one counts)")
    return s, y


def _by_threshold(s: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct scores descending and, flagging every word scoring >= each, the true and false
    positives: ``(thresholds, tp, fp)``, each (K,). Tied words are flagged together."""
    values, inverse = np.unique(s, return_inverse=True)  # ascending
    pos = np.bincount(inverse, weights=y.astype(float), minlength=len(values))
    neg = np.bincount(inverse, weights=(~y).astype(float), minlength=len(values))
    return values[::-1], np.cumsum(pos[::-1]), np.cumsum(neg[::-1])


def roc_auc(scores, labels) -> float:
    """ROC-AUC of ``scores`` (N,) for binary ``labels`` (N,): the Mann-Whitney statistic
    P(score of a positive > score of a negative), a tie counting half. A constant score gets
    exactly 0.5. NaN when either class is empty."""
    s, y = _scores_labels(scores, labels)
    n1, n0 = int(y.sum()), int((~y).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    values, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
    below = np.cumsum(counts) - counts  # words scoring strictly lower than each distinct value
    mid_rank = below + (counts + 1) / 2  # 1-based average rank of a tied group
    u = mid_rank[inverse][y].sum() - n1 * (n1 + 1) / 2
    return float(u / (n1 * n0))


def conditioned_auc(scores, labels, groups) -> dict:
    """ROC-AUC within groups (words) that hold both classes: the rows of groups whose labels are
    all alike are left out, so any score that depends only on the group (a word prior) carries no
    information within a group.

    Returns ``{"groups", "rows", "pooled", "per_group_mean"}``: the number of groups and rows
    kept, the AUC over the pooled kept rows, and the mean of each group's own AUC weighted by its
    rows. A group-only score gets exactly 0.5 on ``per_group_mean``; on ``pooled`` it can differ
    from 0.5 (groups with a higher rate of positives rank their rows higher). NaN when no group
    qualifies."""
    s, y = _scores_labels(scores, labels)
    g = np.asarray(groups, dtype=object).ravel()
    if g.shape != y.shape:
        raise ValueError(f"groups {g.shape} and labels {y.shape} differ in length")
    keep = np.zeros(len(y), bool)
    aucs, weights = [], []
    for name in dict.fromkeys(g.tolist()):
        m = g == name
        if 0 < y[m].sum() < m.sum():
            keep |= m
            aucs.append(roc_auc(s[m], y[m]))
            weights.append(int(m.sum()))
    if not aucs:
        return {"groups": 0, "rows": 0, "pooled": float("nan"), "per_group_mean": float("nan")}
    return {"groups": len(aucs), "rows": int(keep.sum()), "pooled": roc_auc(s[keep], y[keep]),
            "per_group_mean": float(np.average(aucs, weights=weights))}


def average_precision(scores, labels) -> float:
    """Average precision: sum over distinct thresholds, highest first, of (recall gained) x
    precision, flagging every word that scores >= the threshold (tied words enter together, so
    their order never matters). A constant score gets the base rate. NaN without positives."""
    s, y = _scores_labels(scores, labels)
    n1 = int(y.sum())
    if n1 == 0:
        return float("nan")
    _, tp, fp = _by_threshold(s, y)
    recall = tp / n1
    precision = tp / (tp + fp)
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def precision_recall(flags, labels) -> dict:
    """A boolean decision ``flags`` (N,) against ``labels`` (N,): ``{"n", "flagged", "positives",
    "precision", "recall", "f1", "flagged_fraction", "base_rate"}``. Precision is NaN when nothing
    is flagged, recall when nothing is positive; F1 is 0 when precision or recall is 0."""
    f = as_array(flags, bool).ravel()
    y = as_array(labels, bool).ravel()
    if f.shape != y.shape:
        raise ValueError(f"flags {f.shape} and labels {y.shape} differ in length")
    n, tp, nf, n1 = len(y), int((f & y).sum()), int(f.sum()), int(y.sum())
    p = tp / nf if nf else float("nan")
    r = tp / n1 if n1 else float("nan")
    if np.isnan(p) or np.isnan(r):
        f1 = float("nan")
    else:
        f1 = 0.0 if p + r == 0 else 2 * p * r / (p + r)
    return {"n": n, "flagged": nf, "positives": n1, "precision": p, "recall": r, "f1": f1,
            "flagged_fraction": nf / n if n else float("nan"), "base_rate": n1 / n if n else float("nan")}


def best_precision_at_recall(scores, labels, min_recall: float) -> dict:
    """The best operating point of ``scores`` with recall >= ``min_recall``: flagging every word
    scoring >= a threshold (ties flagged together), the threshold with the highest precision
    (then the highest recall). ``{"precision", "recall", "threshold", "flagged_fraction"}``; NaN
    values without positives."""
    s, y = _scores_labels(scores, labels)
    n1 = int(y.sum())
    if n1 == 0:
        return {"precision": float("nan"), "recall": float("nan"), "threshold": float("nan"),
                "flagged_fraction": float("nan")}
    thr, tp, fp = _by_threshold(s, y)
    recall, precision = tp / n1, tp / (tp + fp)
    ok = np.flatnonzero(recall >= min_recall - 1e-12)  # the lowest threshold flags all: recall 1
    best = ok[np.lexsort((-recall[ok], -precision[ok]))[0]]
    return {"precision": float(precision[best]), "recall": float(recall[best]), "threshold": float(thr[best]),
            "flagged_fraction": float((tp[best] + fp[best]) / len(y))}


def expected_calibration_error(probs, labels, bins: int = 10) -> float:
    """Expected calibration error of probabilities ``probs`` (N,) in [0, 1]: ``bins`` equal-width
    bins (a probability of exactly 1 in the last), sum over bins of (share of words) x |mean
    probability - fraction positive|. 0 for a perfectly calibrated score; NaN for no words."""
    p, y = _scores_labels(probs, labels)
    if len(p) == 0:
        return float("nan")
    if p.min() < 0 or p.max() > 1:
        raise ValueError(f"probabilities must lie in [0, 1], got {p.min():.4g}..{p.max():.4g}")
    b = np.minimum((p * bins).astype(np.int64), bins - 1)
    n = np.bincount(b, minlength=bins)
    gap = np.abs(np.bincount(b, weights=p, minlength=bins) - np.bincount(b, weights=y.astype(float), minlength=bins))
    return float(gap.sum() / len(p))  # sum_b n_b/N * |sum_b p/n_b - sum_b y/n_b|


# -- gestured words: identification -----------------------------------------------------------
def first_hit(scores, labels, ties: str = "pessimistic") -> tuple[float, float]:
    """One clip's words ranked by ``scores`` (W,), ``labels`` (W,) with at least one gestured word:
    ``(P(the first-ranked word is gestured), E[1 / rank of the first gestured word])``.

    ``ties="pessimistic"``: every non-gestured word tied with the best gestured one ranks above
    it (0 or 1, and 1 / rank). ``ties="expected"``: tied words in uniformly random order, the
    expectations exact: with ``a`` non-gestured words above the best gestured score, ``k``
    gestured and ``t`` non-gestured words at it, the first gestured word lies at ``a + j`` with
    P(j) = C(t, j-1) / C(k+t, j-1) x k / (k+t-j+1), j = 1..t+1."""
    _check_ties(ties)
    s, y = _scores_labels(scores, labels)
    if not y.any():
        raise ValueError("first_hit needs a clip with at least one gestured word")
    m = s[y].max()
    a, t, k = int((s[~y] > m).sum()), int((s[~y] == m).sum()), int((s[y] == m).sum())
    if ties == "pessimistic":
        return float(a + t == 0), 1.0 / (1 + a + t)
    none_yet, rr = 1.0, 0.0  # none_yet: P(the first j - 1 tied words are all non-gestured)
    for j in range(1, t + 2):
        p = none_yet * k / (k + t - j + 1)  # P(the first gestured word is the j-th tied one)
        rr += p / (a + j)
        none_yet *= (t - j + 1) / (k + t - j + 1)
    return (k / (k + t) if a == 0 else 0.0), rr


def identification(clip_scores, clip_labels, ties: str = "pessimistic") -> dict:
    """Which word of a clip carries the gesture: over clips (sequences of (W_i,) scores and labels),
    those with at least one gestured word and at least 2 words. ``{"clips", "top1", "mrr",
    "chance_top1", "chance_mrr"}``: the mean of :func:`first_hit` under ``ties`` and, for
    reference, what a constant score gets under random tie-breaking."""
    _check_ties(ties)
    hits, chance = [], []  # per clip: (top-1, reciprocal rank)
    for s, y in zip(clip_scores, clip_labels):
        y = as_array(y, bool).ravel()
        if len(y) >= 2 and y.any():
            hits.append(first_hit(s, y, ties))
            chance.append(first_hit(np.zeros(len(y)), y, "expected"))
    h = np.array(hits).reshape(-1, 2)
    c = np.array(chance).reshape(-1, 2)
    nan = float("nan")
    return {"clips": len(h), "top1": float(h[:, 0].mean()) if len(h) else nan,
            "mrr": float(h[:, 1].mean()) if len(h) else nan,
            "chance_top1": float(c[:, 0].mean()) if len(c) else nan,
            "chance_mrr": float(c[:, 1].mean()) if len(c) else nan, "ties": ties}


# -- gestured words: localisation -------------------------------------------------------------
def stroke_distance(frames, starts, ends) -> np.ndarray:
    """Frames from each ``frames`` (N,) to the inclusive interval ``starts..ends`` (N,): 0 inside,
    else the distance to the nearer end. NaN where the frame is NaN (a missing peak)."""
    f, s, e = as_array(frames), as_array(starts), as_array(ends)
    return np.maximum(np.maximum(s - f, f - e), 0.0)  # np.maximum propagates NaN


def interval_iou(pred_starts, pred_ends, starts, ends) -> np.ndarray:
    """Intersection over union of inclusive frame intervals ``pred_starts..pred_ends`` and
    ``starts..ends`` (each (N,)), counting frames: |A & B| / |A | B|. NaN where a predicted
    bound is NaN; an empty predicted interval (end < start) has IoU 0."""
    ps, pe, s, e = as_array(pred_starts), as_array(pred_ends), as_array(starts), as_array(ends)
    with np.errstate(invalid="ignore"):
        inter = np.maximum(0.0, np.minimum(pe, e) - np.maximum(ps, s) + 1)
        size = np.maximum(0.0, pe - ps + 1) + (e - s + 1)
        return np.where(np.isnan(ps) | np.isnan(pe), np.nan, inter / (size - inter))


def localisation(peaks, starts, ends, margin: int = SPOT_MARGIN) -> dict:
    """Peak frames ``peaks`` (N,) (NaN: none given) against strokes ``starts..ends`` (N,):
    ``{"n", "missing", "in_stroke", "within_margin", "median_distance", "mean_distance"}``. The
    fractions (distance 0; distance <= ``margin`` frames) are over all N, a missing peak a miss;
    the median counts a missing peak as infinitely far; the mean is over the peaks given."""
    d = stroke_distance(peaks, starts, ends)
    missing = np.isnan(d)
    dd = np.where(missing, np.inf, d)
    n = len(d)
    return {"n": n, "missing": int(missing.sum()),
            "in_stroke": float(np.mean(dd == 0)) if n else float("nan"),
            "within_margin": float(np.mean(dd <= margin)) if n else float("nan"),
            "median_distance": float(np.median(dd)) if n else float("nan"),
            "mean_distance": float(np.mean(d[~missing])) if (~missing).any() else float("nan"),
            "margin": margin}
