"""Trivial baselines on the SynthGest benchmarks: the floor a trained model must beat.

- **fastest hand** (spotting): for each spotting row, the frame where a wrist moves
  fastest is the guess; correct if it lies in ``[start - 9, end + 9]`` of the target word
  (the protocol's window; the baseline has no probabilities, so the 0.5 threshold is
  waived in its favour). Shown beside the *oracle* (the true stroke's middle frame) and the
  chance rate of a uniformly random frame.
- **clip length** (retrieval): content clips and gesture clips are matched by how long
  they are (content: the last word's end frame + 1; gesture: the number of frames).
  Ties are broken at random and the expected ranks are reported, which is chance for
  tied scores.

Both read only what the evaluation reads (benchmark CSVs and test shards) plus, for the
oracle, ``ground_truth.jsonl``.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np

from jegal.data.keypoints import LEFT_WRIST, RIGHT_WRIST
from jegal.data.shards import read_clips
from jegal.data.transcripts import parse_word_boundaries

SPOT_MARGIN = 9
RECALL_AT = (5, 10, 25, 50)


def read_csv_rows(path: str | os.PathLike) -> list[dict]:
    """A benchmark CSV as a list of raw rows (column -> string)."""
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def wrist_speed(keypoints: np.ndarray) -> np.ndarray:
    """Per-frame speed of the faster wrist, ``(T,)``, from normalised keypoints (T, 56, 3);
    frame 0 gets 0."""
    wrists = keypoints[:, [LEFT_WRIST, RIGHT_WRIST], :2]  # (T, 2, 2)
    step = np.linalg.norm(np.diff(wrists, axis=0), axis=-1).max(axis=1)
    return np.r_[0.0, step]


def fastest_hand_spotting(rows: list[dict], clips: dict, truth: dict | None = None) -> dict:
    """Accuracy of the fastest-hand guess, of the ground-truth oracle and of a random frame."""
    hits, oracle, chance, by_stress = [], [], [], {0: [], 1: []}
    for row in rows:
        clip = clips[row["filename"]]
        target = parse_word_boundaries(row["target_word_boundary"], f"{row['filename']} target_word_boundary")[0]
        lo, hi = target.start - SPOT_MARGIN, target.end + SPOT_MARGIN
        guess = int(np.argmax(wrist_speed(clip.keypoints)))
        hit = lo <= guess <= hi
        hits.append(hit)
        by_stress[int(row.get("stress_label") or 0)].append(hit)
        T = clip.num_frames
        chance.append((min(hi, T - 1) - max(lo, 0) + 1) / T)
        if truth is not None:
            rec = truth[row["filename"]]
            idx = next(i for i, w in enumerate(clip.words) if (w.start, w.end) == (target.start, target.end))
            g = next(g for g in rec["gestures"] if g["kind"] == "semantic" and g["word_index"] == idx)
            mid = (g["stroke"][0] + g["stroke"][1]) // 2
            oracle.append(lo <= mid <= hi)
    out = {"rows": len(rows), "fastest_hand": float(np.mean(hits)), "random_frame": float(np.mean(chance)),
           "fastest_hand_stressed": float(np.mean(by_stress[1])) if by_stress[1] else None,
           "fastest_hand_unstressed": float(np.mean(by_stress[0])) if by_stress[0] else None}
    if truth is not None:
        out["oracle"] = float(np.mean(oracle))
    return out


def word_order_spotting(rows: list[dict]) -> dict:
    """Spotting from the transcript alone: the guess for target word k of W words in a clip of
    T frames is frame round((k + 1/2) / W * T), the word's place if the words were spread evenly.
    No gesture is looked at and the 0.5 threshold is waived, as for the fastest hand. It reads
    only the CSV (``word_boundaries``, ``num_frames``, ``target_word_boundary``), so it applies to
    the AVS spotting CSV as it is. Why it matters: a model whose text side knows word order and
    whose gesture side knows frame positions can learn this prior instead of gestures."""
    hits, by_stress = [], {}
    for row in rows:
        where = row.get("filename", "?")
        words = parse_word_boundaries(row["word_boundaries"], f"{where} word_boundaries")
        target = parse_word_boundaries(row["target_word_boundary"], f"{where} target_word_boundary")[0]
        k = next((i for i, w in enumerate(words) if (w.start, w.end) == (target.start, target.end)), None)
        if k is None:
            hits.append(False)
            continue
        T = int(float(row["num_frames"])) if row.get("num_frames") else words[-1].end + 1
        guess = round((k + 0.5) / len(words) * T)
        hit = target.start - SPOT_MARGIN <= guess <= target.end + SPOT_MARGIN
        hits.append(hit)
        label = str(row.get("stress_label") or "").removesuffix(".0")
        by_stress.setdefault(label, []).append(hit)
    out = {"rows": len(rows), "word_order": float(np.mean(hits)) if hits else float("nan")}
    for label, name in (("1", "stressed"), ("0", "unstressed")):
        if by_stress.get(label):
            out[f"word_order_{name}"] = float(np.mean(by_stress[label]))
    return out


def expected_ranks(scores: np.ndarray) -> np.ndarray:
    """Expected 1-based rank of the matching item (the diagonal) per query under random
    tie-breaking, and P(rank <= K) for K in RECALL_AT. ``scores`` is (N, N), higher better."""
    diag = np.diag(scores)[:, None]
    better = (scores > diag).sum(axis=1)
    ties = (scores == diag).sum(axis=1) - 1
    return better, ties


def retrieval_metrics(scores: np.ndarray) -> dict:
    """R@K (expected under random tie-breaking) and median expected rank, rows as queries."""
    better, ties = expected_ranks(scores)
    out = {f"R@{k}": float(np.mean(np.clip((k - better) / (ties + 1), 0.0, 1.0))) for k in RECALL_AT}
    out["median_rank"] = float(np.median(1 + better + ties / 2))
    return out


def clip_length_retrieval(rows: list[dict], clips: dict) -> dict:
    """Retrieval by clip length alone, both directions, with chance for comparison."""
    content_len = np.array([parse_word_boundaries(r["word_boundaries"], r["filename"])[-1].end + 1 for r in rows],
                           dtype=float)
    gesture_len = np.array([clips[r["filename"]].num_frames for r in rows], float)
    scores = -np.abs(content_len[:, None] - gesture_len[None, :])  # (content, gesture)
    n = len(rows)
    chance = {f"R@{k}": min(1.0, k / n) for k in RECALL_AT}
    chance["median_rank"] = (n + 1) / 2
    return {"rows": n, "content_to_gesture": retrieval_metrics(scores),
            "gesture_to_content": retrieval_metrics(scores.T),
            "chance": chance}


def trivial_baselines(corpus_dir: str | os.PathLike) -> dict:
    """Both baselines on a generated corpus directory (see :mod:`jegal.synth.corpus`)."""
    corpus_dir = Path(corpus_dir)
    bench = corpus_dir / "benchmarks"
    clips = {c.clip_id: c for c in read_clips(corpus_dir / "test")}
    truth = None
    gt_path = corpus_dir / "ground_truth.jsonl"
    if gt_path.exists():
        with open(gt_path, encoding="utf-8") as f:
            truth = {rec["clip_id"]: rec for rec in map(json.loads, f) if rec["split"] == "test"}
    spot_rows, ret_rows = read_csv_rows(bench / "spot.csv"), read_csv_rows(bench / "ret.csv")
    missing = [r["filename"] for r in spot_rows + ret_rows if r["filename"] not in clips]
    if missing:
        raise FileNotFoundError(f"{corpus_dir / 'test'}: {len(missing)} benchmark clips missing, e.g. {missing[0]}")
    return {"spotting": {**fastest_hand_spotting(spot_rows, clips, truth), **word_order_spotting(spot_rows)},
            "retrieval": clip_length_retrieval(ret_rows, clips)}
