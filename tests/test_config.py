"""The one configuration engine (jegal.config), on a small dataclass tree of its own."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from jegal.config import (ConfigError, coerce, from_dict, pop_dotted, put_dotted, read_json_object, set_dotted,
                          to_dict, update)


@dataclass
class Inner:
    rate: float = 0.5
    steps: int = 3
    on: bool = True
    name: str = "x"
    sizes: list[int] = field(default_factory=lambda: [1, 2])
    path: str | None = None
    width: int | None = None


@dataclass
class Outer:
    inner: Inner = field(default_factory=Inner)
    extra: dict = field(default_factory=dict)
    top: int = 1


@pytest.mark.parametrize("value,hint,expected", [
    ("1e-4", float, 1e-4), (2, float, 2.0), ("3", int, 3), (4.0, int, 4), ("1e3", int, 1000),
    ("false", bool, False), (True, bool, True), ("[8, 8]", list[int], [8, 8]), ([8.0], list[int], [8]),
    ("null", int | None, None), ("384", int | None, 384), (None, str | None, None),
    ("/a/b", str | None, "/a/b"), ("null", str, "null"), ("[1]", str, "[1]"), ('{"a": 1}', dict, {"a": 1}),
])
def test_coerce_gives_the_declared_type(value, hint, expected):
    out = coerce(value, hint, "k")
    assert out == expected and type(out) is type(expected)


@pytest.mark.parametrize("value,hint,needle", [
    ("fast", float, "cannot parse 'fast' as float"), (1, bool, "takes bool, got 1"), ("1", bool, "takes bool"),
    (True, int, "takes int, got True"), (2.5, int, "takes int, got 2.5"), ("x", list[int], "cannot parse"),
    (["a"], list[int], r"'k\[0\]' takes int"), (None, int, "takes int, got null"), (3, str, "takes str, got 3"),
])
def test_coerce_refuses_the_wrong_type_naming_the_key(value, hint, needle):
    with pytest.raises(ConfigError, match=needle):
        coerce(value, hint, "k")


def test_update_lays_a_nested_dict_over_the_tree():
    cfg = Outer()
    update(cfg, {"inner": {"rate": 1, "sizes": [4]}, "extra": {"a": 1}, "top": 2})
    update(cfg, {"extra": {"b": 2}})
    assert cfg == Outer(Inner(rate=1.0, sizes=[4]), {"a": 1, "b": 2}, 2)  # dict fields merge
    assert isinstance(cfg.inner.rate, float)


@pytest.mark.parametrize("d,needle", [
    ({"inner": {"rte": 1}}, r"unknown config key 'inner.rte'; known here: \['name', 'on', 'path', 'rate', 'sizes'"),
    ({"outer": 1}, r"unknown config key 'outer'; known here: \['extra', 'inner', 'top'\]"),
    ({"inner": 3}, "config section inner must be an object, got int"),
    ({"inner": {"steps": "many"}}, "'inner.steps': cannot parse 'many' as int"),
])
def test_update_errors_name_the_key(d, needle):
    with pytest.raises(ConfigError, match=needle):
        update(Outer(), d)


def test_set_dotted_sets_one_field_from_a_string():
    cfg = Outer()
    set_dotted(cfg, "inner.sizes", "[3, 4]")
    set_dotted(cfg, "inner.path", "/w")
    set_dotted(cfg, "top", "5")
    assert cfg.inner.sizes == [3, 4] and cfg.inner.path == "/w" and cfg.top == 5
    with pytest.raises(ConfigError, match=r"unknown config key 'inner.nope'; known here: \['name'"):
        set_dotted(cfg, "inner.nope", 1)
    with pytest.raises(ConfigError, match=r"'top' is not a section; sections here: \['inner'\]"):
        set_dotted(cfg, "top.x", 1)
    with pytest.raises(ConfigError, match="'inner' is a section"):
        set_dotted(cfg, "inner", "{}")


def test_dict_round_trip_and_json_files(tmp_path):
    cfg = Outer(Inner(rate=0.1, width=7), {"k": "v"}, 9)
    assert from_dict(Outer, json.loads(json.dumps(to_dict(cfg)))) == cfg
    (tmp_path / "a.json").write_text("[1]")
    with pytest.raises(ConfigError, match="a thing must be a JSON object, got list"):
        read_json_object(tmp_path / "a.json", "thing")
    with pytest.raises(ConfigError, match="cannot read thing"):
        read_json_object(tmp_path / "missing.json", "thing")


def test_dotted_keys_of_nested_dicts():
    d = {"a": {"b": 1}}
    put_dotted(d, "c.d", 2)
    assert d == {"a": {"b": 1}, "c": {"d": 2}}
    assert pop_dotted(d, "a.b") == (True, 1) and d["a"] == {}
    assert pop_dotted(d, "a.b") == (False, None) and pop_dotted(d, "x.y") == (False, None)
