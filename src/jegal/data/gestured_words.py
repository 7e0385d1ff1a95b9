"""Per-word gesture ground truth: ``gestured_words.csv``, one row per (clip, word).

The protocols of :mod:`jegal.evaluation.gestured` (is this word gestured? which word of the clip
carries the gesture? where is the stroke?) read their labels from this one file. SynthGest
writes it for every clip it generates (``benchmarks/gestured_words.csv``, both splits); a user
writes the same columns from their own annotations (e.g. an ELAN gesture tier aligned to a
transcript), so the same protocols run on real clips.

Columns (a header row; order free; ``REQUIRED`` must be present, the others may be left out):

============== ======== ===========================================================================
column         required meaning
============== ======== ===========================================================================
filename       yes      the clip id (= the benchmark CSVs' ``filename``, the shards' ``clip_id``)
split          no       ``train`` or ``test`` (empty or absent: ``test``); training rows only
                        serve the floors estimated on the training split (the word prior)
speaker_id     no       the speaker (free text)
word_index     yes      the word's 0-based position among the clip's words
word           yes      the word as written (compared after :func:`jegal.data.words.normalise_word`)
start_frame    yes      first frame of the word, 25 fps, clip-relative, inclusive
end_frame      yes      last frame of the word, inclusive (>= start_frame)
gestured       yes      1 when a semantic (representational) gesture belongs to the word, else 0
stroke_start   no       first frame of that gesture's stroke (empty when not gestured or unknown)
stroke_end     no       last frame of the stroke, inclusive
stress_label   no       1 when the word is stressed, 0 when not, empty when unknown
============== ======== ===========================================================================

``gestured`` also accepts ``true/false/yes/no``. A stroke may be left empty on a gestured word
(its localisation is then not scored); a stroke on a word that is not gestured is an error.
Within one clip, ``word_index`` values are unique and the clip belongs to one split.

:func:`read_gestured_words` raises :class:`GesturedWordsError` naming the file and the line of
every bad row (up to :data:`MAX_REPORTED`); :func:`write_gestured_words` writes the file
atomically; :func:`rows_from_ground_truth` / :func:`gestured_words_from_truth` build the rows from
a SynthGest ``ground_truth.jsonl`` (for a corpus generated before this file existed).
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

from jegal.atomic import write_bytes_atomic
from jegal.csvcells import safe_dict, unsafe_cell
from jegal.data.words import normalise_word

FILENAME = "gestured_words.csv"  # its name in a SynthGest corpus's benchmarks/ folder
COLUMNS = ("filename", "split", "speaker_id", "word_index", "word", "start_frame", "end_frame", "gestured",
           "stroke_start", "stroke_end", "stress_label")
REQUIRED = ("filename", "word_index", "word", "start_frame", "end_frame", "gestured")
SPLITS = ("train", "test")
MAX_REPORTED = 20  # bad rows listed in one error
_TRUE = {"1", "true", "yes"}
_FALSE = {"0", "false", "no"}


class GesturedWordsError(ValueError):
    """A gestured-words CSV that cannot be used; the message names the file and the bad lines."""


@dataclass(frozen=True)
class GesturedWord:
    """One row: a word of a clip and whether a semantic gesture belongs to it.

    Frames are 25 fps, clip-relative, inclusive. ``stroke`` None: not gestured, or the stroke was
    not annotated (or lies outside the clip). ``stress`` None: unknown. ``line``: the CSV line (0
    when built in memory)."""

    filename: str
    split: str
    speaker_id: str
    word_index: int
    word: str
    start: int
    end: int
    gestured: bool
    stroke: tuple[int, int] | None = None
    stress: int | None = None
    line: int = 0

    @property
    def text(self) -> str:
        """The normalised word (what a word prior counts)."""
        return normalise_word(self.word)

    def to_csv(self) -> dict:
        return {"filename": self.filename, "split": self.split, "speaker_id": self.speaker_id,
                "word_index": self.word_index, "word": self.word, "start_frame": self.start, "end_frame": self.end,
                "gestured": int(self.gestured), "stroke_start": "" if self.stroke is None else self.stroke[0],
                "stroke_end": "" if self.stroke is None else self.stroke[1],
                "stress_label": "" if self.stress is None else self.stress}


@dataclass
class GesturedWords:
    """The rows of one file, sorted by (split, clip in file order, word_index).

    ``columns``: the columns the file had (what a protocol may rely on: without
    ``stroke_start``/``stroke_end`` localisation is not scored, without ``stress_label`` the
    stress floor is left out)."""

    rows: list[GesturedWord]
    columns: tuple[str, ...] = COLUMNS
    path: Path | None = None

    def split(self, name: str) -> list[GesturedWord]:
        return [r for r in self.rows if r.split == name]

    def clips(self, split: str = "test") -> dict[str, list[GesturedWord]]:
        """Clip id -> its rows of ``split``, by word_index, clips in file order."""
        out: dict[str, list[GesturedWord]] = {}
        for r in self.rows:
            if r.split == split:
                out.setdefault(r.filename, []).append(r)
        return {k: sorted(v, key=lambda r: r.word_index) for k, v in out.items()}

    @property
    def has_strokes(self) -> bool:
        return "stroke_start" in self.columns and any(r.stroke is not None for r in self.rows)

    @property
    def has_stress(self) -> bool:
        return "stress_label" in self.columns and any(r.stress is not None for r in self.rows)


# -- reading ----------------------------------------------------------------------------------
def _int(row: dict, col: str, empty_ok: bool = False) -> int | None:
    v = (row.get(col) or "").strip()
    if v == "":
        if empty_ok:
            return None
        raise ValueError(f"{col} is empty")
    try:
        f = float(v)
    except ValueError:
        raise ValueError(f"{col}={v!r} is not a number") from None
    if f != int(f):
        raise ValueError(f"{col}={v!r} is not a whole number of frames")
    return int(f)


def _flag(row: dict, col: str, empty_ok: bool = False) -> int | None:
    v = (row.get(col) or "").strip().lower()
    if v == "" and empty_ok:
        return None
    if v in _TRUE or v == "1.0":
        return 1
    if v in _FALSE or v == "0.0":
        return 0
    raise ValueError(f"{col}={row.get(col)!r}: use 1 or 0")


def parse_row(row: dict, line: int) -> GesturedWord:
    """One CSV row (a ``csv.DictReader`` dict) as a :class:`GesturedWord`; ``ValueError`` saying
    what is wrong with it."""
    filename = (row.get("filename") or "").strip()
    if not filename:
        raise ValueError("filename is empty")
    split = (row.get("split") or "").strip().lower() or "test"
    if split not in SPLITS:
        raise ValueError(f"split={row.get('split')!r}: use train or test")
    word = (row.get("word") or "").strip()
    if not word:
        raise ValueError("word is empty")
    index, start, end = _int(row, "word_index"), _int(row, "start_frame"), _int(row, "end_frame")
    if index < 0:
        raise ValueError(f"word_index={index} is negative")
    if start < 0 or end < start:
        raise ValueError(f"word frames {start}-{end}: need 0 <= start_frame <= end_frame")
    gestured = bool(_flag(row, "gestured"))
    s, e = _int(row, "stroke_start", True), _int(row, "stroke_end", True)
    if (s is None) != (e is None):
        raise ValueError("give both stroke_start and stroke_end, or neither")
    if s is not None and (s < 0 or e < s):
        raise ValueError(f"stroke frames {s}-{e}: need 0 <= stroke_start <= stroke_end")
    if s is not None and not gestured:
        raise ValueError(f"a stroke ({s}-{e}) on a word marked gestured=0")
    return GesturedWord(filename, split, (row.get("speaker_id") or "").strip(), index, word, start, end, gestured,
                        None if s is None else (s, e), _flag(row, "stress_label", True), line)


def _check_clips(rows: list[GesturedWord]) -> list[str]:
    """Problems across rows: a word_index twice in a clip, a clip in both splits."""
    problems = []
    seen: dict[tuple[str, int], int] = {}
    split_of: dict[str, tuple[str, int]] = {}
    for r in rows:
        key = (r.filename, r.word_index)
        if key in seen:
            problems.append(f"line {r.line}: clip {r.filename!r} word_index {r.word_index} already on line {seen[key]}")
        seen.setdefault(key, r.line)
        first = split_of.setdefault(r.filename, (r.split, r.line))
        if first[0] != r.split:
            problems.append(f"line {r.line}: clip {r.filename!r} is split {r.split!r} here and {first[0]!r} "
                            f"on line {first[1]}")
    return problems


def read_gestured_words(path: str | os.PathLike) -> GesturedWords:
    """Read and check a gestured-words CSV (columns in the module docstring).

    Raises :class:`GesturedWordsError` (a ``ValueError``) when the file is missing a required
    column, has no rows, or has bad rows: the message names the file and, per bad row, its line
    and what is wrong (the first :data:`MAX_REPORTED`, and how many in all)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as err:
        raise GesturedWordsError(f"{path}: cannot read ({err.strerror or err})") from None
    reader = csv.DictReader(io.StringIO(text))
    header = tuple(h.strip() for h in reader.fieldnames or ())
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise GesturedWordsError(f"{path}: missing column(s) {', '.join(missing)} (header: "
                                 f"{', '.join(header) or 'none'}; required: {', '.join(REQUIRED)})")
    reader.fieldnames = list(header)
    rows, problems = [], []
    for raw in reader:
        line = reader.line_num
        if raw.get(None):
            problems.append(f"line {line}: {len(raw[None])} more field(s) than the header has")
            continue
        if not any((v or "").strip() for v in raw.values()):
            continue  # a blank line
        try:  # (text cells neutralised against spreadsheet formulas when written: their text back)
            rows.append(parse_row({k: unsafe_cell(v) if isinstance(v, str) else v for k, v in raw.items()}, line))
        except ValueError as err:
            problems.append(f"line {line}: {err}")
    problems += _check_clips(rows)
    if problems:
        shown = "\n  ".join(problems[:MAX_REPORTED])
        more = f"\n  ... and {len(problems) - MAX_REPORTED} more" if len(problems) > MAX_REPORTED else ""
        raise GesturedWordsError(f"{path}: {len(problems)} bad row(s):\n  {shown}{more}")
    if not rows:
        raise GesturedWordsError(f"{path}: no rows")
    return GesturedWords(_sorted(rows), header, path)


