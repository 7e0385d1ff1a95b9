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
- WebVTT ``.vtt`` (:func:`read_vtt`, parsed with ``webvtt-py``): YouTube's automatic captions,
  whose inline ``<00:00:01.234><c> word</c>`` tags time every word and whose cues repeat the
  previous cue's line (each word is read once, with its own time); cues without word times are
  segments, their words aligned inside each cue;
- SubRip ``.srt`` (:func:`read_srt`, parsed with ``srt``): segments, their words aligned inside
  each one (:func:`jegal.perception.align.align_segments`);
- ELAN ``.eaf`` (:func:`read_eaf`, parsed with ``pympi-ling``): the words tier chosen by
  :func:`choose_eaf_tiers` (``--tier NAME``, else a tier named like a words tier, else the one
  tier whose annotations look like words, never a gesture-phase, translation or phone tier);
  one-word annotations are words with their times, longer ones segments to align;
- a plain ``.txt`` without the header: words only, to be force-aligned to the audio
  (:mod:`jegal.perception.align`).

Other kinds (``.sbv``, ``.ass``, ``.ttml``, ``.docx``, ``.pdf``, an XML file that is not ELAN's,
...) are refused by name (:data:`REFUSED_KINDS`), never read as plain text.

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
from jegal.timebase import FPS, SAMPLES_PER_FRAME, seconds_to_frame

# Interval labels that mark silence or noise, not a word (compared in lower case): Praat and
# MFA (empty, sil, sp, spn), Kaldi (<eps>, <sil>, <unk> is a word), P2FA/HTK (sp, sil),
# WebMAUS (<p:>, <p>, <nib>, <usb>), HTS (pau), CMU Sphinx ({sl}, {ns}, <s>, </s>).
PAUSES = {"", "sil", "sp", "spn", "<eps>", "<sil>", "<s>", "</s>", "{sl}", "{ns}", "{lg}", "<p:>", "<p>", "<nib>",
          "<usb>", "pau", "#", "silence", "<silence>", "[sil]", "<sp>", "<noise>", "[noise]", "[laughter]", "<spn>"}
TRANSCRIPT_SUFFIXES = (".txt", ".json", ".TextGrid", ".textgrid", ".vtt", ".srt", ".eaf")
# What decode_transcript types a file as (the suffix a reader goes by), by its name in lower case.
KINDS = {".txt": ".txt", ".json": ".json", ".textgrid": ".TextGrid", ".vtt": ".vtt", ".srt": ".srt", ".eaf": ".eaf"}
# Transcript, subtitle and document kinds jegal does not read: refused by name, with what to do.
REFUSED_KINDS = {
    ".sbv": "YouTube SubViewer captions", ".sub": "MicroDVD/SubViewer subtitles",
    ".ass": "Advanced SubStation subtitles",
    ".ssa": "SubStation subtitles", ".ttml": "TTML captions", ".dfxp": "DFXP captions", ".xml": "an XML file",
    ".smi": "SAMI captions", ".sami": "SAMI captions", ".scc": "Scenarist captions", ".lrc": "LRC lyrics",
    ".cha": "a CHAT (CLAN) transcript", ".trs": "a Transcriber transcript", ".exb": "an EXMARaLDA transcript",
    ".pfsx": "an ELAN preferences file", ".etf": "an ELAN template", ".docx": "a Word document",
    ".doc": "a Word document", ".odt": "an OpenDocument text", ".rtf": "an RTF document", ".pdf": "a PDF document",
    ".csv": "a CSV table", ".tsv": "a TSV table", ".xlsx": "a spreadsheet", ".html": "a web page", ".htm": "a web page"}
READ_KINDS = ".txt, .json (WhisperX), .TextGrid, .vtt, .srt, .eaf"
# The help of every command's --tier (prepare, spot, asd, embed, search): the rule of choose_eaf_tiers.
TIER_HELP = ("the tier of an .eaf / .TextGrid transcript that holds the words (default: a tier named "
             "words/word/transcription/ortho/tx..., else the only one that is not gestures, translations or "
             "phones; docs/prepare.md)")


