import json
import os
from pathlib import Path

import numpy as np
import pytest

from jegal.atomic import atomic_path, write_bytes_atomic, write_json_atomic, write_text_atomic


def leftovers(folder: Path) -> list[str]:
    """Hidden entries: what a temporary file or directory would leave."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_file_appears_whole_and_the_parent_is_created(tmp_path):
    target = tmp_path / "a" / "b" / "out.txt"
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp != target
        tmp.write_text("hello")
        assert not target.exists()  # nothing under the real name before the block ends
    assert target.read_text() == "hello" and leftovers(target.parent) == []


def test_temporary_keeps_the_suffix(tmp_path):
    pid = os.getpid()
    for name, expect in (("clip.mp4", f".clip.mp4.tmp{pid}.mp4"), ("x.kps.npz", f".x.kps.npz.tmp{pid}.npz"),
                         ("noext", f".noext.tmp{pid}")):
        with atomic_path(tmp_path / name) as tmp:
            assert tmp.name == expect
            tmp.write_bytes(b"1")
    # a library that picks its format by extension writes through the temporary name
    with atomic_path(tmp_path / "arr.npy") as tmp:
        np.save(tmp, np.arange(3))
    assert np.load(tmp_path / "arr.npy").tolist() == [0, 1, 2] and leftovers(tmp_path) == []


def test_failure_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = write_text_atomic(tmp_path / "out.json", "old")
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert target.read_text() == "old" and leftovers(tmp_path) == []
    with pytest.raises(TypeError):  # not serialisable: raised while writing, nothing replaced
        write_json_atomic(target, {"x": object()})
    assert target.read_text() == "old" and leftovers(tmp_path) == []


def test_replaces_an_existing_file(tmp_path):
    target = write_bytes_atomic(tmp_path / "f.bin", b"one")
    assert write_bytes_atomic(target, b"two") == target
    assert target.read_bytes() == b"two" and leftovers(tmp_path) == []


def test_directory_target_is_replaced_whole(tmp_path):
    target = tmp_path / "model"
    with atomic_path(target) as tmp:
        assert not tmp.exists()
        tmp.mkdir()
        (tmp / "a.txt").write_text("1")
        (tmp / "stale.txt").write_text("x")
    assert sorted(p.name for p in target.iterdir()) == ["a.txt", "stale.txt"]
    with atomic_path(target) as tmp:
        tmp.mkdir()
        (tmp / "a.txt").write_text("2")
    # the new directory replaces the old one entirely: no file of the old one survives
    assert sorted(p.name for p in target.iterdir()) == ["a.txt"] and (target / "a.txt").read_text() == "2"
    assert leftovers(tmp_path) == []


def test_failed_directory_write_keeps_the_old_directory(tmp_path):
    target = tmp_path / "ckpt"
    with atomic_path(target) as tmp:
        tmp.mkdir()
        (tmp / "state.json").write_text("{}")
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(target) as tmp:
            tmp.mkdir()
            (tmp / "state.json").write_text("{half")
            raise KeyboardInterrupt
    assert (target / "state.json").read_text() == "{}" and leftovers(tmp_path) == []


def test_replace_false_keeps_the_first_writer(tmp_path):
    # directories: a second build of the same cache is discarded, the first stays untouched
    cache = tmp_path / "cache"
    for text in ("first", "second"):
        with atomic_path(cache, replace=False) as tmp:
            tmp.mkdir()
            (tmp / "v.txt").write_text(text)
    assert (cache / "v.txt").read_text() == "first" and leftovers(tmp_path) == []
    # files alike
    f = tmp_path / "f.txt"
    for text in ("first", "second"):
        with atomic_path(f, replace=False) as tmp:
            tmp.write_text(text)
    assert f.read_text() == "first" and leftovers(tmp_path) == []


def test_json_converts_numpy_and_paths(tmp_path):
    obj = {"n": np.int64(3), "x": np.float32(0.5), "a": np.arange(3), "p": Path("/data/x")}
    path = write_json_atomic(tmp_path / "m.json", obj)
    text = path.read_text()
    assert text.endswith("\n") and json.loads(text) == {"n": 3, "x": 0.5, "a": [0, 1, 2], "p": "/data/x"}
    assert write_json_atomic(tmp_path / "c.json", [1], indent=None).read_text() == "[1]\n"
