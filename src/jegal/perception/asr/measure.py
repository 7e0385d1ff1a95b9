"""Measuring a recogniser against reference words: word error rate and word timing error
(``bench/bench_asr.py`` and the recognition tests)."""

from __future__ import annotations

import math

import numpy as np

from jegal.data.words import normalise_word


def _edit_alignment(ref: list[str], hyp: list[str]) -> tuple[int, list[tuple[int, int]]]:
    """Levenshtein distance over words, and the (ref, hyp) index pairs of the equal words on one best path."""
    n, m = len(ref), len(hyp)
    cost = np.zeros((n + 1, m + 1), np.int64)
    cost[:, 0] = np.arange(n + 1)
    cost[0, :] = np.arange(m + 1)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            cost[i, j] = min(cost[i - 1, j] + 1, cost[i, j - 1] + 1, cost[i - 1, j - 1] + (ref[i - 1] != hyp[j - 1]))
    pairs, i, j = [], n, m
    while i > 0 and j > 0:
        if cost[i, j] == cost[i - 1, j - 1] + (ref[i - 1] != hyp[j - 1]):
            if ref[i - 1] == hyp[j - 1]:
                pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif cost[i, j] == cost[i - 1, j] + 1:
            i -= 1
        else:
            j -= 1
    return int(cost[n, m]), pairs[::-1]


def word_error_rate(reference: list[str], hypothesis: list[str]) -> float:
    """(substitutions + deletions + insertions) / reference words, on normalised words
    (lower case, punctuation stripped: ``"Hat,"`` equals ``"hat"``)."""
    ref = [t for t in map(normalise_word, reference) if t]
    hyp = [t for t in map(normalise_word, hypothesis) if t]
    if not ref:
        raise ValueError("word error rate needs at least one reference word")
    return _edit_alignment(ref, hyp)[0] / len(ref)


def timing_error(reference: list[tuple[str, float, float]], hypothesis: list[tuple[str, float, float]]
                 ) -> tuple[float, float, int]:
    """Mean absolute start and end differences (seconds) over the words the two sequences
    share on a best edit alignment, and how many words that is (NaNs when none)."""
    ref = [(normalise_word(w), s, e) for w, s, e in reference if normalise_word(w)]
    hyp = [(normalise_word(w), s, e) for w, s, e in hypothesis if normalise_word(w)]
    _, pairs = _edit_alignment([r[0] for r in ref], [h[0] for h in hyp])
    if not pairs:
        return math.nan, math.nan, 0
    starts = [abs(ref[i][1] - hyp[j][1]) for i, j in pairs]
    ends = [abs(ref[i][2] - hyp[j][2]) for i, j in pairs]
    return float(np.mean(starts)), float(np.mean(ends)), len(pairs)
