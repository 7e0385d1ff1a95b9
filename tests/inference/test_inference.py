import numpy as np
import pytest

from jegal.inference import GalleryIndex, save_heatmap, who_is_speaking, word_frame_scores
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
