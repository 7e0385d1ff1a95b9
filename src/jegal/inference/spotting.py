"""Which words a person gestured, over a track of any length: the spotting protocol per window, merged.

A person's track is cut into overlapping windows (:mod:`jegal.inference.windows`); each window
is a :class:`~jegal.data.clip.Clip` with the words lying wholly inside it. Every window's gesture
frames and words are embedded (:func:`jegal.inference.embed_clips`, batched) and scored with
the spotting protocol (:func:`word_frame_map`: per frame, a softmax over the window's words of
cos / 0.07, :func:`jegal.metrics.spotting_probabilities`). Each word is decided in the window
where it lies most centrally (:func:`~jegal.inference.windows.central_window`), as the benchmark
decides a clip's target word (:func:`jegal.metrics.spot_decisions`): its best frame in that
window, that frame's probability, whether the frame lies within the word's span +- 9 frames
(``in_window``) and whether the probability reaches :data:`jegal.metrics.SPOT_THRESHOLD`
(``above``). A word is **spotted** when both hold. The words x frames map over the whole track
takes each frame from its most central window.

    from jegal.inference.spotting import spot_people
    spots = spot_people(model, video.people, video.words)   # video = jegal.use.read_video(...)

Frames are 25 fps video frames from the start of the video.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from jegal.metrics import SPOT_TEMPERATURE, SPOT_THRESHOLD


class Track(Protocol):
    """What :func:`spot_person` reads of a person (e.g. :class:`jegal.use.video.PersonInput`):
    ``person`` (index), ``clips`` (the windows, each a Clip whose words lie inside it, frames
    relative to the window), ``windows`` (inclusive first, last frame of each clip in the video),
    ``first_frame`` / ``last_frame`` (the track, inclusive)."""

    person: int
    clips: list
    first_frame: int
    last_frame: int

    @property
    def windows(self) -> list[tuple[int, int]]: ...


@dataclass
class PersonSpots:
    """Spotting for one person: the per-word decisions and the merged map over their track.

    ``word_index`` (R,) indices into the video's words scored for this person (those lying wholly
    inside one of their windows); per word: ``best_frame`` (R,) frame of the video, ``prob`` (R,),
    ``in_window``, ``above``, ``spotted`` (R,) bool, ``window`` (R,) the deciding window's index.
    ``probs`` / ``cosine`` (R, T_P) over frames ``first_frame .. first_frame + T_P - 1``: each
    frame's softmax over the words of its most central window (0 for the other words) and the
    cosines behind it. ``heatmaps``: file names of the map's PNG pages, once written."""

    person: int
    first_frame: int
    windows: list[tuple[int, int]]
    word_index: np.ndarray
    best_frame: np.ndarray
    prob: np.ndarray
    in_window: np.ndarray
    above: np.ndarray
    spotted: np.ndarray
    window: np.ndarray
    probs: np.ndarray
    cosine: np.ndarray
    heatmaps: list[str] = field(default_factory=list)


def word_frame_map(frames: np.ndarray, words: np.ndarray,
                   temperature: float = SPOT_TEMPERATURE) -> tuple[np.ndarray, np.ndarray]:
    """The words x frames map of one clip from its embeddings: ``frames`` (T, d) gesture frame
    vectors, ``words`` (W, d) word vectors. Returns ``(probs, cosine)``, each (T, W) float32:
    per frame the softmax over the words of cos / ``temperature`` (the spotting protocol), and
    the cosines themselves (both inputs L2-normalised here)."""
    from jegal.metrics import spotting_probabilities

    probs = spotting_probabilities(frames, words, temperature).astype(np.float32)
    fn = frames / np.maximum(np.linalg.norm(frames, axis=1, keepdims=True), 1e-12)
    wn = words / np.maximum(np.linalg.norm(words, axis=1, keepdims=True), 1e-12)
    return probs, (fn @ wn.T).astype(np.float32)


