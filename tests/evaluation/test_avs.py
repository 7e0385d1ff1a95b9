"""``jegal eval avs`` on stand-in clips: 3 s pieces of ../shared/data/real/speaker_raw.mp4 written in the
official downloader's layout (``<video_id>_<start>-<end>.mp4``) and named by AVS rows of small CSVs in
the AVS columns. An untrained model: the test asserts the structure, the counts and the accounting of
a missing clip, not scores."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from jegal.cli import main

FRAMES = 75  # 3 s at 25 fps
WORDS = [["so", 2, 10], ["we", 12, 20], ["went", 22, 34], ["down", 36, 48], ["there", 50, 66]]


def cut_clip(source: Path, out: Path, first: int, frames: int = FRAMES) -> None:
    """Frames [first, first + frames) of ``source`` and its audio over the same time, as H.264 + AAC at 25 fps."""
    import av

    with av.open(str(source)) as src:
        pics = [f.to_ndarray(format="rgb24") for i, f in enumerate(src.decode(video=0)) if first <= i < first + frames]
    with av.open(str(source)) as src:
        wave = np.concatenate([f.to_ndarray().reshape(-1) for f in src.decode(audio=0)])
    rate = 16000
    wave = wave[int(first / 25 * rate): int((first + frames) / 25 * rate)]
    with av.open(str(out), "w") as dst:
        v = dst.add_stream("h264", rate=25)
        v.width, v.height, v.pix_fmt = pics[0].shape[1], pics[0].shape[0], "yuv420p"
        a = dst.add_stream("aac", rate=rate, layout="mono")
        for p in pics:
            dst.mux(v.encode(av.VideoFrame.from_ndarray(p, format="rgb24")))
        dst.mux(v.encode())
        frame = av.AudioFrame.from_ndarray(wave.astype(np.float32)[None], format="fltp", layout="mono")
        frame.sample_rate = rate
        dst.mux(a.encode(frame))
        dst.mux(a.encode())


def segment(i: int) -> tuple[str, float, float, str]:
    vid, start = f"StandIn{i:03d}x", 10.25 + i
    end = start + FRAMES / 25
    return vid, start, end, f"{vid}_{start:.6f}-{end:.6f}"


def write_csv(path: Path, columns: list[str], rows: list[dict]) -> Path:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns)
        w.writeheader()
        w.writerows(rows)
    return path


@pytest.fixture(scope="module")
def avs_standin(real_dir, avs_dir, tmp_path_factory):
    """(csv dir, clips dir, the missing clip's name): 6 clips named in the three CSVs, the last one absent."""
    root = tmp_path_factory.mktemp("avs")
    clips, csvs = root / "clips", root / "csv"
    clips.mkdir()
    csvs.mkdir()
    base = {}
    for name in ("avs_spot.csv", "avs_ret.csv", "avs_asd.csv"):
        with open(avs_dir / name, newline="") as f:
            reader = csv.DictReader(f)
            base[name] = (reader.fieldnames, next(reader))
    segs = [segment(i) for i in range(6)]
    for i, (_, _, _, name) in enumerate(segs[:5]):
        cut_clip(real_dir / "speaker_raw.mp4", clips / f"{name}.mp4", first=10 * i)

    def row(name: str, i: int, **extra) -> dict:
        vid, start, end, stem = segs[i]
        r = dict(base[name][1])
        r.update(video_id=vid, start_time=f"{start}", end_time=f"{end}", filename=f"{stem}/00000",
                 phrase=" ".join(w[0] for w in WORDS), word_boundaries=repr(WORDS), **extra)
        if "num_frames" in r:
            r["num_frames"] = str(FRAMES)
        return r

    write_csv(csvs / "avs_ret.csv", base["avs_ret.csv"][0], [row("avs_ret.csv", i) for i in range(6)])
    write_csv(csvs / "avs_spot.csv", base["avs_spot.csv"][0],
              [row("avs_spot.csv", i, target_word=WORDS[2][0], target_word_boundary=repr(WORDS[2]),
                   stress_label=str(i % 2)) for i in range(2)])
    negs = lambda own: repr([f"{segs[j][3]}/00000" for j in range(6) if j != own])  # noqa: E731
    write_csv(csvs / "avs_asd.csv", base["avs_asd.csv"][0], [row("avs_asd.csv", i, neg_files=negs(i)) for i in range(2)])
    return csvs, clips, segs[5][3]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from jegal.model import JEGAL

    out = tmp_path_factory.mktemp("avs_model") / "model"
    JEGAL.from_preset("cpu").save_pretrained(out)
    return out


@pytest.mark.slow
def test_eval_avs_runs_the_three_tasks_and_counts_the_missing_clip(avs_standin, tiny_model, tmp_path, capsys):
    csvs, clips, missing = avs_standin
    out = tmp_path / "avs_out"
    args = ["eval", "avs", "--model", str(tiny_model), "--csv-dir", str(csvs), "--clips", str(clips), "--out", str(out),
            "--quiet", "--modalities", "a"]
    assert main(args) == 0
    captured = capsys.readouterr()
    doc = json.loads((out / "avs.json").read_text())
    assert doc["missing_clips"] == [missing]
    assert f"1 of 6 clips not in {clips}" in captured.err
    ret, spot, asd = doc["counts"]["retrieval"], doc["counts"]["spotting"], doc["counts"]["asd"]
    assert (ret["rows"], ret["clips"], ret["clips_usable"], ret["evaluated"]) == (6, 6, 5, 5)
    assert list(ret["problems"]) == [f"{missing}/00000"]
    assert (spot["rows"], spot["evaluated"]) == (2, 2)
    a = doc["results"]["a"]
    # never dropped from a candidate set: the retrieval matrix is 6 x 6, every ASD row at P=6 needs the missing clip
    assert a["retrieval"]["metrics"]["candidates"] == 6
    p6, p2 = a["asd"]["metrics"]["P=6"], a["asd"]["metrics"]["P=2"]
    assert p6["evaluated"] == 0 and p6["errors"]["missing_clip"] == 2
    assert p2["evaluated"] == 2
    out_lines = captured.out.splitlines()
    assert "retrieval: 5 of 6 rows evaluated (the paper: 500); 5 of 6 clips usable" in out_lines
    assert any(line.startswith("| paper: JEGAL, speech only | 20.0 | 20.6 | 59.0 | 60.5 | 41.8 | 74.4 | 50.0 | 40.4")
               for line in out_lines)
    assert any(line.startswith("| floor: word order, no gesture (spotting)") for line in out_lines)
    assert any(line.startswith("| model (a) |") for line in out_lines)
    # resumable: a second run prepares nothing again and reads the embeddings from the cache
    status = sorted((out / "prepared" / "status").glob("*.json"))
    mtimes = [p.stat().st_mtime_ns for p in status]
    assert len(status) == 5
    assert main(args) == 0
    assert [p.stat().st_mtime_ns for p in status] == mtimes


def test_eval_avs_shard_prepares_only_its_clips(avs_standin, tiny_model, tmp_path, capsys):
    csvs, clips, _ = avs_standin
    out = tmp_path / "avs_shard"
    # with 5 clips and 5 jobs at least one job is empty or small; job i's status records are its clips only
    from jegal.perception.discover import discover
    from jegal.prepare.pipeline import select_shard

    assert main(["eval", "avs", "--model", str(tiny_model), "--csv-dir", str(csvs), "--clips", str(clips), "--out",
                 str(out), "--quiet", "--shard", "1/40"]) == 0
    assert "run without --shard to score" in capsys.readouterr().out
    mine = select_shard(discover(out / "inputs.csv"), 1, 40)
    assert len(list((out / "prepared" / "status").glob("*.json"))) == len(mine)
    assert not (out / "avs.json").exists()


def test_eval_avs_download_without_yt_dlp_says_what_to_install(avs_standin, tiny_model, tmp_path, capsys):
    try:
        import yt_dlp  # noqa: F401
        pytest.skip("yt-dlp is installed here")
    except ImportError:
        pass
    csvs, clips, _ = avs_standin
    assert main(["eval", "avs", "--model", str(tiny_model), "--csv-dir", str(csvs), "--clips", str(clips), "--out",
                 str(tmp_path / "o"), "--download"]) == 1
    err = capsys.readouterr().err
    assert "pip install 'jegal[avs]'" in err and "Traceback" not in err


def test_eval_avs_names_a_missing_csv(tmp_path, tiny_model, capsys):
    assert main(["eval", "avs", "--model", str(tiny_model), "--csv-dir", str(tmp_path), "--clips", str(tmp_path)]) == 1
    assert "avs_spot.csv" in capsys.readouterr().err


@pytest.mark.slow
def test_eval_avs_with_model_released_reads_gestsync_features(avs_standin, tmp_path, monkeypatch, capsys):
    """The released layout (the parity fixture's recipe) imported where `jegal fetch released` puts it:
    `--model released` prepares the clips with GestSync features and the reference log-mel, speech only
    (no xlm-roberta-base here)."""
    from jegal.data.shards import read_clip_list
    from jegal.model.pretrained import released_model_dir
    from jegal.released.cli import import_released
    from tests.model import released_fixture as rf

    cache = tmp_path / "cache"
    monkeypatch.setenv("JEGAL_CACHE", str(cache))
    import_released(rf.save_released(tmp_path / "jegal.pth", rf.recipe_state("jegal")), released_model_dir(cache),
                    rf.save_released(tmp_path / "gestsync.pth", rf.recipe_state("gestsync")))
    csvs, clips, missing = avs_standin
    out = tmp_path / "avs_released"
    assert main(["eval", "avs", "--model", "released", "--csv-dir", str(csvs), "--clips", str(clips), "--out",
                 str(out), "--quiet", "--threads", "2"]) == 0
    captured = capsys.readouterr()
    doc = json.loads((out / "avs.json").read_text())
    if doc["modalities"] == ["a"]:  # xlm-roberta-base is not on this machine
        assert any("speech only" in n for n in doc["notes"])
    assert doc["model"] == str(released_model_dir(cache)) and doc["missing_clips"] == [missing]
    assert any(line.startswith("| model (a) |") for line in captured.out.splitlines())
    status = [json.loads(p.read_text()) for p in (out / "prepared" / "status").glob("*.json")]
    assert len(status) == 5 and all(s["status"] == "done" for s in status)
    prepared, _ = read_clip_list(out / "prepared")
    assert len(prepared) == 5
    for clip in prepared:  # the model's own inputs: GestSync features for every frame, the reference log-mel
        assert clip.features.shape == (clip.num_frames, 1024) and clip.extra["mel"] == "reference"
