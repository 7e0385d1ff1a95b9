"""The transcript of a video, from whichever file sits beside it.

Readers for the formats users bring, each returning ``list[Word]`` (25 fps frames from the
media start) or raising :class:`~jegal.data.transcripts.TranscriptError` naming the file:

- reference ``.txt`` (``WORD, START, END, SCORE`` rows): :func:`jegal.data.transcripts.read_txt`;
- WhisperX ``.json`` (``segments[].words[]`` with ``word``/``start``/``end``; words the
  aligner could not time, such as numbers, lack ``start``/``end`` and get times
  interpolated between their timed neighbours, by character count; a segment that lost its
  words, as plain Whisper and faster-whisper write without word timestamps, has its ``text``
  spread over the segment, with a warning; words with no time to place them by are dropped,
  with a warning);
- Praat ``.TextGrid`` (long or short text format; the word tier by name, ``words``,
  ``word``, ``ORT``, ``orthography``, MFA's ``<speaker> - words``, ..., else the first
  interval tier that does not hold phones; a TextGrid whose tiers all hold phones is
  refused (:class:`~jegal.perception.errors.NoWordTier`); pauses such as ``""``, ``sil``,
  ``sp``, ``<eps>``, ``<p:>`` are dropped);
- a plain ``.txt`` without the header: words only, to be force-aligned to the audio
  (:mod:`jegal.perception.align`).

Every file is read in the encodings Praat and editors write (UTF-8 with or without a
byte-order mark, UTF-16, Windows-1252) and typed (JSON, TextGrid, txt) by one function,
:func:`decode_transcript`, which the page also calls on an upload; and
typographic punctuation is folded to one spelling (:func:`jegal.data.words.fold_punctuation`).
Readers that take a ``warnings`` list append to it what they changed or dropped; without
one they emit Python warnings, so nothing is lost silently.

:func:`fit_to_media` drops words outside the media (with a warning) and rejects a
transcript that runs far past the end of the media, which almost always means the
transcript belongs to another file. :func:`read_words` is the pipeline's transcript stage:
read or align, check against the audio, and raise the failure types of
:mod:`jegal.perception.errors` (``EmptyTranscript``, ``BadTranscript``, ``TranscriptTooLong``,
``Unalignable``).
"""

from __future__ import annotations

import json
import math
import os
import re
import warnings as _pywarnings
from dataclasses import dataclass, field
from typing import NamedTuple
from pathlib import Path

import numpy as np

from jegal.data.transcripts import EmptyTranscriptError, TranscriptError, decode_text, parse_txt, words_from_seconds
from jegal.data.words import Word, normalise_word
from jegal.perception.errors import BadTranscript, EmptyTranscript, NoWordTier, PrepareError, TranscriptTooLong
from jegal.timebase import FPS, SAMPLES_PER_FRAME

# Interval labels that mark silence or noise, not a word (compared in lower case): Praat and
# MFA (empty, sil, sp, spn), Kaldi (<eps>, <sil>, <unk> is a word), P2FA/HTK (sp, sil),
# WebMAUS (<p:>, <p>, <nib>, <usb>), HTS (pau), CMU Sphinx ({sl}, {ns}, <s>, </s>).
PAUSES = {"", "sil", "sp", "spn", "<eps>", "<sil>", "<s>", "</s>", "{sl}", "{ns}", "{lg}", "<p:>", "<p>", "<nib>",
          "<usb>", "pau", "#", "silence", "<silence>", "[sil]", "<sp>", "<noise>", "[noise]", "[laughter]", "<spn>"}
TRANSCRIPT_SUFFIXES = (".txt", ".json", ".TextGrid", ".textgrid")


@dataclass
class Transcript:
    """Words with times (``words``), or words to be aligned (``plain``)."""

    path: Path
    words: list[Word] | None = None
    plain: list[str] | None = None  # display forms, in order, when the file has no times
    warnings: list[str] = field(default_factory=list)  # what reading changed or dropped


class TranscriptText(NamedTuple):
    """A transcript's bytes decoded: its ``text``, its format as the suffix the readers go by
    (``.json`` WhisperX, ``.TextGrid`` Praat, ``.txt`` the reference table or plain words) and the
    ``encoding`` it was read in."""

    text: str
    suffix: str
    encoding: str


