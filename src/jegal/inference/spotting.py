"""Which words a person gestured, over a track of any length: a gesture score and the spotting rule per word.

Every word lying wholly inside a person's track is scored in its **own window**
(:func:`own_windows`: 100 frames = 4 s centred on the word, shifted inside the track at its
ends), so a word's answer depends on the footage around it, not on where a grid of windows
happens to fall: identical footage gives identical answers (except within 2 s of the track's
ends). Each window is a :class:`~jegal.data.clip.Clip` with the words lying wholly inside it;
all are embedded in batches (:func:`jegal.inference.embed_clips`). Per word:

- **gestured** (:mod:`jegal.inference.gesture_score`): the word's spotting probability (max over
  its span +- 9 frames of the softmax over its window's words of cos / 0.07) against the same
  word on the person's other stretches and their still pose; ``gesture_score`` = 1 - p, and the
  word is gestured at p <= 0.05. A person who does not move gets no gestured word.
- **localised** (the AVS-Spot rule, :func:`jegal.metrics.spot_decisions`): the best frame lies
  within the word's span +- 9 frames (``in_window``) and its probability reaches
  :data:`jegal.metrics.SPOT_THRESHOLD` (``above``). It says where a word known to be gestured
  was gestured; on its own it is no evidence that it was (a word-order prior passes it).

The words x frames map holds each word's row from its own window.

    from jegal.inference.spotting import spot_people
    spots = spot_people(model, video.people, video.words)   # video = jegal.use.read_video(...)

Frames are 25 fps video frames from the start of the video.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from jegal.inference.windows import WINDOW_FRAMES
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
    """Which words one person gestured: per-word decisions and the words x frames map over their track.

    ``word_index`` (R,) indices into the video's words scored for this person (those lying wholly
    inside their track). Per word, all from the word's **own window** (``window`` (R, 2), inclusive
    frames of the video, centred on the word where the track allows):

    - the gesture score (:mod:`jegal.inference.gesture_score`): ``gesture_score`` (R,) = 1 - p,
      ``p_value``, ``controls`` (how many no-gesture controls), ``gestured`` (R,) bool, the
      decision (p <= :data:`~jegal.inference.gesture_score.ALPHA` with enough controls);
    - the AVS-Spot rule (the localisation of a word known to be gestured): ``best_frame`` (R,)
      frame of the video, ``prob`` (R,) its spotting probability, ``in_window`` (within the
      word's span +- 9 frames), ``above`` (P >= 0.5), ``localised`` = both.

    ``probs`` / ``cosine`` (R, T_P) over frames ``first_frame .. first_frame + T_P - 1``: row r is
    word r's spotting probability (its window's softmax over that window's words) and cosine
    over its own window's frames, 0 elsewhere. ``heatmaps``: file names of the map's PNG pages,
    once written."""

    person: int
    first_frame: int
    word_index: np.ndarray
    window: np.ndarray
    gesture_score: np.ndarray
    p_value: np.ndarray
    controls: np.ndarray
    gestured: np.ndarray
    best_frame: np.ndarray
    prob: np.ndarray
    in_window: np.ndarray
    above: np.ndarray
    localised: np.ndarray
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


def own_windows(starts, ends, first: int, last: int, window_frames: int = WINDOW_FRAMES) -> np.ndarray:
    """(N, 2) inclusive frames of each word's own window: ``window_frames`` long, centred on the
    word (``starts``, ``ends`` (N,) inclusive frames), shifted to stay inside the track
    ``first..last`` and cut to it when the track is shorter. So identical footage gets identical
    windows wherever it lies, unless it is within half a window of the track's ends."""
    starts, ends = np.asarray(starts, np.int64), np.asarray(ends, np.int64)
    lo = (starts + ends) // 2 - window_frames // 2
    lo = np.clip(lo, first, max(first, last - window_frames + 1))
    return np.stack([lo, np.minimum(lo + window_frames - 1, last)], axis=1).reshape(-1, 2)


def track_clip(person: Track):
    """The person's whole track as one :class:`~jegal.data.clip.Clip` without words (keypoints,
    mel, rgb, features over frames ``first_frame..last_frame``), assembled from their clips."""
    from jegal.data.clip import Clip
    from jegal.timebase import MEL_PER_FRAME

    first, T = person.first_frame, person.last_frame - person.first_frame + 1
    c0 = person.clips[0]
    kp = np.zeros((T, *c0.keypoints.shape[1:]), np.float32)
    mel = np.zeros((MEL_PER_FRAME * T, c0.mel.shape[1]), np.float32)
    rgb = None if c0.rgb is None else np.zeros((T, *c0.rgb.shape[1:]), c0.rgb.dtype)
    feats = None if c0.features is None else np.zeros((T, c0.features.shape[1]), np.float32)
    for (s, e), clip in zip(person.windows, person.clips):
        sl = slice(s - first, e - first + 1)
        kp[sl] = clip.keypoints
        mel[MEL_PER_FRAME * sl.start:MEL_PER_FRAME * sl.stop] = clip.mel
        if rgb is not None:
            rgb[sl] = clip.rgb
        if feats is not None:
            feats[sl] = clip.features
    return Clip(f"person{person.person}", kp, mel, [], speaker_id=c0.speaker_id, source=c0.source, rgb=rgb,
                features=feats)


def spot_person(model, person: Track, words: Sequence, modalities: str = "ta", batch_size: int = 16,
                window_frames: int = WINDOW_FRAMES) -> PersonSpots:
    """:class:`PersonSpots` of one person (:class:`Track`) given the video's ``words``
    (:class:`jegal.data.words.Word`, frames of the video): each word scored in its own window
    (:func:`own_windows`, ``window_frames`` long; words sharing a window share its embedding),
    every window embedded in batches of ``batch_size``, the gesture score against the person's
    other windows and still pose (:func:`jegal.inference.gesture_score.score_windows`).
    ``modalities``: the content inputs (``t``, ``a`` or ``ta``)."""
    from jegal.inference.embed import embed_clips
    from jegal.inference.gesture_score import Window, score_windows, still_clip
    from jegal.metrics import spot_decisions

    first, last = person.first_frame, person.last_frame
    T = last - first + 1
    starts = np.array([w.start for w in words], np.int64)
    ends = np.array([w.end for w in words], np.int64)
    word_index = np.flatnonzero((starts >= first) & (ends <= last))
    R = len(word_index)
    wins, which = np.unique(own_windows(starts[word_index], ends[word_index], first, last, window_frames),
                            axis=0, return_inverse=True)
    which = which.reshape(-1)
    track = track_clip(person)
    clips, members = [], []
    for k, (s, e) in enumerate(wins):
        inside = np.flatnonzero((starts >= s) & (ends <= e))
        members.append(inside)
        clip = track.crop(int(s - first), int(e - first), [words[i].shifted(int(first)) for i in inside])
        clip.clip_id = f"{track.clip_id}@{s}"
        clips.append(clip)
    still = still_clip(track, int((wins[:, 1] - wins[:, 0]).max()) + 1 if R else min(T, window_frames))
    emb = embed_clips(model, clips + [still], clips, modalities=modalities, batch_size=batch_size)
    windows = [Window(emb.gesture(c.clip_id)[1], emb.content(c.clip_id)[1], [w.text for w in c.words],
                      np.array([[w.start, w.end] for w in c.words], np.int64).reshape(-1, 2), int(s), "track")
               for c, (s, _) in zip(clips, wins)]
    slot = np.array([int(np.searchsorted(members[k], i)) for k, i in zip(which, word_index)], np.int64)
    scores = score_windows(windows, list(zip(which.tolist(), slot.tolist())), emb.gesture(still.clip_id)[1])
    # the AVS rule and the map, each word from its own window
    Tmax = int((wins[:, 1] - wins[:, 0] + 1).max()) if R else 1
    target = np.zeros((R, Tmax), np.float32)
    mask = np.zeros((R, Tmax), bool)
    probs = np.zeros((R, T), np.float32)
    cosine = np.zeros((R, T), np.float32)
    for k, win in enumerate(windows):
        rows = np.flatnonzero(which == k)
        if not len(rows):
            continue
        p, c = word_frame_map(win.frames, win.words)  # (T_k, W_k)
        cols = slot[rows]
        n = len(win.frames)
        target[rows, :n], mask[rows, :n] = p[:, cols].T, True
        sl = slice(int(wins[k, 0] - first), int(wins[k, 0] - first) + n)
        probs[rows, sl], cosine[rows, sl] = p[:, cols].T, c[:, cols].T
    if R:
        d = spot_decisions(target, starts[word_index] - wins[which, 0], ends[word_index] - wins[which, 0], mask)
        best, prob, in_win = d["frame"] + wins[which, 0], d["prob"].astype(np.float32), d["in_window"]
    else:
        best, prob, in_win = np.zeros(0, np.int64), np.zeros(0, np.float32), np.zeros(0, bool)
    above = prob >= SPOT_THRESHOLD
    return PersonSpots(person.person, first, word_index, wins[which].reshape(-1, 2), scores.score.astype(np.float32),
                       scores.p_value.astype(np.float32), scores.controls, scores.gestured,
                       best.astype(np.int64), prob, in_win, above, in_win & above, probs, cosine)


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


__all__ = ["PersonSpots", "Track", "own_windows", "spot_people", "spot_person", "track_clip", "word_frame_map"]
