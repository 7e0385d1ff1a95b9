from dataclasses import replace

import numpy as np
import pytest

from jegal.data.batch import collate_clips
from jegal.inference import Embeddings, GalleryIndex, embed_clips, save_heatmap, who_is_speaking, word_frame_scores
from tests.evaluation.conftest import WORD_SPANS, FakeModel, make_clip


def test_heatmap_finds_the_gestured_word_and_writes_a_png(tmp_path):
    clip = make_clip(2, gestured=1)  # word b (frames 15-20) is gestured at 15-20
    s = word_frame_scores(FakeModel(), clip)
    assert s["probs"].shape == (3, clip.num_frames)
    np.testing.assert_allclose(s["probs"].sum(axis=0), 1.0)
    assert s["best_frame"][1] == WORD_SPANS[1][0] and s["best_prob"][1] > 0.99
    assert s["best_prob"][0] == pytest.approx(1 / 3)  # no gesture for word a: flat
    png = save_heatmap(s, tmp_path / "h.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 2000
    assert not list(tmp_path.glob(".*"))


def test_gallery_search_matches_brute_force(tmp_path):
    rng = np.random.default_rng(0)
    g = rng.normal(size=(50, 8))
    q = rng.normal(size=(4, 8))
    index = GalleryIndex(g, [f"c{i}" for i in range(50)])
    gn = g / np.linalg.norm(g, axis=1, keepdims=True)
    qn = q / np.linalg.norm(q, axis=1, keepdims=True)
    ref = np.argsort(-(qn @ gn.T), axis=1)[:, :5]
    hits = index.search(q, k=5)
    assert [[int(i[1:]) for i, _ in h] for h in hits] == ref.tolist()
    np.testing.assert_allclose([s for _, s in hits[0]], np.sort(qn @ gn.T, axis=1)[0, ::-1][:5], rtol=1e-5)
    again = GalleryIndex.load(index.save(tmp_path / "gallery"))
    assert again.search(q, k=5) == hits


def test_who_is_speaking_picks_the_matching_gesture_and_refuses_ties():
    model = FakeModel()
    people = [make_clip(k) for k in (4, 1, 6)]
    r = who_is_speaking(model, make_clip(1), people)
    assert r["speaker"] == 1 and r["scores"] == [0.0, 1.0, 0.0]
    assert who_is_speaking(model, make_clip(1), [make_clip(1), make_clip(1)])["speaker"] == -1


def test_embed_clips_equals_one_clip_at_a_time_and_roundtrips(tmp_path):
    model = FakeModel()
    clips = []
    for k, T in zip(range(5), (36, 40, 35, 39, 37)):  # ragged lengths: length-sorted batches pad
        c = make_clip(k, gestured=k % 3)
        clips.append(replace(c, keypoints=c.keypoints[:T], mel=c.mel[: 4 * T]))
    emb = embed_clips(model, clips, clips[::-1], modalities="ta", batch_size=2)
    assert sorted(emb.gesture_ids) == sorted(c.clip_id for c in clips) and emb.dim == 64
    for c in clips:  # the reference: each clip alone, no padding at all
        alone = model.embed(collate_clips([c]), parts="gc")
        vec, frames = emb.gesture(c.clip_id)
        np.testing.assert_array_equal(vec, alone["gesture_clip"][0].numpy())
        np.testing.assert_array_equal(frames, alone["gesture_frames"][0].numpy())
        vec, words = emb.content(c.clip_id)
        np.testing.assert_array_equal(vec, alone["content_clip"][0].numpy())
        np.testing.assert_array_equal(words, alone["content_words"][0].numpy())
    again = Embeddings.load(emb.save(tmp_path / "emb.npz", meta={"note": "x"}))
    assert again.gesture_ids == emb.gesture_ids and not list(tmp_path.glob(".*"))
    np.testing.assert_array_equal(again.gesture(clips[2].clip_id)[1], emb.gesture(clips[2].clip_id)[1])
