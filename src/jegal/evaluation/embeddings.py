"""Embeddings of a benchmark's clips, computed once and cached as ``.npz``.

Gesture and content embeddings are keyed by clip id. Content is embedded with the words
the benchmark CSV gives (see :func:`jegal.evaluation.benchmarks.with_benchmark_words`),
gesture from the clip alone. Ragged per-clip arrays (frames, words) are stored
concatenated with offsets, so the cache is plain arrays (no pickle).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jegal.data.batch import collate_clips
from jegal.data.clip import Clip

CACHE_VERSION = 1


@dataclass
class Embeddings:
    gesture_ids: list[str]
    gesture_clip: np.ndarray  # (G, d) global space
    gesture_frames: list[np.ndarray]  # G x (T_i, d) local space
    content_ids: list[str]
    content_clip: np.ndarray  # (C, d) global space
    content_words: list[np.ndarray]  # C x (W_i, d) local space

    def __post_init__(self) -> None:
        self._g = {cid: i for i, cid in enumerate(self.gesture_ids)}
        self._c = {cid: i for i, cid in enumerate(self.content_ids)}

    def has_gesture(self, cid: str) -> bool:
        return cid in self._g

    def has_content(self, cid: str) -> bool:
        return cid in self._c

    def gesture(self, cid: str) -> tuple[np.ndarray, np.ndarray]:
        """(clip vector (d,), frames (T, d))"""
        i = self._g[cid]
        return self.gesture_clip[i], self.gesture_frames[i]

    def content(self, cid: str) -> tuple[np.ndarray, np.ndarray]:
        """(clip vector (d,), words (W, d))"""
        i = self._c[cid]
        return self.content_clip[i], self.content_words[i]

    @property
    def dim(self) -> int:
        for a in (self.gesture_clip, self.content_clip):
            if a.ndim == 2 and a.shape[1]:
                return int(a.shape[1])
        return 0

    # -- .npz ---------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike, meta: dict | None = None) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        d = self.dim

        def flat(parts):
            offsets = np.cumsum([0] + [len(p) for p in parts]).astype(np.int64)
            data = np.concatenate(parts, 0) if parts else np.zeros((0, d), np.float32)
            return data.astype(np.float32), offsets

        gf, go = flat(self.gesture_frames)
        cw, co = flat(self.content_words)
        tmp = path.with_name(f".{path.name}.tmp{os.getpid()}.npz")
        np.savez(tmp, version=np.int64(CACHE_VERSION), meta=np.array(json.dumps(meta or {})),
                 gesture_ids=np.array(self.gesture_ids, dtype=str), gesture_clip=self.gesture_clip.astype(np.float32),
                 gesture_frames=gf, gesture_offsets=go,
                 content_ids=np.array(self.content_ids, dtype=str), content_clip=self.content_clip.astype(np.float32),
                 content_words=cw, content_offsets=co)
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Embeddings":
        with np.load(path, allow_pickle=False) as z:
            if int(z["version"]) != CACHE_VERSION:
                raise ValueError(f"{path}: embedding cache version {int(z['version'])}, expected {CACHE_VERSION}")

            def split(data, offsets):
                return [data[offsets[i]:offsets[i + 1]] for i in range(len(offsets) - 1)]

            return cls(gesture_ids=[str(x) for x in z["gesture_ids"]], gesture_clip=z["gesture_clip"],
                       gesture_frames=split(z["gesture_frames"], z["gesture_offsets"]),
                       content_ids=[str(x) for x in z["content_ids"]], content_clip=z["content_clip"],
                       content_words=split(z["content_words"], z["content_offsets"]))


def _batches(clips: list[Clip], batch_size: int):
    """Batches of clips of similar length (less padding); yields (clips,)."""
    order = sorted(range(len(clips)), key=lambda i: (clips[i].num_frames, len(clips[i].words)))
    for k in range(0, len(order), batch_size):
        yield [clips[i] for i in order[k:k + batch_size]]


def embed_clips(model, gesture: list[Clip], content: list[Clip], modalities: str = "ta", batch_size: int = 32,
                progress: bool = False, desc: str = "embed") -> Embeddings:
    """Embed ``gesture`` clips (frames + clip vector) and ``content`` clips (words + clip vector).

    ``model`` is a :class:`jegal.model.JEGAL` (or anything with its ``embed``)."""
    from tqdm.auto import tqdm

    g_ids, g_clip, g_frames = [], [], []
    c_ids, c_clip, c_words = [], [], []
    total = (len(gesture) + batch_size - 1) // batch_size + (len(content) + batch_size - 1) // batch_size
    bar = tqdm(total=total, desc=desc, disable=not progress, leave=False)
    for chunk in _batches(gesture, batch_size):
        out = model.embed(collate_clips(chunk), parts="g")
        frames = out["gesture_frames"].float().cpu().numpy()
        lengths = out["frame_mask"].sum(1).cpu().numpy()
        g_clip.append(out["gesture_clip"].float().cpu().numpy())
        for c, f, n in zip(chunk, frames, lengths):
            g_ids.append(c.clip_id)
            g_frames.append(f[:n])
        bar.update(1)
    for chunk in _batches(content, batch_size):
        out = model.embed(collate_clips(chunk), modalities=modalities, parts="c")
        words = out["content_words"].float().cpu().numpy()
        lengths = out["word_mask"].sum(1).cpu().numpy()
        c_clip.append(out["content_clip"].float().cpu().numpy())
        for c, w, n in zip(chunk, words, lengths):
            c_ids.append(c.clip_id)
            c_words.append(w[:n])
        bar.update(1)
    bar.close()
    d = next((a.shape[1] for a in g_clip + c_clip), 0)
    return Embeddings(g_ids, np.concatenate(g_clip) if g_clip else np.zeros((0, d), np.float32), g_frames,
                      c_ids, np.concatenate(c_clip) if c_clip else np.zeros((0, d), np.float32), c_words)


def file_digest(path: str | os.PathLike, chunk: int = 1 << 22) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def cache_key(model_id: str, modalities: str, gesture: list[Clip], content: list[Clip]) -> str:
    """A digest of what the embeddings depend on: the model, the content modalities, and
    every clip's id, length and words (the benchmark's words for content)."""
    h = hashlib.sha1()
    h.update(f"v{CACHE_VERSION}|{model_id}|{modalities}|".encode())
    for tag, clips in (("g", gesture), ("c", content)):
        for c in clips:
            h.update(f"{tag}|{c.clip_id}|{c.num_frames}|".encode())
            if tag == "c":
                h.update(json.dumps([[w.text, w.start, w.end] for w in c.words]).encode())
            h.update(np.ascontiguousarray(c.keypoints[:: max(1, c.num_frames // 8)]).tobytes()[:4096])
    return h.hexdigest()[:20]
