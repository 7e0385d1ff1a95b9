"""Gallery search: find the gesture clips that go with a text/speech query (or the reverse).

A :class:`GalleryIndex` holds L2-normalised clip vectors in a FAISS index (inner product =
cosine) and, beside them, what each vector is: its clip id and metadata (source, start / end
seconds, person, anything JSON can hold).

Three kinds of index (:data:`KINDS`):

- ``exact``: ``IndexFlatIP``, brute force. Exact, no build cost; a single query scans all
  N x d floats, so its latency grows linearly with the gallery.
- ``hnsw``: ``IndexHNSWFlat`` (M = :data:`HNSW_M`, efConstruction = :data:`HNSW_EF_CONSTRUCTION`),
  approximate. At build time its ``efSearch`` is calibrated: the smallest of
  :data:`EF_SEARCH_STEPS` whose recall@10 against exact search reaches ``target_recall``,
  measured on held-out query vectors when given, else on a sample of gallery vectors with each
  query's own vector left out of both result lists (:func:`measure_recall`).
- ``pq``: product quantisation with exact re-ranking, FAISS ``PQ{d/4}x4fs,RFlat``: every vector
  also as d/4 4-bit codes (d/8 bytes), scanned with the SIMD "fast-scan" kernels; the best
  ``k x k_factor`` candidates are re-ranked with their exact vectors. A query scans all codes,
  but they are 32x smaller than the floats, and no structure in the data is needed. ``k_factor``
  is calibrated like efSearch, over :data:`K_FACTOR_STEPS`.

``kind="auto"`` (the default) builds ``exact`` up to :data:`APPROX_ABOVE` vectors and ``hnsw``
above; when the calibrated HNSW index cannot reach the target recall even at the largest
efSearch (high-dimensional data without structure, e.g. random vectors) it builds ``pq``, and
when that cannot reach it either, falls back to exact search; the report says which and why
(:attr:`GalleryIndex.report`). Why these choices: ``bench/bench_search.py`` (figures in
``docs/search.md``): on clustered vectors HNSW is ~14x faster than ``pq`` at the same recall at 1M;
on random ones HNSW cannot reach it and ``pq`` is ~11x faster than exact search at 1M. IVF was
measured too (30k vectors) and lost on both kinds of data: on unstructured vectors its cells do
not localise neighbours, and on clustered ones HNSW was faster at the same recall.

On disk an index is a directory written whole and atomically (:mod:`jegal.atomic`):
``index.faiss``, ``items.json`` (one column per metadata field, one row per vector) and
``gallery.json`` (format version, kind, size, the build report and the caller's ``info``).
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import numpy as np

from jegal.atomic import atomic_path, write_json_atomic

KINDS = ("auto", "exact", "hnsw", "pq")
# Gallery size above which "auto" builds HNSW: where a single exact query on 2 cores passes
# ~5 ms (bench/bench_search.py, one thread, busy machine: 1.7 ms at 10k, 20-65 ms at 100k
# vectors of 512 floats).
APPROX_ABOVE = 20_000
# M 48, efConstruction 100: at 1M clustered vectors M 32 / efConstruction 40 stalls at recall@10 0.90
# (efSearch 1024) while these reach 0.994 at efSearch 64, 0.5 ms a query (bench/bench_search.py)
HNSW_M = 48
HNSW_EF_CONSTRUCTION = 100
EF_SEARCH_STEPS = (16, 32, 64, 128, 256, 512, 1024)
# "pq": candidates re-ranked exactly = k x k_factor. 1M random 512-d vectors: recall@10 0.80 / 0.92
# / 0.98 at k_factor 100 / 300 / 1000, 8 / 10 / 14 ms a single query (bench/bench_search.py)
K_FACTOR_STEPS = (10, 30, 100, 300, 1000)
# How each approximate kind is tuned at search time: report key, FAISS setting, the steps tried.
SEARCH_SETTING = {"hnsw": ("ef_search", EF_SEARCH_STEPS), "pq": ("k_factor", K_FACTOR_STEPS)}
# Fewer vectors than this cannot train the 16 centroids of every code well (FAISS refuses below
# 16): kind="pq" then builds exact search, which is as fast at that size, and says so.
PQ_MIN_VECTORS = 1_000
TARGET_RECALL = 0.95
RECALL_K = 10
RECALL_QUERIES = 1000  # queries sampled for the build-time recall measurement
ITEM_FIELDS = ("clip_id", "source", "start", "end", "person")  # metadata every item carries (None if unknown)
FORMAT = "jegal-gallery"
FORMAT_VERSION = 2
INDEX_FILE, ITEMS_FILE, META_FILE = "index.faiss", "items.json", "gallery.json"
ADD_CHUNK = 50_000  # vectors per add() call (progress bar granularity)


class GalleryError(ValueError):
    """A gallery that cannot be built, saved or read; the message names the file or the problem."""


def normalise_rows(x: np.ndarray, what: str = "vectors") -> np.ndarray:
    """``x`` (N, d) as contiguous float32 rows of unit length (zero rows stay zero).
    Raises :class:`GalleryError` for another rank or non-finite values."""
    x = np.ascontiguousarray(np.atleast_2d(x), dtype=np.float32)
    if x.ndim != 2:
        raise GalleryError(f"{what}: expected (N, d), got shape {x.shape}")
    if not np.isfinite(x).all():
        raise GalleryError(f"{what}: holds NaN or infinite values")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def pq_codes(dim: int) -> int:
    """The number of 4-bit codes per vector of the ``pq`` kind: d/4, or the largest divisor of
    ``dim`` below it (product quantisation splits the vector into equal parts)."""
    return next(m for m in range(max(1, dim // 4), 0, -1) if dim % m == 0)


def new_index(kind: str, dim: int, m: int = HNSW_M, ef_construction: int = HNSW_EF_CONSTRUCTION):
    """An empty inner-product FAISS index of ``kind`` ("exact", "hnsw" or "pq") for ``dim``-d vectors."""
    import faiss

    if kind == "exact":
        return faiss.IndexFlatIP(dim)
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = ef_construction
        return index
    if kind == "pq":
        index = faiss.index_factory(dim, f"PQ{pq_codes(dim)}x4fs,RFlat", faiss.METRIC_INNER_PRODUCT)
        # 16 centroids per code: FAISS warns below 39 training points per centroid, which only a
        # gallery of under 624 vectors (where pq makes no sense but may be asked for) has
        faiss.downcast_index(index.base_index).pq.cp.min_points_per_centroid = 1
        return index
    raise GalleryError(f"index kind {kind!r}: expected one of exact, hnsw, pq")


def set_search_setting(index, name: str, value) -> None:
    """Set an approximate index's search-time setting: ``ef_search`` (HNSW's efSearch) or
    ``k_factor`` (how many candidates per result ``pq`` re-ranks exactly)."""
    import faiss

    if name == "ef_search":
        index.hnsw.efSearch = int(value)
    elif name == "k_factor":
        faiss.downcast_index(index).k_factor = float(value)
    else:
        raise GalleryError(f"unknown search setting {name!r}")


def add_vectors(index, vectors: np.ndarray, progress: bool = False, desc: str = "index") -> None:
    """Add unit ``vectors`` (N, d) to ``index`` in chunks (training it first if it needs it)."""
    from jegal.native_logs import progress_bar

    if not index.is_trained:
        index.train(vectors)
    with progress_bar(len(vectors), desc, unit="vec", disable=not progress, leave=False) as bar:
        for a in range(0, len(vectors), ADD_CHUNK):
            index.add(vectors[a:a + ADD_CHUNK])
            bar.update(min(ADD_CHUNK, len(vectors) - a))


def exact_neighbours(queries: np.ndarray, vectors: np.ndarray, k: int) -> np.ndarray:
    """(Q, k) int64 indices of the ``k`` largest inner products of each query row with ``vectors``
    (brute force, FAISS ``knn``; nothing is copied into an index)."""
    import faiss

    _, idx = faiss.knn(np.ascontiguousarray(queries, np.float32), np.ascontiguousarray(vectors, np.float32),
                       min(k, len(vectors)), metric=faiss.METRIC_INNER_PRODUCT)
    return idx


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean over query rows of |found ∩ truth| / |truth|; (Q, k) index arrays, -1 = no result."""
    if truth.size == 0:
        return math.nan
    hits = [len(set(f[f >= 0].tolist()) & set(t[t >= 0].tolist())) / max(1, int((t >= 0).sum()))
            for f, t in zip(found, truth)]
    return float(np.mean(hits))


