"""Word boundaries: ``(text, start_frame, end_frame)`` inclusive, in 25 fps frames."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_STRIP = re.compile(r"[^\w'\- ]+", re.UNICODE)

# Typographic and look-alike punctuation folded to one ASCII spelling before anything else
# (editors, word processors and ASR tools write these): apostrophes and primes, quotes, dashes
# and hyphens, and the non-breaking or zero-width spaces they come with. Letters are never
# touched ("naïve" stays "naïve").
_FOLD = str.maketrans({
    **dict.fromkeys("\u2019\u2018\u201b\u02bc\u02bb\u02bd\u00b4\u0060\u2032\u2035\uff07\u055a\ua78c", "'"),
    **dict.fromkeys("\u201c\u201d\u201e\u201f\u00ab\u00bb\u2033\u2036\uff02", '"'),
    **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2043\ufe63\uff0d\u00ad", "-"),
    **dict.fromkeys("\u00a0\u2007\u202f\u2009\u200a\u3000", " "),
    **dict.fromkeys("\u200b\u200c\u200d\u2060\ufeff", None),
})


def fold_punctuation(text: str) -> str:
    """Typographic punctuation folded to one spelling: ``’ ‘ ʼ ´ ` ′`` -> ``'``, ``“ ” „ « »``
    -> ``"``, every dash and hyphen (``– — ‐ −``) -> ``-``, odd spaces -> `` ``, zero-width
    characters and byte-order marks removed; then Unicode NFC, so a letter written as a
    base letter plus a combining accent is the same as the precomposed one."""
    return unicodedata.normalize("NFC", text.translate(_FOLD))


def normalise_word(text: str) -> str:
    """Lower-case and strip punctuation, the form the model sees ("Hat," -> "hat").

    Typographic variants are folded first (:func:`fold_punctuation`: "it’s" -> "it's",
    "well–known" -> "well-known"); apostrophes and inner hyphens are kept ("don't",
    "well-known"), leading or trailing ones dropped; letters are kept ("naïve").
    """
    text = unicodedata.normalize("NFKC", fold_punctuation(text)).lower()
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
