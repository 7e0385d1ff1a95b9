"""``jegal spot DIR`` / ``jegal asd DIR`` (jegal.use.folder): one process, one table, failures counted, reruns resume."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from jegal.cli import main

NATIVE = ("XNNPACK", "inference_feedback_manager", "InitializeLog", "task_runner.cc", "landmark_projection")


def _folder(tmp_path: Path, real_dir: Path, names=("sample1", "sample2")) -> Path:
    """The real samples (video, transcript, wav beside) linked into a folder, plus a corrupt video."""
    folder = tmp_path / "videos"
    folder.mkdir()
    for name in names:
        for suffix in (".avi", ".txt", ".wav"):
            (folder / f"{name}{suffix}").symlink_to(real_dir / f"{name}{suffix}")
    (folder / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(4000))
    return folder


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_a_folder_gives_one_table_lists_the_corrupt_file_says_so_and_a_rerun_skips_what_is_done(
        tmp_path, real_dir, random_model, capsys):
    folder, out = _folder(tmp_path, real_dir), tmp_path / "out"
    cmd = [sys.executable, "-m", "jegal.cli", "spot", str(folder), "--model", str(random_model), "--out", str(out),
           "--no-video"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with open(tmp_path / "stderr.txt", "wb") as err:  # stderr a file, as in a batch job's log
        done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=err, env=env, timeout=500)
    log = (tmp_path / "stderr.txt").read_text()
    stdout = done.stdout.decode()
    assert done.returncode == 1, stdout + log  # a video failed: the exit status says so
    # quiet by default: no native library lines, no progress-bar redraws or escape codes in a log
    assert not any(n in log for n in NATIVE), log
    assert "\r" not in log and "\x1b" not in log
    assert "failed: broken (corrupt_video)" in log and "broken.mp4" in log
    lines = [line for line in stdout.splitlines() if line.startswith("[")]
    assert len(lines) == 3 and "broken: FAILED (corrupt_video)" in lines[0]  # one line per video
    assert "sample1: done" in lines[1] and "sample2: done" in lines[2]

    summary = json.loads((out / "summary.json").read_text())
    assert (summary["items"], summary["done"], summary["skipped"], summary["failed"]) == (3, 2, 0, 1)
    assert [(f["input"], f["reason"]) for f in summary["failures"]] == [("broken", "corrupt_video")]
    table = _rows(out / "words.csv")
    assert {r["video"] for r in table} == {"sample1", "sample2"}  # every readable video, the corrupt one not
    for name in ("sample1", "sample2"):  # each video's own outputs, and its rows of the table are its words.csv's
        own = _rows(out / name / "words.csv")
        assert [{k: v for k, v in r.items() if k != "video"} for r in table if r["video"] == name] == own
        doc = json.loads((out / name / "spot.json").read_text())
        rec = next(v for v in summary["videos"] if v["video"] == name)
        assert rec["status"] == "done" and rec["results"]["words"] == len(doc["words"]) == len(own)
        # these tracks are ~2-3 s: too short for 19 controls, so every word is "not decided", per video
        assert rec["results"]["not_decided"] == len(own) and rec["results"]["gestured"] == 0

    before = {name: (out / name / "spot.json").stat().st_mtime_ns for name in ("sample1", "sample2")}
    assert main(cmd[3:]) == 1  # the rerun (in this process: the same code, less start-up)
    assert capsys.readouterr().out.count("skipped, finished by an earlier run") == 2
    assert {name: (out / name / "spot.json").stat().st_mtime_ns for name in before} == before
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["done"], summary["skipped"], summary["failed"]) == (0, 2, 1)
    assert _rows(out / "words.csv") == table  # the table rebuilt from the finished videos' outputs


@pytest.mark.slow
def test_asd_on_a_folder_writes_one_segment_table_and_the_keypoint_tables(tmp_path, real_dir, random_model):
    folder, out = _folder(tmp_path, real_dir, names=("sample1",)), tmp_path / "out"
    assert main(["asd", str(folder), "--model", str(random_model), "--out", str(out), "--no-video", "--quiet",
                 "--keypoints-csv"]) == 1
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["done"], summary["failed"]) == (1, 1) and summary["table"] == "asd.csv"
    own = _rows(out / "sample1" / "asd.csv")
    table = _rows(out / "asd.csv")
    assert own and [{k: v for k, v in r.items() if k != "video"} for r in table] == own
    assert {r["video"] for r in table} == {"sample1"}
    kp = _rows(out / "sample1" / "keypoints.csv")
    doc = json.loads((out / "sample1" / "asd.json").read_text())
    assert len(kp) == 56 * sum(p["frames_seen"] for p in doc["people"])


# -- the parts, without video --------------------------------------------------------------------
def test_the_combined_words_table_is_each_videos_table_with_a_video_column():
    from jegal.use.spot import CSV_COLUMNS, words_csv

    def person(p, words):
        return {"person": p, "words": [{"index": i, "word": w, "start_frame": i, "end_frame": i + 1, "start_s": 0.0,
                                        "end_s": 0.1, "gesture_score": 0.5, "p_value": 0.5, "controls": 3.0,
                                        "gestured": False, "gestured_by_score": True, "speaker": None,
                                        "best_frame": i, "best_s": 0.0, "probability": 0.2, "in_window": True,
                                        "above_threshold": False, "localised": False} for i, w in enumerate(words)]}

    a, b = [person(0, ["hello", "=1+1"]), person(1, ["hello"])], [person(0, ["world"])]
    combined = list(csv.reader(io.StringIO(words_csv(a + b, videos=["a", "a", "@b"])) ))
    assert combined[0] == ["video"] + CSV_COLUMNS
    assert [r[0] for r in combined[1:]] == ["a", "a", "a", "'@b"]  # a name that would be a formula stays text
    own = [list(csv.reader(io.StringIO(words_csv(x))))[1:] for x in (a, b)]
    assert [r[1:] for r in combined[1:]] == own[0] + own[1]
    assert combined[2][3] == "'=1+1" and combined[1][11:13] == ["0", "1"]


def test_the_combined_segment_table_reads_asd_json_and_pads_people_a_video_does_not_have():
    from jegal.use.asd import Segment, segments_csv

    one = Segment(0, 0, 20, [0, 1], "hello world", speaker=0, decision="only_person", reason="only one person in view",
                  scores={0: 0.25}, visible={0: 1.0})
    two = Segment(0, 5, 30, [0], "yes", speaker=1, decision="gestures", scores={0: 0.1, 1: None}, visible={0: 0.9,
                                                                                                     1: 0.2},
                  margin=0.05)
    # from Segment objects and from their JSON records: the same table
    assert segments_csv([one], 1) == segments_csv([one.to_json()], 1)
    rows = list(csv.DictReader(io.StringIO(segments_csv([one.to_json(), two.to_json()], 2, videos=["v1", "v2"]))))
    assert [r["video"] for r in rows] == ["v1", "v2"]
    assert rows[0]["score_person0"] == "0.25" and rows[0]["score_person1"] == "" and rows[0]["visible_person1"] == ""
    assert rows[1]["score_person1"] == "" and rows[1]["visible_person1"] == "0.2" and rows[1]["speaker"] == "1"


def _video(tmp_path=None):
    """A VideoInput-like object: two people, 6 frames, a few joints not found."""
    from types import SimpleNamespace

    import numpy as np

    rng = np.random.default_rng(0)
    people = []
    for k in range(2):
        pixels = np.zeros((6, 56, 3), np.float32)
        pixels[..., :2] = rng.uniform(0, 300, (6, 56, 2))
        pixels[..., 2] = rng.uniform(0.05, 1.0, (6, 56))
        pixels[:, 20:, 2] = np.where(rng.random((6, 36)) < 0.3, 0.0, pixels[:, 20:, 2])
        pixels[pixels[..., 2] == 0, :2] = 0
        boxes = np.zeros((6, 4), np.float32)
        boxes[:2 * k] = np.nan  # person 1 comes into view at frame 2
        kp = pixels.copy()
        kp[..., :2] = (pixels[..., :2] - 150) / 100
        kp[kp[..., 2] < 0.1] = 0
        people.append(SimpleNamespace(person=k, pixels=pixels, keypoints=kp, boxes=boxes,
                                      visible=~np.isnan(boxes[:, 0])))
    return SimpleNamespace(name="talk", people=people)


def test_the_keypoint_table_has_a_row_per_person_frame_and_joint_as_the_arrays_hold_them():
    from jegal.data.keypoints import JOINT_NAMES
    from jegal.use.keypoints_table import COLUMNS, keypoints_csv

    video = _video()
    rows = list(csv.DictReader(io.StringIO(keypoints_csv(video))))
    assert list(rows[0]) == COLUMNS
    expected = [(p.person, t, j) for p in video.people for t in range(6) if p.visible[t] for j in range(56)]
    assert len(rows) == len(expected) == 56 * (6 + 4)
    for r, (k, t, j) in zip(rows, expected):  # the slow obvious reference: cell by cell from the arrays
        px, kn = video.people[k].pixels[t, j], video.people[k].keypoints[t, j]
        assert (r["video"], int(r["person"]), int(r["frame"]), r["joint"]) == ("talk", k, t, JOINT_NAMES[j])
        assert float(r["time_s"]) == pytest.approx(t / 25)
        assert float(r["confidence"]) == pytest.approx(px[2], abs=6e-4)
        if px[2] > 0:
            assert (float(r["x_px"]), float(r["y_px"])) == pytest.approx((px[0], px[1]), abs=6e-3)
        else:
            assert r["x_px"] == r["y_px"] == ""
        if kn[2] > 0:
            assert (float(r["x_norm"]), float(r["y_norm"])) == pytest.approx((kn[0], kn[1]), abs=6e-5)
        else:
            assert r["x_norm"] == r["y_norm"] == ""
    assert any(r["x_px"] == "" for r in rows) and any(r["x_norm"] == "" and r["x_px"] != "" for r in rows)


def test_a_video_is_finished_only_with_every_output_the_same_model_and_its_words_unchanged(tmp_path):
    from types import SimpleNamespace

    from jegal.use.folder import finished

    out = tmp_path / "v"
    (out / "heatmaps").mkdir(parents=True)
    machine = out / "transcripts" / "v.txt"
    machine.parent.mkdir()
    machine.write_text("hello")
    for name in ("words.csv", "maps.npz", "heatmaps/person0-000.png"):
        (out / name).write_text("x")
    doc = {"model": {"identity": "m1"}, "transcript_source": "asr:pocketsphinx", "transcript": str(machine),
           "outputs": {"json": "spot.json", "csv": "words.csv", "maps": "maps.npz",
                       "heatmaps": ["heatmaps/person0-000.png"]}}
    (out / "spot.json").write_text(json.dumps(doc))
    os.utime(machine, (1, 1))  # recognised before the outputs were written
    item = SimpleNamespace(transcript=None)
    assert finished(out, "spot", item, "m1", keypoints=False) == doc
    assert finished(out, "spot", item, "m2", keypoints=False) is None  # another model
    assert finished(out, "spot", item, "m1", keypoints=True) is None  # keypoints.csv asked, not there
    assert finished(out, "spot", SimpleNamespace(transcript=tmp_path / "v.txt"), "m1", False) is None  # one beside now
    (out / "maps.npz").unlink()
    assert finished(out, "spot", item, "m1", keypoints=False) is None  # an output missing
    (out / "maps.npz").write_text("x")
    later = (out / "spot.json").stat().st_mtime + 10
    os.utime(machine, (later, later))  # the recognised words corrected since
    assert finished(out, "spot", item, "m1", keypoints=False) is None
    (out / "spot.json").write_text('{"model": ')  # half a file is not finished
    assert finished(out, "spot", item, "m1", keypoints=False) is None


@pytest.mark.slow  # loads the model and mediapipe: about 7 s on 2 busy cores
def test_a_folder_with_only_a_corrupt_video_fails_it_and_writes_an_empty_table(tmp_path, random_model, capsys):
    folder = tmp_path / "videos"
    folder.mkdir()
    (folder / "broken.avi").write_bytes(b"RIFF" + os.urandom(3000))
    (folder / "notes.md").write_text("not a video")
    out = tmp_path / "out"
    assert main(["spot", str(folder), "--model", str(random_model), "--out", str(out), "--quiet"]) == 1
    captured = capsys.readouterr()
    assert "[1/1] broken: FAILED (corrupt_video)" in captured.out and "failed: broken" in captured.err
    assert (out / "words.csv").read_text().startswith("video,person,word_index")
    assert len(_rows(out / "words.csv")) == 0
    assert json.loads((out / "summary.json").read_text())["failures"][0]["input"] == "broken"
    assert not (out / "broken").exists()  # a failed video leaves no half-made folder of outputs


def test_a_folder_refuses_a_transcript_and_an_empty_folder_in_one_line(tmp_path, random_model, capsys, monkeypatch):
    folder = tmp_path / "empty"
    (folder / "empty.spot" / "talk").mkdir(parents=True)
    (folder / "empty.spot" / "talk" / "annotated.mp4").write_bytes(b"x")  # an earlier run's output is no input
    monkeypatch.chdir(folder)
    assert main(["spot", ".", "--model", str(random_model)]) == 1  # OUT: ./empty.spot, inside the folder
    assert "no video or .kps.npz in this folder" in capsys.readouterr().err
    monkeypatch.undo()
    folder = tmp_path / "none"
    folder.mkdir()
    assert main(["spot", str(folder), "--model", str(random_model), "--out", str(tmp_path / "o")]) == 1
    assert "no video or .kps.npz in this folder" in capsys.readouterr().err
    assert main(["asd", str(folder), "--model", str(random_model), "--transcript", "x.txt"]) == 1
    assert "--transcript names the transcript of one video" in capsys.readouterr().err


def test_progress_without_a_terminal_is_one_plain_line_per_stage(capsys):
    from jegal.use.progress import ProgressBar

    with ProgressBar("spot", terminal=False) as bar:
        for stage, f in [("reading the words", 0.0), ("people: decoding", 0.05), ("people: 1 s of 2 s", 0.4),
                         ("people: 2 s of 2 s", 0.8), ("spotting: person 1 of 1", 0.9), ("wrote out", 1.0)]:
            bar(stage, f)
    err = capsys.readouterr().err
    assert err.splitlines() == ["spot: reading the words (0%)", "spot: people: decoding (5%)",
                                "spot: spotting: person 1 of 1 (90%)", "spot: wrote out (100%)"]
    with ProgressBar("spot", disable=True, terminal=False) as bar:
        bar("reading", 0.0)
    assert capsys.readouterr().err == ""