def _sorted(rows: list[GesturedWord]) -> list[GesturedWord]:
    first = {}
    for i, r in enumerate(rows):
        first.setdefault(r.filename, i)
    return sorted(rows, key=lambda r: (SPLITS.index(r.split), first[r.filename], r.word_index))


# -- writing ----------------------------------------------------------------------------------
def format_gestured_words(rows: list[GesturedWord]) -> str:
    """The CSV text of ``rows`` (all :data:`COLUMNS`, ``\\n`` line ends)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(safe_dict(r.to_csv()) for r in rows)  # a word such as "=1+1" stays text in a spreadsheet
    return buf.getvalue()


def write_gestured_words(path: str | os.PathLike, rows: list[GesturedWord]) -> Path:
    """Write ``rows`` to ``path`` atomically (all columns); returns the path."""
    path = Path(path)
    write_bytes_atomic(path, format_gestured_words(rows).encode("utf-8"))
    return path


# -- from SynthGest's ground truth --------------------------------------------------------------
def rows_from_ground_truth(records) -> list[GesturedWord]:
    """Rows for every word of every clip of SynthGest ground-truth records (the dicts of
    ``ground_truth.jsonl``: ``clip_id``, ``split``, ``speaker_id``, ``num_frames``, ``words``
    [display, start, end], ``stressed``, ``gestures`` [{kind, word_index, stroke}]).

    A word is gestured when a gesture of kind ``"semantic"`` has its ``word_index``; its stroke is
    that gesture's ``stroke`` (the union if several), left empty when it lies outside the clip
    (the generator clips strokes to the clip's frames, so an empty one has end < start)."""
    out = []
    for rec in records:
        strokes: dict[int, tuple[int, int]] = {}
        for g in rec.get("gestures", ()):
            if g.get("kind") == "semantic" and int(g.get("word_index", -1)) >= 0:
                s, e = (int(x) for x in g["stroke"])
                old = strokes.get(int(g["word_index"]))
                strokes[int(g["word_index"])] = (s, e) if old is None else (min(old[0], s), max(old[1], e))
        stressed = rec.get("stressed") or []
        split = "train" if rec.get("split") == "train" else "test"
        for i, (word, start, end) in enumerate(rec["words"]):
            st = strokes.get(i)
            stroke = st if st is not None and st[1] >= st[0] else None
            out.append(GesturedWord(rec["clip_id"], split, rec.get("speaker_id", ""), i, str(word), int(start),
                                    int(end), i in strokes, stroke,
                                    int(bool(stressed[i])) if i < len(stressed) else None))
    return _sorted(out)


def gestured_words_from_truth(path: str | os.PathLike) -> GesturedWords:
    """The rows of a SynthGest ``ground_truth.jsonl`` (see :func:`rows_from_ground_truth`), in
    memory; :class:`GesturedWordsError` naming the line of a record that cannot be read."""
    path = Path(path)
    records = []
    try:
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if line.strip():
                    try:
                        records.append(json.loads(line))
                    except json.JSONDecodeError as err:
                        raise GesturedWordsError(f"{path}: line {n}: not JSON ({err.msg})") from None
    except OSError as err:
        raise GesturedWordsError(f"{path}: cannot read ({err.strerror or err})") from None
    try:
        rows = rows_from_ground_truth(records)
    except (KeyError, TypeError, ValueError) as err:
        raise GesturedWordsError(f"{path}: a record lacks what the gestured-words rows need ({err!r})") from None
    return GesturedWords(rows, COLUMNS, path)


def find_gestured_words(csv_path: str | os.PathLike) -> GesturedWords:
    """``csv_path`` if it exists; otherwise, when it is ``<corpus>/benchmarks/gestured_words.csv``
    of a corpus generated before SynthGest wrote it, the rows built in memory from
    ``<corpus>/ground_truth.jsonl`` (nothing is written). :class:`GesturedWordsError` when neither
    exists."""
    csv_path = Path(csv_path)
    if csv_path.is_file():
        return read_gestured_words(csv_path)
    truth = csv_path.parent.parent / "ground_truth.jsonl"
    if truth.is_file():
        return gestured_words_from_truth(truth)
    raise GesturedWordsError(f"{csv_path}: no such file (and no {truth} to build it from)")