@dataclass
class Transcript:
    """Words with times (``words``), words to be aligned (``plain``), or timed segments whose
    words are to be aligned inside each one (``segments``: ``(start_s, end_s, text)``)."""

    path: Path
    words: list[Word] | None = None
    plain: list[str] | None = None  # display forms, in order, when the file has no times
    warnings: list[str] = field(default_factory=list)  # what reading changed or dropped
    segments: list[tuple[float, float, str]] | None = None  # subtitle cues, ELAN utterances


class TranscriptText(NamedTuple):
    """A transcript's bytes decoded: its ``text``, its format as the suffix the readers go by
    (``.json`` WhisperX, ``.TextGrid`` Praat, ``.vtt`` WebVTT, ``.srt`` SubRip, ``.eaf`` ELAN,
    ``.txt`` the reference table or plain words) and the ``encoding`` it was read in."""

    text: str
    suffix: str
    encoding: str


def decode_transcript(data: bytes, name: str) -> TranscriptText:
    """The text and format of a transcript's bytes: the one set of rules for a file beside a video
    (:func:`read_transcript`) and for a transcript uploaded to the page.

    The encoding is found by :func:`jegal.data.transcripts.decode_text` (a byte-order mark; UTF-16
    without one by its zero bytes; UTF-8; Windows-1252). The format: a ``.json``, ``.TextGrid``,
    ``.vtt``, ``.srt`` or ``.eaf`` name (any case) decides, so a damaged file is reported as what
    it claims to be; a name of a kind jegal does not read (:data:`REFUSED_KINDS`: ``.sbv``,
    ``.ass``, ``.docx``, ...) is refused; any other name (``.txt``, none, a wrong one) is typed by
    content: text that parses as JSON is ``.json``, text with Praat's ``ooTextFile`` header is
    ``.TextGrid``, a ``WEBVTT`` header ``.vtt``, an ELAN ``ANNOTATION_DOCUMENT`` ``.eaf``, numbered
    ``00:00:01,000 --> ...`` cues ``.srt``; other XML is refused; anything else is ``.txt``.
    ``name`` is only used for the suffix and in messages. Raises
    :class:`~jegal.data.transcripts.TranscriptError` naming ``name`` for a refused kind, binary
    data (a video or archive, a binary Praat TextGrid) or text invalid in the encoding its
    byte-order mark names."""
    suffix = _suffix(name)
    if suffix in REFUSED_KINDS:
        raise TranscriptError(f"{name}: {REFUSED_KINDS[suffix]} ({suffix}) is not a transcript kind jegal reads "
                              f"(it reads {READ_KINDS}); convert it to one of those (e.g. .srt)")
    if data.startswith(b"ooBinaryFile"):
        raise TranscriptError(f"{name}: a binary Praat TextGrid; save it from Praat as a text file "
                              "('Save as text file...' or 'Save as short text file...')")
    text, encoding = decode_text(data, name)
    if suffix in KINDS and suffix != ".txt":
        return TranscriptText(text, KINDS[suffix], encoding)
    return TranscriptText(text, _kind_by_content(text, name), encoding)


def _suffix(name: str) -> str:
    return Path(name).suffix.lower()


_SRT_CUE = re.compile(r"^\s*\d+\s*\n\s*\d{1,2}:\d{2}:\d{2}[,.]\d{1,3}\s*-->\s*\d{1,2}:\d{2}:\d{2}[,.]\d{1,3}",
                      re.MULTILINE)


def _kind_by_content(text: str, name: str) -> str:
    """The format of a transcript whose name does not say it (see :func:`decode_transcript`)."""
    head = text.lstrip()[:400]
    if _parses_as_json(text):
        return ".json"
    if "ooTextFile" in text[:200]:
        return ".TextGrid"
    if head.startswith("WEBVTT"):
        return ".vtt"
    if "<ANNOTATION_DOCUMENT" in text[:2000]:
        return ".eaf"
    if head.startswith("<"):
        raise TranscriptError(f"{name}: XML or HTML that is not an ELAN .eaf; not a transcript kind jegal reads "
                              f"(it reads {READ_KINDS})")
    if _SRT_CUE.match(text.lstrip("\ufeff")):
        return ".srt"
    return ".txt"


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


