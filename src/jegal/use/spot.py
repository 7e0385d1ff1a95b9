"""``jegal spot VIDEO --model M``: which words did each person gesture, and when?

    jegal spot demo_out/real/input/sample1.avi --model demo_out        # transcript beside it, or offline ASR
    jegal spot demo_out/real/input/sample2.avi --transcript demo_out/real/input/sample2.txt --model demo_out/run/model

The video is read by :func:`jegal.use.video.read_video` (people, keypoints, words, overlapping
windows). For every person, each window's gesture frames and words are embedded
(:func:`jegal.inference.embed_clips`, batched) and scored with the spotting protocol of
docs/design.md section 7 (:func:`jegal.metrics.spotting_probabilities`: per frame, a softmax over the window's
words of cos / 0.07). Each word is decided in the window where it lies most centrally
(:func:`jegal.use.video.central_window`), as the benchmark decides a clip's target word
(:func:`jegal.metrics.spot_decisions`): its best frame in that window, that frame's probability,
whether the frame lies within the word's span +- 9 frames (``in_window``) and whether the
probability reaches :data:`jegal.metrics.SPOT_THRESHOLD` (``above_threshold``). A word is
**spotted** (gestured) when both hold. The words x frames map over the person's track takes
each frame from its most central window (:func:`jegal.use.video.merge_frames`'s rule).

Outputs in ``--out`` (default ``./<video name>.spot/``), each written atomically:

- ``spot.json``: the video, model, settings, every word, and per person their track, windows,
  per-word decisions, spotted words, heatmap files (keys in ``docs/use.md``);
- ``words.csv``: one row per (person, word);
- ``maps.npz``: per person ``person<P>_probs`` and ``person<P>_cosine`` (W_P, T_P) float32 over
  the track's frames, ``person<P>_words`` (W_P,) word indices, ``person<P>_first_frame``; and
  the video's ``word_spans`` (W, 2) and ``word_text`` (W,);
- ``heatmaps/person<P>-<page>.png``: the map in pages of at most 10 s (:func:`jegal.inference.save_heatmap`);
- ``annotated.mp4``: the video with each person's box (the word they gesture shown on it around
  its best frame) and the transcript running below, the word being spoken highlighted and the
  gestured words underlined in the colour of the person who gestured them.
"""

from __future__ import annotations

import argparse
import csv
import io
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from jegal.metrics import SPOT_MARGIN, SPOT_THRESHOLD

PAGE_FRAMES = 250  # heatmap PNG pages: 10 s each
SHOW_FRAMES = 8  # the annotated video names a gestured word on its person's box this many frames around its best frame


@dataclass
class PersonSpots:
    """Spotting for one person: the per-word decisions and the merged map over their track.

    ``word_index`` (R,) indices into the video's words scored for this person (those lying wholly
    inside one of their windows); per word: ``best_frame`` (R,) frame of the video, ``prob`` (R,),
    ``in_window``, ``above``, ``spotted`` (R,) bool, ``window`` (R,) the deciding window's index.
    ``probs`` / ``cosine`` (R, T_P) over frames ``first_frame .. first_frame + T_P - 1``: each
    frame's softmax over the words of its most central window (0 for the other words) and the
    cosines behind it."""

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


