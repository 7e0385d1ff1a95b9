"""The results of ``jegal spot`` and ``jegal asd`` as files the tools of gesture research open:
an ELAN ``.eaf`` (written with ``pympi-ling``) and a Praat ``.TextGrid`` (written with ``praatio``),
on the video's time line (seconds from the media start; 25 fps frames ``start..end`` inclusive
are ``start / 25`` to ``(end + 1) / 25`` s, as ``spot.json`` gives them).

Tiers, per person ``N`` (the person numbers of ``spot.json`` / ``asd.json``):

- ``person N words``: the words person N speaks (``jegal spot``: the speaker :mod:`jegal.use.asd`
  names for each word, every word when one person is in the video; ``jegal asd``: the words of
  the segments decided for N); words whose speaker is undecided go to ``words, speaker undecided``;
- ``person N gestured`` (``jegal spot`` only): the words person N gestured, each annotation
  ``word (score 0.83, best frame 123, 4.92 s)``: the gesture score, and the frame (25 fps, from
  the media start) and time where the word's gesture is seen best;
- ``person N speaking``: the speaking turns (``jegal spot``: consecutive words of N with pauses
  under :data:`TURN_PAUSE_S`; ``jegal asd``: the segments decided for N, from the first word's
  start to the last word's end), each annotation the words said.

The ``.eaf`` links the video by a media descriptor (its absolute ``file://`` URL and its path
relative to the output folder), so ELAN opens both together; each of our tiers has the person as
its participant. When the transcript given was an ``.eaf``, that file is the base: every tier,
vocabulary and media link of it is kept and ours are added (a name it already uses gets
`` (jegal)`` appended). The ``.TextGrid`` has the same tiers as interval tiers (long text format,
empty intervals between annotations), from 0 to the media's end.

Within a tier annotations never overlap (ELAN's alignable tiers and Praat's interval tiers need
that): where one starts before the previous one ends, the previous one is cut to end there, so
every onset stays as ``spot.json`` gives it (neighbouring words share a frame whenever a word
ends in the frame where the next starts: 25 fps frames are inclusive); an annotation that starts
with the previous one starts where that one ends instead, and one left without duration is dropped.
"""

from __future__ import annotations

import mimetypes
import os
from dataclasses import dataclass, field
from pathlib import Path

from jegal.timebase import FPS

TURN_PAUSE_S = 1.0  # a longer pause between a person's words ends a speaking turn (jegal spot)
UNDECIDED = "words, speaker undecided"


@dataclass
class Tier:
    """One tier of an export: ``name``, ``intervals`` as ``(start_s, end_s, value)`` in time order,
    ``person`` (the participant; None for a tier of no one person)."""

    name: str
    intervals: list[tuple[float, float, str]] = field(default_factory=list)
    person: int | None = None


def _span(start_frame: int, end_frame: int) -> tuple[float, float]:
    return start_frame / FPS, (end_frame + 1) / FPS


def _turns(words: list[tuple[float, float, str]], pause_s: float = TURN_PAUSE_S) -> list[tuple[float, float, str]]:
    """Consecutive ``(start_s, end_s, word)`` joined into turns where the pause between them is at most ``pause_s``."""
    turns: list[list] = []
    for s, e, w in sorted(words):
        if turns and s - turns[-1][1] <= pause_s:
            turns[-1][1] = max(turns[-1][1], e)
            turns[-1][2].append(w)
        else:
            turns.append([s, e, [w]])
    return [(s, e, " ".join(ws)) for s, e, ws in turns]


