"""CSV cells that a spreadsheet shows as what they are: text that would start a formula is neutralised.

A spreadsheet that opens a CSV runs a cell beginning with ``=``, ``+``, ``-`` or ``@`` as a formula
(``=1+1``, ``@SUM(A1)``, ``+cmd|' /C calc'!A0``), and some also after a leading tab or carriage
return. A word of a transcript, a file name or a person's label can be any of these. OWASP's rule
("CSV injection"): such a text cell gets a leading apostrophe, which spreadsheets take as "this is
text" and do not show; the rest of the cell is kept as it is.

Numbers stay numbers: a number (``int``/``float``, and a text that is a plain decimal number such
as ``-0.5`` or ``1e-3``) is written as it is, so a negative score reads back as the same negative
number. Every CSV the project writes passes its rows through :func:`safe_row` (or
:func:`safe_dict`); a reader that wants the original text back uses :func:`unsafe_cell`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")


def safe_cell(value: Any) -> Any:
    """``value`` as a CSV cell a spreadsheet shows as text (module docstring): a text that would
    start a formula gets a leading ``'``; numbers, numeric text and everything else are returned as
    they are."""
    if isinstance(value, str) and value.startswith(FORMULA_START) and not _NUMBER.match(value):
        return "'" + value
    return value


def safe_row(row: Iterable[Any]) -> list[Any]:
    """A row of ``csv.writer`` with every cell through :func:`safe_cell`."""
    return [safe_cell(v) for v in row]


def safe_dict(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row of ``csv.DictWriter`` with every value through :func:`safe_cell`."""
    return {k: safe_cell(v) for k, v in row.items()}


def unsafe_cell(text: str) -> str:
    """The text :func:`safe_cell` was given, from the cell it wrote (the apostrophe it added removed)."""
    if len(text) > 1 and text[0] == "'" and text[1:].startswith(FORMULA_START) and not _NUMBER.match(text[1:]):
        return text[1:]
    return text


__all__ = ["FORMULA_START", "safe_cell", "safe_dict", "safe_row", "unsafe_cell"]