def spot_person(model, person, words, modalities: str = "ta", batch_size: int = 16) -> PersonSpots:
    """:class:`PersonSpots` of one :class:`jegal.use.video.PersonInput` given the video's ``words``."""
    from jegal.inference import embed_clips
    from jegal.metrics import spot_decisions, spotting_probabilities
    from jegal.inference.windows import central_window

    windows = person.windows
    T = person.last_frame - person.first_frame + 1
    with_words = [c for c in person.clips if c.words]
    emb = embed_clips(model, person.clips, with_words, modalities=modalities, batch_size=batch_size)
    starts = np.array([w.start for w in words], np.int64)
    ends = np.array([w.end for w in words], np.int64)
    win = np.asarray(windows, np.int64).reshape(-1, 2)
    scored = central_window(starts, ends, win)  # (W,) deciding window per word, -1: not in view
    word_index = np.flatnonzero(scored >= 0)
    row_of = {int(w): r for r, w in enumerate(word_index)}
    probs_k, cos_k, members = {}, {}, {}
    for k, clip in enumerate(person.clips):
        if not clip.words:
            continue
        frames = emb.gesture(clip.clip_id)[1]  # (T_k, d)
        wvec = emb.content(clip.clip_id)[1]  # (W_k, d)
        probs_k[k] = spotting_probabilities(frames, wvec).astype(np.float32)  # (T_k, W_k)
        fn = frames / np.maximum(np.linalg.norm(frames, axis=1, keepdims=True), 1e-12)
        wn = wvec / np.maximum(np.linalg.norm(wvec, axis=1, keepdims=True), 1e-12)
        cos_k[k] = (fn @ wn.T).astype(np.float32)  # (T_k, W_k)
        members[k] = np.flatnonzero((starts >= win[k, 0]) & (ends <= win[k, 1]))  # the clip's words, in order
    # Decisions: each word's row of its deciding window, padded to one (R, Tmax) array.
    R = len(word_index)
    Tmax = int((win[:, 1] - win[:, 0] + 1).max())
    target = np.zeros((R, Tmax), np.float32)
    mask = np.zeros((R, Tmax), bool)
    rel_start, rel_end = np.zeros(R, np.int64), np.zeros(R, np.int64)
    for r, w in enumerate(word_index):
        k = int(scored[w])
        col = int(np.searchsorted(members[k], w))
        p = probs_k[k][:, col]
        target[r, :len(p)], mask[r, :len(p)] = p, True
        rel_start[r], rel_end[r] = starts[w] - win[k, 0], ends[w] - win[k, 0]
    if R:
        d = spot_decisions(target, rel_start, rel_end, mask)
        best = d["frame"] + win[scored[word_index], 0]
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
        if not len(sel):
            continue
        rows = np.array([row_of[int(w)] for w in members[k]])
        probs[np.ix_(rows, sel - person.first_frame)] = probs_k[k][sel - win[k, 0]].T
        cosine[np.ix_(rows, sel - person.first_frame)] = cos_k[k][sel - win[k, 0]].T
    return PersonSpots(person.person, person.first_frame, windows, word_index, best.astype(np.int64), prob, in_win,
                       above, in_win & above, scored[word_index], probs, cosine)


def spot_video(model, video, modalities: str = "ta", batch_size: int = 16, progress: bool = False) -> list[PersonSpots]:
    """:func:`spot_person` for every person of a :class:`jegal.use.video.VideoInput`."""
    from tqdm.auto import tqdm

    return [spot_person(model, p, video.words, modalities, batch_size)
            for p in tqdm(video.people, desc="spot", unit="person", disable=not progress, leave=False)]


# -- outputs ----------------------------------------------------------------------------------------
def _s(frame) -> float:
    return round(float(frame) / 25.0, 3)


def word_records(video) -> list[dict]:
    """The video's words as JSON records (index, word as written, normalised text, frames, seconds)."""
    return [{"index": i, "word": w.display, "text": w.text, "start_frame": w.start, "end_frame": w.end,
             "start_s": _s(w.start), "end_s": _s(w.end + 1)} for i, w in enumerate(video.words)]


def person_spots(video, spots: PersonSpots) -> dict:
    """One person's part of ``spot.json``: the track, windows, per-word decisions, spotted words, heatmaps."""
    from jegal.use.common import person_record

    person = video.people[spots.person]
    words = []
    for r, w in enumerate(spots.word_index):
        word = video.words[w]
        words.append({"index": int(w), "word": word.display, "start_frame": word.start, "end_frame": word.end,
                      "start_s": _s(word.start), "end_s": _s(word.end + 1), "best_frame": int(spots.best_frame[r]),
                      "best_s": _s(spots.best_frame[r]), "probability": round(float(spots.prob[r]), 4),
                      "in_window": bool(spots.in_window[r]), "above_threshold": bool(spots.above[r]),
                      "spotted": bool(spots.spotted[r]), "window": int(spots.window[r])})
    return {**person_record(person), "windows": [list(w) for w in spots.windows],
            "words": words, "spotted": [w for w in words if w["spotted"]], "heatmaps": spots.heatmaps}


