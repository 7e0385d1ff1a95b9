"""Preset files: the named model + training configurations in ``jegal/presets/`` (``paper``,
``recommended``, ``cpu``, ``released``), read by :func:`read_preset`, and
:func:`paper_objective_overrides`, the overrides that give any preset the paper's objective.

A preset file holds a ``model`` section (the model config fields that differ from the defaults, or
all of them), a ``train`` section (read by :mod:`jegal.train.config`) and optionally ``about``.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

from jegal.config import ConfigError, read_json_object

PRESET_DIR = Path(__file__).resolve().parent.parent / "presets"
PRESET_SECTIONS = ("about", "model", "train")  # the top-level keys of a preset file


def read_preset(name: str) -> dict[str, Any]:
    """The preset ``name`` (a file in :data:`PRESET_DIR`) or a path to a JSON file, as
    ``{"name", "path", "about", "model", "train"}``.

    A preset file holds ``model`` (model config fields, nested by section) and ``train``
    (training config fields, read by :mod:`jegal.train.config`) and optionally ``about``.
    Any other JSON object is taken as a plain model config (a saved ``config.json``) with no
    training part. Raises :class:`ConfigError` for an unknown name or an unreadable file."""
    path = Path(name)
    if not (path.suffix == ".json" and path.is_file()):
        path = PRESET_DIR / f"{name}.json"
    if not path.is_file():
        known = sorted(p.stem for p in PRESET_DIR.glob("*.json"))
        raise ConfigError(f"unknown preset {name!r}: expected one of {known} or a path to a .json file")
    d = read_json_object(path, "preset")
    if "model" in d or "train" in d:
        extra = sorted(set(d) - set(PRESET_SECTIONS))
        if extra:
            raise ConfigError(f"{path}: unknown preset section(s) {extra}; a preset holds {list(PRESET_SECTIONS)}")
        model, train = d.get("model", {}), d.get("train", {})
    else:
        model, train = d, {}
    for section, value in (("model", model), ("train", train)):
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: the preset's {section!r} section must be an object")
    return {"name": path.stem, "path": str(path), "about": d.get("about", ""), "model": model, "train": train}


def paper_objective_overrides() -> dict[str, Any]:
    """Dotted overrides that give any preset the paper's objective and embedding heads.

    Every field of the ``embedding`` and ``loss`` sections, and the ``content`` fields that
    decide what the clip vectors are made of and how modalities are dropped, set to the
    ``paper`` preset's values (= the dataclass defaults); the encoders' sizes are left alone.
    Used by the ``paper_objective`` ablation."""
    from jegal.model.config import JEGALConfig

    paper = JEGALConfig.from_preset("paper")
    out = {f"{section}.{f.name}": getattr(getattr(paper, section), f.name)
           for section in ("embedding", "loss") for f in fields(getattr(paper, section))}
    for name in ("modality_dropout", "global_speech", "speech_clip_follows"):
        out[f"content.{name}"] = getattr(paper.content, name)
    return out


__all__ = ["PRESET_DIR", "PRESET_SECTIONS", "read_preset", "paper_objective_overrides"]
