"""``jegal spot VIDEO --model M``: which words did each person gesture, and when?

    jegal spot demo_out/real/input/sample1.avi --model demo_out        # transcript beside it, or offline ASR
    jegal spot demo_out/real/input/sample2.avi --transcript demo_out/real/input/sample2.txt --model demo_out/run/model

The video is read by :func:`jegal.use.video.read_video` (people, keypoints, words). For every
person, each word is scored in its own 4 s window centred on it (:mod:`jegal.inference.spotting`):
its **gesture score** against no-gesture controls of the same person (other stretches of their
track, their still pose; :mod:`jegal.inference.gesture_score`) decides whether it was
**gestured** (p <= 0.05 with at least 19 controls, so a track of about 25 s; shorter tracks leave
their words "not decided"), and the AVS-Spot rule (best frame within the word's span +- 9 frames,
probability >= 0.5) whether it is **localised** there, which alone is no evidence of a gesture.
In a video with several people a word is gestured only by the person :mod:`jegal.use.asd` names
as its speaker (:func:`attribute_words`). The scoring is the library's; this module reads the
video and writes the outputs: :func:`spot_words` is the one function the command and the page
call (docs/use.md, "Which words were gestured").

Outputs in ``--out`` (default ``./<video name>.spot/``), each written atomically:

- ``spot.json``: the video, the model and what it was trained on, settings, every word, and per
  person their track, per-word scores and decisions, gestured words, heatmap files, and the
  ``coverage`` (:mod:`jegal.perception.coverage`: per person the frames in view and with keypoints,
  every word spoken while nobody is tracked, which is not scored; keys in ``docs/use.md``);
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
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jegal.inference.gesture_score import ALPHA, MIN_CONTROLS
from jegal.inference.spotting import PersonSpots
from jegal.metrics import SPOT_MARGIN, SPOT_THRESHOLD
from jegal.timebase import frame_to_seconds

SCORE_METHOD = {"alpha": ALPHA, "min_controls": MIN_CONTROLS,
                "method": "the word's spotting probability (max over its span +- 9 frames) against the same word on "
                          "the person's other stretches and still pose; gesture_score = 1 - p "
                          "(docs/use.md, 'Which words were gestured')"}
PAGE_FRAMES = 250  # heatmap PNG pages: 10 s each
SHOW_FRAMES = 8  # the annotated video names a gestured word on its person's box this many frames around its best frame


# -- outputs ----------------------------------------------------------------------------------------
def _s(frame) -> float:
    return round(frame_to_seconds(float(frame)), 3)


def word_records(video, speakers: dict[int, int | None] | None = None) -> list[dict]:
    """The video's words as JSON records (index, word as written, normalised text, frames,
    seconds, and with ``speakers`` the person speaking it: :func:`attribute_words`)."""
    extra = (lambda i: {}) if speakers is None else (lambda i: {"speaker": speakers.get(i)})
    return [{"index": i, "word": w.display, "text": w.text, "start_frame": w.start, "end_frame": w.end,
             "start_s": _s(w.start), "end_s": _s(w.end + 1), **extra(i)} for i, w in enumerate(video.words)]


def attribute_words(model, video, modalities: str, progress=None) -> dict[int, int | None] | None:
    """Who speaks each word of a video with two or more people: the person ``jegal asd``
    decides for the word's speech segment (:func:`jegal.use.asd.make_segments`,
    :func:`jegal.use.asd.decide`; the only person in view where only one is), None where it
    is undecided. None for a video with at most one person (every word is theirs)."""
    from jegal.use.asd import decide, make_segments

    if len(video.people) < 2 or not video.words:
        return None
    segments, _ = make_segments(video, max_frames=video.window_frames)
    decide(model, video, segments, modalities, progress=progress)
    return {i: seg.speaker for seg in segments for i in seg.words}


def person_spots(video, spots: PersonSpots, speakers: dict[int, int | None] | None = None) -> dict:
    """One person's part of ``spot.json``: the track, per-word scores and decisions, gestured words, heatmaps.

    ``speakers``: word index -> the person :mod:`jegal.use.asd` names as speaking it (None:
    undecided), for a video with several people; a word counts as gestured by this person only
    when it is theirs (``gestured``), its score and ``gestured_by_score`` stay whatever it is.
    None: no attribution (one person, whose every word is; or several, each word anyone's whose
    score passes, ``speaker`` null)."""
    from jegal.use.common import person_record

    person = video.people[spots.person]
    words = []
    for r, w in enumerate(spots.word_index):
        word = video.words[w]
        speaker = (spots.person if len(video.people) == 1 else None) if speakers is None else speakers.get(int(w))
        by_score = bool(spots.gestured[r])
        words.append({"index": int(w), "word": word.display, "start_frame": word.start, "end_frame": word.end,
                      "start_s": _s(word.start), "end_s": _s(word.end + 1),
                      "gesture_score": round(float(spots.gesture_score[r]), 4),
                      "p_value": round(float(spots.p_value[r]), 4), "controls": round(float(spots.controls[r]), 2),
                      "gestured_by_score": by_score, "speaker": speaker,
                      "gestured": by_score and (speakers is None or speaker == spots.person),
                      "best_frame": int(spots.best_frame[r]), "best_s": _s(spots.best_frame[r]),
                      "probability": round(float(spots.prob[r]), 4), "in_window": bool(spots.in_window[r]),
                      "above_threshold": bool(spots.above[r]), "localised": bool(spots.localised[r]),
                      "window": [int(x) for x in spots.window[r]]})
    return {**person_record(person), "words": words, "gestured": [w for w in words if w["gestured"]],
            "heatmaps": spots.heatmaps}


CSV_COLUMNS = ["person", "word_index", "word", "start_frame", "end_frame", "start_s", "end_s", "gesture_score",
               "p_value", "controls", "gestured", "gestured_by_score", "speaker", "best_frame", "best_s",
               "probability", "in_window", "above_threshold", "localised"]


def words_csv(people: list[dict], videos: list[str] | None = None) -> str:
    """``words.csv``: one row per (person, word), :data:`CSV_COLUMNS` (booleans as 0/1, no speaker: empty).

    ``people``: ``spot.json``'s ``people``. ``videos``: a ``video`` column first, the name of each
    entry of ``people`` (the combined table of a folder run, :mod:`jegal.use.folder`, whose
    ``people`` are every video's, one after the other)."""
    from jegal.csvcells import safe_row  # a word such as "=1+1" is text in a spreadsheet, not a formula

    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow((["video"] if videos is not None else []) + CSV_COLUMNS)
    for k, p in enumerate(people):
        lead = [] if videos is None else [videos[k]]
        for w in p["words"]:
            row = {**w, "person": p["person"], "word_index": w["index"]}
            out.writerow(safe_row(lead + [int(v) if isinstance(v, bool) else ("" if v is None else v)
                                          for v in (row[k] for k in CSV_COLUMNS)]))
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


def heatmap_pages(video, spots: PersonSpots, folder: Path, page_frames: int = PAGE_FRAMES,
                  gestured=None) -> list[str]:
    """Write the person's map as PNG pages of about ``page_frames`` frames; returns the file
    names relative to ``folder.parent``. Each word is drawn on the page that holds it (most
    centrally); a page widens to show its words' spotting windows and best frames. A word's
    cross and label are red when it is gestured: ``gestured`` (R,) bools in the order of
    ``spots.word_index`` (``person_spots``' decision, the speaker's words only), default
    ``spots.gestured`` (the score's decision); its label carries its gesture score."""
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
    gestured = np.asarray(spots.gestured if gestured is None else gestured, bool)
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
                  "best_prob": [float(p) for p in spots.prob[rows]],
                  "gestured": gestured[rows].tolist(), "gesture_score": spots.gesture_score[rows].tolist(),
                  "decided": (spots.controls[rows] >= MIN_CONTROLS).tolist()}
        name = f"person{spots.person}-{len(names):03d}.png"
        title = f"{video.path.name}: person {spots.person}, time from {frame_to_seconds(lo):.2f} s (frames {lo}-{hi})"
        save_heatmap(scores, folder / name, title=title)
        names.append(f"{folder.name}/{name}")
    return names


