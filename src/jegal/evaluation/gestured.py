"""Gestured-word protocols that no timing or word prior can pass (docs/design.md section 7, issue 21).

The AVS-Spot rule of the paper (Hegde, Prajwal, Zisserman, "JEGAL", arXiv 2503.22668: the target
word's best frame within +-9 frames of the word and P >= 0.5) asks where a word *known to be
gestured* is gestured; its transcript-only word-order floor scores 90.4 % on the real AVS-Spot
CSV. The authors' follow-up (GRW: Hegde, Prajwal, Zisserman, "Recognizing Co-Speech Gestures
in-the-Wild", arXiv 2605.31589) asks three questions of a clip instead, and so do these protocols,
on every word of every test clip of a gestured-words CSV (:mod:`jegal.data.gestured_words`):

- **detection** (is this word gestured?): ROC-AUC and average precision over all test words, the
  best precision at recall >= 0.6, and ROC-AUC **conditioned on the word**: only the rows of words
  (normalised text) that are gestured in some test clips and not in others. The headline is the
  AUC over those rows pooled; the mean of the per-word AUCs (weighted by rows) is reported beside
  it: there any score that depends only on the word's identity (a word prior) gets exactly 0.5.
  The expected calibration error when the scorer gives a probability;
- **identification** (which word of the clip carries the gesture?): over test clips with at
  least one gestured word and at least 2 words, top-1 and the mean reciprocal rank of the first
  gestured word (:func:`jegal.metrics.identification`);
- **localisation** (where?): over gestured words with an annotated stroke, the distance in
  frames from the scorer's peak frame to the stroke (0 inside it), the fraction inside the stroke
  and within 9 frames, and the IoU of the scorer's interval with the stroke where it gives one;
- **the gestured flag** (a boolean decision, when the scorer makes one): precision, recall, F1,
  the fraction of words flagged and the base rate.

Every table prints its **floors**, each a :class:`WordScores` row scored by the same code as a
model row (:func:`floor_scores`): chance (a constant score), word position in the clip, word
duration, stress (their direction chosen on the *training* split), a word prior estimated on the
training split (the fraction of times the word is gestured, Laplace-smoothed toward the
training rate, which unseen words get), the fastest hand (max wrist speed within the word's span +-10 frames; for
localisation its fastest frame there), and for localisation the word's middle frame (interval: the
word's span). Each table names the best floor per column and each model row's margin over it.

Ties: ROC-AUC counts a tie half and average precision flags tied words together (for every
row alike); identification counts ties against model rows (``pessimistic``) and breaks them at
random for floors (``expected``), whose scores tie by construction (as retrieval's clip-length
floor). A word the scorer did not score (its clip missing or unreadable) never helps: its score
is set to the worst value for its label (-inf when gestured, +inf when not; 0 / 1 for a
probability), its flag to the wrong decision and its peak to none.

Model rows (:func:`model_scores`): ``spotting probability`` is today's behaviour, kept as a
reference: for each word the highest spotting softmax P(word | frame) (:func:`jegal.metrics.
spotting_probabilities`) over frames within its span +-9, the peak at that frame, the flag the
AVS rule (:func:`jegal.metrics.spot_decisions`). ``gesture score`` is
:func:`jegal.inference.gesture_score.score_clips` when that module exists (a calibrated
probability per word, its p-value, the decision at its operating point, a peak and optionally an
interval).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from jegal.data.gestured_words import GesturedWord, GesturedWords
from jegal.metrics import (SPOT_MARGIN, average_precision, best_precision_at_recall, conditioned_auc,
                           expected_calibration_error, identification, interval_iou, localisation, precision_recall,
                           roc_auc, spot_decisions, spotting_probabilities)

HAND_MARGIN = 10  # frames either side of a word's span that the fastest-hand floor looks at
RECALL_TARGET = 0.6  # "best precision at recall >= 0.6" (issue 21's acceptance)
MODEL_TIES, FLOOR_TIES = "pessimistic", "expected"


# -- the table of test words ------------------------------------------------------------------
@dataclass
class WordTable:
    """The test words of a gestured-words CSV as aligned (N,) arrays, clips in file order.

    ``n_words``: the clip's word count (1 + its largest word_index); ``stroke`` (N, 2) float, NaN
    where no stroke is annotated; ``stress`` (N,) float, NaN where unknown."""

    rows: list[GesturedWord]
    clip: np.ndarray = field(init=False)
    label: np.ndarray = field(init=False)
    text: np.ndarray = field(init=False)
    start: np.ndarray = field(init=False)
    end: np.ndarray = field(init=False)
    word_index: np.ndarray = field(init=False)
    n_words: np.ndarray = field(init=False)
    stroke: np.ndarray = field(init=False)
    stress: np.ndarray = field(init=False)
    clips: dict[str, np.ndarray] = field(init=False)  # clip id -> its row indices, by word_index

    def __post_init__(self) -> None:
        r = self.rows
        self.clip = np.array([x.filename for x in r], dtype=object)
        self.label = np.array([x.gestured for x in r], dtype=bool)
        self.text = np.array([x.text for x in r], dtype=object)
        self.start = np.array([x.start for x in r], dtype=np.int64)
        self.end = np.array([x.end for x in r], dtype=np.int64)
        self.word_index = np.array([x.word_index for x in r], dtype=np.int64)
        self.stroke = np.array([x.stroke if x.stroke else (np.nan, np.nan) for x in r], dtype=float).reshape(-1, 2)
        self.stress = np.array([np.nan if x.stress is None else x.stress for x in r], dtype=float)
        self.clips = {}
        for i, x in enumerate(r):
            self.clips.setdefault(x.filename, []).append(i)
        self.clips = {k: np.array(sorted(v, key=lambda i: r[i].word_index)) for k, v in self.clips.items()}
        self.n_words = np.zeros(len(r), np.int64)
        for idx in self.clips.values():
            self.n_words[idx] = self.word_index[idx].max() + 1

    def __len__(self) -> int:
        return len(self.rows)

    def relative_position(self) -> np.ndarray:
        """(N,) word_index / (n_words - 1) in [0, 1]; 0.5 for a clip of one word."""
        return np.where(self.n_words > 1, self.word_index / np.maximum(self.n_words - 1, 1), 0.5)

    def duration(self) -> np.ndarray:
        """(N,) frames spanned by each word."""
        return (self.end - self.start + 1).astype(float)


@dataclass
class WordScores:
    """What one scorer says about every test word (arrays aligned with a :class:`WordTable`).

    ``score`` (N,) float, higher = more likely gestured (NaN: not scored), None when the scorer
    only localises; ``probability``: the score is a probability in [0, 1] (calibration is
    reported); ``flag`` (N,) bool or None: its gestured decision; ``peak`` (N,) float clip frames
    (NaN: none) or None; ``interval`` (N, 2) float inclusive frames or None; ``missing`` (N,) bool:
    the words it could not score (its clip was missing or unreadable)."""

    name: str
    kind: str  # "model" | "floor"
    score: np.ndarray | None = None
    probability: bool = False
    flag: np.ndarray | None = None
    peak: np.ndarray | None = None
    interval: np.ndarray | None = None
    missing: np.ndarray | None = None
    note: str = ""

    @property
    def ties(self) -> str:
        return MODEL_TIES if self.kind == "model" else FLOOR_TIES


# -- scoring one row --------------------------------------------------------------------------
def _worst_filled(ws: WordScores, label: np.ndarray) -> np.ndarray | None:
    """The score with every NaN replaced by the worst value for its label (see the module doc)."""
    if ws.score is None:
        return None
    s = np.asarray(ws.score, dtype=float).copy()
    bad = np.isnan(s)
    lo, hi = (0.0, 1.0) if ws.probability else (-np.inf, np.inf)
    s[bad & label] = lo
    s[bad & ~label] = hi
    return s


def detection(table: WordTable, ws: WordScores) -> dict | None:
    """Detection numbers of one row over all test words (None when the row has no score)."""
    s = _worst_filled(ws, table.label)
    if s is None:
        return None
    best = best_precision_at_recall(s, table.label, RECALL_TARGET)
    out = {"auc": roc_auc(s, table.label), "ap": average_precision(s, table.label),
           "precision_at_recall": best["precision"], "recall_at_best": best["recall"],
           "threshold_at_best": best["threshold"], "conditioned": conditioned_auc(s, table.label, table.text.tolist())}
    if ws.probability:
        out["ece"] = expected_calibration_error(s, table.label)
    return out


def identification_of(table: WordTable, ws: WordScores) -> dict | None:
    s = _worst_filled(ws, table.label)
    if s is None:
        return None
    idx = list(table.clips.values())
    return identification([s[i] for i in idx], [table.label[i] for i in idx], ties=ws.ties)


def localisation_of(table: WordTable, ws: WordScores) -> dict | None:
    """Over gestured words with an annotated stroke: the peak's distance, and the interval's IoU."""
    if ws.peak is None:
        return None
    sel = table.label & ~np.isnan(table.stroke[:, 0])
    if not sel.any():
        return None
    peak = np.asarray(ws.peak, dtype=float)[sel]
    out = localisation(peak, table.stroke[sel, 0], table.stroke[sel, 1], margin=SPOT_MARGIN)
    if ws.interval is not None:
        iv = np.asarray(ws.interval, dtype=float)[sel]
        iou = interval_iou(iv[:, 0], iv[:, 1], table.stroke[sel, 0], table.stroke[sel, 1])
        out["iou"] = float(np.mean(np.nan_to_num(iou, nan=0.0)))  # a missing interval scores 0
    return out


def flag_of(table: WordTable, ws: WordScores) -> dict | None:
    if ws.flag is None:
        return None
    f = np.asarray(ws.flag, dtype=bool).copy()
    if ws.missing is not None:
        f[ws.missing] = ~table.label[ws.missing]  # the wrong decision
    out = precision_recall(f, table.label)
    if ws.probability and ws.score is not None:
        out["ece"] = expected_calibration_error(_worst_filled(ws, table.label), table.label)
    return out


def score_row(table: WordTable, ws: WordScores) -> dict:
    """Every protocol of one row: ``{"name", "kind", "note", "missing", "detection",
    "identification", "localisation", "flag"}`` (a protocol the row cannot answer is None)."""
    return {"name": ws.name, "kind": ws.kind, "note": ws.note, "ties": ws.ties,
            "missing": 0 if ws.missing is None else int(np.sum(ws.missing)),
            "detection": detection(table, ws), "identification": identification_of(table, ws),
            "localisation": localisation_of(table, ws), "flag": flag_of(table, ws)}


# -- floors -----------------------------------------------------------------------------------
def _direction(train: WordTable | None, test: WordTable, value_of, what: str) -> tuple[float, str]:
    """+1 or -1: the sign that gives ``value_of(table)`` the higher ROC-AUC on the training
    split, or, without training rows with both labels, on the test rows (in the floor's
    favour). Returns (sign, a note saying which split chose it)."""
    for split, tab in (("training", train), ("test", test)):
        if tab is not None and len(tab) and 0 < tab.label.sum() < len(tab):
            v = value_of(tab)
            ok = ~np.isnan(v)
            auc = roc_auc(v[ok], tab.label[ok]) if ok.any() else float("nan")
            sign = -1.0 if auc < 0.5 else 1.0
            return sign, f"{what}: direction chosen on the {split} split (AUC {max(auc, 1 - auc):.3f} there)"
    return 1.0, f"{what}: no split with both labels to choose a direction on"


def word_prior(train_rows: list[GesturedWord], words) -> tuple[np.ndarray, float]:
    """P(gestured | word) from the training rows, for each of ``words`` (normalised texts): a word
    gestured ``g`` times in ``n`` gets ``(g + 2r) / (n + 2)``, Laplace's add-one rule with the
    pseudo-counts spread at the training split's rate ``r`` instead of 1/2, so a word never seen in
    training gets ``r`` (not 1/2, which would rank every unseen word above a word seen once and
    never gestured). Returns (scores (N,), r)."""
    counts: dict[str, list[int]] = {}
    for r in train_rows:
        c = counts.setdefault(r.text, [0, 0])
        c[0] += r.gestured
        c[1] += 1
    rate = sum(c[0] for c in counts.values()) / max(1, sum(c[1] for c in counts.values()))
    return np.array([(counts[w][0] + 2 * rate) / (counts[w][1] + 2) if w in counts else rate for w in words]), rate


def fastest_hand(table: WordTable, clips: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per word, from its clip's keypoints (:func:`jegal.synth.baselines.wrist_speed`): the
    highest wrist speed within the word's span +-:data:`HAND_MARGIN` frames and the frame where it
    is reached (first, if tied). Returns (score (N,), peak (N,), missing (N,) bool); NaN where the
    clip is not in ``clips``."""
    from jegal.synth import wrist_speed

    score = np.full(len(table), np.nan)
    peak = np.full(len(table), np.nan)
    for cid, idx in table.clips.items():
        clip = clips.get(cid)
        if clip is None:
            continue
        speed = wrist_speed(np.asarray(clip.keypoints, dtype=float))
        T = len(speed)
        for i in idx:
            lo, hi = max(0, table.start[i] - HAND_MARGIN), min(T - 1, table.end[i] + HAND_MARGIN)
            if hi < lo:
                continue
            k = int(np.argmax(speed[lo:hi + 1]))
            score[i], peak[i] = speed[lo + k], lo + k
    return score, peak, np.isnan(score)


