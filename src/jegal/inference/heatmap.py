"""The words x frames map of one clip: where did the speaker gesture which word?"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from jegal.atomic import atomic_path
from jegal.data.batch import collate_clips
from jegal.data.clip import Clip
from jegal.inference.spotting import word_frame_map
from jegal.metrics import SPOT_MARGIN, SPOT_TEMPERATURE, SPOT_THRESHOLD


def word_frame_scores(model, clip: Clip, modalities: str = "ta") -> dict:
    """Scores of every word of ``clip`` against every frame of its gesture.

    Returns ``probs`` (W, T): for each frame, the softmax over words of cos / 0.07 (the
    spotting protocol's map, :func:`jegal.inference.spotting.word_frame_map`), ``cosine`` (W, T), the words, and per word the best frame and
    its probability."""
    out = model.embed(collate_clips([clip]), modalities=modalities)
    frames = out["gesture_frames"][0, : clip.num_frames].float().cpu().numpy()  # (T, d)
    words = out["content_words"][0, : len(clip.words)].float().cpu().numpy()  # (W, d)
    probs, cosine = (m.T for m in word_frame_map(frames, words, SPOT_TEMPERATURE))  # (W, T) each
    best = probs.argmax(axis=1)
    return {"probs": probs, "cosine": cosine, "words": [w.display for w in clip.words],
            "spans": [(w.start, w.end) for w in clip.words], "best_frame": best.tolist(),
            "best_prob": probs[np.arange(len(best)), best].tolist(), "clip_id": clip.clip_id}


def save_heatmap(scores: dict, path: str | os.PathLike, title: str | None = None, fps: float = 25.0,
                 highlight: int | None = None) -> Path:
    """Write the words x frames probability map as a PNG (matplotlib, Agg backend): each
    word's own span is outlined, the spotting window (span +- 9 frames) dotted, and its best
    frame marked (red when P >= 0.5). ``highlight``: index of a word whose label is shown in
    red (e.g. the truly gestured word)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    probs = np.asarray(scores["probs"])
    W, T = probs.shape
    fig, ax = plt.subplots(figsize=(max(6.0, T / 12), max(2.5, 0.35 * W + 1.2)), dpi=110)
    im = ax.imshow(probs, aspect="auto", cmap="viridis", vmin=0.0, vmax=1.0, interpolation="nearest")
    for i, (s, e) in enumerate(scores["spans"]):
        ax.add_patch(plt.Rectangle((max(-0.5, s - SPOT_MARGIN - 0.5), i - 0.5), min(T - 0.5, e + SPOT_MARGIN + 0.5)
                                   - max(-0.5, s - SPOT_MARGIN - 0.5), 1, fill=False, ec="white", lw=0.6, ls=":"))
        ax.add_patch(plt.Rectangle((s - 0.5, i - 0.45), e - s + 1, 0.9, fill=False, ec="white", lw=1.2))
        b = scores["best_frame"][i]
        ax.plot([b], [i], marker="x", color="red" if scores["best_prob"][i] >= SPOT_THRESHOLD else "orange", ms=6)
    ax.set_yticks(range(W))
    ax.set_yticklabels(scores["words"])
    if highlight is not None and 0 <= highlight < W:
        label = ax.get_yticklabels()[highlight]
        label.set_color("red")
        label.set_fontweight("bold")
    ticks = np.arange(0, T, fps / 2)  # every half second
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{t / fps:.1f}" for t in ticks])
    ax.set_xlabel("time (s)")
    ax.set_title(title or scores.get("clip_id", ""), fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.03, pad=0.01, label="P(word | frame)")
    fig.tight_layout()
    try:
        with atomic_path(path) as tmp:  # the temporary name keeps ".png", which picks the format
            fig.savefig(tmp)
    finally:
        plt.close(fig)
    return Path(path)