def decode_transcript(data: bytes, name: str) -> TranscriptText:
    """The text and format of a transcript's bytes: the one set of rules for a file beside a video
    (:func:`read_transcript`) and for a transcript uploaded to the page.

    The encoding is found by :func:`jegal.data.transcripts.decode_text` (a byte-order mark; UTF-16
    without one by its zero bytes; UTF-8; Windows-1252). The format: a ``.json`` or ``.TextGrid``
    name (any case) decides, so a damaged file is reported as what it claims to be; any other name
    (``.txt``, none, a wrong one) is typed by content: text that parses as JSON is ``.json``, text
    with Praat's ``ooTextFile`` header is ``.TextGrid``, anything else ``.txt``. ``name`` is only
    used for the suffix and in messages. Raises :class:`~jegal.data.transcripts.TranscriptError`
    naming ``name`` for binary data (a video or archive, a binary Praat TextGrid) or text invalid
    in the encoding its byte-order mark names."""
    if data.startswith(b"ooBinaryFile"):
        raise TranscriptError(f"{name}: a binary Praat TextGrid; save it from Praat as a text file "
                              "('Save as text file...' or 'Save as short text file...')")
    text, encoding = decode_text(data, name)
    suffix = Path(name).suffix.lower()
    if suffix == ".json" or (suffix != ".textgrid" and _parses_as_json(text)):
        return TranscriptText(text, ".json", encoding)
    if suffix == ".textgrid" or "ooTextFile" in text[:200]:
        return TranscriptText(text, ".TextGrid", encoding)
    return TranscriptText(text, ".txt", encoding)


def _parses_as_json(text: str) -> bool:
    if text.lstrip()[:1] not in ("[", "{"):
        return False
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise TranscriptError(f"{path}: cannot read transcript ({err})") from None


def _read_text(path: Path) -> str:
    return decode_text(_read_bytes(path), str(path))[0]


def _warn(warnings: list[str] | None, message: str) -> None:
    """A reader's note on what it changed or dropped: into ``warnings``, else a Python warning."""
    if warnings is None:
        _pywarnings.warn(message, stacklevel=3)
    else:
        warnings.append(message)


def _seconds(value, what: str, path: Path) -> float | None:
    """A time from JSON: None when absent or not finite (NaN, as some tools write for 'no time')."""
    if value is None:
        return None
    try:
        t = float(value)
    except (TypeError, ValueError):
        raise TranscriptError(f"{path}: {what} has a non-numeric time {value!r}") from None
    return t if math.isfinite(t) else None


def read_whisperx(path: str | os.PathLike, warnings: list[str] | None = None) -> list[Word]:
    """WhisperX (or Whisper / faster-whisper) JSON (see module docstring).

    Accepts ``{"segments": [...]}``, a bare list of segments, or a bare list of words
    (``word_segments``). A segment without ``words`` has its ``text`` spread over the
    segment's ``start``-``end`` in proportion to word length, or, without segment times,
    dropped; either way a line goes to ``warnings``."""
    return _whisperx_words(_read_text(Path(path)), Path(path), warnings)


def _whisperx_words(text: str, path: Path, warnings: list[str] | None) -> list[Word]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise TranscriptError(f"{path}: not valid JSON ({err})") from None
    if isinstance(data, dict):
        segments = data.get("segments")
        if segments is None and isinstance(data.get("word_segments"), list):
            segments = [{"words": data["word_segments"]}]
    else:
        segments = data
    if isinstance(segments, list) and segments and all(isinstance(s, dict) and "word" in s for s in segments):
        segments = [{"words": segments}]  # a bare list of words
    if not isinstance(segments, list):
        raise TranscriptError(f"{path}: no 'segments' list; not a WhisperX transcript")
    rows: list[tuple[str, float, float]] = []
    for k, seg in enumerate(segments):
        if not isinstance(seg, dict):
            raise TranscriptError(f"{path}: segment {k} is not an object")
        start, end = _seconds(seg.get("start"), f"segment {k}", path), _seconds(seg.get("end"), f"segment {k}", path)
        items = seg.get("words")
        if not items:
            rows += _segment_without_words(seg, k, start, end, path, warnings)
            continue
        if not isinstance(items, list) or not all(isinstance(it, dict) for it in items):
            raise TranscriptError(f"{path}: segment {k}: 'words' is not a list of objects")
        rows += _interpolate_untimed(items, start, end, path, warnings, k)
    return words_from_seconds(rows, str(path))


