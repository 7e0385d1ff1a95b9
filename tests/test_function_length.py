"""No function or method in ``src/jegal`` is longer than :data:`MAX_LINES` lines: a longer one does
several things that a reader should be able to name one at a time."""

from __future__ import annotations

import ast
from pathlib import Path

import jegal

PACKAGE_ROOT = Path(jegal.__file__).parent
MAX_LINES = 150


def long_functions(root: Path, limit: int = MAX_LINES) -> list[str]:
    """``file:line: name (N lines)`` of every function, method or nested function under ``root``
    spanning more than ``limit`` lines (decorators excluded, docstring and body included)."""
    out = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > limit:
                    out.append(f"{path.relative_to(root.parent)}:{node.lineno}: {node.name} ({n} lines)")
    return out


def test_long_functions_counts_every_line_of_nested_and_method_bodies(tmp_path):
    body = "\n".join(f"        x{i} = {i}" for i in range(8))
    (tmp_path / "m.py").write_text(f"class A:\n    def f(self):\n{body}\n\n\ndef g():\n    def inner():\n{body}\n")
    assert long_functions(tmp_path, limit=10) == []
    assert long_functions(tmp_path, limit=9) == [f"{tmp_path.name}/m.py:13: g (10 lines)"]
    assert {s.split(": ")[1] for s in long_functions(tmp_path, limit=8)} == {"f (9 lines)", "g (10 lines)",
                                                                            "inner (9 lines)"}


def test_no_function_in_src_is_longer_than_150_lines():
    found = long_functions(PACKAGE_ROOT)
    assert not found, f"functions longer than {MAX_LINES} lines (split them into parts a reader can name):\n" + \
        "\n".join(found)
