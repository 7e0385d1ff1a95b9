"""The library (data contracts, model, losses, metrics, inference) imports none of the applications.

Library: ``jegal.timebase, jegal.atomic, jegal.config, jegal.data, jegal.model, jegal.losses,
jegal.metrics, jegal.inference, jegal.perception``. Applications: ``jegal.train, jegal.prepare, jegal.synth,
jegal.evaluation, jegal.demo, jegal.cli, jegal.use, jegal.released, jegal.serve``. Two checks, because each misses what the other sees:

- static: every ``import`` statement in every library module file, at any depth (a
  function-level import runs only when the function is called, so importing the module would
  not reveal it), resolved to an absolute module name;
- dynamic: a fresh interpreter imports every library module and then lists ``sys.modules``
  (catches imports made indirectly, e.g. through a package ``__init__``).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import jegal

PACKAGE_ROOT = Path(jegal.__file__).parent
LIBRARY = ("jegal.timebase", "jegal.atomic", "jegal.config", "jegal.data", "jegal.model", "jegal.losses",
           "jegal.metrics", "jegal.inference", "jegal.perception")
APPLICATIONS = ("jegal.train", "jegal.prepare", "jegal.synth", "jegal.evaluation", "jegal.demo", "jegal.cli",
                "jegal.use", "jegal.released", "jegal.serve")


def _is_under(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def modules_under(packages: tuple[str, ...]) -> dict[str, Path]:
    """Module name -> file for every module under ``packages`` that exists in this checkout."""
    out = {}
    for path in sorted(PACKAGE_ROOT.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        name = ".".join(parts)
        if _is_under(name, packages):
            out[name] = path
    return out


def library_modules() -> dict[str, Path]:
    """Module name -> file for every module of the library that exists in this checkout."""
    return modules_under(LIBRARY)


def import_statements(path: Path, module: str) -> list[tuple[int, str, list[str] | None]]:
    """``(line, absolute module, imported names or None)`` of every import in the file, however deeply
    nested, in line order: ``from m import a, b`` gives ``(line, m, [a, b])``, ``import m`` gives
    ``(line, m, None)``; relative imports are resolved against ``module``."""
    is_package = path.name == "__init__.py"
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name, None) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                pkg = ".".join(base + ([node.module] if node.module else []))
            else:
                pkg = node.module or ""
            out.append((node.lineno, pkg, [a.name for a in node.names]))
    return sorted(out, key=lambda t: t[0])


def imported_names(path: Path, module: str) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in the file, however deeply nested.

    ``from pkg import name`` yields both ``pkg`` and ``pkg.name`` (the name may be a submodule)."""
    out = []
    for line, pkg, names in import_statements(path, module):
        out.append((line, pkg))
        out += [(line, f"{pkg}.{name}") for name in names or () if name != "*"]
    return out


def test_the_layers_are_what_this_test_thinks():
    modules = library_modules()
    for package in ("jegal.data", "jegal.model", "jegal.losses", "jegal.metrics", "jegal.inference", "jegal.perception"):
        assert package in modules, f"{package} is not where this test looks for it"
    for app in APPLICATIONS:
        assert (PACKAGE_ROOT / app.split(".")[1]).is_dir() or (PACKAGE_ROOT / f"{app.split('.')[1]}.py").is_file()


def test_imported_names_resolves_relative_and_nested_imports(tmp_path):
    src = tmp_path / "m.py"
    src.write_text("import os\n"
                   "def f():\n"
                   "    from jegal.train import loop\n"
                   "    from ..evaluation.metrics import x\n"
                   "    from . import sibling\n")
    names = {n for _, n in imported_names(src, "jegal.inference.m")}
    assert {"os", "jegal.train", "jegal.train.loop", "jegal.evaluation.metrics", "jegal.evaluation.metrics.x",
            "jegal.inference", "jegal.inference.sibling"} <= names


def test_library_files_import_no_application():
    bad = []
    for module, path in library_modules().items():
        for line, name in imported_names(path, module):
            if _is_under(name, APPLICATIONS):
                bad.append(f"{path.relative_to(PACKAGE_ROOT.parent)}:{line}: {module} imports {name}")
    assert not bad, "the library imports applications:\n" + "\n".join(bad)