def _segment_without_words(seg: dict, k: int, start: float | None, end: float | None, path: Path,
                           warnings: list[str] | None) -> list[tuple[str, float, float]]:
    """The words of a segment whose word list was lost: its text spread over the segment."""
    texts = [w for w in str(seg.get("text") or "").split() if normalise_word(w)]
    if not texts:
        return []
    if start is None or end is None or end < start:
        _warn(warnings, f"{path}: segment {k} has no word times and no segment times; dropped its "
                        f"{len(texts)} word(s): {texts}")
        return []
    _warn(warnings, f"{path}: segment {k} ({start:.2f}-{end:.2f} s) has no word times; placed its {len(texts)} "
                    "word(s) evenly over the segment (by length)")
    return _spread(texts, start, end)


def _spread(texts: list[str], lo: float, hi: float) -> list[tuple[str, float, float]]:
    """``texts`` placed one after another over ``lo``-``hi``, each in proportion to its length."""
    lengths = [max(1, len(t)) for t in texts]
    total, acc, rows = float(sum(lengths)), float(lo), []
    for t, length in zip(texts, lengths):
        step = (hi - lo) * length / total
        rows.append((t, acc, acc + step))
        acc += step
    return rows


def _interpolate_untimed(items: list, seg_start, seg_end, path: Path, warnings: list[str] | None = None,
                         segment: int = 0) -> list[tuple[str, float, float]]:
    """Times for words lacking them, shared out by character count between the timed
    words (or segment edges) around them; words with nothing to place them by are dropped
    with a warning."""
    texts, starts, ends = [], [], []
    for it in items:
        text = str(it.get("word", it.get("text", ""))).strip()
        s = _seconds(it.get("start"), f"word {text!r}", path)
        e = _seconds(it.get("end"), f"word {text!r}", path)
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
            lost = [t for t in texts[i:j] if normalise_word(t)]
            if lost:
                _warn(warnings, f"{path}: segment {segment}: dropped {len(lost)} word(s) with no times and no "
                                f"timed neighbour or segment time to place them by: {lost}")
            i = j
            continue
        rows += _spread(texts[i:j], lo, hi)
        i = j
    return rows


_TG_TOKEN = re.compile(r'"((?:[^"]|"")*)"|\[\s*\d*\s*\]|(-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)(?![\w\]])|\S')


# Tier names that hold words (compared in lower case, also as one part of a name such as MFA's
# "speaker1 - words" or WebMAUS's "ORT-MAU") and names that hold phones or other sub-word units.
WORD_TIER_NAMES = {"words", "word", "wrd", "wrds", "ort", "orthography", "orthographic", "transcription",
                   "transcript", "text", "tokens", "token", "lexical", "utterance-words", "mots", "mot", "wort",
                   "woerter", "palabras", "parole"}
PHONE_TIER_NAMES = {"phones", "phone", "phoneme", "phonemes", "phon", "phn", "ph", "segments", "segment", "mau",
                    "kan", "sap", "mas", "syllables", "syllable", "syl", "sampa", "ipa", "arpabet", "phonetic",
                    "phonetics", "allophones", "sounds"}
# CMU/ARPAbet phones (P2FA, MFA with the english_us_arpa model, Gentle, the CMU dictionary).
ARPABET = {"AA", "AE", "AH", "AO", "AW", "AX", "AXR", "AY", "B", "CH", "D", "DH", "DX", "EH", "EL", "EM", "EN", "ER",
           "EY", "F", "G", "HH", "IH", "IX", "IY", "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T",
           "TH", "UH", "UW", "V", "W", "Y", "Z", "ZH"}
# Characters only phone transcriptions use (IPA, as MFA's IPA models write; SAMPA's '@' '{').
_PHONE_CHARS = set("əɪʊʃʒθðŋɑɔɛæʌɹɾʔːˈˌɐɚɝɜɡɫʲʷᵻɒɲʎʁχçɨʉøœɯɤ@{")


def _name_parts(name: str) -> set[str]:
    name = name.strip().lower()
    return {name} | {p for p in re.split(r"[\s\-_:/().,;|]+", name) if p}


def _word_named(name: str) -> bool:
    """Named like a word tier ("words", "speaker1 - words", WebMAUS "ORT-MAU", whose "-MAU"
    only says which tool wrote it) and not like a phone tier ("word phones")."""
    parts = _name_parts(name)
    return bool(parts & WORD_TIER_NAMES) and not parts & (PHONE_TIER_NAMES - {"mau"})