def _without_self(idx: np.ndarray, own: np.ndarray | None, k: int) -> np.ndarray:
    """The first ``k`` indices of each row of ``idx`` (Q, k + 1) other than that row's ``own`` index."""
    if own is None:
        return idx[:, :k]
    keep = idx != own[:, None]
    out = np.full((len(idx), k), -1, dtype=np.int64)
    for r in range(len(idx)):  # rows differ in where (and whether) their own index appears
        row = idx[r][keep[r]][:k]
        out[r, :len(row)] = row
    return out


def recall_ground_truth(vectors: np.ndarray, queries: np.ndarray | None = None, k: int = RECALL_K,
                        sample: int = RECALL_QUERIES, seed: int = 0) -> dict:
    """The queries of a recall measurement and their exact top ``k`` (computed once, however
    many search settings are then measured against them; see :func:`measure_recall`)."""
    n = len(vectors)
    if queries is None:
        own = np.random.default_rng(seed).choice(n, size=min(sample, n), replace=False)
        q, source = vectors[own], "gallery sample"
    else:
        own, q, source = None, normalise_rows(queries, "recall queries"), "held-out"
    extra = 0 if own is None else 1
    return {"queries": q, "own": own, "k": k, "source": source,
            "truth": _without_self(exact_neighbours(q, vectors, k + extra), own, k)}


