"""Gallery search: find the gesture clips that go with a text/speech query (or the reverse).

FAISS ``IndexFlatIP`` over L2-normalised clip vectors (inner product = cosine). Exact and
fine for tens of thousands of clips; for millions swap in an IVF/HNSW index
(``faiss.index_factory(d, "IVF4096,Flat", faiss.METRIC_INNER_PRODUCT)``) through ``index=``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from jegal.atomic import atomic_path, write_text_atomic


class GalleryIndex:
    def __init__(self, vectors: np.ndarray, ids: list[str], index=None):
        import faiss

        vectors = np.ascontiguousarray(vectors, dtype=np.float32)  # (N, d)
        if vectors.ndim != 2 or len(vectors) != len(ids):
            raise ValueError(f"gallery: {len(ids)} ids for vectors of shape {vectors.shape}")
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors = vectors / np.maximum(norms, 1e-12)
        self.ids = list(ids)
        self.dim = int(vectors.shape[1])
        self.index = index if index is not None else faiss.IndexFlatIP(self.dim)
        if not self.index.is_trained:
            self.index.train(vectors)
        self.index.add(vectors)

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def search(self, queries: np.ndarray, k: int = 10) -> list[list[tuple[str, float]]]:
        """Top ``k`` (id, cosine) per query row, best first."""
        q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
        scores, idx = self.index.search(q, min(k, len(self)))
        return [[(self.ids[j], float(s)) for j, s in zip(row_i, row_s) if j >= 0] for row_i, row_s in zip(idx, scores)]

    def save(self, path: str | os.PathLike) -> Path:
        """``path`` is a directory: ``index.faiss`` + ``ids.json``."""
        import faiss

        path = Path(path)
        with atomic_path(path / "index.faiss") as tmp:
            faiss.write_index(self.index, str(tmp))
        write_text_atomic(path / "ids.json", json.dumps(self.ids))
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "GalleryIndex":
        import faiss

        path = Path(path)
        obj = cls.__new__(cls)
        obj.index = faiss.read_index(str(path / "index.faiss"))
        obj.ids = json.loads((path / "ids.json").read_text())
        obj.dim = int(obj.index.d)
        if len(obj.ids) != obj.index.ntotal:
            raise ValueError(f"{path}: ids.json has {len(obj.ids)} ids, the index {obj.index.ntotal} vectors")
        return obj
