"""Gallery search at scale: build time, query latency and recall@10 of exact and approximate FAISS indexes.

For each gallery size N (default 1k, 100k, 1M) of 512-d unit vectors and each kind of data:

- ``random``: i.i.d. Gaussian directions, the worst case for any approximate index (no structure:
  the 10 nearest of a million lie barely above the rest);
- ``clustered``: vectors near ``--centres`` random centres (``x = normalise(c + n)``, |n| ~ 1, so a
  vector's cosine to its centre is ~0.7 and to another of its cluster ~0.5), closer to what trained
  embeddings look like; queries are drawn the same way, from held-out points;

it builds the indexes of :mod:`jegal.inference.search` (``exact`` = IndexFlatIP, ``hnsw`` =
IndexHNSWFlat with the library's M / efConstruction, ``pq`` = ``PQ{d/4}x4fs,RFlat``, product
quantisation fast-scan with exact re-ranking) and, with ``--kinds ...,ivf``, an
``IVF{nlist},Flat`` for comparison, then measures on ``--queries`` held-out queries:

- build seconds (HNSW: graph construction; IVF: k-means training + adding; exact: copying);
- batch search: the whole query batch in one call, milliseconds per query;
- single query: ``--single`` queries one call each, median and p99 milliseconds;
- recall@10 against exact search, for every efSearch (HNSW) / k_factor (pq) / nprobe (IVF) tried.

FAISS builds and batch-searches on ``--threads`` threads (default 2, this machine's cores); single
queries run on ``--single-threads`` (default 1: measured, a second OpenMP thread made single
queries several times slower on the busy shared cores). The library's automatic
choice (``GalleryIndex(kind="auto")``: exact up to ``APPROX_ABOVE`` vectors, else HNSW calibrated
to recall@10 >= 0.95, falling back to exact when it cannot get there) is printed per row.

    python bench/bench_search.py                                   # 1k, 100k, 1M; random and clustered (~1 h on 2 cores)
    python bench/bench_search.py --sizes 1000,10000,30000,100000 --kinds exact --data random   # the auto threshold
    python bench/bench_search.py --sizes 100000 --kinds exact,hnsw,ivf --out search.json
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from jegal.inference.search import (APPROX_ABOVE, EF_SEARCH_STEPS, K_FACTOR_STEPS, TARGET_RECALL,  # noqa: E402
                                    add_vectors, new_index, pq_codes, recall_at_k, set_search_setting)

NPROBE_STEPS = (1, 4, 16, 64, 256)


def unit(x: np.ndarray) -> np.ndarray:
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def make_data(kind: str, n: int, q: int, dim: int, centres: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(gallery (n, dim), queries (q, dim)) float32 unit rows, generated in chunks (1M x 512 = 2 GB)."""
    rng = np.random.default_rng(seed)
    c = unit(rng.standard_normal((centres, dim), dtype=np.float32)) if kind == "clustered" else None

    def draw(m: int) -> np.ndarray:
        out = np.empty((m, dim), np.float32)
        for a in range(0, m, 100_000):
            b = min(m, a + 100_000)
            x = rng.standard_normal((b - a, dim), dtype=np.float32)
            if c is not None:  # noise of norm ~1 around a random centre
                x = c[rng.integers(0, centres, b - a)] + x / np.sqrt(dim, dtype=np.float32)
            out[a:b] = unit(x)
        return out

    return draw(n), draw(q)


def latency(index, queries: np.ndarray, k: int, single: int, threads: int, single_threads: int) -> dict:
    """Batch ms/query (``threads``) and single-query median / p99 ms (``single_threads``); also the
    batch result indices."""
    import faiss

    faiss.omp_set_num_threads(threads)
    t0 = time.perf_counter()
    _, idx = index.search(queries, k)
    batch = time.perf_counter() - t0
    faiss.omp_set_num_threads(single_threads)
    times = []
    for i in range(min(single, len(queries))):
        t = time.perf_counter()
        index.search(queries[i:i + 1], k)
        times.append(time.perf_counter() - t)
    faiss.omp_set_num_threads(threads)
    ms = 1000 * np.array(times)
    return {"batch_ms_per_query": 1000 * batch / len(queries), "single_median_ms": float(np.median(ms)),
            "single_p99_ms": float(np.percentile(ms, 99)), "idx": idx}


def timed_build(index, x: np.ndarray, train_sample: int = 0) -> float:
    t0 = time.perf_counter()
    if train_sample and not index.is_trained:
        index.train(x[np.random.default_rng(1).choice(len(x), min(train_sample, len(x)), replace=False)])
    add_vectors(index, x)
    return time.perf_counter() - t0


def sweep(index, kind: str, setting: str, label: str, steps, build: float, data: str, n: int, q: np.ndarray,
          truth: np.ndarray, args) -> list[dict]:
    """Rows of ``index`` searched at each value of its search-time ``setting`` (``ef_search``,
    ``k_factor`` or IVF's ``nprobe``) in ``steps``, until recall@10 reaches ``--stop-recall``."""
    rows = []
    for value in steps:
        if setting == "nprobe":
            index.nprobe = value
        else:
            set_search_setting(index, setting, value)
        lat = latency(index, q, args.k, args.single, args.threads, args.single_threads)
        rec = recall_at_k(lat.pop("idx"), truth)
        rows.append({"data": data, "n": n, "kind": kind, "param": f"{label}={value}", "build_s": build,
                     "recall@10": rec, **lat})
        print(_row(rows[-1]), flush=True)
        if rec >= args.stop_recall:
            break
    return rows