# -- subtitles ---------------------------------------------------------------------------------------
_VTT_TIME = re.compile(r"<(\d+:)?(\d{1,2}):(\d{2}(?:\.\d{1,3})?)>")
_VTT_TAG = re.compile(r"</?[^>]*>")
# Cue lines that name no words: YouTube's "[Music]", "[Applause]", speaker arrows ">>".
_NOT_SPOKEN = re.compile(r"\[[^\]]*\]|\([^)]*\)|^\s*>>\s*|♪")


def _clock(text: str) -> float:
    """Seconds of a ``[hh:]mm:ss.mmm`` (or ``,mmm``) subtitle time."""
    parts = text.strip().replace(",", ".").split(":")
    return sum(float(p) * 60 ** k for k, p in enumerate(reversed(parts)))


def _cue_text(raw: str) -> str:
    """A cue line as spoken words: tags, ``[Music]`` and speaker arrows removed, entities decoded."""
    import html

    return " ".join(_NOT_SPOKEN.sub(" ", html.unescape(_VTT_TAG.sub("", raw))).split())


def _timed_line(raw: str, start: float, end: float) -> list[tuple[str, float, float]]:
    """The words of a cue line with YouTube's inline word times: the text before the first
    ``<hh:mm:ss.mmm>`` starts at the cue's start, each later piece at its tag; each word ends where
    the next begins, the last at the cue's end (clamped into the cue)."""
    pieces, at, pos = [], start, 0
    for m in _VTT_TIME.finditer(raw):
        pieces.append((at, raw[pos:m.start()]))
        at, pos = _clock(m.group(0)[1:-1]), m.end()
    pieces.append((at, raw[pos:]))
    rows = []
    for t, piece in pieces:
        for k, word in enumerate(_cue_text(piece).split()):
            rows.append([word, min(max(t, start), end), None])
    for a, b in zip(rows, rows[1:]):
        a[2] = max(a[1], b[1])
    if rows:
        rows[-1][2] = max(rows[-1][1], end)
    return [(w, s, e) for w, s, e in rows]


def _vtt_cues(text: str, path: Path) -> list[tuple[float, float, list[str]]]:
    """``(start_s, end_s, raw lines)`` of every cue of a WebVTT file, parsed with ``webvtt-py``."""
    import webvtt
    from webvtt.errors import MalformedFileError

    try:
        captions = webvtt.from_string(text.lstrip("\ufeff"))
    except (MalformedFileError, ValueError, IndexError) as err:
        raise TranscriptError(f"{path}: not a readable WebVTT file ({err})") from None
    return [(_clock(c.start), _clock(c.end), list(c.lines)) for c in captions]


def _new_lines(cues: list[tuple[float, float, list[str]]]) -> tuple[list[tuple[float, float, str]], int]:
    """Each cue's lines less those that repeat a line of the cue before (YouTube's automatic
    captions and other roll-up captions show each line again in the next cue, so a naive reader
    doubles every word); a repeat counts only when the cue before ends within 0.5 s of this one's
    start (the same caption rolling up, not a line said twice). Returns ``(start_s, end_s, raw
    line)`` rows and the number of repeated lines dropped."""
    out, dropped, before, before_end = [], 0, set(), -math.inf
    for start, end, lines in cues:
        shown = {_cue_text(line).lower() for line in lines if _cue_text(line)}
        rolling = start - before_end <= 0.5
        for line in lines:
            words = _cue_text(line)
            if not words:
                continue
            if rolling and words.lower() in before and not _VTT_TIME.search(line):
                dropped += 1
                continue
            out.append((start, end, line))
        before, before_end = shown, end
    return out, dropped