def floor_scores(table: WordTable, train_rows: list[GesturedWord], clips: dict | None) -> list[WordScores]:
    """The floor rows (module docstring) for ``table``; ``train_rows`` the training split's rows
    (the word prior and the directions), ``clips`` the test clips by id (the fastest hand; None
    leaves it out). A floor the data cannot give (no training rows, no stress labels) is left out
    and named in the last row's note."""
    train = WordTable(train_rows) if train_rows else None
    n = len(table)
    floors = [WordScores("chance (constant score)", "floor", score=np.zeros(n), probability=False)]
    sign, note = _direction(train, table, lambda t: t.relative_position(), "word position")
    floors.append(WordScores(f"word position ({'later' if sign > 0 else 'earlier'} words first)", "floor",
                             score=sign * table.relative_position(), note=note))
    sign, note = _direction(train, table, lambda t: t.duration(), "word duration")
    floors.append(WordScores(f"word duration ({'longer' if sign > 0 else 'shorter'} words first)", "floor",
                             score=sign * table.duration(), note=note))
    left_out = []
    if train is not None:
        prior, rate = word_prior(train_rows, table.text)
        floors.append(WordScores("word prior (training split)", "floor", score=prior, probability=True,
                                 note=f"(g + 2r) / (n + 2) from the training split; unseen words get its rate "
                                      f"r = {rate:.3f}"))
    else:
        left_out.append("word prior (the CSV has no training rows)")
    if np.isfinite(table.stress).any():
        sign, note = _direction(train if train is not None and np.isfinite(train.stress).any() else None, table,
                                lambda t: t.stress, "stress")
        s = sign * table.stress
        floors.append(WordScores(f"stress ({'stressed' if sign > 0 else 'unstressed'} words first)", "floor",
                                 score=np.where(np.isnan(s), 0.0, s), note=note + "; unknown stress scores 0"))
    else:
        left_out.append("stress (no stress_label)")
    if clips is not None:
        score, peak, missing = fastest_hand(table, clips)
        floors.append(WordScores("fastest hand (max wrist speed, span +-10)", "floor", score=score, peak=peak,
                                 missing=missing))
    else:
        left_out.append("fastest hand (no clips)")
    floors.append(WordScores("word middle (localisation)", "floor", peak=((table.start + table.end) // 2).astype(float),
                             interval=np.stack([table.start, table.end], 1).astype(float)))
    if left_out:
        floors[-1].note = "left out: " + "; ".join(left_out)
    return floors


# -- model rows -------------------------------------------------------------------------------
def clips_with_words(table: WordTable, clipset) -> list:
    """The test clips that ``clipset`` holds, each with the CSV's words in word_index order (the
    CSV is the authority on the words; spans clipped to the clip's frames)."""
    from jegal.data.words import Word
    from jegal.evaluation.benchmarks import with_benchmark_words

    out = []
    for cid, idx in table.clips.items():
        if cid in clipset.clips:
            words = [Word.from_display(table.rows[i].word, int(table.start[i]), int(table.end[i])) for i in idx]
            out.append(with_benchmark_words(clipset.clips[cid], words)[0])
    return out


def merge_embeddings(parts: list):
    """One :class:`~jegal.inference.embed.Embeddings` holding every gesture and content clip of
    ``parts`` (the first part's entry wins where several hold a clip)."""
    from jegal.inference.embed import Embeddings

    d = next((p.dim for p in parts if p.dim), 0)
    g, c = {}, {}
    for p in parts:
        for cid in p.gesture_ids:
            g.setdefault(cid, p.gesture(cid))
        for cid in p.content_ids:
            c.setdefault(cid, p.content(cid))

    def stack(vecs):
        return np.stack(vecs).astype(np.float32) if vecs else np.zeros((0, d), np.float32)

    return Embeddings(list(g), stack([v for v, _ in g.values()]), [f for _, f in g.values()],
                      list(c), stack([v for v, _ in c.values()]), [w for _, w in c.values()])


def reusable_embeddings(truth: GesturedWords, benches: dict, embs: dict):
    """What a model's benchmark embeddings (``{task: Embeddings}`` of one content modality, the
    benchmarks ``{task: Benchmark}`` they were computed for) hold for the test clips of ``truth``:
    every gesture clip, and the content words of a clip only where its benchmark row has exactly
    the CSV's words (text, start, end), so the word embeddings are the ones this protocol would
    compute. None when there is nothing."""
    from jegal.inference.embed import Embeddings

    table = WordTable(truth.split("test"))
    want = {cid: [(table.text[i], int(table.start[i]), int(table.end[i])) for i in idx]
            for cid, idx in table.clips.items()}
    parts = []
    for task, emb in embs.items():
        bench = benches.get(task)
        if emb is None or bench is None:
            continue
        same = {r.filename for r in bench.rows
                if want.get(r.filename) == [(w.text, w.start, w.end) for w in r.words]}
        keep = [cid for cid in emb.content_ids if cid in same]
        parts.append(Embeddings(emb.gesture_ids, emb.gesture_clip, emb.gesture_frames, keep,
                                np.stack([emb.content(c)[0] for c in keep]) if keep else np.zeros((0, emb.dim)),
                                [emb.content(c)[1] for c in keep]))
    return merge_embeddings(parts) if parts else None


def embed_test_clips(model, clips: list, modalities: str = "ta", cache_dir=None, model_id: str | None = None,
                     batch_size: int = 32, progress: bool = False, reuse=None):
    """One embedding pass over ``clips`` (gesture frames and the CSV's words), cached as ``.npz``
    like the benchmarks' (:mod:`jegal.evaluation.embeddings`). ``reuse``: an
    :class:`~jegal.inference.embed.Embeddings` of the same model (and, for content, the same
    modalities and these clips' words: :func:`reusable_embeddings`) already holding some of
    them; only the rest is embedded."""
    from pathlib import Path

    from jegal.evaluation.embeddings import cache_key
    from jegal.inference.embed import Embeddings, embed_clips

    path = None
    if cache_dir is not None and model_id is not None:
        path = Path(cache_dir) / f"emb-gestured-{modalities}-{cache_key(model_id, modalities, clips, clips)}.npz"
        if path.is_file():
            try:
                return Embeddings.load(path)
            except (OSError, ValueError, KeyError):
                pass  # recomputed and replaced
    g_todo = [c for c in clips if reuse is None or not reuse.has_gesture(c.clip_id)]
    c_todo = [c for c in clips if reuse is None or not reuse.has_content(c.clip_id)]
    emb = embed_clips(model, g_todo, c_todo, modalities=modalities, batch_size=batch_size, progress=progress,
                      desc="embed gestured words") if g_todo or c_todo else None
    emb = merge_embeddings([e for e in (emb, reuse) if e is not None])
    if path is not None:
        emb.save(path, meta={"task": "gestured", "modalities": modalities, "model": model_id})
    return emb


def spotting_probability_scores(table: WordTable, emb) -> WordScores:
    """Today's behaviour as a row: per word, the highest P(word | frame) of the spotting softmax
    over the frames within its span +-9 (:data:`jegal.metrics.SPOT_MARGIN`), the peak at the
    first such frame, the flag the AVS rule (the word's best frame in the whole clip lies in that
    window and has P >= 0.5). ``emb``: embeddings with each test clip's gesture frames and the
    CSV's words as its content (:func:`embed_test_clips`)."""
    n = len(table)
    score, peak, flag = np.full(n, np.nan), np.full(n, np.nan), np.zeros(n, bool)
    for cid, idx in table.clips.items():
        if not (emb.has_gesture(cid) and emb.has_content(cid)):
            continue
        frames, words = emb.gesture(cid)[1], emb.content(cid)[1]
        probs = spotting_probabilities(frames, words)  # (T, W)
        T = probs.shape[0]
        starts, ends = np.minimum(table.start[idx], T - 1), np.minimum(table.end[idx], T - 1)
        flag[idx] = spot_decisions(probs.T, starts, ends)["correct"]
        for k, i in enumerate(idx):
            lo, hi = max(0, starts[k] - SPOT_MARGIN), min(T - 1, ends[k] + SPOT_MARGIN)
            j = int(np.argmax(probs[lo:hi + 1, k]))
            score[i], peak[i] = probs[lo + j, k], lo + j
    missing = np.isnan(score)
    return WordScores("spotting probability (window max; flag: AVS rule)", "model", score=score, probability=True,
                      flag=flag, peak=peak, missing=missing,
                      note="today's behaviour, kept as a reference: the flag is the AVS-Spot rule applied to "
                           "every word")


def gesture_score_scores(table: WordTable, model, clips: list, modalities: str = "ta",
                         batch_size: int = 32, progress: bool = False) -> list[WordScores]:
    """Rows from :func:`jegal.inference.gesture_score.score_clips` (the per-word gesture score,
    which makes its own embedding pass with its controls): ``gesture score`` (its score, an
    empirical probability, its decision ``gestured`` and its ``peak`` frame) and, only where it
    differs from the score, ``gesture score p-value`` (1 - p as the score)."""
    from jegal.inference.gesture_score import score_clips

    res = score_clips(model, clips, modalities=modalities, batch_size=batch_size, progress=progress)
    n = len(table)
    cols = {k: np.full(n, np.nan) for k in ("score", "p", "peak")}
    flag = np.zeros(n, bool)
    for cid, idx in table.clips.items():
        r = res.get(cid)
        if r is None:
            continue
        cols["score"][idx] = np.asarray(r.score, dtype=float)[: len(idx)]
        cols["p"][idx] = 1.0 - np.asarray(r.p_value, dtype=float)[: len(idx)]
        cols["peak"][idx] = np.asarray(r.peak, dtype=float)[: len(idx)]
        flag[idx] = np.asarray(r.gestured, dtype=bool)[: len(idx)]
    missing = np.isnan(cols["score"])
    rows = [WordScores("gesture score", "model", score=np.clip(cols["score"], 0, 1), probability=True, flag=flag,
                       peak=cols["peak"], missing=missing,
                       note="jegal.inference.gesture_score.score_clips: the word against no-gesture controls of the "
                            "same person; flag at its operating point")]
    if not np.allclose(cols["p"], cols["score"], equal_nan=True):
        rows.append(WordScores("gesture score p-value (1 - p)", "model", score=cols["p"], missing=np.isnan(cols["p"]),
                               note="the empirical p-value against the controls, as a score"))
    return rows


def model_scores(table: WordTable, model, clipset, modalities: str = "ta", cache_dir=None,
                 model_id: str | None = None, batch_size: int = 32, progress: bool = False, reuse=None,
                 gesture_score: bool = True) -> tuple[list[WordScores], dict]:
    """The model rows (module docstring) from one embedding pass plus, when it exists, the gesture
    score. Returns (rows, info: clips embedded and seconds per part)."""
    clips = clips_with_words(table, clipset)
    t0 = time.perf_counter()
    emb = embed_test_clips(model, clips, modalities, cache_dir, model_id, batch_size, progress, reuse)
    rows = [spotting_probability_scores(table, emb)]
    info = {"clips": len(clips), "embed_seconds": round(time.perf_counter() - t0, 2)}
    if gesture_score:
        t0 = time.perf_counter()
        rows += gesture_score_scores(table, model, clips, modalities, batch_size, progress)
        info["gesture_score_seconds"] = round(time.perf_counter() - t0, 2) if len(rows) > 1 else None
    return rows, info


# -- tables -----------------------------------------------------------------------------------
# table -> [(column, path into a scored row, better: "high" | "low" | None)]
TABLES: dict[str, list[tuple[str, tuple[str, ...], str | None]]] = {
    "detection": [("AUC", ("detection", "auc"), "high"),
                  ("AUC cond.", ("detection", "conditioned", "pooled"), "high"),
                  ("AUC cond. per word", ("detection", "conditioned", "per_group_mean"), "high"),
                  ("AP", ("detection", "ap"), "high"),
                  (f"P@R>={RECALL_TARGET:g}", ("detection", "precision_at_recall"), "high"),
                  ("ECE", ("detection", "ece"), "low")],
    "identification": [("top-1", ("identification", "top1"), "high"), ("MRR", ("identification", "mrr"), "high")],
    "localisation": [("in stroke", ("localisation", "in_stroke"), "high"),
                     (f"<={SPOT_MARGIN} frames", ("localisation", "within_margin"), "high"),
                     ("median dist", ("localisation", "median_distance"), "low"),
                     ("mean dist", ("localisation", "mean_distance"), "low"),
                     ("IoU", ("localisation", "iou"), "high")],
    "flag": [("precision", ("flag", "precision"), "high"), ("recall", ("flag", "recall"), "high"),
             ("F1", ("flag", "f1"), "high"), ("flagged", ("flag", "flagged_fraction"), None),
             ("base rate", ("flag", "base_rate"), None), ("ECE", ("flag", "ece"), "low")],
}
TITLES = {"detection": "Detection: is this word gestured? (all test words; conditioned: words gestured in some "
                       "clips and not in others)",
          "identification": "Identification: which word of the clip carries the gesture? (clips with a gestured "
                            "word and >= 2 words)",
          "localisation": "Localisation: the peak frame against the annotated stroke (gestured words with a "
                          "stroke; distances in frames)",
          "flag": "The gestured flag (words the scorer decides are gestured)"}


def _get(d: dict | None, path: tuple[str, ...]):
    for k in path:
        if not isinstance(d, dict) or d.get(k) is None:
            return None
        d = d[k]
    return None if isinstance(d, float) and math.isnan(d) else d


def build_tables(scored: list[dict]) -> dict:
    """Per table: its columns, the rows that answer it (a value in some column), the best floor
    per column (the floor row with the best value) and each model row's margin over it (model -
    best floor; for "low" columns a negative margin is better)."""
    out = {}
    for name, cols in TABLES.items():
        rows = []
        for r in scored:
            values = {c: _get(r, path) for c, path, _ in cols}
            if any(v is not None for v in values.values()):
                rows.append({"name": r["name"], "kind": r["kind"], "values": values})
        best, margins = {}, {}
        for c, _, better in cols:
            floor_vals = [(r["values"][c], r["name"]) for r in rows
                          if r["kind"] == "floor" and r["values"][c] is not None]
            if better and floor_vals:
                v, who = (max if better == "high" else min)(floor_vals, key=lambda t: t[0])
                best[c] = {"name": who, "value": v}
        for r in rows:
            if r["kind"] == "model":
                margins[r["name"]] = {c: r["values"][c] - best[c]["value"] for c in best
                                      if r["values"][c] is not None}
        out[name] = {"title": TITLES[name], "columns": [c for c, _, _ in cols],
                     "better": {c: b for c, _, b in cols}, "rows": rows, "best_floor": best, "margins": margins}
    return out


def gestured_cell(v, column: str = "") -> str:
    if v is None:
        return "-"
    if "dist" in column:
        return "inf" if v == float("inf") else f"{v:.1f}"
    return f"{v:.3f}"


def gestured_table_rows(t: dict) -> tuple[list[str], list[tuple[str, str, list[str]]]]:
    """One table of :func:`build_tables` as text: ``(columns, rows)``, the columns any row fills,
    each row ``(kind, label, cells)`` with kind ``row`` (a model or floor row), ``best`` (the best
    floor per column, named) or ``margin`` (a model row minus the best floor); "-" where empty.
    The one rendering of the cells that the markdown and the demo's HTML lay out."""
    rows = t["rows"]
    cols = [c for c in t["columns"] if any(r["values"].get(c) is not None for r in rows)]
    out = [("row", r["name"] if r["kind"] == "model" else f"floor: {r['name']}",
            [gestured_cell(r["values"].get(c), c) for c in cols]) for r in rows]
    if t["best_floor"]:
        best = t["best_floor"]
        out.append(("best", "best floor", [f"{gestured_cell(best[c]['value'], c)} ({best[c]['name']})"
                                           if c in best else "-" for c in cols]))
        out += [("margin", f"{model} - best floor", [("+" if m[c] >= 0 else "") + gestured_cell(m[c], c)
                                                      if c in m else "-" for c in cols])
                for model, m in t["margins"].items()]
    return cols, out


def tables_markdown(tables: dict) -> str:
    """The tables as markdown: model rows, floor rows, the best floor per column (named) and each
    model row's margin over it."""
    parts = []
    for t in tables.values():
        if not t["rows"]:
            continue
        cols, rows = gestured_table_rows(t)
        lines = [f"**{t['title']}**", "", "| row | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
        lines += [f"| {f'**{label}**' if kind == 'best' else label} | " + " | ".join(cells) + " |"
                  for kind, label, cells in rows]
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def counts(table: WordTable, truth: GesturedWords, clipset=None) -> dict:
    """What the protocols were computed over."""
    cond = conditioned_auc(np.zeros(len(table)), table.label, table.text.tolist())
    ident = sum(1 for idx in table.clips.values() if len(idx) >= 2 and table.label[idx].any())
    return {"test_words": len(table), "gestured": int(table.label.sum()),
            "base_rate": float(table.label.mean()) if len(table) else None, "test_clips": len(table.clips),
            "identification_clips": ident, "strokes": int((table.label & ~np.isnan(table.stroke[:, 0])).sum()),
            "conditioned_words": cond["groups"], "conditioned_rows": cond["rows"],
            "train_words": len(truth.split("train")), "train_clips": len(truth.clips("train")),
            "clips_missing": None if clipset is None else sum(1 for c in table.clips if c not in clipset.clips)}


def _json_ready(x):
    """NaN -> None, numpy -> Python, recursively (strict JSON)."""
    if isinstance(x, dict):
        return {k: _json_ready(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_ready(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None if math.isnan(x) else x
    return x


def evaluate_gestured(truth: GesturedWords, clipset=None, model=None, modalities: str = "ta", cache_dir=None,
                      model_id: str | None = None, batch_size: int = 32, progress: bool = False, reuse=None,
                      extra_rows: list[WordScores] | None = None, gesture_score: bool = True) -> dict:
    """Every protocol of this module on the test rows of ``truth``, for the floors and (with a
    ``model``) the model rows, plus any ``extra_rows`` (already aligned with the test rows).

    ``clipset``: the test clips (:class:`jegal.evaluation.benchmarks.ClipSet`; the fastest hand
    and the model need them; None: floors from the CSV alone). Returns a JSON-ready dict:
    ``counts``, ``rows`` (each row's numbers, :func:`score_row`), ``tables`` (:func:`build_tables`),
    ``notes`` and ``seconds``."""
    t0 = time.perf_counter()
    table = WordTable(truth.split("test"))
    if not len(table):
        raise ValueError(f"{truth.path or 'gestured words'}: no test rows")
    rows, info = [], {}
    if model is not None:
        rows, info = model_scores(table, model, clipset, modalities, cache_dir, model_id, batch_size, progress,
                                  reuse, gesture_score)
    rows += list(extra_rows or [])
    rows += floor_scores(table, truth.split("train"), None if clipset is None else clipset.clips)
    scored = [score_row(table, ws) for ws in rows]
    notes = [f"{ws.name}: {ws.note}" for ws in rows if ws.note]
    notes.append("ties: ROC-AUC counts a tie half, AP flags tied words together; identification counts ties "
                 f"against model rows ({MODEL_TIES}) and breaks them at random for floors ({FLOOR_TIES}); a word "
                 "a scorer could not score gets the worst score for its label")
    result = {"counts": counts(table, truth, clipset), "rows": scored, "tables": build_tables(scored),
              "notes": notes, "model": info or None, "modalities": modalities if model is not None else None,
              "truth": str(truth.path) if truth.path else None, "seconds": round(time.perf_counter() - t0, 2)}
    return _json_ready(result)


def gestured_markdown(result: dict) -> str:
    """Counts, the tables and the notes of an :func:`evaluate_gestured` result, as markdown."""
    c = result["counts"]
    head = (f"{c['test_words']} test words in {c['test_clips']} clips, {c['gestured']} gestured (base rate "
            f"{c['base_rate']:.3f}); conditioned: {c['conditioned_words']} words gestured in some clips and not in "
            f"others, {c['conditioned_rows']} rows; identification: {c['identification_clips']} clips; "
            f"localisation: {c['strokes']} strokes; word prior from {c['train_words']} training words.")
    if c.get("clips_missing"):
        head += f" {c['clips_missing']} test clips missing or unreadable (their words count as errors)."
    notes = "\n".join(f"- {n}" for n in result["notes"])
    return f"{head}\n\n{tables_markdown(result['tables'])}\n\nNotes:\n\n{notes}"
