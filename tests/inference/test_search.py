"""GalleryIndex: exact and approximate search against a numpy brute force, metadata, files."""

import json

import faiss
import numpy as np
import pytest

from jegal.inference import search
from jegal.inference.search import GalleryError, GalleryIndex, measure_recall, recall_at_k


def unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def brute_force(gallery, queries, k):
    """(Q, k) indices and cosines of the numpy reference: a matmul and a sort."""
    sims = unit(queries) @ unit(gallery).T
    order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(sims, order, axis=1)


def clustered(n, d=32, centres=40, seed=0):
    """Vectors near a few centres: the structure real embeddings have and HNSW relies on."""
    rng = np.random.default_rng(seed)
    c = unit(rng.normal(size=(centres, d)))
    return unit(c[rng.integers(0, centres, n)] + 0.6 * rng.normal(size=(n, d)) / np.sqrt(d)).astype(np.float32)


def test_exact_search_is_the_brute_force():
    rng = np.random.default_rng(1)
    g, q = rng.normal(size=(300, 16)) * 3, rng.normal(size=(7, 16))  # any scale: rows are normalised
    index = GalleryIndex(g, [f"c{i}" for i in range(300)], kind="exact")
    assert index.kind == "exact" and index.report["recall@10"] == 1.0
    scores, idx = index.search_arrays(q, k=10)
    ref_idx, ref_scores = brute_force(g, q, 10)
    assert (idx == ref_idx).all()
    np.testing.assert_allclose(scores, ref_scores, rtol=1e-5, atol=1e-6)
    hits = index.hits(q, k=3)
    assert [h["clip_id"] for h in hits[0]] == [f"c{j}" for j in ref_idx[0, :3]]
    assert [h["rank"] for h in hits[0]] == [1, 2, 3]
    assert index.search(q[0], k=500)[0][0] == ("c%d" % ref_idx[0, 0], pytest.approx(float(ref_scores[0, 0]), abs=1e-5))
    assert len(index.search(q[0], k=500)[0]) == 300  # k beyond the gallery: every clip once


def test_approximate_top_k_agrees_with_brute_force():
    g = clustered(3000)
    q = clustered(200, seed=5)  # held-out queries from the same distribution
    index = GalleryIndex(g, [str(i) for i in range(len(g))], kind="hnsw", recall_queries=q[:100])
    assert index.kind == "hnsw"
    r = index.report
    assert r["recall@10"] >= search.TARGET_RECALL and r["ef_search"] in search.EF_SEARCH_STEPS
    assert r["recall_query_source"] == "held-out" and r["recall_queries"] == 100
    assert [c["ef_search"] for c in r["calibration"]] == list(search.EF_SEARCH_STEPS[:len(r["calibration"])])
    _, idx = index.search_arrays(q[100:], k=10)  # queries the calibration never saw
    ref, _ = brute_force(g, q[100:], 10)
    assert recall_at_k(idx, ref) >= 0.9
    # the report's number is what the brute force says for those queries
    _, idx_cal = index.search_arrays(q[:100], k=10)
    assert recall_at_k(idx_cal, brute_force(g, q[:100], 10)[0]) == pytest.approx(r["recall@10"])


def test_auto_picks_exact_when_small_hnsw_when_large_and_falls_back_when_recall_is_out_of_reach(monkeypatch):
    g = clustered(600)
    ids = [str(i) for i in range(600)]
    assert GalleryIndex(g, ids).kind == "exact"
    monkeypatch.setattr(search, "APPROX_ABOVE", 500)
    big = GalleryIndex(g, ids)
    assert big.kind == "hnsw" and big.report["recall_query_source"] == "gallery sample"
    out_of_reach = GalleryIndex(g, ids, target_recall=1.01)  # no efSearch can give more than all
    assert out_of_reach.kind == "exact" and "exact search used instead" in out_of_reach.report["fallback"]
    assert out_of_reach.report["recall@10"] == 1.0 and out_of_reach.report["hnsw"]["ef_search"] == 1024
    ref, _ = brute_force(g, g[:5], 10)
    assert (out_of_reach.search_arrays(g[:5], 10)[1] == ref).all()
    forced = GalleryIndex(g, ids, kind="hnsw", target_recall=1.01)  # asked for HNSW: kept, with its recall
    assert forced.kind == "hnsw" and forced.report["recall@10"] < 1.01 and "fallback" not in forced.report


