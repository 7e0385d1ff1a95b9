"""The words x frames map of one clip: where did the speaker gesture which word?"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import numpy as np

from jegal.atomic import atomic_path
from jegal.data.batch import collate_clips
from jegal.data.clip import Clip
from jegal.inference.gesture_score import ALPHA, MIN_CONTROLS
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
    frame marked with a cross. ``highlight``: index of a word whose label is shown in red (e.g.
    the truly gestured word).

    The cross's colour, said in a caption under the map: with ``scores["gestured"]`` (W,) bools
    (``jegal spot``: the gesture score's decision, :mod:`jegal.inference.gesture_score`) red
    for a gestured word, whose label is red too, orange otherwise; without it red when the best
    frame's P >= 0.5 (the AVS rule's threshold). ``scores["gesture_score"]`` (W,) adds each
    word's score to its label, "word (0.97)", and ``scores["decided"]`` (W,) bools writes
    "word (n.d.)" for a word with too few controls to be decided."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    probs = np.asarray(scores["probs"])
    W, T = probs.shape
    gestured = scores.get("gestured")
    red = ([bool(g) for g in gestured] if gestured is not None
           else [p >= SPOT_THRESHOLD for p in scores["best_prob"]])
    labels = list(scores["words"])
    if scores.get("gesture_score") is not None:
        decided = scores.get("decided")
        decided = [True] * W if decided is None else [bool(d) for d in decided]
        labels = [f"{w} ({g:.2f})" if d else f"{w} (n.d.)"
                  for w, g, d in zip(labels, scores["gesture_score"], decided)]
    fig, ax = plt.subplots(figsize=(max(6.0, T / 12), max(2.5, 0.35 * W + 1.5)), dpi=110)
    im = ax.imshow(probs, aspect="auto", cmap="viridis", vmin=0.0, vmax=1.0, interpolation="nearest")
    for i, (s, e) in enumerate(scores["spans"]):
        ax.add_patch(plt.Rectangle((max(-0.5, s - SPOT_MARGIN - 0.5), i - 0.5), min(T - 0.5, e + SPOT_MARGIN + 0.5)
                                   - max(-0.5, s - SPOT_MARGIN - 0.5), 1, fill=False, ec="white", lw=0.6, ls=":"))
        ax.add_patch(plt.Rectangle((s - 0.5, i - 0.45), e - s + 1, 0.9, fill=False, ec="white", lw=1.2))
        b = scores["best_frame"][i]
        ax.plot([b], [i], marker="x", color="red" if red[i] else "orange", ms=6, mew=1.5)
    ax.set_yticks(range(W))
    ax.set_yticklabels(labels)
    marked = [i for i in range(W) if gestured is not None and red[i]]
    if highlight is not None and 0 <= highlight < W:
        marked.append(highlight)
    for i in marked:
        label = ax.get_yticklabels()[i]
        label.set_color("red")
        label.set_fontweight("bold")
    ticks = np.arange(0, T, fps / 2)  # every half second
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{t / fps:.1f}" for t in ticks])
    ax.set_xlabel("time (s)")
    ax.set_title(title or scores.get("clip_id", ""), fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.03, pad=0.01, label="P(word | frame)")
    if gestured is not None:
        legend = [f"x: best frame, red = gestured (p <= {ALPHA:g} against no-gesture controls), orange = not"]
    else:
        legend = [f"x: best frame, red = P >= {SPOT_THRESHOLD:g} (the AVS rule), orange = below"]
    legend[0] += "; box: the word's span, dotted: span +- 9 frames"
    if scores.get("gesture_score") is not None:
        legend.append(f"word (0.97): its gesture score, the share of no-gesture controls it beats; (n.d.): not "
                      f"decided (fewer than {MIN_CONTROLS} controls)")
    width = int(fig.get_figwidth() * 16)  # characters of 7 pt that fit the figure's width
    caption = "\n".join(line for part in legend for line in textwrap.wrap(part, width))
    fig.text(0.01, 0.01, caption, fontsize=7, color="0.3", ha="left", va="bottom")
    room = 0.13 * (caption.count("\n") + 1) + 0.1  # inches for the caption
    fig.tight_layout(rect=(0, room / fig.get_figheight(), 1, 1))
    try:
        with atomic_path(path) as tmp:  # the temporary name keeps ".png", which picks the format
            fig.savefig(tmp)
    finally:
        plt.close(fig)
    return Path(path)
