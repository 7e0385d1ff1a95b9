"""The benchmark CSVs (AVS and SynthGest share the columns): the one reader.

Every caller reads benchmark CSVs through :func:`read_benchmark`: ``jegal eval``, training
validation (the spotting CSV), the SynthGest floors and the demo. The columns are documented
in ``shared/data/README.md``:

- spotting: ``filename, num_frames, phrase, target_word, target_word_boundary, word_boundaries, stress_label, ...``
- retrieval: ``filename, phrase, word_boundaries``
- ASD: ``filename, phrase, word_boundaries, neg_files, num_frames, ...``

``word_boundaries`` / ``target_word_boundary`` are parsed by
:func:`jegal.data.transcripts.parse_word_boundaries` and ``neg_files`` with
:func:`ast.literal_eval` (never ``eval``). A row that cannot be parsed is kept in
:attr:`Benchmark.bad_rows` with the reason (the metrics count it as an error), never dropped
silently. The clips themselves (shards whose ``clip_id`` equals ``filename``) are read by the
caller.
"""

from __future__ import annotations

import ast
import csv
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from jegal.data.transcripts import TranscriptError, parse_word_boundaries
from jegal.data.words import Word

TASKS = ("retrieval", "spotting", "asd")
REQUIRED = {
    "retrieval": ("filename", "word_boundaries"),
    "spotting": ("filename", "word_boundaries", "target_word_boundary"),
    "asd": ("filename", "word_boundaries", "neg_files"),
}


class BenchmarkError(ValueError):
    """A benchmark CSV that cannot be used; the message names the file and the problem."""


@dataclass
class BenchmarkRow:
    """One parsed CSV row; word frames are 25 fps frame indices, inclusive."""

    index: int  # 0-based data row of the CSV
    filename: str  # clip id
    words: list[Word]
    target_index: int = -1  # spotting: index of the target word in ``words``
    stress_label: str = ""  # spotting: "0" / "1" / "" when absent
    neg_files: list[str] = field(default_factory=list)  # ASD: the other candidates, in order
    num_frames: int | None = None

    @property
    def target(self) -> Word | None:
        return self.words[self.target_index] if self.target_index >= 0 else None


@dataclass
class Benchmark:
    """A benchmark CSV: its task, the parsed rows and the rows that could not be parsed."""

    path: Path
    task: str
    rows: list[BenchmarkRow]
    bad_rows: list[dict]  # {"row": i, "filename": ..., "error": ...}: rows that could not be parsed

    def clip_ids(self) -> list[str]:
        """Every clip the benchmark needs (queries and ASD candidates), first-seen order."""
        seen: dict[str, None] = {}
        for r in self.rows:
            seen.setdefault(r.filename, None)
            for n in r.neg_files:
                seen.setdefault(n, None)
        return list(seen)


def detect_task(columns: Iterable[str]) -> str:
    """The task a CSV's columns imply: ``target_word_boundary`` -> spotting, ``neg_files`` -> asd,
    else retrieval."""
    cols = set(columns)
    if "target_word_boundary" in cols:
        return "spotting"
    if "neg_files" in cols:
        return "asd"
    return "retrieval"


def _parse_neg_files(value: str, source: str) -> list[str]:
    try:
        data = ast.literal_eval(value)
    except (ValueError, SyntaxError) as err:
        raise BenchmarkError(f"{source}: neg_files is not a Python literal list ({err})") from None
    if not isinstance(data, (list, tuple)) or not all(isinstance(x, str) for x in data):
        raise BenchmarkError(f"{source}: neg_files must be a list of filenames, got {value[:80]!r}")
    return list(data)


def _target_index(words: list[Word], target: Word, source: str) -> int:
    """The target word's index: same frames and text; frames alone if the text differs in form."""
    for match in (lambda w: (w.start, w.end, w.text) == (target.start, target.end, target.text),
                  lambda w: (w.start, w.end) == (target.start, target.end)):
        hits = [i for i, w in enumerate(words) if match(w)]
        if hits:
            return hits[0]
    raise BenchmarkError(f"{source}: target word {target.display!r} [{target.start}, {target.end}] "
                         f"is not among its word_boundaries")


def parse_row(raw: dict, index: int, task: str, source: str) -> BenchmarkRow:
    """One CSV row (column -> string) as a :class:`BenchmarkRow`; raises :class:`BenchmarkError`
    naming ``source`` and the line."""
    where = f"{source} row {index + 2}"  # +1 for the header, +1 for 1-based lines
    filename = (raw.get("filename") or "").strip()
    if not filename:
        raise BenchmarkError(f"{where}: empty filename")
    try:
        words = parse_word_boundaries(raw["word_boundaries"], f"{where} word_boundaries")
    except TranscriptError as err:
        raise BenchmarkError(str(err)) from None
    if not words:
        raise BenchmarkError(f"{where}: no words")
    num_frames = None
    if raw.get("num_frames"):
        try:
            num_frames = int(float(raw["num_frames"]))
        except ValueError:
            raise BenchmarkError(f"{where}: num_frames {raw['num_frames']!r} is not a number") from None
    row = BenchmarkRow(index=index, filename=filename, words=words, num_frames=num_frames)
    if task == "spotting":
        try:
            target = parse_word_boundaries(raw["target_word_boundary"], f"{where} target_word_boundary")
        except TranscriptError as err:
            raise BenchmarkError(str(err)) from None
        if len(target) != 1:
            raise BenchmarkError(f"{where}: target_word_boundary must hold one word, got {len(target)}")
        row.target_index = _target_index(words, target[0], where)
        row.stress_label = (raw.get("stress_label") or "").strip()
        if row.stress_label.endswith(".0"):
            row.stress_label = row.stress_label[:-2]
    elif task == "asd":
        row.neg_files = _parse_neg_files(raw["neg_files"], where)
    return row


def read_benchmark(path: str | os.PathLike, task: str | None = None) -> Benchmark:
    """Read a benchmark CSV. ``task`` defaults to what the columns say. Rows that cannot be
    parsed are kept in ``bad_rows`` (and count as errors in the metrics)."""
    path = Path(path)
    if not path.is_file():
        raise BenchmarkError(f"{path}: no such benchmark CSV")
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        columns = reader.fieldnames or []
        task = task or detect_task(columns)
        if task not in TASKS:
            raise BenchmarkError(f"{path}: unknown task {task!r} (one of {', '.join(TASKS)})")
        missing = [c for c in REQUIRED[task] if c not in columns]
        if missing:
            raise BenchmarkError(f"{path}: a {task} benchmark needs the columns {', '.join(missing)}; "
                                 f"the file has {', '.join(columns) or 'none'}")
        rows, bad = [], []
        for i, raw in enumerate(reader):
            try:
                rows.append(parse_row(raw, i, task, str(path)))
            except BenchmarkError as err:
                bad.append({"row": i, "filename": (raw.get("filename") or "").strip(), "error": str(err)})
    if not rows and not bad:
        raise BenchmarkError(f"{path}: no data rows")
    return Benchmark(path=path, task=task, rows=rows, bad_rows=bad)
