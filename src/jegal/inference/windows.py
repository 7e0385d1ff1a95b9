"""Overlapping windows over a long track, and results merged back from them.

A person's track is cut into **overlapping windows** a model can take (:func:`cut_windows`):
windows of ``window_frames`` frames (default 100 = 4 s, twice the cpu preset's 2 s training
crops and about the length of the paper's 5-20 word clips), spread evenly from the track's first
frame to its last so that neighbours share at least ``overlap_frames`` (default 50); a track no
longer than a window is one window.

Results computed per window are merged back into one per-frame / per-word result by
:func:`central_window` and :func:`merge_frames`: each frame (and each word) is taken from the
window in which it lies most centrally, i.e. farthest from the window's edges, so every value
comes from the window that gives it the most context on both sides. With the default overlap of
half a window, every frame away from the track's ends has at least a quarter window (25 frames,
1 s) of context either side, and every word of up to ``overlap_frames`` frames lies wholly inside
at least one window. Frames are 25 fps video frames.
"""

from __future__ import annotations

import numpy as np

WINDOW_FRAMES = 100  # 4 s
OVERLAP_FRAMES = 50  # consecutive windows share 2 s

def cut_windows(start: int, end: int, window_frames: int = WINDOW_FRAMES,
                overlap_frames: int = OVERLAP_FRAMES) -> list[tuple[int, int]]:
    """Inclusive ``(first, last)`` frames of overlapping windows covering frames ``start..end``.

    Windows are ``window_frames`` long; the first starts on ``start``, the last ends on
    ``end``, and between them the fewest windows are spread evenly so that neighbours share at
    least ``overlap_frames`` frames (they start at most ``window_frames - overlap_frames`` apart).
    A span no longer than a window is one window. Raises ValueError for ``end < start`` or an
    overlap that is negative or not shorter than the window."""
    if end < start:
        raise ValueError(f"empty span {start}..{end}")
    if window_frames < 1 or not 0 <= overlap_frames < window_frames:
        raise ValueError(f"window_frames={window_frames}, overlap_frames={overlap_frames}: need "
                         "0 <= overlap < window")
    n = end - start + 1
    if n <= window_frames:
        return [(start, end)]
    hop = window_frames - overlap_frames
    count = -(-(n - window_frames) // hop) + 1
    firsts = np.linspace(start, end - window_frames + 1, count).round().astype(int)
    return [(int(s), int(s) + window_frames - 1) for s in firsts]


def central_window(starts, ends, windows) -> np.ndarray:
    """For each span ``starts[i]..ends[i]`` (inclusive frames, (N,) each; a frame is a span
    with start = end), the index of the window (``windows`` (K, 2) inclusive) that holds it
    wholly and most centrally: the largest distance from the span to the nearer window edge
    (ties: the earlier window). -1 where no window holds the span. Returns (N,) int64."""
    starts = np.asarray(starts, np.int64).reshape(-1, 1)  # (N, 1)
    ends = np.asarray(ends, np.int64).reshape(-1, 1)
    win = np.asarray(windows, np.int64).reshape(-1, 2)
    if len(win) == 0 or len(starts) == 0:
        return np.full(len(starts), -1, np.int64)
    ws, we = win[None, :, 0], win[None, :, 1]  # (1, K)
    inside = (starts >= ws) & (ends <= we)  # (N, K)
    room = np.minimum(starts - ws, we - ends)  # (N, K) frames of context on the tighter side
    room = np.where(inside, room, -1)
    best = room.argmax(axis=1)
    return np.where(inside.any(axis=1), best, -1)


def merge_frames(per_window: list[np.ndarray], windows, num_frames: int, fill: float = np.nan) -> np.ndarray:
    """Per-frame results of overlapping windows as one array over the video.

    ``per_window[k]`` is ``(T_k, ...)`` for window ``windows[k] = (first, last)`` (T_k = last -
    first + 1); frame t is taken from :func:`central_window`'s window for it. Returns
    ``(num_frames, ...)`` float32, ``fill`` on frames no window covers."""
    if not per_window:
        raise ValueError("merge_frames: no windows")
    win = np.asarray(windows, np.int64).reshape(-1, 2)
    if len(win) != len(per_window):
        raise ValueError(f"merge_frames: {len(per_window)} results for {len(win)} windows")
    out = np.full((num_frames, *np.shape(per_window[0])[1:]), fill, np.float32)
    frames = np.arange(num_frames)
    pick = central_window(frames, frames, win)
    for k, values in enumerate(per_window):  # one slice copy per window, not per frame
        sel = np.flatnonzero(pick == k)
        if len(sel):
            out[sel] = np.asarray(values)[sel - win[k, 0]]
    return out