def read_vtt(path: str | os.PathLike) -> Transcript:
    """A WebVTT file (see module docstring): :attr:`Transcript.words` when its cues carry inline
    word times (YouTube's automatic captions; a line without them in such a file is spread over its
    cue by character count), else :attr:`Transcript.segments` (one per cue, its words to be aligned
    inside it). Lines repeated from the cue before are read once (:func:`_new_lines`); ``[Music]``
    and the like are not words; what reading changed goes to :attr:`Transcript.warnings`. Raises
    :class:`~jegal.data.transcripts.TranscriptError` naming the file
    (:class:`~jegal.data.transcripts.EmptyTranscriptError` without a word)."""
    path = Path(path)
    return _vtt_transcript(decode_transcript(_read_bytes(path), str(path)).text, path)


def _vtt_transcript(text: str, path: Path) -> Transcript:
    notes: list[str] = []
    lines, dropped = _new_lines(_vtt_cues(text, path))
    if not lines:
        raise EmptyTranscriptError(f"{path}: the WebVTT file has no words")
    if dropped:
        notes.append(f"{path}: {dropped} caption line(s) repeated from the cue before (rolling captions) read once")
    if not any(_VTT_TIME.search(line) for _, _, line in lines):
        return Transcript(path, segments=[(s, e, _cue_text(line)) for s, e, line in lines], warnings=notes)
    rows: list[tuple[str, float, float]] = []
    untimed = 0
    for start, end, line in lines:
        if _VTT_TIME.search(line) or len(_cue_text(line).split()) == 1:  # YouTube's one-word line has no tag
            rows += _timed_line(line, start, end)
        else:
            untimed += 1
            rows += _spread(_cue_text(line).split(), start, end)
    if untimed:
        notes.append(f"{path}: {untimed} caption line(s) without word times; their words spread over the cue "
                     "by length")
    rows.sort(key=lambda r: (r[1], r[2]))
    return Transcript(path, words=words_from_seconds(rows, str(path)), warnings=notes)


def read_srt(path: str | os.PathLike) -> Transcript:
    """A SubRip file, parsed with ``srt``: :attr:`Transcript.segments`, one per subtitle (tags
    such as ``<i>`` and ``[Music]`` removed), their words to be aligned inside each one. Raises
    :class:`~jegal.data.transcripts.TranscriptError` naming the file."""
    path = Path(path)
    return _srt_transcript(decode_transcript(_read_bytes(path), str(path)).text, path)


def _srt_transcript(text: str, path: Path) -> Transcript:
    import srt

    try:
        subs = list(srt.parse(text.lstrip("\ufeff")))
    except (srt.SRTParseError, ValueError) as err:
        raise TranscriptError(f"{path}: not a readable SubRip (.srt) file ({err})") from None
    segments = [(s.start.total_seconds(), s.end.total_seconds(), _cue_text(s.content.replace("\n", " ")))
                for s in subs]
    segments = [seg for seg in segments if seg[2]]
    if not segments:
        raise EmptyTranscriptError(f"{path}: the subtitles have no words")
    return Transcript(path, segments=segments)


# -- ELAN ----------------------------------------------------------------------------------------------
# Tier names (as parts, lower case) that never hold the spoken words: gesture annotation (phases,
# units, handedness), translations and glosses, comments.
NOT_WORD_TIER_NAMES = {"gesture", "gestures", "gest", "phase", "phases", "g-phase", "gphase", "stroke", "strokes",
                       "hold", "prep", "retraction", "hand", "hands", "handedness", "lh", "rh", "translation", "trans",
                       "ft", "free", "gloss", "glosses", "ge", "mb", "morph", "morphemes", "pos", "comment", "comments",
                       "note", "notes", "unit", "units", "g-unit", "phrase", "gesture-phrase", "head", "gaze"}
# Extra ELAN word-tier names beside WORD_TIER_NAMES (Toolbox/ELAN "tx", "ortho", "w").
EAF_WORD_TIER_NAMES = WORD_TIER_NAMES | {"tx", "ortho", "w", "wd", "utterance", "utterances"}
# Names of tiers of single words, preferred over utterance/transcription tiers (an ELAN words tier is
# often a subdivision of an utterance tier that holds the same words: reading both would double them).
EAF_SINGLE_WORD_NAMES = {"words", "word", "wrd", "wrds", "w", "wd", "tokens", "token", "mots", "mot", "wort",
                         "woerter", "palabras", "parole"}
