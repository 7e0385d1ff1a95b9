"""The imported released model on a user's video: ``jegal spot`` computes the GestSync features and the
reference log-mel from the video through prepare's own code, runs with speech only where the text
backbone is missing, and refuses what it cannot do with a message that says what to pass.

The checkpoints are the released-checkpoint fixture's recipe (tests/model/released_fixture.py) saved in
the released layout and imported with ``jegal import-released``, once for the module."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

from jegal.cli import main
from jegal.model import JEGAL
from jegal.model.config import JEGALConfig
from jegal.use.video import FrontEndMismatch, gesture_input, model_inputs
from tests.model import released_fixture as rf

from .test_spot import SPOT_KEYS, WORD_KEYS

THREADS = max(1, min(4, os.cpu_count() or 1))  # the pose and feature threads read_video uses


@pytest.fixture(scope="module")
def released_dir(tmp_path_factory):
    """A model directory written by ``jegal import-released`` from the recipe's jegal.pth and gestsync.pth."""
    root = tmp_path_factory.mktemp("released_video")
    jegal_pth = rf.save_released(root / "jegal.pth", rf.recipe_state("jegal"))
    gestsync_pth = rf.save_released(root / "gestsync.pth", rf.recipe_state("gestsync"))
    assert main(["import-released", "--jegal", str(jegal_pth), "--gestsync", str(gestsync_pth),
                 "--out", str(root / "model")]) == 0
    jegal_pth.unlink()
    gestsync_pth.unlink()
    return root / "model"


@pytest.fixture(scope="module")
def text_missing(released_dir) -> bool:
    from jegal.released.cli import text_backbone_problem

    return text_backbone_problem(JEGALConfig.from_json(released_dir / "config.json").text.backbone) is not None


@pytest.fixture(scope="module")
def spotted(released_dir, real_dir, tmp_path_factory):
    """``jegal spot`` of sample1.avi (its transcript beside it) with the imported model, recording every
    batch the model embedded: its parts, modalities, clip ids, features (or None), mel and frame mask."""
    out = tmp_path_factory.mktemp("released_spot") / "out"
    seen = []
    embed = JEGAL.embed

    def recording(self, batch, *args, **kw):
        seen.append({"parts": kw.get("parts"), "modalities": kw.get("modalities"), "ids": list(batch["clip_ids"]),
                     "features": batch.get("features"), "mel": batch["mel"].clone(), "mask": batch["frame_mask"]})
        return embed(self, batch, *args, **kw)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(JEGAL, "embed", recording)
        assert main(["spot", str(real_dir / "sample1.avi"), "--model", str(released_dir), "--out", str(out),
                     "--quiet", "--no-video", "--threads", str(THREADS)]) == 0
    return out, seen


@pytest.fixture(scope="module")
def prepared(released_dir, real_dir, tmp_path_factory):
    """Clips of ``jegal prepare --rgb-features gestsync --mel reference`` of the same video."""
    from jegal.data.shards import read_clips

    root = tmp_path_factory.mktemp("released_prepare")
    for name in ("sample1.avi", "sample1.wav", "sample1.txt"):
        shutil.copy(real_dir / name, root / name)
    assert main(["prepare", str(root / "sample1.avi"), "--out", str(root / "shards"), "--rgb-features", "gestsync",
                 "--gestsync-weights", str(released_dir), "--mel", "reference", "--workers", "1",
                 "--threads", str(THREADS), "--quiet"]) == 0
    clips = list(read_clips(root / "shards"))
    assert clips
    return clips


def test_a_features_model_without_gestsync_weights_says_what_to_pass(tmp_path, released_dir):
    config = JEGALConfig.from_json(released_dir / "config.json")
    with pytest.raises(FrontEndMismatch, match=r"'features'.*gestsync\.safetensors does not exist.*"
                                               r"jegal import-released .*--gestsync gestsync\.pth"):
        gesture_input(config, "talk.mp4", model_dir=tmp_path)
    with pytest.raises(FrontEndMismatch, match="talk.kps.npz.*keypoints only"):
        model_inputs(config, released_dir, "talk.kps.npz")
    inputs = model_inputs(config, released_dir, "talk.mp4")
    assert inputs == {"rgb_size": None, "gestsync_weights": released_dir / "gestsync.safetensors", "mel": "reference",
                      "features_device": "cpu"}
    cpu = JEGALConfig.from_preset("cpu")  # a keypoints model: our own log-mel, no features
    assert model_inputs(cpu, released_dir, "talk.mp4") == {"rgb_size": None, "gestsync_weights": None, "mel": "jegal",
                                                           "features_device": "cpu"}