def _overlay_and_caption(video, spots: list[PersonSpots], people: list[dict]):
    from jegal.use.annotate import HIGHLIGHT, Caption, Token, draw_box, person_colour
    from jegal.use.media import MAX_SIDE

    words = video.words
    starts = np.array([w.start for w in words], np.int64)
    ends = np.array([w.end for w in words], np.int64)
    gestured: dict[int, int] = {}  # word index -> the person who gestured it (the speaker, :func:`person_spots`)
    shows: dict[int, list[tuple[int, str]]] = {s.person: [] for s in spots}  # person -> (best frame, word)
    for p in people:
        for w in p["gestured"]:
            shows[p["person"]].append((w["best_frame"], w["word"]))
            gestured[w["index"]] = p["person"]
    width = video.size[0] * min(1.0, MAX_SIDE / max(video.size))  # the annotated video's (jegal.use.media)
    rule = f"p <= {ALPHA:g}" + (" against no-gesture controls" if width >= 440 else "")  # what fits the band

    def overlay(img, t, scale):
        for p in video.people:
            near = [word for f, word in shows[p.person] if abs(f - t) <= SHOW_FRAMES]
            label = f"person {p.person}" + (f": {near[0]}" if near else "")
            draw_box(img, p.boxes[t] * scale, person_colour(p.person), label, 4 if near else 2)

    def caption(t):
        if not len(words):
            return Caption(status=f"{frame_to_seconds(t):6.2f} s   no words")
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
        status = f"{frame_to_seconds(t):6.2f} s   underlined: gestured ({rule})"
        return Caption(tuple(tokens), anchor - lo, status)

    return overlay, caption