def spot_tiers(people: list[dict], words: list[dict]) -> list[Tier]:
    """The tiers of ``jegal spot``'s results: ``people`` as ``spot.json`` holds them
    (:func:`jegal.use.spot.person_spots`) and ``words`` its word records
    (:func:`jegal.use.spot.word_records`, with ``speaker`` when words were attributed)."""
    tiers: list[Tier] = []
    numbers = [p["person"] for p in people]
    for p in people:
        n = p["person"]
        own = [w for w in p["words"] if w["speaker"] == n]
        spoken = [(*_span(w["start_frame"], w["end_frame"]), w["word"]) for w in own]
        gestured = [(*_span(w["start_frame"], w["end_frame"]),
                     f"{w['word']} (score {w['gesture_score']:.2f}, best frame {w['best_frame']}, {w['best_s']:.2f} s)")
                    for w in p["gestured"]]
        tiers += [Tier(f"person {n} words", spoken, n), Tier(f"person {n} gestured", gestured, n),
                  Tier(f"person {n} speaking", _turns(spoken), n)]
    speaker_of = {w["index"]: w.get("speaker") for w in words}
    if len(people) == 1:  # every word is the one person's (spot.json names them the speaker)
        speaker_of = {i: numbers[0] for i in speaker_of}
    undecided = [(*_span(w["start_frame"], w["end_frame"]), w["word"]) for w in words
                 if speaker_of.get(w["index"]) not in numbers]
    if undecided or not people:
        tiers.append(Tier(UNDECIDED, undecided))
    return tiers


def asd_tiers(video, segments) -> list[Tier]:
    """The tiers of ``jegal asd``'s results: ``segments`` (:class:`jegal.use.asd.Segment`) over
    ``video``'s words and people (:class:`jegal.use.video.VideoInput`). A segment's span is its
    words' (first start to last end), or its own frames when it has no words."""
    by_person: dict[int | None, tuple[list, list]] = {p.person: ([], []) for p in video.people}
    undecided: list[tuple[float, float, str]] = []
    for seg in segments:
        said = [(*_span(video.words[i].start, video.words[i].end), video.words[i].display) for i in seg.words]
        span = (said[0][0], said[-1][1]) if said else _span(seg.start, seg.end)
        if seg.speaker is None or seg.speaker not in by_person:
            undecided += said
            continue
        words, turns = by_person[seg.speaker]
        words += said
        turns.append((*span, seg.text or "(speech)"))
    tiers = []
    for n, (words, turns) in by_person.items():
        tiers += [Tier(f"person {n} words", words, n), Tier(f"person {n} speaking", turns, n)]
    if undecided or not video.people:
        tiers.append(Tier(UNDECIDED, undecided))
    return tiers


def _clean(intervals: list[tuple[float, float, str]], end_s: float) -> list[tuple[float, float, str]]:
    """``intervals`` in time order, inside ``0..end_s``, none overlapping the one before (module docstring)."""
    out: list[tuple[float, float, str]] = []
    for s, e, v in sorted(((round(s, 3), round(e, 3), v) for s, e, v in intervals), key=lambda r: (r[0], r[1])):
        s, e = max(s, 0.0), min(e, round(end_s, 3))
        if out and s < out[-1][1]:
            before_s, _, before_v = out[-1]
            if s - before_s >= 0.001:  # the earlier one ends where this one starts: onsets stay as they are
                out[-1] = (before_s, s, before_v)
            else:  # both start together: this one starts where the earlier one ends
                s = out[-1][1]
        if e - s >= 0.001:
            out.append((s, e, v))
    return out


def _media_descriptor(video_path: Path, out: Path) -> dict:
    video_path = video_path.resolve()
    try:
        rel = Path(os.path.relpath(video_path, out.resolve())).as_posix()
        rel = rel if rel.startswith(".") else "./" + rel  # as ELAN writes it
    except ValueError:  # another drive (Windows)
        rel = None
    return {"file_path": video_path.as_uri(), "relpath": rel,
            "mimetype": mimetypes.guess_type(video_path.name)[0] or "video/*"}