def test_recall_from_gallery_queries_leaves_each_query_out():
    g = unit(np.random.default_rng(2).normal(size=(400, 8))).astype(np.float32)
    exact = search.new_index("exact", 8)
    exact.add(g)
    m = measure_recall(exact, g, sample=50)
    assert m["recall"] == 1.0 and m["queries"] == 50 and m["query_source"] == "gallery sample"
    own = np.arange(5)
    assert (search._without_self(np.array([[0, 1, 2], [9, 1, 8], [2, 3, 4], [3, 7, 6], [5, 4, 1]]), own, 2)
            == [[1, 2], [9, 8], [3, 4], [7, 6], [5, 1]]).all()
    assert recall_at_k(np.array([[1, 2, -1]]), np.array([[2, 3, 1]])) == pytest.approx(2 / 3)


def test_metadata_and_settings_survive_a_round_trip(tmp_path):
    g = clustered(800)
    ids = [f"vid{i // 10}/{i % 10:05d}" for i in range(800)]
    items = [{"source": f"v{i // 10}.mp4", "start": i * 0.5, "end": i * 0.5 + 4.0, "person": i % 3,
              "speaker": "s", **({"note": [1, 2]} if i == 7 else {})} for i in range(800)]
    index = GalleryIndex(g, ids, items=items, kind="hnsw", info={"model": "/m", "model_id": "abc"})
    again = GalleryIndex.load(index.save(tmp_path / "gallery"))
    assert again.kind == "hnsw" and again.info == {"model": "/m", "model_id": "abc"}
    assert again.index.hnsw.efSearch == index.report["ef_search"] and again.report == json.loads(json.dumps(index.report))
    assert again.item(7) == {"clip_id": ids[7], "source": "v0.mp4", "start": 3.5, "end": 7.5, "person": 1,
                             "speaker": "s", "note": [1, 2]}
    assert again.item(8)["note"] is None
    q = g[:20] + 0.01
    assert again.hits(q, 5) == index.hits(q, 5)
    first = again.hits(q[:1], 1)[0][0]
    assert first["clip_id"] == ids[first["index"]] and first["start"] == items[first["index"]]["start"]


def test_save_is_atomic_and_refuses_to_overwrite_other_folders(tmp_path, monkeypatch):
    import faiss

    g = clustered(50)
    old = GalleryIndex(g, [f"a{i}" for i in range(50)])
    path = old.save(tmp_path / "gallery")
    new = GalleryIndex(g[:20], [f"b{i}" for i in range(20)])

    def broken(index, name):
        open(name, "wb").write(b"half an index")
        raise RuntimeError("disk full")

    monkeypatch.setattr(faiss, "write_index", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        new.save(path)
    monkeypatch.undo()
    kept = GalleryIndex.load(path)  # the old gallery, whole
    assert len(kept) == 50 and kept.ids[0] == "a0"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gallery"]  # no temporary left behind
    new.save(path)  # a gallery replaces a gallery
    assert GalleryIndex.load(path).ids == [f"b{i}" for i in range(20)]
    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    with pytest.raises(GalleryError, match="not a gallery index"):
        new.save(other)
    assert (other / "keep.txt").read_text() == "mine"


def test_bad_input_and_damaged_files_are_clear_errors(tmp_path):
    g = clustered(30, d=8)
    with pytest.raises(GalleryError, match="29 ids"):
        GalleryIndex(g, [str(i) for i in range(29)])
    bad = g.copy()
    bad[3, 1] = np.nan
    with pytest.raises(GalleryError, match="NaN"):
        GalleryIndex(bad, [str(i) for i in range(30)])
    with pytest.raises(GalleryError, match="kind"):
        GalleryIndex(g, [str(i) for i in range(30)], kind="ivf")
    index = GalleryIndex(g, [str(i) for i in range(30)])
    with pytest.raises(GalleryError, match="9 dimensions, the gallery 8"):
        index.search(np.ones(9))
    with pytest.raises(GalleryError, match="not a gallery index"):
        GalleryIndex.load(tmp_path)
    path = index.save(tmp_path / "g")
    items = json.loads((path / "items.json").read_text())
    items["clip_id"] = items["clip_id"][:-1]
    (path / "items.json").write_text(json.dumps(items))
    with pytest.raises(GalleryError, match="30 vectors"):
        GalleryIndex.load(path)
    (path / "items.json").write_text("[]")  # valid JSON, not columns
    with pytest.raises(GalleryError, match="unreadable gallery metadata"):
        GalleryIndex.load(path)
    (path / "gallery.json").write_text(json.dumps({"format": "jegal-gallery", "version": 1}))
    (path / "items.json").write_text(json.dumps(items))
    with pytest.raises(GalleryError, match="version 1"):
        GalleryIndex.load(path)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "mine.txt").write_text("keep me")
    for where in (tmp_path / "notes", tmp_path / "notes" / "mine.txt"):
        with pytest.raises(GalleryError, match="is not a gallery index"):
            GalleryIndex.check_destination(where)
    assert GalleryIndex.check_destination(path) == path  # a gallery may be replaced