def write_outputs(out: Path, video, spots: list[PersonSpots], meta: dict, annotated: bool = True,
                  progress=None, also: list | None = None, source=None,
                  speakers: dict[int, int | None] | None = None) -> dict:
    """Every output of ``jegal spot`` in ``out``; returns the ``spot.json`` document.
    ``progress(stage, fraction)`` while the annotated video is written; ``also``: more videos
    (:class:`jegal.use.media.VideoTarget`) written in the same decode, from ``source`` when given;
    ``speakers``: who speaks each word (:func:`attribute_words`; None: every word is each person's)."""
    from jegal.atomic import write_json_atomic, write_text_atomic
    from jegal.use.annotate import add_annotated_video
    from jegal.use.common import document

    timings = {}
    t = time.perf_counter()
    people = [person_spots(video, s, speakers) for s in spots]
    for s, p in zip(spots, people):  # the maps mark the words gestured as spot.json says (the speaker's)
        s.heatmaps = p["heatmaps"] = heatmap_pages(video, s, out / "heatmaps",
                                                   gestured=[w["gestured"] for w in p["words"]])
    write_maps(out / "maps.npz", video, spots)
    write_text_atomic(out / "words.csv", words_csv(people))
    timings["maps_csv_png"] = time.perf_counter() - t
    outputs = {"json": "spot.json", "csv": "words.csv", "maps": "maps.npz",
               "heatmaps": [h for s in spots for h in s.heatmaps]}
    if annotated:
        add_annotated_video(out, video, *_overlay_and_caption(video, spots, people), outputs, timings, progress, also,
                            source, model=meta.get("model"))
    elif also:
        from jegal.use.media import write_videos

        write_videos(video, also, source=source, progress=progress)
    doc = document(out, video, meta, {"gesture_score": SCORE_METHOD, "threshold": SPOT_THRESHOLD,
                                      "margin_frames": SPOT_MARGIN, "attribution": "speaker" if speakers is not None
                                      else ("the only person" if len(video.people) <= 1 else "none"), "words": word_records(video, speakers),
                                      "people": people, "coverage": video.coverage()}, outputs, timings)
    from jegal.use.exports import spot_tiers, write_exports

    doc["outputs"].update(write_exports(out, video, spot_tiers(people, doc["words"]), "spot"))
    write_json_atomic(out / "spot.json", doc)
    return doc


