"""Validation during training: retrieval R@k and gestured-word spotting on a fixed split.

The protocols are those of docs/design.md section 7, scored by :mod:`jegal.metrics` (the functions
``jegal eval`` uses), kept small so the training loop can run them every epoch:

- **retrieval**: cosine similarity of the clip vectors, R@{5,10,25,50} and median rank in
  both directions, ties counted against the model (``ties="pessimistic"``).
- **spotting**: per frame, a softmax over the clip's words of ``cos(g_t, c_w) / 0.07``; correct
  when the target word's best frame lies in ``[start - 9, end + 9]`` and its probability is at
  least 0.5. Targets come from a spotting benchmark (AVS columns, read by
  :func:`jegal.data.benchmarks.read_benchmark`) when one is given, matched to the validation
  clip's own words by their frames; otherwise every word of every clip is a target
  (``spot_all_words``), a weaker proxy for prepared data without spotting annotations.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from jegal.data.batch import collate_clips
from jegal.data.benchmarks import Benchmark, BenchmarkRow
from jegal.data.clip import Clip
from jegal.metrics import RECALL_AT, retrieval_metrics, spot_batch


def _target_index(clip: Clip, row: BenchmarkRow) -> int | None:
    target = row.target
    for i, w in enumerate(clip.words):
        if (w.start, w.end) == (target.start, target.end):
            return i
    return None


def _flat_retrieval(sim: torch.Tensor) -> dict[str, float]:
    """``ret_{c2g,g2c}_{R@k,median_rank}`` from a (content, gesture) similarity matrix."""
    m = retrieval_metrics(sim, RECALL_AT, ties="pessimistic")
    out = {}
    for direction, short in (("content_to_gesture", "c2g"), ("gesture_to_content", "g2c")):
        out.update({f"ret_{short}_R@{k}": m[direction][f"R@{k}"] for k in RECALL_AT})
        out[f"ret_{short}_median_rank"] = m[direction]["median_rank"]
    return out


@torch.no_grad()
def validate(model, clips: Sequence[Clip], spot: Benchmark | Sequence[BenchmarkRow] | None = None,
             batch_size: int = 64, modalities: str | None = None,
             autocast_dtype: torch.dtype | None = None) -> dict[str, float]:
    """Retrieval and spotting metrics of ``model`` (a JEGAL, unwrapped) on whole ``clips``.

    ``spot``: a spotting benchmark (or its rows); rows whose clip is not among ``clips``, whose
    target is not one of the clip's words, or that could not be parsed are counted in
    ``spot_rows_missing``. Returns ``val_clips``, ``ret_{c2g,g2c}_R@k``,
    ``ret_{c2g,g2c}_median_rank``, ``ret_R@10_mean`` and, per spotting mode (``spot_acc`` with
    rows, ``spot_all_words`` without), the accuracy, ``spot_rows`` and the accuracy per stress
    label (``..._stressed`` / ``..._unstressed``)."""
    if not clips:
        return {}
    mods = modalities or model.config.content.modalities
    rows = spot.rows if isinstance(spot, Benchmark) else spot
    by_id = {c.clip_id: i for i, c in enumerate(clips)}
    targets: list[list[tuple[int, int | None]]] = [[] for _ in clips]  # per clip: (word, stress)
    missing = len(spot.bad_rows) if isinstance(spot, Benchmark) else 0
    if rows is not None:
        for row in rows:
            i = by_id.get(row.filename)
            w = None if i is None else _target_index(clips[i], row)
            if w is None:
                missing += 1
                continue
            targets[i].append((w, int(row.stress_label) if row.stress_label.isdigit() else None))
    else:
        for i, c in enumerate(clips):
            targets[i] = [(w, None) for w in range(len(c.words))]

    g_clip, c_clip, hits, stress = [], [], [], []
    device = model.device
    for lo in range(0, len(clips), batch_size):
        chunk = clips[lo : lo + batch_size]
        batch = collate_clips(chunk)
        with torch.autocast(device.type, dtype=autocast_dtype or torch.float32, enabled=autocast_dtype is not None):
            emb = model.embed(batch, modalities=mods)
        g_clip.append(emb["gesture_clip"].float())
        c_clip.append(emb["content_clip"].float())
        pairs = [(b, w, s) for b in range(len(chunk)) for (w, s) in targets[lo + b]]  # one per (clip, target)
        if pairs:
            b_idx = np.array([b for b, _, _ in pairs])
            w_idx = np.array([w for _, w, _ in pairs])
            spans = batch["word_spans"].numpy()[b_idx, w_idx]  # (R, 2) inclusive frames
            hits.append(spot_batch(emb["gesture_frames"], emb["content_words"], b_idx, w_idx, spans[:, 0], spans[:, 1],
                                   frame_mask=emb["frame_mask"], word_mask=emb["word_mask"])["correct"])
            stress += [s for _, _, s in pairs]

    sim = torch.cat(c_clip) @ torch.cat(g_clip).T  # (content, gesture)
    out = {"val_clips": float(len(clips)), **_flat_retrieval(sim)}
    out["ret_R@10_mean"] = (out["ret_c2g_R@10"] + out["ret_g2c_R@10"]) / 2
    if hits:
        h = np.concatenate(hits)
        key = "spot_acc" if rows is not None else "spot_all_words"
        out[key] = float(h.mean())
        out["spot_rows"] = float(len(h))
        s = np.array([-1 if v is None else v for v in stress])
        for label, name in ((1, "stressed"), (0, "unstressed")):
            if (s == label).any():
                out[f"{key}_{name}"] = float(h[s == label].mean())
    if rows is not None:
        out["spot_rows_missing"] = float(missing)
    return out
