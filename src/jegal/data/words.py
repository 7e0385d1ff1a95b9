"""Word boundaries: ``(text, start_frame, end_frame)`` inclusive, in 25 fps frames."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_STRIP = re.compile(r"[^\w'\- ]+", re.UNICODE)


def normalise_word(text: str) -> str:
    """Lower-case and strip punctuation, the form the model sees ("Hat," -> "hat").

    Apostrophes and inner hyphens are kept ("don't", "well-known"); leading or trailing
    ones are dropped.
    """
    text = unicodedata.normalize("NFKC", text).lower()
    text = _STRIP.sub("", text).strip(" '-")
    return text


@dataclass(frozen=True)
class Word:
    """One word of a clip. ``start``/``end`` are inclusive 25 fps frame indices
    relative to the clip start; ``text`` is normalised, ``display`` the original."""

    text: str
    start: int
    end: int
    display: str = ""

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"word {self.display or self.text!r}: end frame {self.end} < start frame {self.start}")
        if not self.display:
            object.__setattr__(self, "display", self.text)

    def shifted(self, offset: int) -> "Word":
        return Word(self.text, self.start - offset, self.end - offset, self.display)

    def to_json(self) -> dict:
        return {"text": self.text, "start": self.start, "end": self.end, "display": self.display}

    @classmethod
    def from_json(cls, d: dict) -> "Word":
        return cls(d["text"], int(d["start"]), int(d["end"]), d.get("display", ""))

    @classmethod
    def from_display(cls, display: str, start: int, end: int) -> "Word":
        return cls(normalise_word(display), start, end, display)
