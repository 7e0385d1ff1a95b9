"""``jegal asd VIDEO --model M``: who is speaking, from the gestures of the people in view alone.

    jegal asd demo_out/real/input/sample1.avi --model demo_out              # transcript beside it, or offline ASR
    jegal asd demo_out/real/input/sample1.avi --model demo_out --asr none   # no words: fixed windows of speech

The video is read by :func:`jegal.use.video.read_video`. The speech is cut into **segments**
(:func:`speech_segments`): runs of words that end at a sentence end (``. ? !``), at a pause
longer than ``--max-pause-frames`` (default 10 frames = 0.4 s), or when a segment would grow
past ``--max-segment-frames`` frames (default the window length, 100) or 20 words. Without
words (``--asr none`` and no transcript, or nothing recognised) the speech is cut into fixed
windows of ``--segment-frames`` (default 50 = 2 s) scored from the audio alone (content
modality ``a``).

Each segment's frames, widened by 10 frames either side (gestures lead and lag their words;
never across a change of the people in view),
are the query: its content (words and/or speech) against the gesture of every person in view
for at least ``--min-visible`` (default half) of those frames, through
:func:`jegal.inference.who_is_speaking` (the ASD protocol of docs/design.md section 7 for one query:
cosine of clip vectors; a tie is no answer). The model sees the gesture only: keypoint models
never see the face (the keypoint layout has no face landmarks), rgb models see face-masked
crops. A segment gets a **decision**:

- ``gestures``: two or more people in view, the best-scoring one is the speaker;
- ``only_person``: one person in view; they are named the speaker (and said to be the only one:
  nothing was compared), their score is still given;
- ``undecided``: nobody in view (``reason: nobody_in_view``) or a tie (``reason: tie``).

Every segment lists every person's score (null when not in view) and the share of the
segment's frames they are in view. Outputs in ``--out`` (default ``./<video name>.asd/``),
written atomically: ``asd.json``, ``asd.csv`` (one row per segment, a score column per
person) and ``annotated.mp4`` (a box per person, the speaker's thick and labelled, the
segment's words running below with the word being spoken highlighted). ``asd.json`` also holds
the ``coverage`` (:mod:`jegal.perception.coverage`): per person the frames in view and with
keypoints, and every word spoken while nobody is tracked (not scored), as ``jegal spot`` gives it.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from jegal.data.words import Word
from jegal.timebase import frame_to_seconds

SENTENCE_END = (".", "?", "!", "…")
MAX_PAUSE_FRAMES = 10  # 0.4 s of silence between words ends a segment
MAX_SEGMENT_WORDS = 20  # the paper's longest training clips
SEGMENT_FRAMES = 50  # fixed windows when there are no words: 2 s
CONTEXT_FRAMES = 10  # frames added either side of a segment's words (the window p, docs/design.md section 6)
MIN_VISIBLE = 0.5  # a person is a candidate when in view for at least this share of a segment


def speech_segments(words: list[Word], max_pause: int = MAX_PAUSE_FRAMES, max_frames: int = 100,
                    max_words: int = MAX_SEGMENT_WORDS, cuts=()) -> list[tuple[int, int]]:
    """Inclusive ``(first, last)`` word indices of the segments of ``words`` (in time order).

    A new segment starts after a word ending a sentence (its written form ends with . ? ! or …),
    after a pause of more than ``max_pause`` frames, at a frame of ``cuts`` (where the people in
    view change: a cut between the end of one word and the middle of the next starts a segment
    with the next), and before a word that would make the segment span more than ``max_frames``
    frames or hold more than ``max_words`` words."""
    cuts = np.sort(np.asarray(list(cuts), np.int64))
    segments: list[tuple[int, int]] = []
    first = 0
    for i in range(1, len(words) + 1):
        if i == len(words):
            segments.append((first, i - 1))
            break
        prev, w = words[i - 1], words[i]
        mid = (w.start + w.end) // 2
        cut = bool(np.any((cuts > prev.end) & (cuts <= mid)))
        if (cut or prev.display.rstrip("\"')]»”’").endswith(SENTENCE_END) or w.start - prev.end - 1 > max_pause
                or w.end - words[first].start + 1 > max_frames or i - first >= max_words):
            segments.append((first, i - 1))
            first = i
    return segments


def people_cuts(video) -> list[int]:
    """Frames where someone comes into or goes out of view (their track's first frame, and the
    frame after its last), inside the video."""
    frames = {f for p in video.people for f in (p.first_frame, p.last_frame + 1)}
    return sorted(f for f in frames if 0 < f < video.num_frames)


@dataclass
class Segment:
    """One query of ``jegal asd``: frames ``start..end`` of the video (inclusive, with context),
    its words (indices into the video's words), and the decision."""

    index: int
    start: int
    end: int
    words: list[int]
    text: str
    speaker: int | None = None  # person index, None when undecided
    decision: str = "undecided"  # gestures | only_person | undecided
    reason: str = ""
    scores: dict[int, float | None] = field(default_factory=dict)  # person -> cosine, None when not in view
    visible: dict[int, float] = field(default_factory=dict)  # person -> share of the segment's frames in view
    margin: float | None = None  # best score - second best (gestures only)

    def to_json(self) -> dict:
        return {"index": self.index, "start_frame": self.start, "end_frame": self.end,
                "start_s": round(frame_to_seconds(self.start), 3), "end_s": round(frame_to_seconds(self.end + 1), 3), "words": self.words,
                "text": self.text, "speaker": self.speaker, "decision": self.decision, "reason": self.reason,
                "scores": {str(p): (None if s is None else round(s, 5)) for p, s in self.scores.items()},
                "visible": {str(p): round(v, 3) for p, v in self.visible.items()},
                "margin": None if self.margin is None else round(self.margin, 5)}


def make_segments(video, max_pause: int = MAX_PAUSE_FRAMES, max_frames: int = 100,
                  segment_frames: int = SEGMENT_FRAMES) -> tuple[list[Segment], str]:
    """The segments of a :class:`jegal.use.video.VideoInput` and how they were made
    (``"transcript"``: :func:`speech_segments` cut at :func:`people_cuts`, widened by
    ``CONTEXT_FRAMES``; ``"fixed"``: windows of ``segment_frames`` when it has no words)."""
    T = video.num_frames
    cuts = people_cuts(video)
    if not video.words:  # windows of segment_frames, restarted wherever the people in view change
        edges = [0, *cuts, T]
        spans = [(s, min(b, s + segment_frames) - 1) for a, b in zip(edges, edges[1:])
                 for s in range(a, b, segment_frames)]
        return [Segment(k, s, e, [], "") for k, (s, e) in enumerate(spans)], "fixed"
    out = []
    for k, (a, b) in enumerate(speech_segments(video.words, max_pause, max_frames, cuts=cuts)):
        # context either side, but not across a change of the people in view
        lo = max([0] + [c for c in cuts if c <= video.words[a].start])
        hi = min([T] + [c for c in cuts if c > video.words[b].end]) - 1
        s = max(lo, video.words[a].start - CONTEXT_FRAMES)
        e = min(hi, video.words[b].end + CONTEXT_FRAMES)
        out.append(Segment(k, s, e, list(range(a, b + 1)), " ".join(w.display for w in video.words[a:b + 1])))
    return out, "transcript"


def decide(model, video, segments: list[Segment], modalities: str, min_visible: float = MIN_VISIBLE,
           progress=None) -> list[Segment]:
    """Fill each segment's scores and decision (module docstring) in place; returns ``segments``.

    Segments without words are scored from speech alone (``modalities`` must then allow ``a``).
    ``progress(stage, fraction)``: told after each segment (:mod:`jegal.use.progress`)."""
    from jegal.inference import who_is_speaking

    for k, seg in enumerate(segments):
        if progress is not None:
            progress(f"who is speaking: segment {k + 1} of {len(segments)}", k / len(segments))
        candidates, clips = [], []
        for p in video.people:
            seen = float(p.visible[seg.start:seg.end + 1].mean())
            seg.visible[p.person] = seen
            seg.scores[p.person] = None
            clip = p.gesture_clip(seg.start, seg.end) if seen >= min_visible else None
            if clip is not None:
                candidates.append(p.person)
                clips.append(clip)
        if not candidates:
            seg.decision, seg.reason = "undecided", "nobody_in_view"
            continue
        if seg.words:
            content = video.content_clip(seg.start, seg.end, [video.words[i] for i in seg.words])
            mods = modalities
        else:  # speech alone, pooled over the whole window as one "word"
            content = video.content_clip(seg.start, seg.end, [Word("speech", seg.start, seg.end, "(speech)")])
            mods = "a"
        result = who_is_speaking(model, content, clips, modalities=mods)
        for p, s in zip(candidates, result["scores"]):
            seg.scores[p] = float(s)
        if len(candidates) == 1:
            seg.speaker, seg.decision, seg.reason = candidates[0], "only_person", "only one person in view"
        elif result["speaker"] < 0:
            seg.decision, seg.reason = "undecided", "tie"
        else:
            ranked = sorted(result["scores"], reverse=True)
            seg.speaker, seg.decision, seg.reason = candidates[result["speaker"]], "gestures", ""
            seg.margin = float(ranked[0] - ranked[1])
    return segments


CSV_FIXED = ["segment", "start_frame", "end_frame", "start_s", "end_s", "speaker", "decision", "reason", "margin",
             "text"]


def segments_csv(segments: list[Segment] | list[dict], people: int, videos: list[str] | None = None) -> str:
    """One row per segment; ``score_person<P>`` and ``visible_person<P>`` columns for P < ``people``
    (score empty when not in view, both empty for a person the segment's video does not have).
    ``segments``: :class:`Segment` s or their ``to_json()`` records (``asd.json``'s ``segments``);
    ``videos``: a ``video`` column first, per segment (the combined table of a folder run,
    :mod:`jegal.use.folder`)."""
    from jegal.csvcells import safe_row  # a segment's text such as "=1+1" is text in a spreadsheet, not a formula

    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow((["video"] if videos is not None else []) + CSV_FIXED + [f"score_person{p}" for p in range(people)]
                 + [f"visible_person{p}" for p in range(people)])
    for k, seg in enumerate(segments):
        j = seg.to_json() if isinstance(seg, Segment) else seg
        out.writerow(safe_row(([] if videos is None else [videos[k]])
                              + [j["index"], j["start_frame"], j["end_frame"], j["start_s"], j["end_s"],
                                 "" if j["speaker"] is None else j["speaker"], j["decision"], j["reason"],
                                 "" if j["margin"] is None else j["margin"], j["text"]]
                              + ["" if j["scores"].get(str(p)) is None else j["scores"][str(p)] for p in range(people)]
                              + [j["visible"].get(str(p), "") for p in range(people)]))
    return buf.getvalue()


def _overlay_and_caption(video, segments: list[Segment]):
    from jegal.use.annotate import HIGHLIGHT, Caption, Token, draw_box, person_colour

    T = video.num_frames
    seg_at = np.full(T, -1, np.int64)  # frame -> segment (a later segment wins where context overlaps)
    for seg in segments:
        core = (video.words[seg.words[0]].start, video.words[seg.words[-1]].end) if seg.words else (seg.start, seg.end)
        seg_at[core[0]:core[1] + 1] = seg.index

    def overlay(img, t, scale):
        k = seg_at[t]
        speaker = segments[k].speaker if k >= 0 else None
        for p in video.people:
            talking = speaker == p.person
            draw_box(img, p.boxes[t] * scale, person_colour(p.person),
                     f"person {p.person}" + (" speaking" if talking else ""), 5 if talking else 1)

    def caption(t):
        k = seg_at[t]
        if k < 0:
            return Caption(status=f"{frame_to_seconds(t):6.2f} s   no speech")
        seg = segments[k]
        if seg.speaker is None:
            who = f"undecided ({seg.reason})"
        else:
            who = f"person {seg.speaker} speaking" + (" (only person in view)" if seg.decision == "only_person" else "")
        tokens, centre = [], None
        for j, i in enumerate(seg.words):
            w = video.words[i]
            now = w.start <= t <= w.end
            centre = j if now else centre
            tokens.append(Token(w.display, colour=(0, 0, 0) if now else (235, 235, 235),
                                background=HIGHLIGHT if now else None,
                                underline=None if seg.speaker is None else person_colour(seg.speaker)))
        if centre is None and tokens:
            past = [j for j, i in enumerate(seg.words) if video.words[i].end < t]
            centre = past[-1] if past else 0
        return Caption(tuple(tokens), centre, f"{frame_to_seconds(t):6.2f} s   segment {k}: {who}")

    return overlay, caption


def write_outputs(out: Path, video, segments: list[Segment], meta: dict, annotated: bool = True,
                  progress=None) -> dict:
    """``asd.json``, ``asd.csv``, ``asd.eaf`` / ``asd.TextGrid`` (:mod:`jegal.use.exports`) and (``annotated``)
    ``annotated.mp4`` in ``out``; returns the JSON document."""
    from jegal.atomic import write_json_atomic, write_text_atomic
    from jegal.use.annotate import add_annotated_video
    from jegal.use.common import document, person_record

    timings = {}
    outputs = {"json": "asd.json", "csv": "asd.csv"}
    write_text_atomic(out / "asd.csv", segments_csv(segments, len(video.people)))
    if annotated:
        add_annotated_video(out, video, *_overlay_and_caption(video, segments), outputs, timings, progress,
                            model=meta.get("model"))
    counts = {d: sum(s.decision == d for s in segments) for d in ("gestures", "only_person", "undecided")}
    people = [{**person_record(p), "segments_speaking": sum(s.speaker == p.person for s in segments)}
              for p in video.people]
    doc = document(out, video, meta, {"people": people, "decisions": counts,
                                      "segments": [s.to_json() for s in segments], "coverage": video.coverage()},
                   outputs, timings)
    from jegal.use.exports import asd_tiers, write_exports

    doc["outputs"].update(write_exports(out, video, asd_tiers(video, segments), "asd"))
    write_json_atomic(out / "asd.json", doc)
    return doc


# -- the task ---------------------------------------------------------------------------------------
@dataclass
class SpeakersResult:
    """What :func:`find_speakers` did: ``doc`` (``asd.json``, as written), ``out`` (the folder),
    ``video`` (the :class:`jegal.use.video.VideoInput` read) and ``segments``."""

    doc: dict
    out: Path
    video: object
    segments: list[Segment]


def find_speakers(video, model, *, model_dir: str | os.PathLike | None = None,
                  transcript: str | os.PathLike | None = None, out: str | os.PathLike | None = None,
                  modalities: str | None = None, asr: str = "auto", asr_model: str | os.PathLike | None = None,
                  window_frames: int | None = None, overlap_frames: int | None = None, rgb_size: int | None = None,
                  max_pause_frames: int = MAX_PAUSE_FRAMES, max_segment_frames: int | None = None,
                  segment_frames: int = SEGMENT_FRAMES, min_visible: float = MIN_VISIBLE, annotated: bool = True,
                  timings: dict | None = None, progress=None, preparer=None, tier: str | None = None) -> SpeakersResult:
    """``jegal asd``: who is speaking in ``video``, per segment of speech, from gestures alone;
    ``asd.json``, ``asd.csv`` and (``annotated``) ``annotated.mp4`` written to ``out`` (default
    ``./<video name>.asd``).

    ``video``, ``model``, ``model_dir``, the reading arguments, ``modalities``, ``timings``,
    ``progress`` and ``preparer``: as :func:`jegal.use.spot.spot_words` takes them (a video
    without words is read, and cut into fixed windows of ``segment_frames``). Segments: module
    docstring (``max_segment_frames`` None: the window length). Returns a :class:`SpeakersResult`.
    Raises what spot_words raises, :class:`jegal.use.common.BadFlag` for segment settings out of
    range, and :class:`jegal.perception.errors.NoTranscript` for a video without words and a model
    that reads text only."""
    from jegal.model.card import model_record
    from jegal.perception.errors import NoTranscript
    from jegal.use.common import BadFlag, task_input
    from jegal.use.progress import Stages

    if segment_frames < 1 or max_pause_frames < 0 or not 0.0 <= min_visible <= 1.0:
        raise BadFlag("--segment-frames must be >= 1, --max-pause-frames >= 0, --min-visible in [0, 1]")
    reading = 24 if isinstance(video, (str, os.PathLike)) else 0  # shares of the time: the people stage dominates
    stages = Stages(progress, {"read": reading, "model": 1, "outputs": 1, **({"video": 6} if annotated else {})})
    read = dict(transcript=transcript, asr=asr, asr_model=asr_model, window_frames=window_frames,
                overlap_frames=overlap_frames, rgb_size=rgb_size, preparer=preparer, tier=tier)
    model_dir = model_dir if model_dir is not None else getattr(model, "source_dir", None)
    modalities, out, video = task_input(video, model, model_dir, "asd", out, modalities, read, require_words=False,
                                        progress=stages.part("read"))
    if not video.words and "a" not in model.config.content.modalities:
        raise NoTranscript(f"{video.path}: no words (no transcript, nothing recognised), and this model reads text "
                           "only: give a transcript (--transcript FILE)")
    t = time.perf_counter()
    segments, how = make_segments(video, max_pause_frames, max_segment_frames or video.window_frames, segment_frames)
    decide(model, video, segments, modalities, min_visible, stages.part("model"))
    meta = {"model": model_record(model, model_dir), "modalities": modalities if how == "transcript" else "a",
            "segmentation": how, "min_visible": min_visible,
            "timings": {**(timings or {}), "model": time.perf_counter() - t}}
    stages("outputs", 0.0, "writing asd.json, asd.csv")
    doc = write_outputs(out, video, segments, meta, annotated=annotated, progress=stages.part("video"))
    stages.done(f"wrote {out}")
    return SpeakersResult(doc, out, video, segments)


# -- command ----------------------------------------------------------------------------------------
def configure(parser: argparse.ArgumentParser) -> None:
    from jegal.use.common import add_model_arguments, add_video_arguments

    add_video_arguments(parser)
    add_model_arguments(parser)
    parser.add_argument("--max-pause-frames", type=int, default=MAX_PAUSE_FRAMES,
                        help="a longer pause between words (frames at 25 fps) ends a segment "
                             f"(default {MAX_PAUSE_FRAMES})")
    parser.add_argument("--max-segment-frames", type=int, default=None,
                        help="longest segment in frames (default: --window-frames)")
    parser.add_argument("--segment-frames", type=int, default=SEGMENT_FRAMES,
                        help=f"without words: the length of the fixed windows of speech (default {SEGMENT_FRAMES})")
    parser.add_argument("--min-visible", type=float, default=MIN_VISIBLE,
                        help="share of a segment's frames a person must be in view to be a candidate "
                             f"(default {MIN_VISIBLE})")


def run(args: argparse.Namespace) -> int:
    from jegal.use.common import expected_errors, load_for_command, report_error
    from jegal.use.progress import ProgressBar

    if Path(args.video).is_dir():  # a corpus: every video in one process (jegal.use.folder)
        from jegal.use.folder import run_folder

        return run_folder("asd", args, lambda path, out, preparer, progress, model, model_dir: find_speakers(
            path, model, model_dir=model_dir, out=out, tier=args.tier, modalities=args.modalities,
            window_frames=args.window_frames,
            overlap_frames=args.overlap_frames, rgb_size=args.rgb_size, max_pause_frames=args.max_pause_frames,
            max_segment_frames=args.max_segment_frames, segment_frames=args.segment_frames,
            min_visible=args.min_visible, annotated=not args.no_video, progress=progress, preparer=preparer))
    try:
        model, model_dir, timings = load_for_command(args)
        with ProgressBar("asd", disable=args.quiet) as bar:
            got = find_speakers(args.video, model, model_dir=model_dir, transcript=args.transcript, tier=args.tier,
                                out=args.out,
                                modalities=args.modalities, asr=args.asr, asr_model=args.asr_model,
                                window_frames=args.window_frames, overlap_frames=args.overlap_frames,
                                rgb_size=args.rgb_size, max_pause_frames=args.max_pause_frames,
                                max_segment_frames=args.max_segment_frames, segment_frames=args.segment_frames,
                                min_visible=args.min_visible, annotated=not args.no_video, timings=timings,
                                progress=bar)
        if args.keypoints_csv:
            from jegal.use.keypoints_table import FILE_NAME, write_keypoints_csv

            write_keypoints_csv(got.out / FILE_NAME, got.video)
    except expected_errors() as err:
        return report_error("asd", err)
    from jegal.perception.coverage import person_line, unscored_line

    print(f"model: {got.doc['model']['statement']}")
    doc, segments = got.doc, got.segments
    for p, seen in zip(doc["people"], doc["coverage"]["people"]):
        print(f"person {p['person']} ({p['start_s']:.1f}-{p['end_s']:.1f} s, {person_line(seen)}): speaker of "
              f"{p['segments_speaking']} of {len(segments)} segments")
    c = doc["decisions"]
    print(f"{len(segments)} segments ({doc['segmentation']}): {c['gestures']} decided by gestures, "
          f"{c['only_person']} with one person in view, {c['undecided']} undecided")
    print(unscored_line(doc["coverage"]))
    print(f"wrote {got.out}")
    return 0