def test_importing_the_library_loads_no_application():
    modules = sorted(library_modules())
    code = ("import importlib, json, sys\n"
            f"for m in {modules!r}:\n"
            "    importlib.import_module(m)\n"
            "print(json.dumps(sorted(sys.modules)))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    apps = [m for m in loaded if _is_under(m, APPLICATIONS)]
    assert not apps, f"importing the library loaded application modules: {apps}"


# -- applications meet only through what each one exports --------------------------------------------------
# Imports that are refused even through a package's exported names: the page and the video commands do
# not evaluate, and the web server does not train or synthesise.
FORBIDDEN = {"jegal.use": ("jegal.evaluation",),
             "jegal.serve": ("jegal.evaluation", "jegal.train", "jegal.synth")}


def exported_names(app: str) -> set[str]:
    """The names in an application's ``__all__`` (its package ``__init__.py`` or its module), read
    without importing it; empty when it declares none."""
    rel = Path(*app.split(".")[1:])
    path = PACKAGE_ROOT / rel / "__init__.py"
    if not path.is_file():
        path = PACKAGE_ROOT / f"{rel}.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
                return {e.value for e in node.value.elts if isinstance(e, ast.Constant)}
    return set()


def cross_application_imports() -> list[str]:
    """Every import of one application by another that goes past the other's exported names, and every
    import in :data:`FORBIDDEN`; one line each, ``file:line: module imports target``."""
    bad = []
    for module, path in modules_under(APPLICATIONS).items():
        own = next(app for app in APPLICATIONS if _is_under(module, (app,)))
        for line, target, names in import_statements(path, module):
            other = next((app for app in APPLICATIONS if _is_under(target, (app,))), None)
            if other is None or other == own:
                continue
            where = f"{path.relative_to(PACKAGE_ROOT.parent)}:{line}: {module} imports {target}"
            if _is_under(target, FORBIDDEN.get(own, ())):
                bad.append(f"{where} (refused: {own} must not depend on {other})")
            elif target != other:
                bad.append(f"{where} (internals of {other}; import what {other}.__all__ exports)")
            elif names is not None and not set(names) <= exported_names(other):
                missing = sorted(set(names) - exported_names(other))
                bad.append(f"{where}.{{{', '.join(missing)}}} (not in {other}.__all__)")
    return bad


def test_cross_application_imports_finds_internals_exports_and_refusals(tmp_path, monkeypatch):
    root = tmp_path / "jegal"
    for app in ("use", "serve", "train"):
        (root / app).mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "use" / "__init__.py").write_text("__all__ = ['spot']\n")
    (root / "train" / "__init__.py").write_text("__all__ = ['train']\n")
    (root / "serve" / "__init__.py").write_text("")
    (root / "serve" / "app.py").write_text("from jegal.use import spot\n"            # an exported name: fine
                                           "from jegal.use import secret\n"          # not exported
                                           "def f():\n"
                                           "    from ..use.video import x\n"         # internals, relative
                                           "from jegal.train import train\n"         # exported, but refused
                                           "import jegal.timebase\n")                # the library: fine
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE_ROOT", root)
    bad = cross_application_imports()
    assert len(bad) == 3, bad
    assert "jegal.use.{secret}" in bad[0] and "jegal.use.video" in bad[1] and "refused" in bad[2]
    assert [b.split(":")[1] for b in bad] == ["2", "4", "5"]


def test_applications_import_each_other_only_through_exported_names():
    """An application may import the library, and another application only through that one's
    package-level ``__all__`` (``from jegal.use import spot``, ``from jegal.train import train``);
    ``jegal.use`` and ``jegal.serve`` import nothing of ``jegal.evaluation``, and ``jegal.serve``
    nothing of ``jegal.train`` or ``jegal.synth``. (``jegal.cli`` finds the commands by name,
    through importlib, which this check does not see: that is its one job.)"""
    bad = cross_application_imports()
    assert not bad, f"{len(bad)} import(s) reach into another application:\n" + "\n".join(bad)