# -- the task ---------------------------------------------------------------------------------------
@dataclass
class SpotResult:
    """What :func:`spot_words` did: ``doc`` (``spot.json``, as written), ``out`` (the folder),
    ``video`` (the :class:`jegal.use.video.VideoInput` read, for a caller that goes on with it, e.g.
    :func:`jegal.use.find_speakers`) and ``spots`` (per person,
    :class:`jegal.inference.spotting.PersonSpots`)."""

    doc: dict
    out: Path
    video: object
    spots: list[PersonSpots]


def spot_words(video, model, *, model_dir: str | os.PathLike | None = None,
               transcript: str | os.PathLike | None = None, out: str | os.PathLike | None = None,
               modalities: str | None = None, asr: str = "auto", asr_model: str | os.PathLike | None = None,
               window_frames: int | None = None, overlap_frames: int | None = None, rgb_size: int | None = None,
               batch_size: int = 16, attribute: bool = True, annotated: bool = True, also: list | None = None,
               source: str | os.PathLike | None = None, notes: list[str] | None = None, timings: dict | None = None,
               progress=None, preparer=None, tier: str | None = None) -> SpotResult:
    """``jegal spot``: which words each person in ``video`` gestured, every output written to ``out``.

    ``video``: a video file or ``.kps.npz`` (read by :func:`jegal.use.video.read_video` with
    ``transcript`` (``tier``: its words tier, for an .eaf / .TextGrid), ``asr``, ``asr_model``, the windows
    and ``rgb_size``, recognised words written
    under ``out``), or a :class:`~jegal.use.video.VideoInput` already read (those arguments are then
    unused). ``attribute``: in a video with several people, a word counts as gestured only by
    the person speaking it (:func:`attribute_words`; False: by anyone whose score passes).
    ``model``: a loaded :class:`jegal.model.JEGAL` (:meth:`jegal.model.JEGAL.from_pretrained`),
    ``model_dir`` its directory (named in ``spot.json``; a ``features`` model's GestSync weights
    lie there). ``out``: default ``./<video name>.spot``. ``modalities``: ``t``, ``a``, ``ta`` or
    None (the model's own; speech only for a model that cannot read text here). ``annotated``:
    write ``annotated.mp4``; ``also``: more :class:`jegal.use.media.VideoTarget` s written in the
    same decode of the video (the page's video), from ``source`` (another file's pictures) when
    given. ``notes``: warnings put first in ``spot.json``; ``timings``: seconds already spent (e.g.
    ``model_load``), recorded with the others. ``progress(stage, fraction)``:
    :mod:`jegal.use.progress`'s protocol. ``preparer``: a reading pipeline to reuse
    (:func:`jegal.use.video.video_preparer`).

    Returns a :class:`SpotResult`. Raises what :func:`jegal.use.video.read_video` raises (each a
    :class:`jegal.perception.errors.PrepareError` naming the file), :class:`jegal.use.common.BadFlag`
    (window settings, modalities the model was not trained with), the text backbone's error when
    ``modalities`` asks for text the model cannot read here, and ``NotADirectoryError`` for an
    ``out`` that is a file."""
    from jegal.inference.spotting import spot_people
    from jegal.model.card import model_record
    from jegal.use.common import task_input
    from jegal.use.progress import Stages

    reading = 24 if isinstance(video, (str, os.PathLike)) else 0  # shares of the time: the people stage dominates
    stages = Stages(progress, {"read": reading, "model": 1, "outputs": 2, **({"video": 6} if annotated or also else {})})
    read = dict(transcript=transcript, asr=asr, asr_model=asr_model, window_frames=window_frames,
                overlap_frames=overlap_frames, rgb_size=rgb_size, preparer=preparer, tier=tier)
    model_dir = model_dir if model_dir is not None else getattr(model, "source_dir", None)
    modalities, out, video = task_input(video, model, model_dir, "spot", out, modalities, read,
                                        progress=stages.part("read"))
    video.warnings[:0] = list(notes or [])
    t = time.perf_counter()
    spots = spot_people(model, video.people, video.words, modalities, batch_size, progress=stages.part("model"))
    speakers = attribute_words(model, video, modalities) if attribute else None
    meta = {"model": model_record(model, model_dir), "modalities": modalities, "window_frames": video.window_frames,
            "overlap_frames": video.overlap_frames, "timings": {**(timings or {}), "model": time.perf_counter() - t}}
    stages("outputs", 0.0, "writing maps.npz, words.csv, the heatmaps")
    doc = write_outputs(out, video, spots, meta, annotated=annotated, progress=stages.part("video"), also=also,
                        source=source, speakers=speakers)
    stages.done(f"wrote {out}")
    return SpotResult(doc, out, video, spots)


