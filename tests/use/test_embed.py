"""``jegal embed``: shard sets, keypoint "videos", folders and a real video; the file's keys and shapes."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from jegal.cli import main
from jegal.data.batch import collate_clips
from jegal.data.shards import read_clip_list
from jegal.use.embed import EmbedSet

WINDOW_KEYS = {"clip_id", "unit", "source", "person", "speaker", "start_frame", "end_frame", "start", "end", "has_words"}
UNIT_KEYS = {"id", "source", "person", "speaker", "start_frame", "num_frames", "num_words", "transcript_source"}


@pytest.fixture(scope="module")
def net(use_model):
    from jegal.model import JEGAL

    return JEGAL.from_pretrained(use_model)


@pytest.fixture(scope="module")
def shard_file(use_corpus, use_model, tmp_path_factory):
    out = tmp_path_factory.mktemp("embed") / "test.npz"
    assert main(["embed", str(use_corpus / "test"), "--model", str(use_model), "--out", str(out), "--quiet"]) == 0
    return out


def media(use_corpus, k: int = 0):
    """The k-th test clip's keypoints, speech and transcript files (``.kps.npz``, ``.wav``, ``.txt``)."""
    clips, _ = read_clip_list(use_corpus / "test")
    clip = clips[k]
    return clip, use_corpus / "media" / f"{clip.clip_id}.kps.npz"


def test_a_shard_set_gives_every_clip_its_frames_words_and_clip_vectors(shard_file, use_corpus, use_model, net):
    from jegal.model.pretrained import model_identity
    from jegal.inference import Embeddings

    e = EmbedSet.load(shard_file)
    clips, _ = read_clip_list(use_corpus / "test")
    assert [u["id"] for u in e.units] == [c.clip_id for c in clips]
    assert e.meta["model_id"] == model_identity(use_model) and e.meta["modalities"] == "ta"
    assert e.dim == net.config.d_model
    for u, c in [(0, clips[0]), (7, clips[7])]:
        unit = e.unit(u)
        assert set(e.units[u]) == UNIT_KEYS and set(e.window_meta[u]) == WINDOW_KEYS
        assert unit["frames"].shape == (c.num_frames, e.dim) and unit["words"].shape == (len(c.words), e.dim)
        assert [(w.text, w.start, w.end) for w in unit["word_list"]] == [(w.text, w.start, w.end) for w in c.words]
        alone = net.embed(collate_clips([c]), modalities="ta")
        np.testing.assert_allclose(unit["frames"], alone["gesture_frames"][0].numpy(), atol=2e-5)
        np.testing.assert_allclose(unit["words"], alone["content_words"][0].numpy(), atol=2e-5)
        np.testing.assert_allclose(e.windows.gesture_clip[u], alone["gesture_clip"][0].numpy(), atol=2e-5)
        assert e.window_meta[u]["end"] == c.num_frames / 25 and e.window_meta[u]["speaker"] == c.speaker_id
    plain = Embeddings.load(shard_file)  # the clip vectors read as a plain Embeddings file too
    assert plain.gesture_ids == e.windows.gesture_ids and plain.content_clip.shape == (len(clips), e.dim)