# Gesture-phase labels (McNeill, Kita et al. 1998): a tier holding mostly these is not words.
GESTURE_PHASES = {"prep", "preparation", "stroke", "hold", "pre-stroke hold", "post-stroke hold", "retraction",
                  "retract", "rest", "recovery", "beat", "iconic", "deictic", "metaphoric", "emblem", "pointing",
                  "independent hold", "partial retraction", "pre-hold", "post-hold", "s", "h", "r", "p"}


def _eaf_parts(name: str) -> set[str]:
    return _name_parts(name.replace("@", " "))


def _eaf_word_named(name: str) -> bool:
    parts = _eaf_parts(name)
    return bool(parts & EAF_WORD_TIER_NAMES) and not parts & (NOT_WORD_TIER_NAMES | PHONE_TIER_NAMES)


def _eaf_excluded(name: str, labels: list[str]) -> bool:
    """A gesture, translation, comment or phone tier: by its name, or by its labels (mostly gesture
    phases, or phones)."""
    if _eaf_parts(name) & (NOT_WORD_TIER_NAMES | PHONE_TIER_NAMES):
        return True
    phases = sum(t.strip().lower() in GESTURE_PHASES for t in labels)
    return bool(labels) and (phases >= 0.5 * len(labels) or phone_like(labels))


def choose_eaf_tiers(tiers: dict[str, list[tuple[float, float, str]]], path: Path | str,
                     tier: str | None = None, warnings: list[str] | None = None) -> list[str]:
    """The names of the tier(s) of an ELAN file that hold the spoken words.

    ``tiers``: name -> ``(start_s, end_s, value)`` annotations. The rule, in order:

    1. ``tier`` (``--tier NAME``, any case); a name the file lacks raises, listing the tiers;
    2. the tiers named like a words tier (``words``, ``word``, ``tokens``, ...; without one,
       ``transcription``, ``ortho``, ``tx``, ``text``, ``utterance``, ...), each name also as one
       part of a name such as ``words@A`` or ``A - words``; several, one per speaker, are merged in
       time order;
    3. else the one tier left after dropping gesture tiers (named ``gesture``, ``phase``,
       ``stroke``, ... or holding mostly gesture-phase labels), translation, gloss and comment
       tiers and phone tiers, and empty ones.

    Raises :class:`~jegal.perception.errors.NoWordTier` (a ``TranscriptError``) naming the file
    and listing every tier with its number of annotations when no tier, or more than one, is left
    at step 3 (give ``--tier NAME``), and ``EmptyTranscriptError`` when every tier is empty."""
    listing = ", ".join(f"{n!r} ({len(a)} annotations)" for n, a in tiers.items()) or "none"
    if tier is not None:
        chosen = [n for n in tiers if n.strip().lower() == tier.strip().lower()]
        if not chosen:
            raise NoWordTier(f"{path}: no tier named {tier!r} (--tier); its tiers: {listing}")
        return chosen[:1]
    labels = {n: [v.strip() for _, _, v in a if v.strip() and v.strip().lower() not in PAUSES]
              for n, a in tiers.items()}
    named = [n for n in tiers if _eaf_word_named(n) and labels[n] and not phone_like(labels[n])]
    single = [n for n in named if _eaf_parts(n) & EAF_SINGLE_WORD_NAMES]
    named = single or named
    if named:
        if len(named) > 1:
            _warn(warnings, f"{path}: {len(named)} word tiers {named} (one per speaker?); their words are merged "
                            "in time order")
        return named
    left = [n for n in tiers if labels[n] and not _eaf_excluded(n, labels[n])]
    if len(left) == 1:
        _warn(warnings, f"{path}: no tier is named 'words'; read tier {left[0]!r}, the only one that is not "
                        "gestures, translations or phones (give --tier NAME to choose another)")
        return left
    if not any(labels.values()):
        raise EmptyTranscriptError(f"{path}: every tier of the ELAN file is empty (tiers: {listing})")
    which = "several tiers could hold them" if left else "every tier looks like gestures, translations or phones"
    raise NoWordTier(f"{path}: cannot tell which tier holds the spoken words ({which}); name it with --tier NAME. "
                     f"Tiers: {listing}")


