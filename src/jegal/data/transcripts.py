"""Transcript readers and writers.

Every reader returns ``list[Word]`` in 25 fps frames relative to the clip start and
raises :class:`TranscriptError` naming the file and the problem. Words whose text is
empty after normalisation (pure punctuation) are dropped.

Formats:
- reference ``txt`` (``Text:``/``Lang:`` header, blank line, ``WORD, START, END, SCORE``,
  then ``word, start_s, end_s, score`` rows; words may carry punctuation such as ``hat,``);
- the AVS benchmark column ``word_boundaries`` (a Python literal list of
  ``[word, start_frame, end_frame]``, parsed with ``ast.literal_eval``).
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

from jegal.data.words import Word, normalise_word
from jegal.timebase import seconds_to_frame


class TranscriptError(ValueError):
    """A transcript that cannot be used; the message names the file and the problem."""


class EmptyTranscriptError(TranscriptError):
    """A transcript that reads correctly but holds no words (so callers need not parse messages)."""


def _words_from_rows(rows, source: str) -> list[Word]:
    words = []
    for display, start, end in rows:
        if not normalise_word(display):
            continue
        if end < start:
            raise TranscriptError(f"{source}: word {display!r} ends (frame {end}) before it starts (frame {start})")
        words.append(Word.from_display(display, start, end))
    return words


def words_from_seconds(rows, source: str) -> list[Word]:
    """``(display, start_s, end_s)`` rows to words in 25 fps frames; an empty result is an error.

    Shared by every timed transcript format (txt, WhisperX, TextGrid)."""
    words = []
    for display, start, end in rows:
        if not normalise_word(display):
            continue
        if end < start:
            raise TranscriptError(f"{source}: word {display!r} ends ({end:.3f} s) before it starts ({start:.3f} s)")
        s_frame = seconds_to_frame(start)
        words.append(Word.from_display(display, s_frame, max(s_frame, seconds_to_frame(end))))
    if not words:
        raise EmptyTranscriptError(f"{source}: transcript has no words")
    return words


def read_txt(path: str | os.PathLike) -> list[Word]:
    """Read the reference txt format (see module docstring)."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise TranscriptError(f"{path}: cannot read transcript ({err})") from err
    try:
        header = next(i for i, line in enumerate(lines) if line.replace(" ", "").upper().startswith("WORD,START,END"))
    except StopIteration:
        raise TranscriptError(f"{path}: no 'WORD, START, END, SCORE' header line; not a reference txt transcript") from None
    rows = []
    for lineno, line in enumerate(lines[header + 1 :], start=header + 2):
        if not line.strip():
            continue
        # The word itself may end in a comma ("hat,"), so split the numbers off the right.
        parts = line.rsplit(",", 3)
        if len(parts) != 4:
            raise TranscriptError(f"{path}:{lineno}: expected 'word, start, end, score', got {line!r}")
        try:
            start_s, end_s = float(parts[1]), float(parts[2])
        except ValueError:
            raise TranscriptError(f"{path}:{lineno}: start/end are not numbers in {line!r}") from None
        rows.append((parts[0].strip(), start_s, end_s))
    return words_from_seconds(rows, str(path))


def format_txt(words: list[Word], times_s: list[tuple[float, float]] | None = None, lang: str = "en") -> str:
    """The reference txt format. ``times_s`` gives exact seconds per word; without it
    the frame boundaries are written as seconds (start of the start frame, start of the
    end frame), which read back to the same frames."""
    if times_s is None:
        times_s = [(w.start / 25, w.end / 25) for w in words]
    lines = ["Text: " + " ".join(w.display for w in words), f"Lang: {lang}", "", "WORD, START, END, SCORE"]
    lines += [f"{w.display}, {s:.3f}, {e:.3f}, 1.000" for w, (s, e) in zip(words, times_s)]
    return "\n".join(lines) + "\n"


def parse_word_boundaries(value: str, source: str = "word_boundaries") -> list[Word]:
    """Parse the AVS CSV column ``word_boundaries`` (or one ``target_word_boundary``)."""
    try:
        data = ast.literal_eval(value)
    except (ValueError, SyntaxError) as err:
        raise TranscriptError(f"{source}: not a Python literal list of [word, start, end] ({err})") from None
    if data and not isinstance(data[0], (list, tuple)):
        data = [data]
    try:
        rows = [(str(w), int(s), int(e)) for w, s, e in data]
    except (TypeError, ValueError):
        raise TranscriptError(f"{source}: entries must be [word, start_frame, end_frame], got {value[:80]!r}") from None
    return _words_from_rows(rows, source)


def format_word_boundaries(words: list[Word]) -> str:
    return repr([[w.display, w.start, w.end] for w in words])
