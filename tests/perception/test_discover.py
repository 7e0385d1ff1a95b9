import pytest

from jegal.perception.discover import Item, discover
from jegal.perception.errors import BadInput, MissingFile


def test_discover_pairs_files_by_name(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in ("a.mp4", "a.wav", "a.json", "a.kps.npz", "sub/b.avi", "sub/b.TextGrid", "c.kps.npz", "c.txt",
                 "notes.md"):
        (tmp_path / name).write_bytes(b"")
    items = {it.name: it for it in discover(tmp_path)}
    assert sorted(items) == ["a", "c", "sub/b"]
    a, b, c = items["a"], items["sub/b"], items["c"]
    assert a.video.name == "a.mp4" and a.keypoints.name == "a.kps.npz" and a.wav.name == "a.wav"
    assert a.transcript.name == "a.json" and a.key == "a"
    assert b.transcript.name == "b.TextGrid" and b.wav is None and b.key == "sub__b"
    assert c.video is None and c.keypoints.name == "c.kps.npz" and c.transcript.name == "c.txt"
    (tmp_path / "a.mkv").write_bytes(b"")
    with pytest.raises(BadInput, match="share the names"):
        discover(tmp_path)


def test_csv_rows_override_the_files_beside_and_bad_inputs_stop_the_run(tmp_path):
    (tmp_path / "v.mp4").write_bytes(b"")
    (tmp_path / "v.txt").write_text("hi")
    (tmp_path / "other.txt").write_text("hi")
    listing = tmp_path / "list.csv"
    listing.write_text("video,transcript,speaker_id\nv.mp4,other.txt,alice\n")
    [item] = discover(listing)
    assert item.name == "v" and item.transcript == tmp_path / "other.txt" and item.speaker_id == "alice"
    listing.write_text("video,transcript\n,v.txt\n")
    with pytest.raises(BadInput, match=r"list.csv:2"):
        discover(listing)
    with pytest.raises(BadInput, match="no such folder"):
        discover(tmp_path / "gone")


def test_a_csv_list_written_with_formula_quoting_reads_back_the_names(tmp_path):
    import csv

    from jegal.csvcells import safe_dict

    (tmp_path / "=talk.mp4").write_bytes(b"")
    (tmp_path / "-notes.txt").write_text("hi")
    listing = tmp_path / "list.csv"
    with open(listing, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["video", "transcript"])
        w.writeheader()
        w.writerow(safe_dict({"video": "=talk.mp4", "transcript": "-notes.txt"}))
    assert "'=talk.mp4" in listing.read_text()
    [item] = discover(listing)
    assert item.video == tmp_path / "=talk.mp4" and item.transcript == tmp_path / "-notes.txt"


def test_check_files_names_the_missing_file(tmp_path):
    (tmp_path / "v.mp4").write_bytes(b"")
    Item("v", video=tmp_path / "v.mp4").check_files()
    with pytest.raises(MissingFile, match="gone.wav") as err:
        Item("v", video=tmp_path / "v.mp4", wav=tmp_path / "gone.wav").check_files()
    assert err.value.reason == "missing_file" and "the wav of v" in str(err.value)