def _phone_named(name: str) -> bool:
    return bool(_name_parts(name) & PHONE_TIER_NAMES) and not _word_named(name)


def _labels(items: list) -> list[str]:
    return [t.strip() for _, _, t in items if t.strip().lower() not in PAUSES]


def phone_like(labels: list[str]) -> bool:
    """Whether interval labels are phones rather than words: most are ARPAbet symbols (with or
    without a stress digit, any case), or IPA/SAMPA phone symbols, or (for a longer tier)
    almost all are one or two letters long. Pauses must already be removed."""
    if not labels:
        return False
    n = len(labels)
    arpa = sum(re.sub(r"[012]$", "", t.upper()) in ARPABET for t in labels) / n
    ipa = sum(any(c in _PHONE_CHARS for c in t) for t in labels) / n
    short = sum(len(re.sub(r"[012:ːˈˌ]", "", t)) <= 2 for t in labels) / n
    return n >= 3 and (arpa >= 0.75 or (short >= 0.9 and (n >= 8 or ipa >= 0.2 or arpa >= 0.5)))


def _choose_word_tiers(intervals: list[tuple[str, list]], path: Path, tier: str | None,
                       warnings: list[str] | None) -> list[tuple[str, list]]:
    """The tier(s) holding the words; see :func:`read_textgrid`."""
    names = [n for n, _ in intervals]
    if tier is not None:
        chosen = [(n, items) for n, items in intervals if n.strip().lower() == tier.strip().lower()]
        if not chosen:
            raise TranscriptError(f"{path}: no tier named {tier!r} (tiers: {names})")
        return chosen[:1]
    phones = {n for n, items in intervals if phone_like(_labels(items))}
    named = [(n, items) for n, items in intervals if _word_named(n) and n not in phones]
    if named:
        if len(named) > 1:
            _warn(warnings, f"{path}: {len(named)} word tiers {[n for n, _ in named]} (one per speaker?); "
                            "their words are merged in time order")
        return named
    others = [(n, items) for n, items in intervals if n not in phones and not _phone_named(n) and _labels(items)]
    if others:
        if len(intervals) > 1:
            _warn(warnings, f"{path}: no tier is named 'words' (tiers: {names}); read the words of tier "
                            f"{others[0][0]!r}, the first that does not hold phones")
        return others[:1]
    if not any(_labels(items) for _, items in intervals):
        raise EmptyTranscriptError(f"{path}: every tier of the TextGrid ({names}) is empty or pauses only")
    examples = next(_labels(items)[:6] for _, items in intervals if _labels(items))
    raise NoWordTier(f"{path}: the TextGrid's tiers {names} all hold phones (e.g. {examples}), not words; "
                     "add the aligner's word tier (named 'words') or give the plain text to align")


def read_textgrid(path: str | os.PathLike, tier: str | None = None, warnings: list[str] | None = None) -> list[Word]:
    """Praat TextGrid, long or short text format, any encoding Praat writes (UTF-16 with a
    byte-order mark for non-ASCII text, UTF-8, Latin-1).

    The words come from ``tier`` when named; else from the tier(s) named like a word tier
    (``words``, ``word``, ``Word``, ``ORT``, ``orthography``, ``text``, MFA's ``<speaker> -
    words``, WebMAUS's ``ORT-MAU``, ...; several, one per speaker, are merged in time order)
    unless their labels are phones; else from the first interval tier that neither is named
    like a phone tier (``phones``, ``phone``, ``MAU``, ``KAN``, ``segments``, ...) nor holds
    phone labels (:func:`phone_like`), with a warning. A TextGrid whose tiers all hold
    phones raises :class:`~jegal.perception.errors.NoWordTier` (a ``TranscriptError``): reading
    phones as words would give nonsense clips. Pauses (:data:`PAUSES`) are dropped."""
    path = Path(path)
    return _textgrid_words(decode_transcript(_read_bytes(path), str(path)).text, path, tier, warnings)