def open_eaf(path: Path | str):
    """The pympi ``Eaf`` of an ELAN file, read without pympi's warnings about the file's EAF
    version (ELAN's newer versions read fine); pympi's own errors pass through."""
    import warnings as pywarnings

    from pympi.Elan import Eaf

    with pywarnings.catch_warnings():
        pywarnings.simplefilter("ignore")
        return Eaf(str(path), suppress_version_warning=True)


def eaf_tiers(path: Path | str) -> tuple[object, dict[str, list[tuple[float, float, str]]]]:
    """``(pympi Eaf, {tier name: [(start_s, end_s, value), ...]})`` of an ELAN file, annotations in
    time order; annotations without a time (unaligned slots) are left out. Raises
    :class:`~jegal.data.transcripts.TranscriptError` naming the file when ``pympi`` cannot read it."""
    try:
        eaf = open_eaf(path)
        tiers = {}
        for name in eaf.get_tier_names():
            rows = [(a[0], a[1], str(a[2] or "")) for a in eaf.get_annotation_data_for_tier(name)]
            tiers[name] = sorted(((s / 1000.0, e / 1000.0, v) for s, e, v in rows if s is not None and e is not None),
                                 key=lambda r: (r[0], r[1]))  # stable: a subdivision's words stay in order
    except Exception as err:  # pympi raises bare Exception, KeyError, ParseError for damaged files
        raise TranscriptError(f"{path}: not a readable ELAN .eaf file ({type(err).__name__}: {err})") from None
    return eaf, tiers


def read_eaf(path: str | os.PathLike, tier: str | None = None, warnings: list[str] | None = None) -> Transcript:
    """The spoken words of an ELAN ``.eaf`` file, read with ``pympi-ling``, from the tier(s)
    :func:`choose_eaf_tiers` picks. When every annotation of them is one word: :attr:`Transcript.words`
    with the annotations' times; else :attr:`Transcript.segments` (one per annotation, its words to
    be aligned inside it). Annotations that share one time span (the words of a symbolic
    subdivision of an utterance, which have no times of their own) are one segment, in file order. Raises :class:`~jegal.data.transcripts.TranscriptError` naming the file
    (``NoWordTier`` when it cannot choose, listing the tiers)."""
    path = Path(path)
    _, tiers = eaf_tiers(path)
    notes: list[str] = []
    chosen = choose_eaf_tiers(tiers, path, tier, notes)
    rows = sorted(((s, e, v.strip()) for n in chosen for s, e, v in tiers[n] if v.strip().lower() not in PAUSES),
                  key=lambda r: (r[0], r[1]))
    spans: dict[tuple[float, float], list[str]] = {}  # a symbolic subdivision's words share their parent's span
    for s, e, v in rows:
        if any(normalise_word(w) for w in v.split()):
            spans.setdefault((s, e), []).append(v)
    rows = [(s, e, " ".join(vs)) for (s, e), vs in spans.items()]
    if not rows:
        raise EmptyTranscriptError(f"{path}: tier(s) {chosen} hold no words")
    if all(len(v.split()) == 1 for _, _, v in rows):
        return Transcript(path, words=words_from_seconds([(v, s, e) for s, e, v in rows], str(path)), warnings=notes)
    return Transcript(path, segments=rows, warnings=notes)


def read_plain(path: str | os.PathLike) -> list[str]:
    """Words of a plain-text transcript (whitespace-separated; punctuation kept for display)."""
    return _plain_words(_read_text(Path(path)), Path(path))


def _plain_words(text: str, path: Path) -> list[str]:
    words = [w for w in text.split() if normalise_word(w)]
    if not words:
        raise EmptyTranscriptError(f"{path}: transcript has no words")
    return words


# A language tag between the name and the suffix, as yt-dlp writes (talk.en.vtt, talk.en-US.srt,
# talk.pt-BR.vtt) and ELAN/Praat users add (talk.de.eaf).
_LANG_TAG = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*(?:-orig)?")


