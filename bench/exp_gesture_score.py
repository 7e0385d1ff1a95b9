"""Which per-word gesture score separates gestured words from the rest? Candidates on a corpus.

Embeds every test clip of a SynthGest corpus (held-out speakers) with a trained model, and
under controls of the gesture input (the speaker's still mean pose; the clip's keypoints rolled
in time; other clips of the same speaker), then prints detection ROC-AUC over all words, AUC
conditioned on words gestured in some clips and not in others, and the best precision at
recall >= 0.6, for each candidate score and for the floors (word prior from the training split).

    python bench/exp_gesture_score.py MODEL CORPUS [--modalities ta] [--save scores.npz]
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np

MARGIN = 9


def auc(s, y):
    s, y = np.asarray(s, float), np.asarray(y, bool)
    if y.all() or not y.any():
        return float("nan")
    from scipy.stats import rankdata
    r = rankdata(s)
    n1, n0 = y.sum(), (~y).sum()
    return float((r[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def prec_at_recall(s, y, r=0.6):
    o = np.argsort(-np.asarray(s, float), kind="stable")
    y = np.asarray(y, bool)[o]
    tp = np.cumsum(y)
    rec = tp / max(1, y.sum())
    prec = tp / np.arange(1, len(y) + 1)
    ok = rec >= r
    return float(prec[ok].max()) if ok.any() else float("nan")


def window_max(frames, words, spans, T):
    """(W,) max cosine of each word over its span +- MARGIN, and argmax frame."""
    fn = frames / np.maximum(np.linalg.norm(frames, axis=1, keepdims=True), 1e-12)
    wn = words / np.maximum(np.linalg.norm(words, axis=1, keepdims=True), 1e-12)
    cos = wn @ fn.T  # (W, T)
    t = np.arange(cos.shape[1])
    lo, hi = spans[:, :1] - MARGIN, spans[:, 1:] + MARGIN
    m = (t >= lo) & (t <= hi)
    c = np.where(m, cos, -np.inf)
    return c.max(1), c.argmax(1), cos


def main() -> None:
    from jegal.data.shards import read_clips
    from jegal.inference.embed import embed_clips
    from jegal.metrics import spotting_probabilities
    from jegal.model import JEGAL

    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("corpus")
    ap.add_argument("--modalities", default="ta")
    ap.add_argument("--others", type=int, default=16)
    ap.add_argument("--save", default="")
    args = ap.parse_args()
    corpus = Path(args.corpus)
    model = JEGAL.from_pretrained(args.model)
    clips = list(read_clips(corpus / "test"))
    truth = {}
    train_counts = defaultdict(lambda: [0, 0])
    for line in (corpus / "ground_truth.jsonl").read_text().splitlines():
        t = json.loads(line)
        g = {x["word_index"] for x in t["gestures"] if x["kind"] == "semantic" and x["word_index"] >= 0}
        if t["split"] == "train":
            for i, w in enumerate(t["words"]):
                k = w[0].lower()
                train_counts[k][0] += i in g
                train_counts[k][1] += 1
        else:
            truth[t["clip_id"]] = t
    rng = np.random.default_rng(0)
    emb = embed_clips(model, clips, clips, modalities=args.modalities, batch_size=64)
    still = [replace(c, keypoints=np.repeat(c.keypoints.mean(0, keepdims=True), c.num_frames, 0)) for c in clips]
    e_still = embed_clips(model, still, [], batch_size=64)
    rolls = (-30, -20, 20, 30)
    e_roll = [embed_clips(model, [replace(c, keypoints=np.roll(c.keypoints, r, 0)) for c in clips], [], batch_size=64)
              for r in rolls]
    by_spk = defaultdict(list)
    for c in clips:
        by_spk[c.speaker_id].append(c.clip_id)
    rows = defaultdict(list)
    for c in clips:
        t = truth[c.clip_id]
        g = {x["word_index"] for x in t["gestures"] if x["kind"] == "semantic" and x["word_index"] >= 0}
        frames = emb.gesture(c.clip_id)[1]
        words = emb.content(c.clip_id)[1]
        spans = np.array([[w.start, w.end] for w in c.words])
        T = c.num_frames
        obs, arg, cos = window_max(frames, words, spans, T)
        P = spotting_probabilities(frames, words).T  # (W, T)
        tt = np.arange(T)
        m = (tt >= spans[:, :1] - MARGIN) & (tt <= spans[:, 1:] + MARGIN)
        pmax = np.where(m, P, -1).max(1)
        s_still = window_max(e_still.gesture(c.clip_id)[1], words, spans, T)[0]
        s_roll = np.stack([window_max(e.gesture(c.clip_id)[1], words, spans, T)[0] for e in e_roll])  # (R, W)
        others = [o for o in by_spk[c.speaker_id] if o != c.clip_id]
        others = [others[i] for i in rng.permutation(len(others))[: args.others]]
        s_oth = np.stack([window_max(emb.gesture(o)[1], words, spans, T)[0] for o in others])  # (K, W)
        p_oth = np.stack([np.where(m, spotting_probabilities(emb.gesture(o)[1], words).T, -1).max(1) for o in others])
        p_still = np.where(m, spotting_probabilities(e_still.gesture(c.clip_id)[1], words).T, -1).max(1)
        kp = c.keypoints
        from jegal.synth.baselines import wrist_speed
        sp = wrist_speed(kp)
        hand = np.array([sp[max(0, a - 10): b + 11].max() for a, b in spans])
        # whole-clip null: the word against every frame of this clip outside its window
        out = np.where(~m, cos, np.nan)
        W = len(c.words)
        for i, w in enumerate(c.words):
            rows["label"].append(i in g)
            rows["word"].append(w.text)
            rows["clip"].append(c.clip_id)
            rows["speaker"].append(c.speaker_id)
            rows["pos"].append(i / max(1, W - 1))
            rows["dur"].append(w.end - w.start + 1)
            a, n = train_counts.get(w.text, (0, 0))
            rows["prior"].append((a + 0.5) / (n + 1))
            rows["pmax"].append(pmax[i])
            rows["p_oth_mean"].append(p_oth[:, i].mean())
            rows["p_oth_pv"].append((1 + (p_oth[:, i] >= pmax[i]).sum()) / (1 + len(p_oth)))
            rows["p_still"].append(p_still[i])
            rows["hand"].append(hand[i])
            rows["obs"].append(obs[i])
            rows["still"].append(s_still[i])
            rows["roll_mean"].append(s_roll[:, i].mean())
            rows["roll_max"].append(s_roll[:, i].max())
            rows["oth_mean"].append(s_oth[:, i].mean())
            rows["oth_std"].append(s_oth[:, i].std() + 1e-6)
            rows["oth_p"].append((1 + (s_oth[:, i] >= obs[i]).sum()) / (1 + len(s_oth)))
            rows["out_mean"].append(np.nanmean(out[i]) if np.isfinite(out[i]).any() else 0.0)
            rows["out_max"].append(np.nanmax(out[i]) if np.isfinite(out[i]).any() else 0.0)
    R = {k: np.asarray(v) for k, v in rows.items()}
    y = R["label"]
    cands = {
        "pmax (today)": R["pmax"],
        "cos max": R["obs"],
        "- still": R["obs"] - R["still"],
        "- roll mean": R["obs"] - R["roll_mean"],
        "- roll max": R["obs"] - R["roll_max"],
        "- others mean": R["obs"] - R["oth_mean"],
        "z others": (R["obs"] - R["oth_mean"]) / R["oth_std"],
        "1 - p others": 1 - R["oth_p"],
        "- out mean": R["obs"] - R["out_mean"],
        "- out max": R["obs"] - R["out_max"],
        "min(-still, -others)": np.minimum(R["obs"] - R["still"], R["obs"] - R["oth_mean"]),
        "P - others mean": R["pmax"] - R["p_oth_mean"],
        "P 1-pval others": 1 - R["p_oth_pv"],
        "P - still": R["pmax"] - R["p_still"],
        "P - max(still, oth)": R["pmax"] - np.maximum(R["p_still"], R["p_oth_mean"]),
        "floor: fastest hand": R["hand"],
        "floor: word prior": R["prior"],
        "floor: position": R["pos"],
        "floor: duration": R["dur"],
    }
    words = R["word"]
    cond_words = {w for w in set(words) if 0 < y[words == w].mean() < 1}
    cm = np.isin(words, list(cond_words))
    print(f"{len(y)} words, {y.sum()} gestured (base {y.mean():.3f}); conditioned: {cm.sum()} rows, "
          f"{len(cond_words)} words")
    print("| score | AUC all | AUC cond | prec@rec0.6 |\n|---|---|---|---|")
    for k, s in cands.items():
        print(f"| {k} | {auc(s, y):.3f} | {auc(s[cm], y[cm]):.3f} | {prec_at_recall(s, y):.3f} |")
    if args.save:
        np.savez(args.save, **{k: v for k, v in R.items()})


if __name__ == "__main__":
    main()
