"""A per-word gesture score that needs no labels: the word against no-gesture controls of the same person.

The spotting probability of a word (the AVS rule's P: per frame, the softmax over the words of
its window of cos / 0.07, :func:`jegal.metrics.spotting_probabilities`; the word's statistic is
its maximum over the word's span +- 9 frames) says how well the word couples with the gesture
around it *compared with the other words of its window*. It does not say whether that
coupling is more than the model gives to any motion at that place: a model that learned word
order and frame positions scores every word highly (the issue behind this module measured
P >= 0.5 for every word of a real talk).

So every word is compared with **controls** that keep everything but the gesture: the same
word vector (from the same window, so the same context and the same word prior) and the same
frames relative to its window (so the same positions and clip length), but the gesture input of

- every **other stretch** of the same person: each other window of theirs whose frames there do
  not overlap the word's own span +- 9 frames and where the same word is not spoken (a speaker
  who repeats a word with its gesture would otherwise be its own control); controls whose frames
  overlap each other are weighted to count about once together (near-copies would count one
  stretch many times);
- the person's **still pose**: their mean pose held for a window (a person who never moves
  matches it exactly, so no word of theirs can beat it).

The word's **p-value** is ``(1 + #{controls >= observed}) / (1 + #controls)``, each control
counted with its weight (ties, to within float32 noise, count against the word: identical footage
proves nothing), its **gesture score** ``1 - p``: the share of its
no-gesture controls it beats (an empirical probability under the null "this word's coupling is
what this person's motion gives any word there"). A word is **gestured** when ``p <= ALPHA``
(0.05), which needs at least ``1 / ALPHA - 1 = 19`` controls; with fewer the word is not decided
(``decided`` False, never flagged): on one video that takes a track of about 25 s or more (20
stretches of a word's span +- 9 frames besides its own); in ``jegal eval``, a speaker's other
clips. Measured alternatives (cosine instead of the probability, the mean or a z-score of the
controls, clip-internal controls, time-rolled inputs) are in docs/design.md section 11 and
``bench/exp_gesture_score.py``.

Two callers share :func:`score_windows`: ``jegal eval gestured`` (:func:`score_clips`: a
benchmark's test clips, each clip a window, each speaker a person) and ``jegal spot``
(:func:`jegal.inference.spotting.spot_people`: windows of a video centred on each word, so a
word's score does not depend on where the video's windows happen to fall).

Frames are 25 fps video frames.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace

import numpy as np

from jegal.metrics import SPOT_MARGIN, SPOT_TEMPERATURE

ALPHA = 0.05  # the operating point: a word is gestured when p <= ALPHA
MIN_CONTROLS = int(round(1 / ALPHA)) - 1  # fewer controls cannot reach p <= ALPHA
# a control within this of the word's probability ties it (and ties count against the word): the same
# footage embedded in two batches differs in the last bits of float32
TIE_TOLERANCE = 1e-5


@dataclass
class Window:
    """One window of a person's gesture and the words spoken in it.

    ``frames`` (T, d) gesture frame embeddings (local space); ``words`` (W, d) the window's word
    embeddings (content, same space; may be (0, d)); ``texts`` (W,) the words' normalised text;
    ``spans`` (W, 2) inclusive frames relative to the window; ``start`` the window's first frame
    on its recording's clock and ``segment`` the recording (windows of different segments never
    overlap in time)."""

    frames: np.ndarray
    words: np.ndarray
    texts: Sequence[str]
    spans: np.ndarray
    start: int = 0
    segment: str = ""


@dataclass
class WordScores:
    """Per scored word (R,): ``observed`` spotting probability (max over span +- 9 frames),
    ``peak`` its frame (relative to the word's window), ``controls`` the number of controls,
    ``control_mean`` their mean statistic, ``still`` the still-pose control's statistic (NaN
    without one), ``p_value``, ``score`` = 1 - p, ``decided`` (enough controls),
    ``gestured`` = decided and p <= ALPHA."""

    observed: np.ndarray
    peak: np.ndarray
    controls: np.ndarray
    control_mean: np.ndarray
    still: np.ndarray
    p_value: np.ndarray
    score: np.ndarray
    decided: np.ndarray
    gestured: np.ndarray


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def _pad_frames(windows: Sequence[Window]) -> tuple[np.ndarray, np.ndarray]:
    """(V, Tmax, d) unit frames and (V, Tmax) mask."""
    d = windows[0].frames.shape[1]
    tmax = max(len(w.frames) for w in windows)
    out = np.zeros((len(windows), tmax, d), np.float32)
    mask = np.zeros((len(windows), tmax), bool)
    for v, w in enumerate(windows):
        out[v, :len(w.frames)] = _unit(w.frames)
        mask[v, :len(w.frames)] = True
    return out, mask


def score_windows(windows: Sequence[Window], decide: Sequence[tuple[int, int]], still: np.ndarray | None = None,
                  margin: int = SPOT_MARGIN, temperature: float = SPOT_TEMPERATURE) -> WordScores:
    """Gesture scores of the words ``decide`` = [(window v, word j of that window), ...] of ONE
    person, whose windows are ``windows`` (:class:`Window`); ``still`` (T_s, d): the gesture
    frames of the person's still pose (or None: no still control). Module docstring for the
    method. Vectorised over the words of a window and over all control windows; one numpy pass
    per deciding window. Raises ValueError for a word index outside its window."""
    R = len(decide)
    out = {k: np.zeros(R, np.float64) for k in ("observed", "control_mean", "still", "p_value")}
    peak, count = np.zeros(R, np.int64), np.zeros(R, np.float64)
    if R == 0 or not windows:
        out["p_value"][:] = 1.0
        return _finish(out, peak, count)
    G, gmask = _pad_frames(windows)  # (V, Tmax, d)
    V, tmax = gmask.shape
    starts = np.array([w.start for w in windows], np.int64)
    segments = np.array([w.segment for w in windows], object)
    lengths = gmask.sum(1)
    S = None if still is None else _unit(still)
    spoken = (np.repeat(np.arange(V), [len(w.texts) for w in windows]),
              np.array([x for w in windows for x in w.texts], object),
              np.concatenate([np.asarray(w.spans, np.int64).reshape(-1, 2) for w in windows]))
    by_window: dict[int, list[int]] = defaultdict(list)
    for r, (v, j) in enumerate(decide):
        if not 0 <= j < len(windows[v].words):
            raise ValueError(f"word {j} of window {v}: the window has {len(windows[v].words)} words")
        by_window[v].append(r)
    t = np.arange(tmax)
    for v, rows in by_window.items():
        win = windows[v]
        js = np.array([decide[r][1] for r in rows])
        C = _unit(win.words)  # (W_v, d)
        logits = np.einsum("wd,utd->wut", C, G) / temperature  # (W_v, V, Tmax)
        logits -= logits.max(0, keepdims=True)
        P = np.exp(logits)
        P /= P.sum(0, keepdims=True)
        P = P[js]  # (n, V, Tmax): each decided word's probability against every window's frames
        a, b = win.spans[js, 0] - margin, win.spans[js, 1] + margin  # (n,) relative frames to search
        span = (t[None, :] >= a[:, None]) & (t[None, :] <= b[:, None])  # (n, Tmax)
        valid = span[:, None, :] & gmask[None]  # (n, V, Tmax)
        stat = np.where(valid, P, -np.inf).max(-1)  # (n, V)
        obs = stat[:, v]
        peak[rows] = np.where(valid[:, v], P[:, v], -np.inf).argmax(-1)
        ok = _control_windows(win, js, windows, starts, segments, lengths, v, margin, spoken)  # (n, V)
        ok &= np.isfinite(stat)
        weight = _overlap_weights(ok, starts, segments, b - a + 1)  # (n, V), 0 where not a control
        n_ctrl = weight.sum(1)
        beats = (weight * (stat >= obs[:, None] - TIE_TOLERANCE)).sum(1)
        mean = (weight * np.where(ok, stat, 0.0)).sum(1) / np.maximum(n_ctrl, 1e-12)
        still_stat = np.full(len(rows), np.nan)
        if S is not None:
            ls = C @ S.T / temperature  # (W_v, T_s)
            ls -= ls.max(0, keepdims=True)
            Ps = np.exp(ls)
            Ps = (Ps / Ps.sum(0, keepdims=True))[js]  # (n, T_s)
            ts = np.arange(len(S))
            inside = (ts[None] >= a[:, None]) & (ts[None] <= b[:, None])
            still_stat = np.where(inside, Ps, -np.inf).max(-1)
            has = np.isfinite(still_stat)
            n_ctrl = n_ctrl + has
            beats = beats + (has & (still_stat >= obs - TIE_TOLERANCE))
        out["observed"][rows] = obs
        out["control_mean"][rows] = np.where(n_ctrl > 0, mean, np.nan)
        out["still"][rows] = still_stat
        out["p_value"][rows] = (1 + beats) / (1 + n_ctrl)
        count[rows] = n_ctrl
    return _finish(out, peak, count)


def _control_windows(win: Window, js: np.ndarray, windows: Sequence[Window], starts: np.ndarray,
                     segments: np.ndarray, lengths: np.ndarray, v: int, margin: int, spoken: tuple) -> np.ndarray:
    """(n, V) bool: may window u serve as a control for word js[i] of window v? Not v itself;
    long enough to hold the word's span; in the same recording, its frames at the word's place
    must not overlap the word's own span +- margin; and no word of the same text may lie within
    those frames of u."""
    rel_a, rel_b = win.spans[js, 0] - margin, win.spans[js, 1] + margin  # (n,)
    abs_a, abs_b = win.start + rel_a, win.start + rel_b
    ctrl_a = starts[None, :] + rel_a[:, None]  # (n, V) the control frames on u's clock
    ctrl_b = starts[None, :] + rel_b[:, None]
    same_seg = segments[None, :] == win.segment
    overlap = same_seg & (ctrl_a <= abs_b[:, None]) & (ctrl_b >= abs_a[:, None])
    ok = ~overlap & (lengths[None, :] > win.spans[js, 1][:, None])
    ok[:, v] = False
    # the same word spoken at the control's place: not a control. ``spoken``: every window's words
    # as (window, text, start, end) rows, so this is one (n, E) comparison
    ent_win, ent_text, ent_span = spoken
    same = (ent_text[None, :] == np.array([win.texts[j] for j in js], object)[:, None])  # (n, E)
    same &= (ent_span[None, :, 0] <= rel_b[:, None]) & (ent_span[None, :, 1] >= rel_a[:, None])
    rows, cols = np.nonzero(same)
    ok[rows, ent_win[cols]] = False
    return ok


def _overlap_weights(ok: np.ndarray, starts: np.ndarray, segments: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Each control's weight (n, V): 1 / the number of word i's controls whose compared frames
    mostly overlap its own (itself included; starts less than half of ``length[i]`` (n,) frames
    apart in the same recording), 0 where ``ok`` (n, V) is False; so a dense run of controls counts
    about once per ``length`` frames it covers. Overlapping stretches are near copies of one
    another: counted apart, they make a word that beats one of them look as if it beat many, and
    the p-value is no longer valid (measured: 18 % of non-gestured words came out at p <= 0.05 when
    a 3 s clip's controls were its own window shifted frame by frame). Weighted, a run of k
    overlapping controls counts about once, and the weights depend only on where the controls lie
    relative to each other, so identical footage gets identical weights wherever it is."""
    codes = np.unique(segments.astype(str), return_inverse=True)[1].reshape(-1)
    span = int(starts.max() - starts.min()) + 2 * int(length.max()) + 2 if len(starts) else 1
    key = codes.astype(np.int64) * span + (starts - starts.min())  # (V,) one line, recordings far apart
    out = np.zeros(ok.shape, np.float64)
    for i in np.flatnonzero(ok.any(1)):  # per word: one sort and two searches over its controls
        k = np.sort(key[ok[i]])
        mine = key[ok[i]]
        half = (length[i] + 1) // 2
        near = np.searchsorted(k, mine + half, "left") - np.searchsorted(k, mine - half, "right")
        out[i, ok[i]] = 1.0 / near
    return out