def transcript_index(names) -> dict[str, list[str]]:
    """The transcripts among the file ``names`` of one folder, by the stem of the video they belong
    to: ``talk.txt`` and ``talk.en.vtt`` under ``talk`` (a name such as ``a.b.vtt`` under ``a.b``, and
    under ``a`` too when ``b`` looks like a language tag). Built once per folder, so that finding
    each video's transcripts does not read the folder again (:func:`transcripts_beside`)."""
    index: dict[str, list[str]] = {}
    for name in names:
        low = name.lower()
        suffix = next((x for x in _SUFFIXES_LOWER if low.endswith(x)), None)
        if suffix is None:
            continue
        rest = name[: -len(suffix)]
        index.setdefault(rest, []).append(name)
        base, dot, lang = rest.rpartition(".")
        if dot and _LANG_TAG.fullmatch(lang):
            index.setdefault(base, []).append(name)
    return index


_SUFFIXES_LOWER = tuple(dict.fromkeys(s.lower() for s in TRANSCRIPT_SUFFIXES))


def transcripts_beside(video: str | os.PathLike, index: dict[str, list[str]] | None = None) -> list[Path]:
    """Every transcript beside ``video``, the one to use first: ``<stem><suffix>`` for each
    suffix of :data:`TRANSCRIPT_SUFFIXES` in that order (``.txt``, ``.json``, ``.TextGrid``,
    ``.vtt``, ``.srt``, ``.eaf``), then language-tagged names ``<stem>.<lang><suffix>`` (what
    ``yt-dlp --write-auto-subs`` writes: ``talk.en.vtt``), English (``en``, ``en-US``, ...) before
    other languages, in the same order of suffixes. ``<stem>`` is the name without the video's
    suffix (``.kps.npz`` whole). ``index``: :func:`transcript_index` of the video's folder, when
    the caller has it (:func:`jegal.perception.discover.discover` reads a folder once, not once
    per video); else the folder is read."""
    video = Path(video)
    name = video.name
    from jegal.perception.discover import KPS_SUFFIX

    stem = name[: -len(KPS_SUFFIX)] if name.endswith(KPS_SUFFIX) else video.stem
    if index is None:
        try:
            index = transcript_index(p.name for p in video.parent.iterdir()
                                     if p.name.startswith(stem + ".") and p.is_file())
        except OSError:
            index = {}
    names = set(index.get(stem, ()))
    found = [n for n in dict.fromkeys(stem + s for s in TRANSCRIPT_SUFFIXES) if n in names]
    order = {s: k for k, s in reversed(list(enumerate(_SUFFIXES_LOWER)))}
    tagged = []
    for other in names - set(found):
        lang, _, suffix = other[len(stem) + 1:].rpartition(".")
        if lang and ("." + suffix.lower()) in order and _LANG_TAG.fullmatch(lang):
            tagged.append((not lang.lower().startswith("en"), order["." + suffix.lower()], lang.lower(), other))
    return [video.with_name(n) for n in found + [n for *_, n in sorted(tagged)]]


def find_transcript(video: str | os.PathLike, index: dict[str, list[str]] | None = None) -> Path | None:
    """The transcript beside ``video`` to use (the first of :func:`transcripts_beside`), if any."""
    found = transcripts_beside(video, index)
    return found[0] if found else None


def unused_transcripts(video: str | os.PathLike, used: str | os.PathLike | None) -> list[str]:
    """One line for each transcript beside ``video`` that is not ``used`` (another one beside it
    came first, or ``--transcript`` named another file), for the terminal and the warnings."""
    used_path = None if used is None else Path(used).resolve()
    return [f"{p}: a transcript beside {Path(video).name} that is not used (using "
            f"{'none' if used is None else Path(used).name})" for p in transcripts_beside(video)
            if p.resolve() != used_path]


def say_unused_transcripts(video: str | os.PathLike, used: str | os.PathLike | None) -> list[str]:
    """:func:`unused_transcripts`, each line also printed on stderr (``jegal: ...``) so that a user
    who put a transcript beside a video learns on the terminal that it was not read; returns the
    lines (for the command's warnings)."""
    import sys

    lines = unused_transcripts(video, used)
    for line in lines:
        print(f"jegal: {line}", file=sys.stderr)
    return lines