def _eaf(tiers: list[Tier], end_s: float, media: dict | None, base: Path | None):
    """A pympi ``Eaf``: ``base`` (the user's .eaf) or a new one, with ``tiers`` added and ``media`` linked."""
    from pympi.Elan import Eaf

    from jegal.perception.transcripts import open_eaf

    if base is not None:
        eaf = open_eaf(base)
    else:
        eaf = Eaf(author="jegal")
        eaf.remove_tier("default")
    if media is not None:
        linked = {Path(str(m.get("MEDIA_URL", ""))).name for m in eaf.media_descriptors}
        if Path(media["file_path"]).name not in linked:
            eaf.add_linked_file(**media)
    taken = set(eaf.get_tier_names())
    for tier in tiers:
        name = tier.name if tier.name not in taken else f"{tier.name} (jegal)"
        taken.add(name)
        eaf.add_tier(name, part=None if tier.person is None else f"person {tier.person}")
        for s, e, v in _clean(tier.intervals, end_s):
            start_ms, end_ms = int(round(s * 1000)), int(round(e * 1000))
            if end_ms > start_ms:
                eaf.add_annotation(name, start_ms, end_ms, v)
    return eaf


def _textgrid(tiers: list[Tier], end_s: float):
    from praatio import textgrid
    from praatio.utilities.constants import Interval

    tg = textgrid.Textgrid(0.0, end_s)
    for tier in tiers:
        entries = [Interval(s, e, v) for s, e, v in _clean(tier.intervals, end_s)]
        tg.addTier(textgrid.IntervalTier(tier.name, entries, 0.0, end_s))
    return tg


def write_exports(out: Path, video, tiers: list[Tier], stem: str) -> dict[str, str]:
    """``<stem>.eaf`` and ``<stem>.TextGrid`` in ``out`` (module docstring) from ``tiers`` over
    ``video`` (a :class:`jegal.use.video.VideoInput`: its path is linked when it is a video, its
    duration ends the TextGrid, and a given ``.eaf`` transcript is kept as the base). Each file is
    written whole or not at all (:func:`jegal.atomic.atomic_path`). Returns the outputs' names for
    the command's JSON: ``{"eaf": ..., "textgrid": ...}``."""
    from pympi.Elan import to_eaf

    from jegal.atomic import atomic_path

    end_s = max([video.duration] + [e for t in tiers for _, e, _ in t.intervals])
    base = video.transcript_path if video.transcript_path is not None and \
        Path(video.transcript_path).suffix.lower() == ".eaf" else None
    media = _media_descriptor(Path(video.path), Path(out)) if video.is_video else None
    names = {"eaf": f"{stem}.eaf", "textgrid": f"{stem}.TextGrid"}
    with atomic_path(Path(out) / names["eaf"]) as tmp:
        to_eaf(str(tmp), _eaf(tiers, end_s, media, base))
    with atomic_path(Path(out) / names["textgrid"]) as tmp:
        _textgrid(tiers, end_s).save(str(tmp), format="long_textgrid", includeBlankSpaces=True)
    return names


def relink_media(path: Path, root: Path, folder: Path, name: str) -> None:
    """Point the media links of the ``.eaf`` at ``path`` that name a file under ``folder`` (a
    server's job folder, which the user never sees) at ``name`` instead (the user's own file name):
    the absolute URL becomes ``file:///<name>`` and the relative one ``../<name>`` from the folder
    ``root`` that the user unpacks (one ``../`` more per sub-folder of ``path`` under ``root``), so
    ELAN finds the video when it lies beside that folder. Other links (those of the user's own
    ``.eaf``) are kept. Rewritten whole or not at all."""
    from urllib.parse import quote

    from pympi.Elan import to_eaf

    from jegal.atomic import atomic_path
    from jegal.perception.transcripts import open_eaf

    eaf = open_eaf(path)
    prefix = Path(folder).resolve().as_uri()
    depth = len(Path(path).resolve().relative_to(Path(root).resolve()).parts)
    for media in eaf.media_descriptors:
        if str(media.get("MEDIA_URL", "")).startswith(prefix):
            media["MEDIA_URL"] = "file:///" + quote(name)
            media["RELATIVE_MEDIA_URL"] = "../" * depth + quote(name)
    with atomic_path(path) as tmp:
        to_eaf(str(tmp), eaf)


__all__ = ["TURN_PAUSE_S", "Tier", "asd_tiers", "relink_media", "spot_tiers", "write_exports"]