def bench_size(data: str, n: int, args) -> list[dict]:
    import faiss

    x, q = make_data(data, n, args.queries, args.dim, args.centres, seed=n)
    rows = []
    exact = new_index("exact", args.dim)
    build = timed_build(exact, x)
    lat = latency(exact, q, args.k, args.single, args.threads, args.single_threads)
    truth = lat.pop("idx")
    rows.append({"data": data, "n": n, "kind": "exact", "param": "", "build_s": build, "recall@10": 1.0, **lat})
    del exact
    gc.collect()
    print(_row(rows[-1]), flush=True)
    if "hnsw" in args.kinds and n >= args.min_approx:
        index = new_index("hnsw", args.dim, **{k: v for k, v in (("m", args.hnsw_m),
                                                                  ("ef_construction", args.ef_construction)) if v})
        build = timed_build(index, x)
        rows += sweep(index, "hnsw", "ef_search", "efSearch", EF_SEARCH_STEPS, build, data, n, q, truth, args)
        del index
        gc.collect()
    if "pq" in args.kinds and n >= args.min_approx:
        index = new_index("pq", args.dim)
        build = timed_build(index, x)
        rows += sweep(index, f"pq{pq_codes(args.dim)}x4fs+refine", "k_factor", "k_factor", K_FACTOR_STEPS, build,
                      data, n, q, truth, args)
        del index
        gc.collect()
    if "ivf" in args.kinds and n >= args.min_approx:
        nlist = int(min(4096, 2 ** round(np.log2(4 * np.sqrt(n)))))
        index = faiss.index_factory(args.dim, f"IVF{nlist},Flat", faiss.METRIC_INNER_PRODUCT)
        build = timed_build(index, x, train_sample=64 * nlist)
        rows += sweep(index, f"ivf{nlist}", "nprobe", "nprobe", [p for p in NPROBE_STEPS if p <= nlist], build,
                      data, n, q, truth, args)
        del index
    del x, q
    gc.collect()
    return rows


HEADER = ("| data | N | index | setting | build s | recall@10 | batch ms/query | single median ms | single p99 ms |\n"
          "|---|---:|---|---|---:|---:|---:|---:|---:|")


def _row(r: dict) -> str:
    return (f"| {r['data']} | {r['n']:,} | {r['kind']} | {r['param']} | {r['build_s']:.1f} | {r['recall@10']:.3f} | "
            f"{r['batch_ms_per_query']:.3f} | {r['single_median_ms']:.3f} | {r['single_p99_ms']:.3f} |")


def auto_choice(rows: list[dict], data: str, n: int) -> str:
    """What GalleryIndex(kind="auto") builds for this gallery (by the measured recall)."""
    if n <= APPROX_ABOVE:
        return "exact"
    same = [r for r in rows if r["data"] == data and r["n"] == n]
    hnsw = [r for r in same if r["kind"] == "hnsw"]
    ok = [r for r in hnsw if r["recall@10"] >= TARGET_RECALL]
    if ok:
        return f"hnsw ({ok[0]['param']})"
    if not hnsw:
        return "hnsw (not measured here)"
    pq = [r for r in same if r["kind"].startswith("pq") and r["recall@10"] >= TARGET_RECALL]
    if pq:
        return f"pq ({pq[0]['param']}; HNSW below the target recall)"
    return "exact (HNSW and pq below the target recall: fallback)"


def main(argv: list[str] | None = None) -> int:
    import faiss

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="1000,100000,1000000", help="gallery sizes, comma-separated")
    p.add_argument("--data", default="random,clustered", help="random, clustered or both")
    p.add_argument("--kinds", default="exact,hnsw,pq", help="indexes: exact always, plus hnsw, pq and/or ivf")
    p.add_argument("--dim", type=int, default=512)
    p.add_argument("--queries", type=int, default=1000, help="held-out queries per gallery (the batch)")
    p.add_argument("--single", type=int, default=200, help="queries timed one call each")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--centres", type=int, default=4000, help="clusters of the clustered data")
    p.add_argument("--threads", type=int, default=2, help="FAISS OpenMP threads (build, batch search)")
    p.add_argument("--single-threads", type=int, default=1,
                   help="FAISS threads for single queries (one query has little to split; on busy shared "
                        "cores OpenMP barriers cost more than a second thread saves)")
    p.add_argument("--ef-construction", type=int, default=None, help="override the library's HNSW efConstruction")
    p.add_argument("--hnsw-m", type=int, default=None, help="override the library's HNSW M")
    p.add_argument("--min-approx", type=int, default=10_000, help="smallest N to build approximate indexes for")
    p.add_argument("--stop-recall", type=float, default=0.99, help="stop raising efSearch/nprobe at this recall")
    p.add_argument("--out", type=Path, default=None, help="also write the rows as JSON")
    args = p.parse_args(argv)
    args.kinds = set(args.kinds.split(","))
    faiss.omp_set_num_threads(args.threads)
    print(f"faiss {faiss.__version__}, {args.threads} threads (single queries: {args.single_threads}), d={args.dim}, "
          f"{args.queries} queries (single: {args.single}), k={args.k}\n")
    print(HEADER, flush=True)
    rows = []
    for data in args.data.split(","):
        for n in (int(s) for s in args.sizes.split(",")):
            rows += bench_size(data, n, args)
    print("\nGalleryIndex(kind='auto') would build:")
    for data in args.data.split(","):
        for n in (int(s) for s in args.sizes.split(",")):
            print(f"- {data}, N={n:,}: {auto_choice(rows, data, n)}")
    if args.out:
        from jegal.atomic import write_json_atomic

        write_json_atomic(args.out, {"threads": args.threads, "dim": args.dim, "queries": args.queries,
                                     "single": args.single, "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
