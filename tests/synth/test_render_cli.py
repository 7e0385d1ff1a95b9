import json

import numpy as np
import pytest

from jegal.cli import main
from jegal.data.shards import read_clips
from jegal.synth.corpus import ClipSpec, make_clip
from jegal.synth.motion import CANVAS
from jegal.synth.render import draw_frames, write_video
from jegal.synth.speakers import make_speakers


def test_rendered_video_has_every_frame_and_a_blank_face(tmp_path):
    import av

    spk = make_speakers(3, 0)
    item = make_clip(ClipSpec("test", 0, 2, 30), spk, seed=0)
    frames = draw_frames(item["clean"], spk[2])
    assert frames.shape == (30, CANVAS, CANVAS, 3) and frames.dtype == np.uint8
    # Inside the head ellipse every pixel has the skin colour: no facial features drawn.
    ls, rs = item["clean"][0, 0, :2], item["clean"][0, 1, :2]
    mid = (ls + rs) / 2
    head = (int(mid[0]), int(mid[1] - 0.75 * spk[2].shoulder_width))
    r = int(0.15 * spk[2].shoulder_width)
    patch = frames[0, head[1] - r : head[1] + r, head[0] - r : head[0] + r]
    assert patch.reshape(-1, 3).std(axis=0).max() < 1.0
    path = tmp_path / "clip.mp4"
    write_video(frames, path)
    with av.open(str(path)) as c:
        decoded = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(decoded) == 30 and decoded[0].shape == (CANVAS, CANVAS, 3)
    assert np.abs(decoded[10].astype(int) - frames[10].astype(int)).mean() < 6


def test_jegal_synth_cli_writes_a_corpus(tmp_path, capsys):
    out = tmp_path / "c"
    rc = main(["synth", "--out", str(out), "--speakers", "4", "--train-clips", "6", "--test-clips", "6",
               "--seed", "2", "--render", "--baselines", "--quiet"])
    assert rc == 0
    report = json.loads(capsys.readouterr().out)
    assert report["train_clips"] == 6 and report["spot_rows"] == 6
    assert report["baselines"]["spotting"]["rows"] == 6
    test_ids = [c.clip_id for c in read_clips(out / "test")]
    for cid in test_ids:
        for ext in (".wav", ".txt", ".kps.npz", ".mp4"):
            assert (out / "media" / (cid + ext)).is_file()
    assert json.loads((out / "synth.json").read_text())["render"] is True


def test_jegal_synth_cli_reports_bad_settings(tmp_path, capsys):
    rc = main(["synth", "--out", str(tmp_path / "c"), "--speakers", "2", "--quiet"])
    assert rc == 1
    assert "speakers" in capsys.readouterr().err


def test_help_lists_every_flag(capsys):
    with pytest.raises(SystemExit):
        main(["synth", "--help"])
    text = capsys.readouterr().out
    for flag in ("--out", "--speakers", "--train-clips", "--test-clips", "--seed", "--render", "--train-media",
                 "--workers", "--clips-per-shard", "--baselines", "--quiet"):
        assert flag in text