def test_without_the_text_backbone_speech_only_is_the_default_and_text_is_refused(released_dir, real_dir,
                                                                                   text_missing, tmp_path, capsys):
    from jegal.model.text import TextBackboneError
    from jegal.use.common import content_modalities

    if not text_missing:
        pytest.skip("xlm-roberta-base is available here")
    model = JEGAL.from_pretrained(released_dir).load_text_backbone()  # the missing backbone is not an error
    assert model.speech_only and not model.text_available  # for the released text head: it runs with speech only
    assert content_modalities(model, None) == "a" and content_modalities(model, None) == "a"
    note = capsys.readouterr().err.strip().splitlines()
    assert len(note) == 1 and "speech only" in note[0] and "--modalities a" in note[0]  # said once, in one line
    assert content_modalities(model, "a") == "a"
    with pytest.raises(TextBackboneError, match="run the model with speech only"):
        content_modalities(model, "ta")
    for mods in ("t", "ta"):
        assert main(["spot", str(real_dir / "sample1.avi"), "--model", str(released_dir), "--modalities", mods,
                     "--out", str(tmp_path / mods), "--quiet"]) == 1
        err = capsys.readouterr().err.strip()
        assert err.startswith("jegal spot: the released text head reads 'xlm-roberta-base' states")
        assert "--modalities a" in err and len(err.splitlines()) == 1
        assert not (tmp_path / mods).exists()  # refused before the video was read


@pytest.mark.slow
def test_spot_runs_the_imported_model_with_speech_only(spotted, text_missing):
    out, seen = spotted
    doc = json.loads((out / "spot.json").read_text())
    assert set(doc) == SPOT_KEYS and doc["model"]["dir"].endswith("model") and doc["model"]["kind"] == "real"
    assert doc["transcript_source"] == "given" and len(doc["words"]) == 8
    (person,) = doc["people"]
    assert len(person["words"]) == 8 and all(set(w) == WORD_KEYS for w in person["words"])
    assert doc["timings"]["features"] > 0
    if text_missing:  # the default is speech only, said in the warnings, and the model was asked for speech only
        assert doc["modalities"] == "a" and any("speech only" in w for w in doc["warnings"])
        assert {b["modalities"] for b in seen if b["parts"] == "c"} == {"a"}
    with np.load(out / "maps.npz", allow_pickle=False) as z:
        probs = z["person0_probs"]
    assert probs.shape == (8, person["last_frame"] - person["first_frame"] + 1)
    np.testing.assert_allclose(probs.sum(0), 1.0, atol=1e-5)


@pytest.mark.slow
def test_the_model_reads_the_features_and_log_mel_prepare_writes(spotted, prepared):
    """The gesture features and the log-mel that reached the model are those ``jegal prepare
    --rgb-features gestsync --mel reference`` stores for the same video: equal once rounded to the
    shards' float16 (the same code computed them, with the same threads)."""
    from jegal.timebase import MEL_PER_FRAME

    def f16(x):
        return x.astype(np.float16).astype(np.float32)

    _, seen = spotted
    gesture = [(b["ids"], b["features"], b["mask"]) for b in seen if b["parts"] == "g"]
    content = [(b["ids"], b["mel"], b["mask"]) for b in seen if b["parts"] == "c"]
    assert gesture and content
    shard = {c.extra["start_frame"]: c for c in prepared}
    compared = 0
    for ids, feats, mask in gesture:
        assert feats is not None and feats.shape[-1] == 1024
        for i, clip_id in enumerate(ids):
            if "@" not in clip_id:  # the person's still pose (the gesture score's control): no place in the video
                continue
            start = int(clip_id.rsplit("@", 1)[1])
            T = int(mask[i].sum())
            ours = feats[i, :T].numpy()
            for s, clip in shard.items():  # every frame both cover
                lo, hi = max(start, s), min(start + T, s + clip.num_frames)
                if hi <= lo:
                    continue
                theirs = clip.features[lo - s:hi - s]
                assert np.array_equal(f16(ours[lo - start:hi - start]), theirs)
                assert float(np.abs(theirs).max()) > 0 and np.ptp(theirs, axis=0).max() > 0
                compared += hi - lo
    assert compared >= 25
    for ids, mel, mask in content:
        for i, clip_id in enumerate(ids):
            start, T = int(clip_id.rsplit("@", 1)[1]), int(mask[i].sum())
            for s, clip in shard.items():
                lo, hi = max(start, s), min(start + T, s + clip.num_frames)
                if hi > lo:
                    ours = mel[i, MEL_PER_FRAME * (lo - start):MEL_PER_FRAME * (hi - start)].numpy()
                    theirs = clip.mel[MEL_PER_FRAME * (lo - s):MEL_PER_FRAME * (hi - s)]
                    assert np.array_equal(f16(ours), theirs)
                    assert clip.extra["mel"] == "reference"


def test_embed_reads_a_video_for_the_imported_model(released_dir, real_dir, tmp_path, text_missing):
    """``jegal embed`` on a raw video with the imported (features) model: the GestSync features are
    computed as for ``spot`` (no FrontEndMismatch), one 512-d frame embedding per frame in view."""
    out = tmp_path / "emb.npz"
    assert main(["embed", str(real_dir / "sample1.avi"), "--model", str(released_dir), "--out", str(out),
                 "--quiet", "--threads", str(THREADS)]) == 0
    with np.load(out, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        names = set(z.files)
        frames = [z[k] for k in sorted(names) if "frame" in k and z[k].ndim == 2]
    if text_missing:
        assert meta["modalities"] == "a"
    assert frames and all(f.shape[-1] == 512 for f in frames), names