CSV_COLUMNS = ["person", "word_index", "word", "start_frame", "end_frame", "start_s", "end_s", "best_frame", "best_s",
               "probability", "in_window", "above_threshold", "spotted"]


def words_csv(people: list[dict]) -> str:
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(CSV_COLUMNS)
    for p in people:
        for w in p["words"]:
            out.writerow([p["person"], w["index"], w["word"], w["start_frame"], w["end_frame"], w["start_s"],
                          w["end_s"], w["best_frame"], w["best_s"], w["probability"], int(w["in_window"]),
                          int(w["above_threshold"]), int(w["spotted"])])
    return buf.getvalue()


def write_maps(path: Path, video, spots: list[PersonSpots]) -> None:
    from jegal.atomic import atomic_path

    arrays = {"word_spans": np.array([[w.start, w.end] for w in video.words], np.int64).reshape(-1, 2),
              "word_text": np.array([w.display for w in video.words], dtype=str)}
    for s in spots:
        arrays[f"person{s.person}_probs"] = s.probs
        arrays[f"person{s.person}_cosine"] = s.cosine
        arrays[f"person{s.person}_words"] = s.word_index.astype(np.int64)
        arrays[f"person{s.person}_first_frame"] = np.int64(s.first_frame)
    with atomic_path(path) as tmp:
        np.savez_compressed(tmp, **arrays)


def heatmap_pages(video, spots: PersonSpots, folder: Path, page_frames: int = PAGE_FRAMES) -> list[str]:
    """Write the person's map as PNG pages of about ``page_frames`` frames; returns the file
    names relative to ``folder.parent``. Each word is drawn on the page that holds it (most
    centrally); a page widens to show its words' spotting windows and best frames."""
    from jegal.inference import save_heatmap
    from jegal.inference.windows import central_window, cut_windows

    if not len(spots.word_index):
        return []
    first, T = spots.first_frame, spots.probs.shape[1]
    pages = cut_windows(first, first + T - 1, page_frames, 0)
    starts = np.array([video.words[w].start for w in spots.word_index])
    ends = np.array([video.words[w].end for w in spots.word_index])
    page_of = central_window(starts, ends, pages)
    centre = (starts + ends) // 2
    orphans = page_of < 0  # a word across a page edge: the page of its centre
    page_of[orphans] = central_window(centre[orphans], centre[orphans], pages)
    names = []
    for k, (a, b) in enumerate(pages):
        rows = np.flatnonzero(page_of == k)
        if not len(rows):
            continue
        lo = int(min(a, (starts[rows] - SPOT_MARGIN).min(), spots.best_frame[rows].min()))
        hi = int(max(b, (ends[rows] + SPOT_MARGIN).max(), spots.best_frame[rows].max()))
        lo, hi = max(lo, first), min(hi, first + T - 1)
        scores = {"probs": spots.probs[rows, lo - first:hi - first + 1],
                  "words": [video.words[w].display for w in spots.word_index[rows]],
                  "spans": [(int(s - lo), int(e - lo)) for s, e in zip(starts[rows], ends[rows])],
                  "best_frame": [int(f - lo) for f in spots.best_frame[rows]],
                  "best_prob": [float(p) for p in spots.prob[rows]]}
        name = f"person{spots.person}-{len(names):03d}.png"
        title = f"{video.path.name}: person {spots.person}, time from {lo / 25:.2f} s (frames {lo}-{hi})"
        save_heatmap(scores, folder / name, title=title)
        names.append(f"{folder.name}/{name}")
    return names


