"""The embedding cache of ``jegal eval``: which ``.npz`` file holds a benchmark's embeddings.

The embeddings themselves are computed by :func:`jegal.inference.embed.embed_clips` and stored
as :class:`jegal.inference.embed.Embeddings` files. Content is embedded with the words the
benchmark CSV gives (see :func:`jegal.evaluation.benchmarks.with_benchmark_words`), gesture
from the clip alone; :func:`cache_key` digests everything the numbers depend on, so a changed
model, modality, clip or word list is a different file, never a stale hit.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np

from jegal.data.clip import Clip
from jegal.inference.embed import FORMAT_VERSION


def cache_key(model_id: str, modalities: str, gesture: list[Clip], content: list[Clip]) -> str:
    """A digest of what the embeddings depend on: the model, the content modalities, and
    every clip's id, length and words (the benchmark's words for content)."""
    h = hashlib.sha1()
    h.update(f"v{FORMAT_VERSION}|{model_id}|{modalities}|".encode())
    for tag, clips in (("g", gesture), ("c", content)):
        for c in clips:
            h.update(f"{tag}|{c.clip_id}|{c.num_frames}|".encode())
            if tag == "c":
                h.update(json.dumps([[w.text, w.start, w.end] for w in c.words]).encode())
            h.update(np.ascontiguousarray(c.keypoints[:: max(1, c.num_frames // 8)]).tobytes()[:4096])
    return h.hexdigest()[:20]
