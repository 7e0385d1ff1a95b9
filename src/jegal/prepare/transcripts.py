"""Step 5: the transcript of a video, from whichever file sits beside it.

Readers for the formats users bring, each returning ``list[Word]`` (25 fps frames from the
media start) or raising :class:`~jegal.data.transcripts.TranscriptError` naming the file:

- reference ``.txt`` (``WORD, START, END, SCORE`` rows): :func:`jegal.data.transcripts.read_txt`;
- WhisperX ``.json`` (``segments[].words[]`` with ``word``/``start``/``end``; words the
  aligner could not time, such as numbers, lack ``start``/``end`` and get times
  interpolated between their timed neighbours, by character count);
- Praat ``.TextGrid`` (long or short text format; the tier named ``words``, else the first
  interval tier; empty, ``sil``, ``sp`` and ``<eps>`` intervals are pauses);
- a plain ``.txt`` without the header: words only, to be force-aligned to the audio
  (:mod:`jegal.prepare.align`).

:func:`fit_to_media` drops words outside the media (with a warning) and rejects a
transcript that runs far past the end of the media, which almost always means the
transcript belongs to another file. :func:`read_words` is the pipeline's transcript stage:
read or align, check against the audio, and raise the failure types of
:mod:`jegal.prepare.errors` (``EmptyTranscript``, ``BadTranscript``, ``TranscriptTooLong``,
``Unalignable``).
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jegal.data.transcripts import EmptyTranscriptError, TranscriptError, read_txt, words_from_seconds
from jegal.data.words import Word, normalise_word
from jegal.prepare.errors import BadTranscript, EmptyTranscript, TranscriptTooLong
from jegal.timebase import FPS, SAMPLES_PER_FRAME

PAUSES = {"", "sil", "sp", "spn", "<eps>", "<sil>", "<s>", "</s>", "{sl}", "{ns}"}
TRANSCRIPT_SUFFIXES = (".txt", ".json", ".TextGrid", ".textgrid")


@dataclass
class Transcript:
    """Words with times (``words``), or words to be aligned (``plain``)."""

    path: Path
    words: list[Word] | None = None
    plain: list[str] | None = None  # display forms, in order, when the file has no times


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise TranscriptError(f"{path}: cannot read transcript ({err})") from None


def read_whisperx(path: str | os.PathLike) -> list[Word]:
    """WhisperX JSON (see module docstring)."""
    path = Path(path)
    try:
        data = json.loads(_read_text(path))
    except json.JSONDecodeError as err:
        raise TranscriptError(f"{path}: not valid JSON ({err})") from None
    segments = data.get("segments") if isinstance(data, dict) else data
    if not isinstance(segments, list):
        raise TranscriptError(f"{path}: no 'segments' list; not a WhisperX transcript")
    rows: list[tuple[str, float, float]] = []
    for k, seg in enumerate(segments):
        if not isinstance(seg, dict):
            raise TranscriptError(f"{path}: segment {k} is not an object")
        items = seg.get("words")
        if items is None:
            raise TranscriptError(f"{path}: segment {k} has no 'words' (run WhisperX with alignment)")
        rows += _interpolate_untimed(items, seg.get("start"), seg.get("end"), path)
    return words_from_seconds(rows, str(path))


def _interpolate_untimed(items: list, seg_start, seg_end, path: Path) -> list[tuple[str, float, float]]:
    """Times for words lacking them, shared out by character count between the timed
    words (or segment edges) around them."""
    texts, starts, ends = [], [], []
    for it in items:
        text = str(it.get("word", it.get("text", ""))).strip()
        try:
            s = float(it["start"]) if it.get("start") is not None else None
            e = float(it["end"]) if it.get("end") is not None else None
        except (TypeError, ValueError):
            raise TranscriptError(f"{path}: word {text!r} has non-numeric times") from None
        texts.append(text)
        starts.append(s)
        ends.append(e if s is not None else None)
    rows = []
    i, n = 0, len(texts)
    while i < n:
        if starts[i] is not None:
            rows.append((texts[i], starts[i], ends[i] if ends[i] is not None else starts[i]))
            i += 1
            continue
        j = i
        while j < n and starts[j] is None:
            j += 1
        lo = rows[-1][2] if rows else seg_start
        hi = starts[j] if j < n else seg_end
        if lo is None or hi is None or hi < lo:
            raise TranscriptError(f"{path}: words {texts[i:j]} have no times and no timed neighbours to place them")
        lengths = [max(1, len(t)) for t in texts[i:j]]
        total, acc = float(sum(lengths)), float(lo)
        for t, length in zip(texts[i:j], lengths):
            step = (hi - lo) * length / total
            rows.append((t, acc, acc + step))
            acc += step
        i = j
    return rows


_TG_TOKEN = re.compile(r'"((?:[^"]|"")*)"|\[\s*\d*\s*\]|(-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)(?![\w\]])|\S')


def read_textgrid(path: str | os.PathLike, tier: str | None = None) -> list[Word]:
    """Praat TextGrid (long or short text format; see module docstring)."""
    path = Path(path)
    text = _read_text(path)
    if "ooTextFile" not in text[:200]:
        raise TranscriptError(f"{path}: not a Praat TextGrid (no 'ooTextFile' header)")
    tokens: list = []
    for m in _TG_TOKEN.finditer(text):
        if m.group(1) is not None:
            tokens.append(m.group(1).replace('""', '"'))
        elif m.group(2) is not None:
            tokens.append(float(m.group(2)))
    try:
        tiers = _parse_tiers(tokens)
    except (IndexError, TypeError, ValueError) as err:
        raise TranscriptError(f"{path}: malformed TextGrid ({err})") from None
    intervals = [(name, items) for cls, name, items in tiers if cls == "IntervalTier"]
    if not intervals:
        raise TranscriptError(f"{path}: TextGrid has no interval tier")
    want = (tier or "words").lower()
    chosen = next((items for name, items in intervals if name.lower() == want), None)
    if chosen is None:
        if tier is not None:
            raise TranscriptError(f"{path}: no tier named {tier!r} (tiers: {[n for n, _ in intervals]})")
        chosen = intervals[0][1]
    rows = [(t.strip(), s, e) for s, e, t in chosen if t.strip().lower() not in PAUSES]
    return words_from_seconds(rows, str(path))


def _parse_tiers(tokens: list) -> list[tuple[str, str, list]]:
    # Header: "ooTextFile", "TextGrid", xmin, xmax, size; then per tier: class, name, xmin, xmax, n, items.
    pos = tokens.index("TextGrid") + 1
    nums = []
    while len(nums) < 3:
        if isinstance(tokens[pos], float):
            nums.append(tokens[pos])
        pos += 1
    tiers = []
    for _ in range(int(nums[2])):
        cls, name = tokens[pos], tokens[pos + 1]
        n = int(tokens[pos + 4])
        pos += 5
        items = []
        for _ in range(n):
            if cls == "IntervalTier":
                items.append((float(tokens[pos]), float(tokens[pos + 1]), str(tokens[pos + 2])))
                pos += 3
            else:
                items.append((float(tokens[pos]), float(tokens[pos]), str(tokens[pos + 1])))
                pos += 2
        tiers.append((str(cls), str(name), items))
    return tiers


def read_plain(path: str | os.PathLike) -> list[str]:
    """Words of a plain-text transcript (whitespace-separated; punctuation kept for display)."""
    path = Path(path)
    words = [w for w in _read_text(path).split() if normalise_word(w)]
    if not words:
        raise EmptyTranscriptError(f"{path}: transcript has no words")
    return words


def find_transcript(video: str | os.PathLike) -> Path | None:
    """The transcript beside ``video`` (``<stem>.txt``, ``.json``, ``.TextGrid``), if any."""
    video = Path(video)
    for suffix in TRANSCRIPT_SUFFIXES:
        cand = video.with_suffix(suffix)
        if cand.is_file():
            return cand
    return None


def read_transcript(path: str | os.PathLike) -> Transcript:
    """Read any supported transcript; plain text comes back as :attr:`Transcript.plain`."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".json":
        return Transcript(path, words=read_whisperx(path))
    if suffix == ".textgrid":
        return Transcript(path, words=read_textgrid(path))
    text = _read_text(path)
    if not text.strip():
        raise EmptyTranscriptError(f"{path}: transcript is empty")
    if re.search(r"^\s*WORD\s*,\s*START\s*,\s*END", text, re.MULTILINE | re.IGNORECASE):
        return Transcript(path, words=read_txt(path))
    if text.lstrip().startswith("Text:"):
        raise TranscriptError(f"{path}: has a 'Text:' header but no 'WORD, START, END, SCORE' table")
    return Transcript(path, plain=read_plain(path))


