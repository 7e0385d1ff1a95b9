"""The web server is an application over the library and ``jegal.use``'s exported names only: it carries no
training recipe (no ``jegal.train`` / ``jegal.synth``), no evaluation and no ``prepare`` internals."""

from __future__ import annotations

import ast
from pathlib import Path

import jegal.serve
import jegal.use

LIBRARY = ("jegal.timebase", "jegal.atomic", "jegal.csvcells", "jegal.native_logs", "jegal.config", "jegal.data",
           "jegal.model", "jegal.losses", "jegal.metrics", "jegal.inference", "jegal.perception")


def imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("jegal"):
            yield node.lineno, node.module, [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("jegal"):
                    yield node.lineno, a.name, []


def test_serve_imports_only_the_library_and_what_jegal_use_exports():
    bad = []
    for path in sorted(Path(jegal.serve.__file__).parent.glob("*.py")):
        for line, module, names in imports(path):
            if module == "jegal.use":
                bad += [f"{path.name}:{line}: jegal.use.{n} is not exported" for n in names if n not in jegal.use.__all__]
            elif not (module == "jegal.serve" or module.startswith("jegal.serve.")
                      or any(module == p or module.startswith(p + ".") for p in LIBRARY)):
                bad.append(f"{path.name}:{line}: imports {module}")
    assert not bad, "\n".join(bad)


def test_every_name_jegal_use_exports_exists():
    assert all(hasattr(jegal.use, name) for name in jegal.use.__all__)
    # the task functions are functions, and the modules of the same commands stay modules
    assert callable(jegal.use.spot_words) and callable(jegal.use.find_speakers) and callable(jegal.use.write_embeddings)