def test_product_quantisation_asked_of_a_tiny_gallery_is_exact_search_and_says_so():
    g = clustered(40, d=16)  # FAISS cannot train 16 centroids per code from so few
    index = GalleryIndex(g, [str(i) for i in range(40)], kind="pq")
    assert index.kind == "exact" and "too few to train product quantisation" in index.report["fallback"]
    assert (index.search_arrays(g[:3], 5)[1] == brute_force(g, g[:3], 5)[0]).all()


def test_product_quantisation_reranks_to_the_brute_force_on_unstructured_vectors(tmp_path):
    """Random directions (no structure): the ``pq`` kind's candidates, re-ranked with the exact
    vectors, agree with the brute force; the calibrated k_factor survives a round trip."""
    rng = np.random.default_rng(3)
    g, q = unit(rng.normal(size=(4000, 64))), unit(rng.normal(size=(150, 64)))
    index = GalleryIndex(g, [str(i) for i in range(len(g))], kind="pq", recall_queries=q[:100])
    r = index.report
    assert index.kind == "pq" and r["recall@10"] >= search.TARGET_RECALL
    assert r["k_factor"] in search.K_FACTOR_STEPS and [c["k_factor"] for c in r["calibration"]] == \
        list(search.K_FACTOR_STEPS[:len(r["calibration"])])
    scores, idx = index.search_arrays(q[100:], k=10)  # queries the calibration never saw
    ref, ref_scores = brute_force(g, q[100:], 10)
    assert recall_at_k(idx, ref) >= 0.9
    found = idx == ref  # where the ranks agree, the scores are the exact cosines (re-ranked, not the codes')
    np.testing.assert_allclose(scores[found], ref_scores[found], atol=1e-5)
    again = GalleryIndex.load(index.save(tmp_path / "pq"))
    assert again.kind == "pq" and faiss.downcast_index(again.index).k_factor == r["k_factor"]
    assert (again.search_arrays(q, 10)[1] == index.search_arrays(q, 10)[1]).all()


def test_auto_tries_product_quantisation_when_hnsw_misses_the_target(monkeypatch):
    rng = np.random.default_rng(4)
    g = unit(rng.normal(size=(3000, 64))).astype(np.float32)
    ids = [str(i) for i in range(len(g))]
    monkeypatch.setattr(search, "APPROX_ABOVE", 500)
    real = search.new_index  # an HNSW that cannot get there: a sparse graph, one efSearch
    monkeypatch.setattr(search, "new_index", lambda kind, dim: real(kind, dim, m=2, ef_construction=4)
                        if kind == "hnsw" else real(kind, dim))
    monkeypatch.setitem(search.SEARCH_SETTING, "hnsw", ("ef_search", (16,)))
    auto = GalleryIndex(g, ids)
    r = auto.report
    assert auto.kind == "pq" and r["recall@10"] >= search.TARGET_RECALL, r
    assert r["hnsw"]["ef_search"] == 16 and r["hnsw"]["recall@10"] < search.TARGET_RECALL
    assert "product quantisation with exact re-ranking used instead" in r["fallback"]
    ref, _ = brute_force(g, g[:20], 11)
    assert recall_at_k(auto.search_arrays(g[:20], 11)[1], ref) >= 0.9
