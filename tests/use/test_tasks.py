"""The one function per task (``jegal.use.spot_words``, ``find_speakers``, ``write_embeddings``) and the one progress
protocol: what the command line writes, the Python call writes too; fractions only go up and reach 1."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest

import jegal.use
from jegal.cli import main
from jegal.use.progress import Stages


def recorder():
    calls = []
    return calls, lambda stage, fraction: calls.append((stage, fraction))


def assert_monotone_to_one(calls):
    fractions = [f for _, f in calls]
    assert fractions, "no progress reported"
    assert all(0.0 <= f <= 1.0 for f in fractions)
    assert all(b >= a for a, b in zip(fractions, fractions[1:])), f"progress went down: {fractions}"
    assert fractions[-1] == 1.0


def test_stages_split_the_whole_by_weight_never_go_down_and_end_at_one():
    calls, progress = recorder()
    stages = Stages(progress, {"read": 3, "model": 1})
    stages("read", 0.5)
    assert calls[-1] == ("read", pytest.approx(3 / 8))
    stages("model", 0.0)  # a later stage starts where the earlier ones end
    assert calls[-1][1] == pytest.approx(0.75)
    stages("read", 0.9)  # a late report of an earlier stage does not move the bar back
    assert calls[-1][1] == pytest.approx(0.75)
    inner = stages.part("model")
    inner("embedding", 0.5)
    assert calls[-1] == ("embedding", pytest.approx(0.875))
    stages("something else", 0.3)  # a stage not planned only changes the label
    assert calls[-1] == ("something else", pytest.approx(0.875))
    stages.done()
    assert_monotone_to_one(calls)


def test_a_ticking_stage_moves_on_between_its_reports_but_not_past_its_cap():
    calls, progress = recorder()
    stages = Stages(progress, {"people": 1, "rest": 1})
    with stages.ticking("people", 0.2, "people", cap=0.9, period=0.02):
        time.sleep(0.4)
    assert len(calls) >= 3 and calls[-1][1] == pytest.approx(0.45)  # 0.9 of the first half
    assert_monotone_to_one(calls + [("done", 1.0)])
    assert not any(t.name == "jegal-progress" for t in threading.enumerate())


@pytest.fixture(scope="module")
def loaded(random_model):
    from jegal.model import JEGAL

    model = JEGAL.from_pretrained(random_model).eval()
    return model, model.source_dir


def test_spot_words_writes_what_jegal_spot_writes_and_reports_progress_to_one(loaded, real_dir, random_model,
                                                                               tmp_path):
    model, model_dir = loaded
    calls, progress = recorder()
    got = jegal.use.spot_words(real_dir / "sample1.avi", model, model_dir=model_dir, out=tmp_path / "py",
                               progress=progress)
    assert_monotone_to_one(calls)
    stages = [s for s, _ in calls]
    assert any(s.startswith("people") for s in stages) and any(s.startswith("writing annotated.mp4") for s in stages)
    assert got.out == tmp_path / "py" and json.loads((got.out / "spot.json").read_text()) == got.doc
    assert main(["spot", str(real_dir / "sample1.avi"), "--model", str(random_model), "--out", str(tmp_path / "cli"),
                 "--quiet"]) == 0
    cli = json.loads((tmp_path / "cli" / "spot.json").read_text())
    py = dict(got.doc)
    for doc in (cli, py):
        doc.pop("timings")
    assert py == cli
    with np.load(got.out / "maps.npz") as a, np.load(tmp_path / "cli" / "maps.npz") as b:
        assert sorted(a.files) == sorted(b.files) and all(np.array_equal(a[k], b[k]) for k in a.files)


def test_find_speakers_reuses_a_video_already_read_and_reports_progress_to_one(loaded, real_dir, tmp_path):
    model, model_dir = loaded
    spot = jegal.use.spot_words(real_dir / "sample1.avi", model, model_dir=model_dir, out=tmp_path / "spot",
                                annotated=False)
    assert "video" not in spot.doc["outputs"] and not (tmp_path / "spot" / "annotated.mp4").exists()
    calls, progress = recorder()
    got = jegal.use.find_speakers(spot.video, model, model_dir=model_dir, out=tmp_path / "asd", progress=progress)
    assert_monotone_to_one(calls)
    assert got.video is spot.video and got.doc["num_frames"] == spot.doc["num_frames"]
    assert json.loads((tmp_path / "asd" / "asd.json").read_text()) == got.doc
    assert got.doc["segments"] and all(s["decision"] == "only_person" for s in got.doc["segments"])


def test_the_page_video_is_written_in_the_same_pass_as_the_annotated_video(loaded, real_dir, tmp_path):
    from .conftest import decode_mp4

    model, model_dir = loaded
    page = jegal.use.VideoTarget(tmp_path / "page.mp4", faststart=True)
    got = jegal.use.spot_words(real_dir / "sample1.avi", model, model_dir=model_dir, out=tmp_path / "out",
                               also=[page])
    for path in (tmp_path / "page.mp4", got.out / "annotated.mp4"):
        frames, seconds, kinds, codec = decode_mp4(path)
        assert frames == got.doc["num_frames"] and kinds == ["audio", "video"] and codec == "h264"
    data = (tmp_path / "page.mp4").read_bytes()
    assert 0 < data.find(b"moov") < data.find(b"mdat")  # faststart: a browser plays it while it downloads


def test_embed_writes_the_file_the_command_writes_and_reports_progress_to_one(loaded, real_dir, tmp_path):
    from jegal.use.embed import EmbedInputError, EmbedSet

    model, model_dir = loaded
    calls, progress = recorder()
    result = jegal.use.write_embeddings(real_dir / "sample1.avi", model, out=tmp_path / "e.npz", model_dir=model_dir,
                             progress=progress)
    assert_monotone_to_one(calls)
    again = EmbedSet.load(tmp_path / "e.npz")
    assert again.units == result.units and np.array_equal(again.unit_frames[0], result.unit_frames[0])
    with pytest.raises(EmbedInputError, match=".npz"):
        jegal.use.write_embeddings(real_dir / "sample1.avi", model, out=tmp_path / "e.txt")