def test_a_keypoint_video_is_one_person_whose_frames_come_from_their_most_central_window(use_corpus, use_model, net,
                                                                                         tmp_path):
    from jegal.inference.windows import central_window
    from jegal.use.video import read_video

    clip, kps = media(use_corpus, 3)
    out = tmp_path / "one.npz"
    assert main(["embed", str(kps), "--model", str(use_model), "--out", str(out), "--window-frames", "40",
                 "--overlap-frames", "20", "--quiet"]) == 0
    e = EmbedSet.load(out)
    (unit,) = e.units
    assert unit["person"] == 0 and unit["transcript_source"] == "given" and unit["num_frames"] == clip.num_frames
    assert [w.display for w in e.unit_word_list[0]] == [w.display for w in clip.words]
    starts = [m["start_frame"] for m in e.window_meta]
    assert len(starts) >= 3 and starts[0] == 0 and e.window_meta[-1]["end_frame"] == clip.num_frames - 1
    # the reference: every window embedded alone, each frame / word from its most central window
    video = read_video(kps, window_frames=40, overlap_frames=20, progress=False)
    wins = np.array(video.people[0].windows)
    alone = [net.embed(collate_clips([c]), modalities="ta") for c in video.people[0].clips]
    t = np.arange(clip.num_frames)
    pick = central_window(t, t, wins)
    expected = np.stack([alone[k]["gesture_frames"][0, f - wins[k, 0]].numpy() for f, k in zip(t, pick)])
    np.testing.assert_allclose(e.unit_frames[0], expected, atol=2e-5)
    words = video.words
    kw = central_window([w.start for w in words], [w.end for w in words], wins)
    for j, k in enumerate(kw):
        inside = [i for i, w in enumerate(words) if w.start >= wins[k, 0] and w.end <= wins[k, 1]]
        np.testing.assert_allclose(e.unit_words[0][j], alone[k]["content_words"][0, inside.index(j)].numpy(),
                                   atol=2e-5)


def test_a_folder_embeds_every_input_with_unique_ids_and_clip_vectors_only_is_small(use_corpus, use_model, tmp_path):
    folder = tmp_path / "videos"
    for k in (0, 1):
        clip, kps = media(use_corpus, k)
        dest = folder / f"talk{k}"
        dest.mkdir(parents=True)
        for suffix in (".kps.npz", ".wav", ".txt"):  # every SynthGest media file is called 00000.*
            shutil.copy(str(kps)[: -len(".kps.npz")] + suffix, dest / f"00000{suffix}")
    out = tmp_path / "folder.npz"
    assert main(["embed", str(folder), "--model", str(use_model), "--out", str(out), "--quiet",
                 "--clip-vectors-only", "--modalities", "t"]) == 0
    e = EmbedSet.load(out)
    assert [u["id"] for u in e.units] == ["talk0/00000/00000", "talk1/00000/00000"]
    assert e.meta["modalities"] == "t" and len(e.windows.content_ids) == 2
    assert all(f.shape == (0, e.dim) for f in e.unit_frames) and e.units[0]["num_frames"] == 75


def test_a_real_video_is_embedded_per_person(real_dir, use_model, tmp_path):
    out = tmp_path / "sample1.npz"
    assert main(["embed", str(real_dir / "sample1.avi"), "--model", str(use_model), "--out", str(out), "--quiet"]) == 0
    e = EmbedSet.load(out)
    (unit,) = e.units
    assert unit["source"].endswith("sample1.avi") and unit["transcript_source"] == "given"
    assert e.unit_frames[0].shape == (unit["num_frames"], e.dim) and 0 < unit["num_frames"] <= 56
    assert [w.display for w in e.unit_word_list[0]] == ["amount", "of", "numbers", "inside", "the", "hat,", "mixing",
                                                        "the"]
    assert np.allclose(np.linalg.norm(e.windows.gesture_clip, axis=1), 1, atol=1e-4)
    assert json.loads(json.dumps(e.meta))["input_kind"] == "video"


def test_bad_inputs_are_one_line_errors(use_corpus, use_model, tmp_path, capsys):
    base = ["--model", str(use_model), "--quiet"]
    assert main(["embed", str(tmp_path / "nope.mp4"), "--out", str(tmp_path / "x.npz")] + base) == 1
    assert "nope.mp4: no such file" in capsys.readouterr().err
    assert main(["embed", str(use_corpus), "--out", str(tmp_path / "x.npz")] + base) == 1
    assert "give one of its shard sets" in capsys.readouterr().err
    assert main(["embed", str(use_corpus / "test"), "--out", str(tmp_path / "x.txt")] + base) == 1
    assert "must end in .npz" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["embed", str(tmp_path / "empty"), "--out", str(tmp_path / "x.npz")] + base) == 1
    assert "no video or .kps.npz" in capsys.readouterr().err
    assert main(["embed", str(use_corpus / "test"), "--out", str(tmp_path / "x.npz"), "--model",
                 str(tmp_path)]) == 1
    assert str(tmp_path) in capsys.readouterr().err
    assert not (tmp_path / "x.npz").exists()