# -- command ----------------------------------------------------------------------------------------
def configure(parser: argparse.ArgumentParser) -> None:
    from jegal.use.common import add_model_arguments, add_video_arguments

    add_video_arguments(parser)
    add_model_arguments(parser)
    parser.add_argument("--batch-size", type=int, default=16, help="windows per model batch (default 16)")


def run(args: argparse.Namespace) -> int:
    from jegal.use.common import expected_errors, load_for_command, report_error
    from jegal.use.progress import ProgressBar

    if Path(args.video).is_dir():  # a corpus: every video in one process (jegal.use.folder)
        from jegal.use.folder import run_folder

        return run_folder("spot", args, lambda path, out, preparer, progress, model, model_dir: spot_words(
            path, model, model_dir=model_dir, out=out, tier=args.tier, modalities=args.modalities,
            window_frames=args.window_frames,
            overlap_frames=args.overlap_frames, rgb_size=args.rgb_size, batch_size=args.batch_size,
            annotated=not args.no_video, progress=progress, preparer=preparer))
    try:
        model, model_dir, timings = load_for_command(args)
        with ProgressBar("spot", disable=args.quiet) as bar:
            got = spot_words(args.video, model, model_dir=model_dir, transcript=args.transcript, tier=args.tier,
                             out=args.out,
                             modalities=args.modalities, asr=args.asr, asr_model=args.asr_model,
                             window_frames=args.window_frames, overlap_frames=args.overlap_frames,
                             rgb_size=args.rgb_size, batch_size=args.batch_size, annotated=not args.no_video,
                             timings=timings, progress=bar)
        if args.keypoints_csv:
            from jegal.use.keypoints_table import FILE_NAME, write_keypoints_csv

            write_keypoints_csv(got.out / FILE_NAME, got.video)
    except expected_errors() as err:
        return report_error("spot", err)
    from jegal.perception.coverage import person_line, unscored_line

    print(f"model: {got.doc['model']['statement']}")
    coverage = got.doc["coverage"]
    for p, seen in zip(got.doc["people"], coverage["people"]):
        found = ", ".join(f"{w['word']} ({w['start_s']:.2f} s, score {w['gesture_score']:.2f})" for w in p["gestured"])
        few = sum(w["controls"] < MIN_CONTROLS for w in p["words"])
        print(f"person {p['person']} ({p['start_s']:.1f}-{p['end_s']:.1f} s, {person_line(seen)}): "
              f"{len(p['gestured'])} of "
              f"{len(p['words'])} words gestured (p <= {ALPHA} against no-gesture controls)"
              + (f": {found}" if found else "")
              + (f"; {few} words not decided (fewer than {MIN_CONTROLS} controls: the track is too short)"
                 if few else ""))
    print(unscored_line(coverage))
    print(f"wrote {got.out}")
    return 0
