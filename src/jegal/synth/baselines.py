"""Trivial baselines on the SynthGest benchmarks: the floor a trained model must beat.

- **fastest hand** (spotting): for each spotting row, the frame where a wrist moves
  fastest is the guess; correct if it lies in the target word's spotting window
  (:func:`jegal.metrics.in_spot_window`, the protocol's ``[start - 9, end + 9]``; the baseline
  has no probabilities, so the 0.5 threshold is waived in its favour). Shown beside the
  *oracle* (the true stroke's middle frame) and the chance rate of a uniformly random frame.
- **word order** (spotting): the transcript alone, see :func:`word_order_spotting`.
- **clip length** (retrieval): content clips and gesture clips are matched by how long
  they are (content: the last word's end frame + 1; gesture: the number of frames), scored by
  :func:`jegal.metrics.retrieval_metrics` like the models, but with ``ties="expected"``: the
  scores tie by construction (many clips share a length), and a rule with no preference among
  tied clips is read fairly as random tie-breaking; counting every tie against it would put the
  floor below what its scores say.

All read only what the evaluation reads (the benchmark CSVs, through
:func:`jegal.data.benchmarks.read_benchmark`, and test shards) plus, for the oracle,
``ground_truth.jsonl``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from jegal.data.benchmarks import Benchmark, read_benchmark
from jegal.data.keypoints import LEFT_WRIST, RIGHT_WRIST
from jegal.data.shards import read_clips
from jegal.metrics import accuracy_by, in_spot_window, retrieval_metrics


def wrist_speed(keypoints: np.ndarray) -> np.ndarray:
    """Per-frame speed of the faster wrist, ``(T,)``, from normalised keypoints (T, 56, 3);
    frame 0 gets 0."""
    wrists = keypoints[:, [LEFT_WRIST, RIGHT_WRIST], :2]  # (T, 2, 2)
    step = np.linalg.norm(np.diff(wrists, axis=0), axis=-1).max(axis=1)
    return np.r_[0.0, step]


def _stress_accuracy(prefix: str, hits: list[bool], bench: Benchmark) -> dict:
    by = accuracy_by(hits, [r.stress_label for r in bench.rows])
    return {f"{prefix}_{name}": by[label]["accuracy"] if label in by else None
            for label, name in (("1", "stressed"), ("0", "unstressed"))}


def fastest_hand_spotting(bench: Benchmark, clips: dict, truth: dict | None = None) -> dict:
    """Accuracy of the fastest-hand guess, of the ground-truth oracle and of a random frame
    over the rows of a spotting benchmark (every row's clip must be in ``clips``)."""
    hits, oracle, chance = [], [], []
    for row in bench.rows:
        clip = clips[row.filename]
        target = row.target
        guess = int(np.argmax(wrist_speed(clip.keypoints)))
        hits.append(bool(in_spot_window(guess, target.start, target.end)))
        chance.append(float(np.mean(in_spot_window(np.arange(clip.num_frames), target.start, target.end))))
        if truth is not None:
            rec = truth[row.filename]
            idx = next(i for i, w in enumerate(clip.words) if (w.start, w.end) == (target.start, target.end))
            g = next(g for g in rec["gestures"] if g["kind"] == "semantic" and g["word_index"] == idx)
            mid = (g["stroke"][0] + g["stroke"][1]) // 2
            oracle.append(bool(in_spot_window(mid, target.start, target.end)))
    out = {"rows": len(bench.rows), "fastest_hand": float(np.mean(hits)), "random_frame": float(np.mean(chance)),
           **_stress_accuracy("fastest_hand", hits, bench)}
    if truth is not None:
        out["oracle"] = float(np.mean(oracle))
    return out


def word_order_spotting(bench: Benchmark) -> dict:
    """Spotting from the transcript alone: the guess for target word k of W words in a clip of
    T frames is frame round((k + 1/2) / W * T), the word's place if the words were spread evenly.
    No gesture is looked at and the 0.5 threshold is waived, as for the fastest hand. It reads
    only the CSV (``word_boundaries``, ``num_frames``, ``target_word_boundary``), so it applies to
    the AVS spotting CSV as it is; rows the reader could not parse count as misses. Why it
    matters: a model whose text side knows word order and whose gesture side knows frame
    positions can learn this prior instead of gestures."""
    hits = []
    for row in bench.rows:
        T = row.num_frames or row.words[-1].end + 1
        guess = round((row.target_index + 0.5) / len(row.words) * T)
        hits.append(bool(in_spot_window(guess, row.target.start, row.target.end)))
    n = len(bench.rows) + len(bench.bad_rows)
    out = {"rows": n, "word_order": sum(hits) / n if n else float("nan")}
    out.update({k: v for k, v in _stress_accuracy("word_order", hits, bench).items() if v is not None})
    return out


def clip_length_retrieval(bench: Benchmark, clips: dict) -> dict:
    """Retrieval by clip length alone, both directions, with chance for comparison: scores
    -|content length - gesture length| (content, gesture), expected ranks under random
    tie-breaking (the result says ``"ties": "expected"``)."""
    content_len = np.array([r.words[-1].end + 1 for r in bench.rows], dtype=float)
    gesture_len = np.array([clips[r.filename].num_frames for r in bench.rows], dtype=float)
    scores = -np.abs(content_len[:, None] - gesture_len[None, :])  # (content, gesture)
    return {"rows": len(bench.rows), **retrieval_metrics(scores, ties="expected")}


def trivial_baselines(corpus_dir: str | os.PathLike) -> dict:
    """Every floor on a generated corpus directory (see :mod:`jegal.synth.corpus`).

    Raises ``FileNotFoundError`` when a benchmark clip is not in ``test/`` and ``ValueError``
    when a benchmark CSV has rows that cannot be parsed (a generated corpus has none)."""
    corpus_dir = Path(corpus_dir)
    clips = {c.clip_id: c for c in read_clips(corpus_dir / "test")}
    truth = None
    gt_path = corpus_dir / "ground_truth.jsonl"
    if gt_path.exists():
        with open(gt_path, encoding="utf-8") as f:
            truth = {rec["clip_id"]: rec for rec in map(json.loads, f) if rec["split"] == "test"}
    spot = read_benchmark(corpus_dir / "benchmarks" / "spot.csv", task="spotting")
    ret = read_benchmark(corpus_dir / "benchmarks" / "ret.csv", task="retrieval")
    for bench in (spot, ret):
        if bench.bad_rows:
            raise ValueError(f"{bench.path}: {len(bench.bad_rows)} rows cannot be parsed, "
                             f"e.g. {bench.bad_rows[0]['error']}")
    missing = [r.filename for r in spot.rows + ret.rows if r.filename not in clips]
    if missing:
        raise FileNotFoundError(f"{corpus_dir / 'test'}: {len(missing)} benchmark clips missing, e.g. {missing[0]}")
    return {"spotting": {**fastest_hand_spotting(spot, clips, truth), **word_order_spotting(spot)},
            "retrieval": clip_length_retrieval(ret, clips)}