def measure_recall(index, vectors: np.ndarray, queries: np.ndarray | None = None, k: int = RECALL_K,
                   sample: int = RECALL_QUERIES, seed: int = 0, ef_search: int | None = None,
                   k_factor: float | None = None, truth: dict | None = None) -> dict:
    """recall@k of ``index`` (holding ``vectors`` (N, d), unit rows) against exact search.

    ``queries`` (Q, d): held-out query vectors (no self-match to remove). None: ``sample`` gallery
    vectors drawn with ``seed``, each query's own vector removed from both result lists (else every
    query finds itself, which flatters the index). ``truth``: :func:`recall_ground_truth` of those
    arguments, computed once by a caller that measures several settings. ``ef_search`` sets an
    HNSW index's efSearch first, ``k_factor`` a ``pq`` index's re-ranking depth. Returns
    {"recall": float, "k", "queries": Q, "query_source": "held-out" | "gallery sample",
    "ms_per_query": batch search time / Q}."""
    t = truth if truth is not None else recall_ground_truth(vectors, queries, k, sample, seed)
    q, own, k = t["queries"], t["own"], t["k"]
    if ef_search is not None:
        set_search_setting(index, "ef_search", ef_search)
    if k_factor is not None:
        set_search_setting(index, "k_factor", k_factor)
    t0 = time.perf_counter()
    _, found = index.search(q, min(k + (0 if own is None else 1), len(vectors)))
    seconds = time.perf_counter() - t0
    found = _without_self(found, own, k)
    return {"recall": recall_at_k(found, t["truth"]), "k": k, "queries": int(len(q)), "query_source": t["source"],
            "ms_per_query": 1000 * seconds / max(1, len(q))}


def _columns(items: list[dict], n: int) -> dict[str, list]:
    """Per-item dicts -> {field: [value per item]} (every :data:`ITEM_FIELDS` key, then the others)."""
    if len(items) != n:
        raise GalleryError(f"gallery: {len(items)} metadata items for {n} vectors")
    names = list(ITEM_FIELDS) + sorted({k for it in items for k in it} - set(ITEM_FIELDS))
    cols = {name: [it.get(name) for it in items] for name in names}
    try:
        json.dumps(cols)
    except (TypeError, ValueError) as err:
        raise GalleryError(f"gallery metadata must be JSON values (str, numbers, lists, dicts): {err}") from None
    return cols