def _textgrid_words(text: str, path: Path, tier: str | None, warnings: list[str] | None) -> list[Word]:
    if "ooTextFile" not in text[:200]:
        what = "a chronological TextGrid" if "chronological" in text[:200].lower() else "not a Praat TextGrid"
        raise TranscriptError(f"{path}: {what} (no 'ooTextFile' header); save it from Praat as a text file")
    if re.search(r"<absent>", text[:400]):
        raise EmptyTranscriptError(f"{path}: the TextGrid has no tiers ('tiers? <absent>')")
    tokens: list = []
    for m in _TG_TOKEN.finditer(text):
        if m.group(1) is not None:
            tokens.append(m.group(1).replace('""', '"'))
        elif m.group(2) is not None:
            tokens.append(float(m.group(2)))
    try:
        tiers = _parse_tiers(tokens)
    except IndexError:
        raise TranscriptError(f"{path}: truncated or malformed TextGrid: it ends before the tiers and intervals "
                              "its header announces") from None
    except (TypeError, ValueError, OverflowError) as err:
        raise TranscriptError(f"{path}: malformed TextGrid ({type(err).__name__}: {err})") from None
    intervals = [(name, items) for cls, name, items in tiers if cls == "IntervalTier"]
    if not intervals:
        raise TranscriptError(f"{path}: TextGrid has no interval tier (tiers: {[(c, n) for c, n, _ in tiers]})")
    chosen = _choose_word_tiers(intervals, path, tier, warnings)
    rows = [(t.strip(), s, e) for _, items in chosen for s, e, t in items if t.strip().lower() not in PAUSES]
    if len(chosen) > 1:
        rows.sort(key=lambda r: (r[1], r[2]))
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
    return _plain_words(_read_text(Path(path)), Path(path))


def _plain_words(text: str, path: Path) -> list[str]:
    words = [w for w in text.split() if normalise_word(w)]
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
    """Read any supported transcript; plain text comes back as :attr:`Transcript.plain`, and
    what reading changed or dropped as :attr:`Transcript.warnings`."""
    path = Path(path)
    decoded = decode_transcript(_read_bytes(path), str(path))
    text, notes = decoded.text, []
    if decoded.suffix == ".json":
        return Transcript(path, words=_whisperx_words(text, path, notes), warnings=notes)
    if decoded.suffix == ".TextGrid":
        return Transcript(path, words=_textgrid_words(text, path, None, notes), warnings=notes)
    if not text.strip():
        raise EmptyTranscriptError(f"{path}: transcript is empty")
    if re.search(r"^\s*WORD\s*,\s*START\s*,\s*END", text, re.MULTILINE | re.IGNORECASE):
        return Transcript(path, words=parse_txt(text, str(path)))
    if text.lstrip().startswith("Text:"):
        raise TranscriptError(f"{path}: has a 'Text:' header but no 'WORD, START, END, SCORE' table")
    return Transcript(path, plain=_plain_words(text, path))


def fit_to_media(words: list[Word], num_frames: int, source: str, max_overhang_s: float = 1.0) -> tuple[list[Word], list[str]]:
    """Words that lie inside ``num_frames`` frames of media, and warnings for those dropped.

    Raises :class:`~jegal.perception.errors.TranscriptTooLong` (a ``TranscriptError``) when the
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


def read_words(path: str | os.PathLike, audio: np.ndarray, max_overhang_s: float = 1.0,
               warnings: list[str] | None = None) -> list[Word]:
    """The words of the transcript at ``path`` (25 fps frames from the media start): read, or
    force-aligned to ``audio`` (16 kHz mono) when the file is plain text.

    A timed transcript running more than ``max_overhang_s`` past the audio fails here, before
    any video is decoded. What reading changed or dropped (a segment without word times, a
    tier chosen by content) is appended to ``warnings`` (Python warnings without it). Raises
    :class:`~jegal.perception.errors.EmptyTranscript`, ``BadTranscript``, ``NoWordTier``,
    ``TranscriptTooLong`` or ``Unalignable``, all naming ``path``."""
    from jegal.perception.align import align_words

    try:
        transcript = read_transcript(path)
    except PrepareError:
        raise
    except EmptyTranscriptError as err:
        raise EmptyTranscript(str(err)) from None
    except TranscriptError as err:
        raise BadTranscript(str(err)) from None
    for note in transcript.warnings:
        _warn(warnings, note)
    if transcript.words is None:
        return align_words(audio, transcript.plain, str(path))
    fit_to_media(transcript.words, math.ceil(len(audio) / SAMPLES_PER_FRAME), str(path), max_overhang_s)
    return transcript.words