def spot_person(model, person: Track, words: Sequence, modalities: str = "ta", batch_size: int = 16) -> PersonSpots:
    """:class:`PersonSpots` of one person (:class:`Track`) given the video's ``words``
    (:class:`jegal.data.words.Word`, frames of the video): every window embedded in batches of
    ``batch_size``, each word decided in its most central window (module docstring).
    ``modalities``: the content inputs (``t``, ``a`` or ``ta``)."""
    from jegal.inference.embed import embed_clips
    from jegal.inference.windows import central_window
    from jegal.metrics import spot_decisions

    windows = person.windows
    T = person.last_frame - person.first_frame + 1
    with_words = [c for c in person.clips if c.words]
    emb = embed_clips(model, person.clips, with_words, modalities=modalities, batch_size=batch_size)
    starts = np.array([w.start for w in words], np.int64)
    ends = np.array([w.end for w in words], np.int64)
    win = np.asarray(windows, np.int64).reshape(-1, 2)
    scored = central_window(starts, ends, win)  # (W,) deciding window per word, -1: not in view
    word_index = np.flatnonzero(scored >= 0)
    row_of = np.full(len(words), -1, np.int64)
    row_of[word_index] = np.arange(len(word_index))
    probs_k, cos_k, members = {}, {}, {}
    for k, clip in enumerate(person.clips):
        if clip.words:
            probs_k[k], cos_k[k] = word_frame_map(emb.gesture(clip.clip_id)[1], emb.content(clip.clip_id)[1])
            members[k] = np.flatnonzero((starts >= win[k, 0]) & (ends <= win[k, 1]))  # the clip's words, in order
    # Decisions: each word's column of its deciding window, padded to one (R, Tmax) array.
    R = len(word_index)
    Tmax = int((win[:, 1] - win[:, 0] + 1).max())
    target = np.zeros((R, Tmax), np.float32)
    mask = np.zeros((R, Tmax), bool)
    deciding = scored[word_index]
    for k in np.unique(deciding):
        rows = np.flatnonzero(deciding == k)
        cols = np.searchsorted(members[k], word_index[rows])
        p = probs_k[k][:, cols].T  # (rows, T_k)
        target[rows, :p.shape[1]], mask[rows, :p.shape[1]] = p, True
    rel_start, rel_end = starts[word_index] - win[deciding, 0], ends[word_index] - win[deciding, 0]
    if R:
        d = spot_decisions(target, rel_start, rel_end, mask)
        best = d["frame"] + win[deciding, 0]
        prob, in_win = d["prob"].astype(np.float32), d["in_window"]
    else:
        best, prob, in_win = np.zeros(0, np.int64), np.zeros(0, np.float32), np.zeros(0, bool)
    above = prob >= SPOT_THRESHOLD
    # The merged map: each frame from its most central window.
    probs = np.zeros((R, T), np.float32)
    cosine = np.zeros((R, T), np.float32)
    frames = np.arange(person.first_frame, person.last_frame + 1)
    pick = central_window(frames, frames, win)
    for k in probs_k:
        sel = frames[pick == k]
        if len(sel):
            rows = row_of[members[k]]
            probs[np.ix_(rows, sel - person.first_frame)] = probs_k[k][sel - win[k, 0]].T
            cosine[np.ix_(rows, sel - person.first_frame)] = cos_k[k][sel - win[k, 0]].T
    return PersonSpots(person.person, person.first_frame, windows, word_index, best.astype(np.int64), prob, in_win,
                       above, in_win & above, deciding, probs, cosine)


def spot_people(model, people: Sequence[Track], words: Sequence, modalities: str = "ta", batch_size: int = 16,
                progress: Callable[[str, float], None] | None = None) -> list[PersonSpots]:
    """:func:`spot_person` for every person; ``progress(stage, fraction)`` is told after each
    person (:mod:`jegal.use.progress`'s protocol)."""
    out = []
    for k, person in enumerate(people):
        out.append(spot_person(model, person, words, modalities, batch_size))
        if progress is not None:
            progress(f"spotting: person {k + 1} of {len(people)}", (k + 1) / len(people))
    return out


__all__ = ["PersonSpots", "Track", "spot_people", "spot_person", "word_frame_map"]
