"""Transcript readers and writers.

Every reader returns ``list[Word]`` in 25 fps frames relative to the clip start and
raises :class:`TranscriptError` naming the file and the problem. Words whose text is
empty after normalisation (pure punctuation) are dropped.

Text files are read in whatever encoding Praat and common editors write (:func:`read_text`:
UTF-8 with or without a byte-order mark, UTF-16/32 little or big endian with a byte-order
mark, UTF-16 without one, else Windows-1252 / Latin-1); a file of binary data is refused.

Formats:
- reference ``txt`` (``Text:``/``Lang:`` header, blank line, ``WORD, START, END, SCORE``,
  then ``word, start_s, end_s, score`` rows; words may carry punctuation such as ``hat,``);
- the AVS benchmark column ``word_boundaries`` (a Python literal list of
  ``[word, start_frame, end_frame]``, parsed with ``ast.literal_eval``).
"""

from __future__ import annotations

import ast
import codecs
import math
import os
import re
from pathlib import Path

from jegal.data.words import Word, normalise_word
from jegal.timebase import frame_to_seconds, seconds_to_frame


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


# Byte-order marks, longest first (the UTF-32 LE mark starts with the UTF-16 LE one).
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"), (codecs.BOM_UTF8, "utf-8"),
         (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
# Control characters that never occur in a text file (tab, newlines and form feed do).
_BINARY = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def decode_text(data: bytes, source: str = "transcript") -> tuple[str, str]:
    """``(text, encoding)`` of a text file's bytes, in the encodings Praat and editors write.

    A byte-order mark decides (UTF-8, UTF-16 LE/BE, UTF-32 LE/BE; Praat writes UTF-16 BE
    with a mark for any file that is not ASCII, Windows Notepad "Unicode" is UTF-16 LE);
    without one, UTF-16 is recognised by its zero bytes, then UTF-8 is tried, then
    Windows-1252 and finally Latin-1 (which decodes anything). The mark is not part of the
    text. Raises :class:`TranscriptError` for binary data (a video or archive with a text
    suffix) or a file that is not valid in the encoding its mark names."""
    bom, encoding = next(((bom, enc) for bom, enc in _BOMS if data.startswith(bom)), (b"", None))
    data = data[len(bom):]
    if encoding is None and b"\x00" in data[:4096]:
        head = data[:4096]
        even, odd = head[0::2].count(0), head[1::2].count(0)
        # ASCII text in UTF-16: every other byte is zero (the high byte of each code unit).
        if max(even, odd) > 0.3 * (len(head) / 2) and min(even, odd) < 0.05 * (len(head) / 2) and len(data) % 2 == 0:
            encoding = "utf-16-be" if even > odd else "utf-16-le"
    candidates = [encoding] if encoding else ["utf-8", "cp1252", "latin-1"]
    for enc in candidates:
        try:
            text = data.decode(enc)
        except UnicodeDecodeError as err:
            if encoding:
                unit = 4 if "32" in encoding else 2 if "16" in encoding else 1
                if len(data) % unit:
                    raise TranscriptError(f"{source}: {encoding} text that ends in the middle of a character "
                                          "(a truncated file?)") from None
                raise TranscriptError(f"{source}: not valid {encoding} text although it starts with a "
                                      f"{encoding} byte-order mark ({err})") from None
            continue
        bad = len(_BINARY.findall(text[:65536]))
        if "\x00" in text or bad > max(2, 0.01 * min(len(text), 65536)):
            raise TranscriptError(f"{source}: binary data, not a text transcript (a media or archive file "
                                  "with a transcript's suffix?)")
        return text, enc
    raise AssertionError("latin-1 decodes any bytes")  # pragma: no cover


def read_text(path: str | os.PathLike) -> str:
    """The text of a transcript file in any encoding :func:`decode_text` knows; raises
    :class:`TranscriptError` naming the file when it cannot be read."""
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise TranscriptError(f"{path}: cannot read transcript ({err})") from None
    return decode_text(data, str(path))[0]


def words_from_seconds(rows, source: str) -> list[Word]:
    """``(display, start_s, end_s)`` rows to words in 25 fps frames; an empty result is an error.

    Shared by every timed transcript format (txt, WhisperX, TextGrid)."""
    words = []
    for display, start, end in rows:
        if not normalise_word(display):
            continue
        if not (math.isfinite(start) and math.isfinite(end)):
            raise TranscriptError(f"{source}: word {display!r} has no usable time ({start} - {end} s)")
        if end < start:
            raise TranscriptError(f"{source}: word {display!r} ends ({end:.3f} s) before it starts ({start:.3f} s)")
        s_frame = seconds_to_frame(start)
        words.append(Word.from_display(display, s_frame, max(s_frame, seconds_to_frame(end))))
    if not words:
        raise EmptyTranscriptError(f"{source}: transcript has no words")
    return words


def read_txt(path: str | os.PathLike) -> list[Word]:
    """Read the reference txt format (see module docstring) from a file in any encoding
    :func:`decode_text` knows; raises :class:`TranscriptError` naming the file."""
    return parse_txt(read_text(path), str(path))


def parse_txt(text: str, path: str) -> list[Word]:
    """The words of the reference txt format in ``text`` (already decoded); ``path`` names the
    source in errors. Raises :class:`TranscriptError` (:class:`EmptyTranscriptError` without words)."""
    lines = text.splitlines()
    try:
        header = next(i for i, line in enumerate(lines)
                      if re.sub(r"\s", "", line).upper().startswith("WORD,START,END"))
    except StopIteration:
        raise TranscriptError(f"{path}: no 'WORD, START, END, SCORE' header line; not a reference txt transcript") from None
    # The SCORE column is optional (some tools write only WORD, START, END).
    columns = 4 if "SCORE" in lines[header].upper() else 3
    rows = []
    for lineno, line in enumerate(lines[header + 1 :], start=header + 2):
        if not line.strip():
            continue
        # The word itself may end in a comma ("hat,"), so split the numbers off the right.
        parts = line.rsplit(",", columns - 1)
        if len(parts) != columns:
            expected = "word, start, end, score" if columns == 4 else "word, start, end"
            raise TranscriptError(f"{path}:{lineno}: expected '{expected}', got {line!r}")
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
        times_s = [(frame_to_seconds(w.start), frame_to_seconds(w.end)) for w in words]
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
