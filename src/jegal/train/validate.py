"""Validation during training: retrieval R@k and gestured-word spotting on a fixed split.

The protocols are those of DESIGN.md section 7, kept small so the training loop can run them
every epoch:

- **retrieval**: cosine similarity of the clip vectors, R@{5,10,25,50} and median rank in
  both directions. Ties count against the model: the rank of the match is 1 + the number of
  other candidates scoring at least as high.
- **spotting**: per frame, a softmax over the clip's words of ``cos(g_t, c_w) / 0.07``; for
  the target word take the frame of highest probability; correct when that frame lies in
  ``[start - 9, end + 9]`` and its probability is at least 0.5. Targets come from a spotting
  CSV (AVS columns) when one is given; otherwise every word of every clip is a target
  (``spot_all_words``), a weaker proxy for prepared data without spotting annotations.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from jegal.data.batch import collate_clips
from jegal.data.clip import Clip
from jegal.data.transcripts import TranscriptError, parse_word_boundaries

RECALL_AT = (5, 10, 25, 50)
SPOT_MARGIN = 9
SPOT_TEMPERATURE = 0.07
SPOT_MIN_PROB = 0.5


def match_ranks(sim: torch.Tensor) -> torch.Tensor:
    """1-based rank of the diagonal entry in each row of ``sim`` (Q, Q); ties count against it."""
    diag = sim.diagonal()[:, None]
    return (sim >= diag).sum(dim=1)  # includes the match itself


def retrieval_metrics(sim: torch.Tensor, prefix: str) -> dict[str, float]:
    ranks = match_ranks(sim.float()).float()
    out = {f"{prefix}R@{k}": float((ranks <= k).float().mean()) for k in RECALL_AT}
    out[f"{prefix}median_rank"] = float(ranks.median())
    return out


def spotting_hits(frames: torch.Tensor, frame_mask: torch.Tensor, words: torch.Tensor, word_mask: torch.Tensor,
                  target: torch.Tensor, spans: torch.Tensor) -> torch.Tensor:
    """Spotting decisions for one target word per clip, batched.

    frames (B, T, d) and words (B, W, d) L2-normalised; target (B,) word index; spans (B, 2)
    inclusive frames of the target. Returns (B,) bool."""
    logits = torch.einsum("btd,bwd->btw", frames.float(), words.float()) / SPOT_TEMPERATURE  # (B, T, W)
    logits = logits.masked_fill(~word_mask[:, None, :], float("-inf"))
    prob = logits.softmax(dim=-1)  # over words, per frame
    p_target = prob.gather(2, target[:, None, None].expand(-1, prob.shape[1], 1))[..., 0]  # (B, T)
    p_target = p_target.masked_fill(~frame_mask, -1.0)
    best_t = p_target.argmax(dim=1)  # the first frame on ties
    best_p = p_target.gather(1, best_t[:, None])[:, 0]
    inside = (best_t >= spans[:, 0] - SPOT_MARGIN) & (best_t <= spans[:, 1] + SPOT_MARGIN)
    return inside & (best_p >= SPOT_MIN_PROB)


def read_spot_rows(path: str | Path) -> list[dict]:
    """Spotting rows: ``clip_id``, target ``start``/``end``/``text`` and ``stress`` (or None)."""
    rows = []
    with open(path, newline="", encoding="utf-8") as f:
        for i, row in enumerate(csv.DictReader(f)):
            where = f"{path} row {i + 2}"
            try:
                target = parse_word_boundaries(row["target_word_boundary"], f"{where} target_word_boundary")[0]
                stress = row.get("stress_label")
                rows.append({"clip_id": row["filename"], "start": target.start, "end": target.end,
                             "text": target.text, "stress": int(float(stress)) if stress not in (None, "") else None})
            except KeyError as err:
                raise TranscriptError(f"{where}: missing column {err}") from None
    return rows


def _target_index(clip: Clip, row: dict) -> int | None:
    for i, w in enumerate(clip.words):
        if (w.start, w.end) == (row["start"], row["end"]):
            return i
    return None


@torch.no_grad()
def validate(model, clips: Sequence[Clip], spot_rows: list[dict] | None = None, batch_size: int = 64,
             modalities: str | None = None, autocast_dtype: torch.dtype | None = None) -> dict[str, float]:
    """Retrieval and spotting metrics of ``model`` (a JEGAL, unwrapped) on whole ``clips``."""
    if not clips:
        return {}
    device = model.device
    mods = modalities or model.config.content.modalities
    by_id = {c.clip_id: i for i, c in enumerate(clips)}
    targets: list[list[tuple[int, int, int | None]]] = [[] for _ in clips]  # per clip: (word, row, stress)
    missing = 0
    if spot_rows is not None:
        for r, row in enumerate(spot_rows):
            i = by_id.get(row["clip_id"])
            w = None if i is None else _target_index(clips[i], row)
            if w is None:
                missing += 1
                continue
            targets[i].append((w, r, row["stress"]))
    else:
        for i, c in enumerate(clips):
            targets[i] = [(w, -1, None) for w in range(len(c.words))]

    g_clip, c_clip, hits, stress = [], [], [], []
    for lo in range(0, len(clips), batch_size):
        chunk = clips[lo : lo + batch_size]
        batch = collate_clips(chunk)
        with torch.autocast(device.type, dtype=autocast_dtype or torch.float32, enabled=autocast_dtype is not None):
            emb = model.embed(batch, modalities=mods)
        g_clip.append(emb["gesture_clip"].float())
        c_clip.append(emb["content_clip"].float())
        # one spotting decision per (clip, target): repeat each clip's embeddings per target
        rows = [(b, w, s) for b in range(len(chunk)) for (w, _, s) in targets[lo + b]]
        if rows:
            idx = torch.tensor([b for b, _, _ in rows], device=device)
            tgt = torch.tensor([w for _, w, _ in rows], device=device)
            spans = batch["word_spans"].to(device)[idx, tgt]  # (R, 2)
            hits.append(spotting_hits(emb["gesture_frames"][idx], emb["frame_mask"][idx], emb["content_words"][idx],
                                      emb["word_mask"][idx], tgt, spans).cpu())
            stress += [s for _, _, s in rows]

    g, c = torch.cat(g_clip), torch.cat(c_clip)
    sim = c @ g.T  # (content, gesture)
    out = {"val_clips": float(len(clips))}
    out.update(retrieval_metrics(sim, "ret_c2g_"))
    out.update(retrieval_metrics(sim.T, "ret_g2c_"))
    out["ret_R@10_mean"] = (out["ret_c2g_R@10"] + out["ret_g2c_R@10"]) / 2
    if hits:
        h = torch.cat(hits).double()
        key = "spot_acc" if spot_rows is not None else "spot_all_words"
        out[key] = float(h.mean())
        out["spot_rows"] = float(len(h))
        s = np.array([-1 if v is None else v for v in stress])
        for label, name in ((1, "stressed"), (0, "unstressed")):
            if (s == label).any():
                out[f"{key}_{name}"] = float(h[torch.from_numpy(s == label)].mean())
    if spot_rows is not None:
        out["spot_rows_missing"] = float(missing)
    return out