class GalleryIndex:
    """Search L2-normalised clip vectors by cosine, with each vector's clip id and metadata.

    >>> gallery = GalleryIndex(vectors, ids, items=[{"source": "a.mp4", "start": 1.2, "end": 4.2, "person": 0}, ...])
    >>> gallery.report                     # kind, build seconds, efSearch / k_factor, recall@10 vs exact search
    >>> gallery.hits(query_vectors, k=10)  # per query: [{"rank", "clip_id", "score", "source", ...}, ...]
    >>> gallery.save("runs/gallery"); GalleryIndex.load("runs/gallery")

    ``vectors`` (N, d) any scale (rows are normalised); ``ids`` N clip ids; ``items`` N dicts of
    metadata (keys :data:`ITEM_FIELDS` plus any JSON values; ``clip_id`` defaults to the id).
    ``kind``: "auto", "exact", "hnsw" or "pq" (module docstring); ``index``: a FAISS index of your own
    (empty; inner product), which is measured like HNSW but not calibrated. ``recall_queries``
    (Q, d): held-out vectors for the recall measurement (e.g. content clip vectors). ``info``: a
    JSON dict stored with the gallery (the ``jegal search`` command keeps the model there).
    Raises :class:`GalleryError` on mismatched sizes, non-finite vectors, an unknown kind."""

    def __init__(self, vectors: np.ndarray, ids: list[str], index=None, items: list[dict] | None = None,
                 kind: str = "auto", recall_queries: np.ndarray | None = None, target_recall: float = TARGET_RECALL,
                 info: dict | None = None, seed: int = 0, progress: bool = False):
        if kind not in KINDS:
            raise GalleryError(f"index kind {kind!r}: expected one of {', '.join(KINDS)}")
        vectors = normalise_rows(vectors, "gallery vectors")
        if len(vectors) != len(ids):
            raise GalleryError(f"gallery: {len(ids)} ids for vectors of shape {vectors.shape}")
        if not len(ids):
            raise GalleryError("gallery: no vectors to index")
        self.ids = [str(i) for i in ids]
        self.dim = int(vectors.shape[1])
        self.items = _columns([{"clip_id": i, **(it or {})} for i, it in
                               zip(self.ids, items if items is not None else [{}] * len(self.ids))], len(self.ids))
        self.info = dict(info or {})
        n = len(vectors)
        self._truth = None  # the recall measurement's queries and exact neighbours, once computed
        want = "custom" if index is not None else (kind if kind != "auto" else
                                                   ("hnsw" if n > APPROX_ABOVE else "exact"))
        note = None
        if want == "pq" and n < PQ_MIN_VECTORS:
            want, note = "exact", (f"{n} vectors are too few to train product quantisation (at least "
                                   f"{PQ_MIN_VECTORS:,}): exact search used instead")
        t0 = time.perf_counter()
        self.index = index if index is not None else new_index(want, self.dim)
        add_vectors(self.index, vectors, progress, desc=f"index ({want})")
        report: dict = {"kind": want, "size": n, "dim": self.dim, "requested": kind,
                        "build_seconds": round(time.perf_counter() - t0, 3)}
        if want in SEARCH_SETTING:
            report.update(self._calibrate(want, vectors, recall_queries, target_recall, seed))
            if kind == "auto" and report["recall@10"] < target_recall:
                self._fall_back(report, vectors, recall_queries, target_recall, seed)
        elif want == "custom":
            m = measure_recall(self.index, vectors, recall_queries, seed=seed)
            report.update({"recall@10": m["recall"], "recall_queries": m["queries"],
                           "recall_query_source": m["query_source"]})
        else:
            report["recall@10"] = 1.0
        if note:
            report["fallback"] = note
        report["build_seconds_total"] = round(time.perf_counter() - t0, 3)
        self.report = report
        del self._truth  # needed while building only

    def _calibrate(self, kind: str, vectors: np.ndarray, queries: np.ndarray | None, target: float,
                   seed: int) -> dict:
        """The smallest search setting of ``kind`` (:data:`SEARCH_SETTING`) reaching ``target``
        recall@10 (else the largest), set on the index."""
        name, steps = SEARCH_SETTING[kind]
        if self._truth is None:  # exact neighbours once, for every step (and for pq after HNSW)
            self._truth = recall_ground_truth(vectors, queries, seed=seed)
        tried = []
        for value in steps:
            m = measure_recall(self.index, vectors, truth=self._truth, **{name: value})
            tried.append({name: value, "recall@10": round(m["recall"], 4), "ms_per_query": round(m["ms_per_query"], 3)})
            if m["recall"] >= target:
                break
        return {name: tried[-1][name], "recall@10": m["recall"], "recall_queries": m["queries"],
                "recall_query_source": m["query_source"], "target_recall": target, "calibration": tried}

    def _fall_back(self, report: dict, vectors: np.ndarray, queries: np.ndarray | None, target: float,
                   seed: int) -> None:
        """``auto`` after HNSW missed ``target``: ``pq``, else exact search (``report`` updated)."""
        def moved(kind: str) -> dict:
            name = SEARCH_SETTING[kind][0]
            return {k: report.pop(k) for k in (name, "recall@10", "calibration")}

        hnsw = report["hnsw"] = moved("hnsw")
        why = f"HNSW reached recall@10 {hnsw['recall@10']:.3f} < {target} at efSearch {hnsw['ef_search']}"
        t0 = time.perf_counter()
        self.index = new_index("pq", self.dim)
        add_vectors(self.index, vectors)
        report.update(self._calibrate("pq", vectors, queries, target, seed), kind="pq",
                      pq_build_seconds=round(time.perf_counter() - t0, 3))
        if report["recall@10"] >= target:
            report["fallback"] = f"{why}: product quantisation with exact re-ranking used instead"
            return
        pq = report["pq"] = moved("pq")
        report.update({"kind": "exact", "recall@10": 1.0, "fallback": (
            f"{why}, product quantisation {pq['recall@10']:.3f} at k_factor {pq['k_factor']:g}: exact search "
            "used instead")})
        self.index = new_index("exact", self.dim)
        add_vectors(self.index, vectors)

    def __len__(self) -> int:
        return int(self.index.ntotal)

    @property
    def kind(self) -> str:
        return self.report.get("kind", "exact")

    # -- search -------------------------------------------------------------------------------
    def search_arrays(self, queries: np.ndarray, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """(scores (Q, k') float32 cosines, indices (Q, k') int64) best first, k' = min(k, N);
        an index of -1 (score -inf) marks a slot the approximate index left empty. ``queries``
        (Q, d) or (d,), any scale. Raises :class:`GalleryError` for another width or k < 1."""
        if k < 1:
            raise GalleryError(f"k must be at least 1, got {k}")
        q = normalise_rows(queries, "queries")
        if q.shape[1] != self.dim:
            raise GalleryError(f"queries have {q.shape[1]} dimensions, the gallery {self.dim}")
        scores, idx = self.index.search(q, min(k, len(self)))
        scores = np.where(idx >= 0, scores, -np.inf).astype(np.float32)
        return scores, idx

    def search(self, queries: np.ndarray, k: int = 10) -> list[list[tuple[str, float]]]:
        """Top ``k`` (clip id, cosine) per query row, best first."""
        scores, idx = self.search_arrays(queries, k)
        return [[(self.ids[j], float(s)) for j, s in zip(row_i, row_s) if j >= 0] for row_i, row_s in zip(idx, scores)]

    def item(self, i: int) -> dict:
        """The metadata of vector ``i``: {"clip_id", "source", "start", "end", "person", ...}."""
        return {name: col[i] for name, col in self.items.items()}

    def hits(self, queries: np.ndarray, k: int = 10) -> list[list[dict]]:
        """Per query row, the top ``k`` as dicts: rank (1-based), score (cosine), index, and the item's metadata."""
        scores, idx = self.search_arrays(queries, k)
        return [[{"rank": r + 1, "score": float(s), "index": int(j), **self.item(int(j))}
                 for r, (j, s) in enumerate(zip(row_i, row_s)) if j >= 0] for row_i, row_s in zip(idx, scores)]

    # -- files --------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Write the directory ``path`` (``index.faiss``, ``items.json``, ``gallery.json``) as one
        atomic replacement: a reader sees the old gallery or the new one, never a mix. Refuses
        (:class:`GalleryError`) to replace an existing non-empty directory that is not a gallery."""
        import faiss

        path = self.check_destination(path)
        meta = {"format": FORMAT, "version": FORMAT_VERSION, "dim": self.dim, "size": len(self),
                "kind": self.kind, "report": self.report, "info": self.info}
        with atomic_path(path) as tmp:
            tmp.mkdir(parents=True)
            faiss.write_index(self.index, str(tmp / INDEX_FILE))
            write_json_atomic(tmp / ITEMS_FILE, self.items, indent=None)
            write_json_atomic(tmp / META_FILE, meta)
        return path

    @staticmethod
    def check_destination(path: str | os.PathLike) -> Path:
        """``path`` if :meth:`save` may write a gallery there (new, empty, or a gallery already),
        else :class:`GalleryError`; call it before long work that ends in a save."""
        path = Path(path)
        if path.exists() and (not path.is_dir() or (any(path.iterdir()) and not (path / META_FILE).is_file())):
            raise GalleryError(f"{path} exists and is not a gallery index; choose a new or empty directory")
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "GalleryIndex":
        """Read a directory :meth:`save` wrote. Raises :class:`GalleryError` naming the file when
        one is missing, of another format version, or when the index and the items disagree."""
        import faiss

        path = Path(path)
        meta_file = path / META_FILE
        if not meta_file.is_file():
            raise GalleryError(f"{path}: not a gallery index (no {META_FILE}); build one with `jegal search build`")
        try:
            meta = json.loads(meta_file.read_text())
            items = json.loads((path / ITEMS_FILE).read_text())
        except (OSError, ValueError) as err:
            raise GalleryError(f"{path}: unreadable gallery metadata ({err})") from None
        if not isinstance(meta, dict) or not isinstance(items, dict) or \
                not all(isinstance(col, list) for col in items.values()):
            raise GalleryError(f"{path}: unreadable gallery metadata ({META_FILE} must hold an object, "
                               f"{ITEMS_FILE} an object of columns)")
        if meta.get("format") != FORMAT or meta.get("version") != FORMAT_VERSION:
            raise GalleryError(f"{meta_file}: format {meta.get('format')!r} version {meta.get('version')!r}, "
                               f"expected {FORMAT!r} version {FORMAT_VERSION}; rebuild the index")
        try:
            index = faiss.read_index(str(path / INDEX_FILE))
        except RuntimeError as err:
            raise GalleryError(f"{path / INDEX_FILE}: unreadable FAISS index ({str(err).splitlines()[0]})") from None
        obj = cls.__new__(cls)
        obj.index, obj.items, obj.info, obj.report = index, items, meta.get("info", {}), meta.get("report", {})
        obj.dim = int(index.d)
        obj.ids = [str(i) for i in items.get("clip_id", [])]
        sizes = {len(col) for col in items.values()}
        if sizes != {index.ntotal} or meta.get("size") != index.ntotal:
            raise GalleryError(f"{path}: {index.ntotal} vectors in {INDEX_FILE} but item columns of sizes "
                               f"{sorted(sizes)} in {ITEMS_FILE} (gallery.json says {meta.get('size')})")
        setting = SEARCH_SETTING.get(obj.kind, (None,))[0]
        if obj.report.get(setting) is not None:  # the calibrated setting (FAISS does not store efSearch)
            set_search_setting(index, setting, obj.report[setting])
        return obj
