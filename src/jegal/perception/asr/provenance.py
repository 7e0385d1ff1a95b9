"""Where a transcript's words came from: the machine-made transcript file (its ``Source: asr
<engine>`` line, its place under ``OUT/transcripts``), the record a run keeps of it, and whether an
input must be prepared again because that file changed or a transcript appeared beside it."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from jegal.data.words import Word
from jegal.perception.asr.engines import RecognisedWord, source_tag

GIVEN = "given"
TRANSCRIPT_DIR = "transcripts"
_SOURCE_LINE = re.compile(r"^\s*Source\s*:\s*asr\s+(\S+)\s*$", re.IGNORECASE)


def format_transcript(words: list[RecognisedWord], engine: str, language: str = "en") -> str:
    """The reference txt format (docs/design.md section 3) with a ``Source: asr <engine>`` header
    line marking it machine-made; the SCORE column is the recogniser's confidence."""
    lines = ["Text: " + " ".join(w.display for w in words), f"Lang: {language}", f"Source: asr {engine}", "",
             "WORD, START, END, SCORE"]
    lines += [f"{w.display}, {w.start:.3f}, {w.end:.3f}, {w.score:.3f}" for w in words]
    return "\n".join(lines) + "\n"


def machine_source(path: str | os.PathLike) -> str | None:
    """``asr:<engine>`` when the txt at ``path`` carries a ``Source: asr <engine>`` header line
    (before its word table), else None. Non-txt and unreadable files give None."""
    path = Path(path)
    if path.suffix.lower() != ".txt":
        return None
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as f:
            for line in f:
                if line.replace(" ", "").upper().startswith("WORD,START,END"):
                    break
                m = _SOURCE_LINE.match(line)
                if m:
                    return source_tag(m.group(1).lower())
    except OSError:
        return None
    return None


def _sha1(path: Path) -> str:
    try:
        return hashlib.sha1(path.read_bytes()).hexdigest()
    except OSError:
        return ""


def machine_transcript_path(out: str | os.PathLike, key: str) -> Path:
    """Where the transcript recognised for the input ``key`` is written: ``OUT/transcripts/<key>.txt``."""
    return Path(out) / TRANSCRIPT_DIR / f"{key}.txt"


@dataclass
class Transcribed:
    """The words chosen for one input and where they came from."""

    words: list[Word]
    source: str  # "given" or "asr:<engine>"
    path: Path | None  # the file the words were read from or written to (None: not written)

    def record(self, out: str | os.PathLike | None = None) -> dict:
        """What the status record keeps, to tell on a rerun whether the words changed: the
        source, the file (relative to ``out`` when it lies there) and its SHA-1."""
        if self.path is None:
            return {"source": self.source}
        path = self.path.as_posix()
        if out is not None and self.path.is_relative_to(out):
            path = self.path.relative_to(out).as_posix()
        return {"source": self.source, "path": path, "sha1": _sha1(self.path)}


def needs_redo(status: dict, item, out: str | os.PathLike) -> bool:
    """Whether an input finished with the words of ``OUT/transcripts/<key>.txt`` (recognised,
    or corrected by hand) must be prepared again: a transcript now lies beside it, or that
    file was edited since."""
    record = status.get("transcript") or {}
    if record.get("path") != f"{TRANSCRIPT_DIR}/{item.key}.txt":
        return False
    if item.transcript is not None:
        return True
    path = machine_transcript_path(out, item.key)
    return path.is_file() and _sha1(path) != record.get("sha1")
