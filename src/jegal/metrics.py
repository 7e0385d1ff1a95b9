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