def read_transcript(path: str | os.PathLike, tier: str | None = None) -> Transcript:
    """Read any supported transcript (module docstring); plain text comes back as
    :attr:`Transcript.plain`, subtitles and ELAN utterances as :attr:`Transcript.segments`, and
    what reading changed or dropped as :attr:`Transcript.warnings`. ``tier``: the tier of an
    ``.eaf`` or ``.TextGrid`` that holds the words (``--tier``; other kinds ignore it, with a
    warning). Raises :class:`~jegal.data.transcripts.TranscriptError` naming the file."""
    path = Path(path)
    decoded = decode_transcript(_read_bytes(path), str(path))
    text, notes = decoded.text, []
    if tier is not None and decoded.suffix not in (".eaf", ".TextGrid"):
        notes.append(f"{path}: --tier {tier} ignored: a {decoded.suffix} transcript has no tiers")
        tier = None
    if decoded.suffix == ".json":
        return Transcript(path, words=_whisperx_words(text, path, notes), warnings=notes)
    if decoded.suffix == ".TextGrid":
        return Transcript(path, words=_textgrid_words(text, path, tier, notes), warnings=notes)
    if decoded.suffix in (".vtt", ".srt", ".eaf"):
        if decoded.suffix == ".eaf":
            got = read_eaf(path, tier)
        else:
            got = _vtt_transcript(text, path) if decoded.suffix == ".vtt" else _srt_transcript(text, path)
        got.warnings[:0] = notes
        return got
    if not text.strip():
        raise EmptyTranscriptError(f"{path}: transcript is empty")
    if re.search(r"^\s*WORD\s*,\s*START\s*,\s*END", text, re.MULTILINE | re.IGNORECASE):
        return Transcript(path, words=parse_txt(text, str(path)), warnings=notes)
    if text.lstrip().startswith("Text:"):
        raise TranscriptError(f"{path}: has a 'Text:' header but no 'WORD, START, END, SCORE' table")
    return Transcript(path, plain=_plain_words(text, path), warnings=notes)


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
               warnings: list[str] | None = None, tier: str | None = None) -> list[Word]:
    """The words of the transcript at ``path`` (25 fps frames from the media start): read, or
    force-aligned to ``audio`` (16 kHz mono) when the file is plain text, or aligned inside each
    segment (:func:`jegal.perception.align.align_segments`) when it has segment times only
    (``.srt``, ``.vtt`` without word times, ELAN utterances). ``tier``: the words tier of an
    ``.eaf`` / ``.TextGrid`` (:func:`read_transcript`).

    A timed transcript running more than ``max_overhang_s`` past the audio fails here, before
    any video is decoded. What reading changed or dropped (a segment without word times, a
    tier chosen by content) is appended to ``warnings`` (Python warnings without it). Raises
    :class:`~jegal.perception.errors.EmptyTranscript`, ``BadTranscript``, ``NoWordTier``,
    ``TranscriptTooLong`` or ``Unalignable``, all naming ``path``."""
    from jegal.perception.align import align_segments, align_words

    try:
        transcript = read_transcript(path, tier)
    except PrepareError:
        raise
    except EmptyTranscriptError as err:
        raise EmptyTranscript(str(err)) from None
    except TranscriptError as err:
        raise BadTranscript(str(err)) from None
    for note in transcript.warnings:
        _warn(warnings, note)
    if transcript.segments is not None:
        fit_to_media([Word("x", seconds_to_frame(s), seconds_to_frame(max(s, e))) for s, e, _ in transcript.segments],
                     math.ceil(len(audio) / SAMPLES_PER_FRAME), str(path), max_overhang_s)
        return align_segments(audio, transcript.segments, str(path))
    if transcript.words is None:
        return align_words(audio, transcript.plain, str(path))
    fit_to_media(transcript.words, math.ceil(len(audio) / SAMPLES_PER_FRAME), str(path), max_overhang_s)
    return transcript.words
