"""The one configuration engine: nested dataclasses built from dicts, JSON and dotted overrides.

Both the model configuration (:class:`jegal.model.config.JEGALConfig`) and the training
configuration (:class:`jegal.train.config.TrainConfig`) are trees of dataclasses. This module
gives them one set of rules:

- :func:`update` lays a (nested) dict over a dataclass; an unknown key raises
  :class:`ConfigError` naming the key and the known ones. A dict-typed field (such as
  ``TrainConfig.model``) is merged, not replaced.
- :func:`coerce` turns a value into the field's declared type. Strings are parsed as JSON
  where the field is not a string, so a CLI flag ``--set loss.beta=1.0`` or ``speech.channels=[8,8]``
  maps straight on. An int is accepted for a float field and an integral float for an int field;
  anything else of the wrong type is an error, never silently kept.
- :func:`set_dotted` sets one ``section.field`` key.
- :func:`to_dict` / :func:`from_dict` are the JSON round trip.

Nothing here knows what a field means: validation of values stays with each config's ``validate()``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration that cannot be built or used; the message names the field or file."""


def _hints(obj: Any) -> dict[str, Any]:
    """Field name -> resolved type annotation of a dataclass (instance or class)."""
    cls = obj if isinstance(obj, type) else type(obj)
    return typing.get_type_hints(cls)


def _options(hint: Any) -> tuple[Any, ...]:
    """The alternatives of a union annotation (``int | None`` -> (int, NoneType)), else (hint,)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return typing.get_args(hint)
    return (hint,)


def _name(hint: Any) -> str:
    return " | ".join("null" if h is type(None) else getattr(h, "__name__", str(h)) for h in _options(hint))


def coerce(value: Any, hint: Any, key: str, parse_strings: bool = True) -> Any:
    """``value`` (from JSON or a CLI string) as the type ``hint`` declares, or :class:`ConfigError`.

    With ``parse_strings`` a string for a non-string field is read as JSON first (a CLI value);
    the items of a list are already JSON values and are not parsed again.

    >>> coerce("1e-4", float, "optim.lr"), coerce("[8, 8]", list[int], "speech.channels")
    (0.0001, [8, 8])
    """
    options = _options(hint)
    if parse_strings and isinstance(value, str) and str not in options:
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise ConfigError(f"config key {key!r}: cannot parse {value!r} as {_name(hint)}") from None
    if value is None:
        if type(None) in options:
            return None
        raise ConfigError(f"config key {key!r} takes {_name(hint)}, got null")
    for option in options:
        ok, out = _as(value, option, key)
        if ok:
            return out
    raise ConfigError(f"config key {key!r} takes {_name(hint)}, got {value!r}")


def _as(value: Any, option: Any, key: str) -> tuple[bool, Any]:
    """(True, value converted to ``option``) when it is one, else (False, None)."""
    origin = typing.get_origin(option) or option
    if option is type(None) or option is Any:
        return option is Any, value
    if origin is bool:
        return isinstance(value, bool), value
    if isinstance(value, bool):  # a bool is an int to Python, never to a config
        return False, None
    if origin is float:
        ok = isinstance(value, (int, float))
        return ok, float(value) if ok else None
    if origin is int:
        if isinstance(value, float) and value.is_integer():
            return True, int(value)
        return isinstance(value, int), value
    if origin is list:
        if not isinstance(value, (list, tuple)):
            return False, None
        (item,) = typing.get_args(option) or (Any,)
        return True, [coerce(v, item, f"{key}[{i}]", parse_strings=False) for i, v in enumerate(value)]
    if origin is dict:
        return isinstance(value, dict), dict(value) if isinstance(value, dict) else None
    return isinstance(value, origin), value


def update(obj: Any, d: dict, prefix: str = "") -> None:
    """Lay the nested dict ``d`` over the dataclass ``obj`` in place (sections recursively).

    Raises :class:`ConfigError` for an unknown key (naming it and the known ones), a section that
    is not an object, or a value of the wrong type."""
    if not isinstance(d, dict):
        raise ConfigError(f"config section {prefix.rstrip('.') or '<root>'} must be an object, got {type(d).__name__}")
    hints = _hints(obj)
    names = [f.name for f in dataclasses.fields(obj)]
    for key, value in d.items():
        if key not in names:
            raise ConfigError(f"unknown config key {prefix + key!r}; known here: {sorted(names)}")
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current):
            update(current, value, prefix + key + ".")
        elif isinstance(current, dict):
            setattr(obj, key, {**current, **coerce(value, hints[key], prefix + key)})
        else:
            setattr(obj, key, coerce(value, hints[key], prefix + key))


def set_dotted(obj: Any, key: str, value: Any) -> None:
    """Set one dotted key (``"loss.beta"``, ``"epochs"``) of the dataclass tree ``obj``."""
    *parents, leaf = key.split(".")
    target = obj
    for i, part in enumerate(parents):
        child = getattr(target, part, None)
        if not dataclasses.is_dataclass(child):
            known = sorted(f.name for f in dataclasses.fields(target) if dataclasses.is_dataclass(getattr(target, f.name)))
            raise ConfigError(f"unknown config key {key!r}: {'.'.join(parents[:i + 1])!r} is not a section; "
                              f"sections here: {known}")
        target = child
    names = [f.name for f in dataclasses.fields(target)]
    if leaf not in names:
        raise ConfigError(f"unknown config key {key!r}; known here: {sorted(names)}")
    if dataclasses.is_dataclass(getattr(target, leaf)):
        raise ConfigError(f"config key {key!r} is a section: set its fields ({key}.FIELD=VALUE)")
    setattr(target, leaf, coerce(value, _hints(target)[leaf], key))


def to_dict(obj: Any) -> dict:
    """The dataclass tree as plain JSON-able dicts (a deep copy)."""
    return dataclasses.asdict(obj)


def from_dict(cls: type[T], d: dict) -> T:
    """A fresh ``cls()`` (its defaults) with the nested dict ``d`` laid over it."""
    obj = cls()
    update(obj, d)
    return obj


def read_json_object(path: str | os.PathLike, what: str) -> dict:
    """The JSON object in ``path``; :class:`ConfigError` naming ``what`` and the file otherwise."""
    try:
        d = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ConfigError(f"cannot read {what} {path}: {err}") from None
    if not isinstance(d, dict):
        raise ConfigError(f"{path}: a {what} must be a JSON object, got {type(d).__name__}")
    return d


def pop_dotted(d: dict, key: str) -> tuple[bool, Any]:
    """Remove the dotted ``key`` from the nested dict ``d``: (True, its value), or (False, None) when absent."""
    *parents, leaf = key.split(".")
    for part in parents:
        d = d.get(part)
        if not isinstance(d, dict):
            return False, None
    if leaf not in d:
        return False, None
    return True, d.pop(leaf)


def put_dotted(d: dict, key: str, value: Any) -> None:
    """Set the dotted ``key`` of the nested dict ``d``, making the sections it needs."""
    *parents, leaf = key.split(".")
    for part in parents:
        d = d.setdefault(part, {})
    d[leaf] = value
