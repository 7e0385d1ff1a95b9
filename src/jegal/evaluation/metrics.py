"""The three benchmark metrics of the paper, with the reference code's defects fixed.

Everything here is plain numpy on precomputed similarities, so it can be checked by hand:

- **Retrieval** (:func:`retrieval_ranks`, :func:`retrieval_metrics`): the rank of the true
  match among all candidates. A candidate whose score *ties* the true one counts as ranked
  above it (rank = 1 + number of other candidates with score >= the true score), so a
  model that gives every clip the same score gets the worst rank, not the best. A NaN
  score (a missing clip) never helps: a NaN true score ranks last, a NaN candidate ranks
  above the true one.
- **Spotting** (:func:`spotting_probabilities`, :func:`spot_word`): per frame, a softmax
  over the clip's words of ``cos(g_t, c_w) / 0.07``; the target word's best frame must lie
  in ``[start - 9, end + 9]`` and have probability >= 0.5. When several frames share the
  best probability, every one of them must lie in the window.
- **ASD** (:func:`asd_correct`): the query's own gesture clip must score strictly above
  each of the P - 1 other candidates; a tie is an error. A missing candidate makes the row
  an error (the caller reports it); the candidate set is never made smaller.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

RECALL_AT = (5, 10, 25, 50)
SPOT_TEMPERATURE = 0.07
SPOT_MARGIN = 9
SPOT_THRESHOLD = 0.5
ASD_SIZES = (2, 4, 6)


# -- retrieval --------------------------------------------------------------------------------
def retrieval_ranks(scores: np.ndarray) -> np.ndarray:
    """1-based rank of the true match (the diagonal) for each query row of ``scores`` (Q, N).

    rank = 1 + #{j != i : not (scores[i, j] < scores[i, i])}: ties and NaN candidates count
    as ranked above the true match, and a NaN true score ranks last (N)."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2 or scores.shape[0] != scores.shape[1]:
        raise ValueError(f"retrieval scores must be square (queries x candidates), got {scores.shape}")
    diag = np.diag(scores)[:, None]
    with np.errstate(invalid="ignore"):
        above = ~(scores < diag)  # (Q, N) True where a candidate is not strictly below the truth
    np.fill_diagonal(above, False)
    return 1 + above.sum(axis=1)


def recall_at(ranks: np.ndarray, ks: Sequence[int] = RECALL_AT) -> dict[str, float]:
    ranks = np.asarray(ranks)
    return {f"R@{k}": float(np.mean(ranks <= k)) if len(ranks) else float("nan") for k in ks}


def retrieval_metrics(scores: np.ndarray, ks: Sequence[int] = RECALL_AT) -> dict:
    """R@K and median rank in both directions for a (content, gesture) score matrix
    whose diagonal holds the true pairs."""
    scores = np.asarray(scores, dtype=np.float64)
    out = {}
    for name, s in (("content_to_gesture", scores), ("gesture_to_content", scores.T)):
        ranks = retrieval_ranks(s)
        out[name] = {**recall_at(ranks, ks), "median_rank": float(np.median(ranks)) if len(ranks) else float("nan"),
                     "mean_rank": float(np.mean(ranks)) if len(ranks) else float("nan")}
    out["candidates"] = int(scores.shape[0])
    out["chance"] = {**{f"R@{k}": min(1.0, k / max(1, scores.shape[0])) for k in ks},
                     "median_rank": (scores.shape[0] + 1) / 2}
    return out


# -- spotting ---------------------------------------------------------------------------------
def spotting_probabilities(gesture_frames: np.ndarray, content_words: np.ndarray,
                           temperature: float = SPOT_TEMPERATURE) -> np.ndarray:
    """(T, W) softmax over words of cos(g_t, c_w) / temperature for each frame.

    Inputs are (T, d) frame and (W, d) word embeddings; they are L2-normalised here so
    the dot product is the cosine whatever the caller passes."""
    g = np.asarray(gesture_frames, dtype=np.float64)
    c = np.asarray(content_words, dtype=np.float64)
    g = g / np.maximum(np.linalg.norm(g, axis=-1, keepdims=True), 1e-12)
    c = c / np.maximum(np.linalg.norm(c, axis=-1, keepdims=True), 1e-12)
    logits = g @ c.T / temperature  # (T, W)
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


def spot_word(probs: np.ndarray, word_index: int, start: int, end: int, margin: int = SPOT_MARGIN,
              threshold: float = SPOT_THRESHOLD) -> dict:
    """Is the target word spotted? ``probs`` (T, W) from :func:`spotting_probabilities`.

    The best frame for the word must lie in ``[start - margin, end + margin]`` and its
    probability be >= ``threshold``. Frames tied for the best must all lie in the window."""
    p = np.asarray(probs)[:, word_index]  # (T,)
    best = float(np.max(p))
    frames = np.flatnonzero(p == best)
    inside = bool(np.all((frames >= start - margin) & (frames <= end + margin)))
    return {"correct": bool(inside and best >= threshold), "frame": int(frames[0]), "prob": best,
            "in_window": inside}


def accuracy_by(values: Sequence[bool], groups: Sequence) -> dict:
    """Mean of ``values`` per group label (labels as strings; None/"" are left out)."""
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
def asd_correct(query: np.ndarray, own: np.ndarray, others: np.ndarray) -> bool:
    """Does the query content clip vector score its own gesture clip strictly above each
    of the others? ``others`` is (P - 1, d); NaNs (missing clips) make it an error."""
    own_score = float(np.dot(query, own))
    other_scores = np.asarray(others, dtype=np.float64) @ np.asarray(query, dtype=np.float64)
    if not np.isfinite(own_score) or not np.all(np.isfinite(other_scores)):
        return False
    return bool(np.all(own_score > other_scores))