def _finish(out: dict, peak: np.ndarray, count: np.ndarray) -> WordScores:
    decided = count >= MIN_CONTROLS - 1e-9
    p = out["p_value"]
    return WordScores(observed=out["observed"], peak=peak, controls=count, control_mean=out["control_mean"],
                      still=out["still"], p_value=p, score=1.0 - p, decided=decided, gestured=decided & (p <= ALPHA))


# -- model inputs -------------------------------------------------------------------------------
def still_clip(clip, num_frames: int | None = None):
    """``clip`` (:class:`jegal.data.clip.Clip`) with its gesture held still for ``num_frames``
    frames (default: its own length): the mean keypoints over frames where they were seen, the
    mean per-frame features, the middle rgb frame. Words and mel are dropped (a gesture-only
    clip)."""
    from jegal.data.clip import Clip
    from jegal.timebase import MEL_PER_FRAME

    T = num_frames or clip.num_frames
    kp = clip.keypoints
    seen = (kp[..., 2] > 0)[..., None]  # (T0, J, 1): a joint counts where it was seen
    mean = (kp * seen).sum(0) / np.maximum(seen.sum(0), 1)  # (J, 3); confidence: its mean where seen
    rgb = None if clip.rgb is None else np.repeat(clip.rgb[len(clip.rgb) // 2][None], T, 0)
    feats = None if clip.features is None else np.repeat(clip.features.mean(0, keepdims=True), T, 0)
    return Clip(f"{clip.clip_id}#still", np.repeat(mean[None], T, 0).astype(np.float32),
                np.zeros((MEL_PER_FRAME * T, clip.mel.shape[1]), np.float32), [], speaker_id=clip.speaker_id,
                source=clip.source, rgb=rgb, features=feats)


class _Readout:
    """``model`` whose :meth:`embed` reads frames and words from the heads ``space`` names
    (:meth:`jegal.model.JEGAL.readout`): what :func:`jegal.inference.embed.embed_clips` embeds with."""

    def __init__(self, model, space: str):
        self.model, self.space = model, space

    def embed(self, batch, **kw):
        return self.model.embed(batch, space=self.space, **kw)


def score_clips(model, clips: Sequence, modalities: str = "ta", batch_size: int = 32,
                progress: bool = False, space: str | None = None) -> dict[str, WordScores]:
    """Gesture scores of every word of every clip (``jegal eval gestured``): each clip
    (:class:`jegal.data.clip.Clip` with words) is a window, the clips of one ``speaker_id`` are
    one person (each clip its own recording), and the speaker's still pose is the mean pose over
    their clips. One embedding pass (plus one still clip per speaker). ``space``: the heads the
    frames and words are read from (``None``: the model's own readout; ``"global"``: the clip-level
    heads, docs/design.md section 11, "Readout"; anything :meth:`jegal.model.JEGAL.readout` takes,
    else its ValueError). Returns clip id -> :class:`WordScores` over the clip's words in order
    (``peak`` in clip frames)."""
    from jegal.inference.embed import embed_clips

    if space is not None:
        model.readout(space)  # an unknown space or a model without those heads: its ValueError, now
        model = _Readout(model, space)

    emb = embed_clips(model, list(clips), list(clips), modalities=modalities, batch_size=batch_size,
                      progress=progress, desc="embed clips")
    people: dict[str, list] = defaultdict(list)
    for c in clips:
        people[c.speaker_id or c.clip_id].append(c)
    stills = []
    for spk, group in people.items():
        joined = replace(group[0], keypoints=np.concatenate([c.keypoints for c in group]),
                         rgb=None if group[0].rgb is None else np.concatenate([c.rgb for c in group]),
                         features=None if group[0].features is None else np.concatenate([c.features for c in group]),
                         clip_id=f"still:{spk}")
        stills.append(still_clip(joined, max(c.num_frames for c in group)))
    still_emb = embed_clips(model, stills, [], batch_size=batch_size)
    out = {}
    for spk, group in people.items():
        windows = [Window(emb.gesture(c.clip_id)[1], emb.content(c.clip_id)[1], [w.text for w in c.words],
                          np.array([[w.start, w.end] for w in c.words], np.int64).reshape(-1, 2), 0, c.clip_id)
                   for c in group]
        decide = [(v, j) for v, c in enumerate(group) for j in range(len(c.words))]
        scores = score_windows(windows, decide, still_emb.gesture(f"still:{spk}#still")[1])
        k = 0
        for c in group:
            n = len(c.words)
            out[c.clip_id] = WordScores(*(getattr(scores, f.name)[k:k + n] for f in fields(WordScores)))
            k += n
    return out


__all__ = ["ALPHA", "MIN_CONTROLS", "Window", "WordScores", "score_clips", "score_windows", "still_clip"]