def _overlay_and_caption(video, spots: list[PersonSpots]):
    from jegal.use.annotate import HIGHLIGHT, Caption, Token, draw_box, person_colour

    words = video.words
    starts = np.array([w.start for w in words], np.int64)
    ends = np.array([w.end for w in words], np.int64)
    gestured: dict[int, int] = {}  # word index -> the person who gestured it (the most confident)
    best_p: dict[int, float] = {}
    shows: dict[int, list[tuple[int, str]]] = {s.person: [] for s in spots}  # person -> (best frame, word)
    for s in spots:
        for r in np.flatnonzero(s.spotted):
            w = int(s.word_index[r])
            shows[s.person].append((int(s.best_frame[r]), words[w].display))
            if s.prob[r] > best_p.get(w, -1):
                gestured[w], best_p[w] = s.person, float(s.prob[r])

    def overlay(img, t, scale):
        for p in video.people:
            near = [word for f, word in shows[p.person] if abs(f - t) <= SHOW_FRAMES]
            label = f"person {p.person}" + (f": {near[0]}" if near else "")
            draw_box(img, p.boxes[t] * scale, person_colour(p.person), label, 4 if near else 2)

    def caption(t):
        if not len(words):
            return Caption(status=f"{t / 25:6.2f} s   no words")
        now = np.flatnonzero((starts <= t) & (ends >= t))
        current = int(now[0]) if len(now) else None
        anchor = current if current is not None else int(min(np.searchsorted(starts, t), len(words) - 1))
        lo, hi = max(0, anchor - 6), min(len(words), anchor + 7)
        tokens = []
        for i in range(lo, hi):
            who = gestured.get(i)
            tokens.append(Token(words[i].display, colour=(0, 0, 0) if i == current else
                                ((235, 235, 235) if ends[i] < t or i > anchor else (200, 200, 200)),
                                background=HIGHLIGHT if i == current else None,
                                underline=None if who is None else person_colour(who), bold=who is not None))
        status = f"{t / 25:6.2f} s   underlined: gestured (colour = person)"
        return Caption(tuple(tokens), anchor - lo, status)

    return overlay, caption


def write_outputs(out: Path, video, spots: list[PersonSpots], meta: dict, annotated: bool = True,
                  progress: bool = False) -> dict:
    """Every output of ``jegal spot`` in ``out``; returns the ``spot.json`` document."""
    from jegal.atomic import write_json_atomic, write_text_atomic
    from jegal.use.annotate import add_annotated_video
    from jegal.use.common import document

    timings = {}
    t = time.perf_counter()
    for s in spots:
        s.heatmaps = heatmap_pages(video, s, out / "heatmaps")
    people = [person_spots(video, s) for s in spots]
    write_maps(out / "maps.npz", video, spots)
    write_text_atomic(out / "words.csv", words_csv(people))
    timings["maps_csv_png"] = time.perf_counter() - t
    outputs = {"json": "spot.json", "csv": "words.csv", "maps": "maps.npz",
               "heatmaps": [h for s in spots for h in s.heatmaps]}
    if annotated:
        add_annotated_video(out, video, *_overlay_and_caption(video, spots), outputs, timings, progress)
    doc = document(out, video, meta, {"threshold": SPOT_THRESHOLD, "margin_frames": SPOT_MARGIN,
                                      "words": word_records(video), "people": people}, outputs, timings)
    write_json_atomic(out / "spot.json", doc)
    return doc


# -- command ----------------------------------------------------------------------------------------
def configure(parser: argparse.ArgumentParser) -> None:
    from jegal.use.common import add_model_arguments, add_video_arguments

    add_video_arguments(parser)
    add_model_arguments(parser)
    parser.add_argument("--batch-size", type=int, default=16, help="windows per model batch (default 16)")


def run(args: argparse.Namespace) -> int:
    from jegal.use.common import expected_errors, model_and_video, report_error

    progress = not args.quiet
    try:
        got = model_and_video(args, "spot")
        t = time.perf_counter()
        spots = spot_video(got.model, got.video, got.modalities, args.batch_size, progress)
    except expected_errors() as err:
        return report_error("spot", err)
    out, video = got.out, got.video
    meta = {"model": str(got.model_dir), "modalities": got.modalities, "window_frames": args.window_frames,
            "overlap_frames": args.overlap_frames, "timings": {**got.timings, "model": time.perf_counter() - t}}
    doc = write_outputs(out, video, spots, meta, annotated=not args.no_video, progress=progress)
    for p in doc["people"]:
        found = ", ".join(f"{w['word']} ({w['start_s']:.2f} s, p={w['probability']:.2f})" for w in p["spotted"])
        print(f"person {p['person']} ({p['start_s']:.1f}-{p['end_s']:.1f} s): {len(p['spotted'])} of "
              f"{len(p['words'])} words gestured" + (f": {found}" if found else ""))
    print(f"wrote {out}")
    return 0