def fit_to_media(words: list[Word], num_frames: int, source: str, max_overhang_s: float = 1.0) -> tuple[list[Word], list[str]]:
    """Words that lie inside ``num_frames`` frames of media, and warnings for those dropped.

    Raises :class:`~jegal.prepare.errors.TranscriptTooLong` (a ``TranscriptError``) when the
    transcript ends more than ``max_overhang_s`` seconds after the media (a transcript longer
    than its media is the wrong transcript) or when no word lies inside the media."""
    if not words:
        raise EmptyTranscript(f"{source}: transcript has no words")
    last = max(w.end for w in words)
    if last - (num_frames - 1) > max_overhang_s * FPS:
        raise TranscriptTooLong(f"{source}: transcript runs to {last / FPS:.2f} s but the media lasts "
                                f"{num_frames / FPS:.2f} s; is it the transcript of another file?")
    kept = [w for w in words if w.start >= 0 and w.end < num_frames]
    warnings = []
    if len(kept) < len(words):
        dropped = [w.display for w in words if not (w.start >= 0 and w.end < num_frames)]
        warnings.append(f"{source}: dropped {len(dropped)} word(s) outside the media's {num_frames / FPS:.2f} s: {dropped}")
    if not kept:
        raise TranscriptTooLong(f"{source}: no word lies inside the media")
    return kept, warnings


def read_words(path: str | os.PathLike, audio: np.ndarray, max_overhang_s: float = 1.0) -> list[Word]:
    """The words of the transcript at ``path`` (25 fps frames from the media start): read, or
    force-aligned to ``audio`` (16 kHz mono) when the file is plain text.

    A timed transcript running more than ``max_overhang_s`` past the audio fails here, before
    any video is decoded. Raises :class:`~jegal.prepare.errors.EmptyTranscript`,
    ``BadTranscript``, ``TranscriptTooLong`` or ``Unalignable``, all naming ``path``."""
    from jegal.prepare.align import align_words

    try:
        transcript = read_transcript(path)
    except EmptyTranscriptError as err:
        raise EmptyTranscript(str(err)) from None
    except TranscriptError as err:
        raise BadTranscript(str(err)) from None
    if transcript.words is None:
        return align_words(audio, transcript.plain, str(path))
    fit_to_media(transcript.words, math.ceil(len(audio) / SAMPLES_PER_FRAME), str(path), max_overhang_s)
    return transcript.words
