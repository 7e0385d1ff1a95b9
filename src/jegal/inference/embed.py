"""Embeddings of many clips at once, and their ``.npz`` file.

:func:`embed_clips` runs a model over clips in length-sorted batches and returns
:class:`Embeddings`: per gesture clip its clip vector and frame embeddings, per content clip
its clip vector and word embeddings, keyed by clip id. Ragged per-clip arrays (frames, words)
are stored concatenated with offsets, so the file is plain arrays (no pickle). ``jegal eval``
caches benchmark embeddings in this format (:mod:`jegal.evaluation.embeddings` names the files).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jegal.atomic import atomic_path
from jegal.data.batch import collate_clips
from jegal.data.clip import Clip

FORMAT_VERSION = 1


@dataclass
class Embeddings:
    """Clip vectors and per-frame / per-word embeddings of many clips, looked up by clip id
    (:meth:`gesture`, :meth:`content`). Arrays are float32 numpy, d the embedding width."""

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
    def save(self, path: str | os.PathLike, meta: dict | None = None, extra: dict[str, np.ndarray] | None = None) -> Path:
        """Write ``path`` (``.npz``, plain arrays, atomically); ``meta`` is stored as JSON, ``extra``
        arrays beside the others under their own names (:meth:`load` ignores them)."""
        path = Path(path)
        d = self.dim

        gf, go = ragged(self.gesture_frames, d)
        cw, co = ragged(self.content_words, d)
        with atomic_path(path) as tmp:  # the temporary name keeps ".npz", so numpy adds no suffix
            np.savez(tmp, version=np.int64(FORMAT_VERSION), meta=np.array(json.dumps(meta or {})),
                     gesture_ids=np.array(self.gesture_ids, dtype=str),
                     gesture_clip=self.gesture_clip.astype(np.float32), gesture_frames=gf, gesture_offsets=go,
                     content_ids=np.array(self.content_ids, dtype=str),
                     content_clip=self.content_clip.astype(np.float32), content_words=cw, content_offsets=co,
                     **(extra or {}))
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Embeddings":
        """Read a file :meth:`save` wrote (no pickle). Raises ``ValueError`` on another format
        version, ``KeyError``/``OSError`` on a damaged file."""
        with np.load(path, allow_pickle=False) as z:
            if int(z["version"]) != FORMAT_VERSION:
                raise ValueError(f"{path}: embeddings file version {int(z['version'])}, expected {FORMAT_VERSION}")

            def split(data, offsets):
                return [data[offsets[i]:offsets[i + 1]] for i in range(len(offsets) - 1)]

            return cls(gesture_ids=[str(x) for x in z["gesture_ids"]], gesture_clip=z["gesture_clip"],
                       gesture_frames=split(z["gesture_frames"], z["gesture_offsets"]),
                       content_ids=[str(x) for x in z["content_ids"]], content_clip=z["content_clip"],
                       content_words=split(z["content_words"], z["content_offsets"]))


def ragged(parts: list[np.ndarray], dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Arrays of different lengths ``(n_i, dim)`` as one ``(sum n_i, dim)`` float32 array and
    ``(len(parts) + 1,)`` int64 offsets: part i is rows ``offsets[i]:offsets[i + 1]`` (the layout of
    the ``.npz`` files; ``(0, dim)`` for no parts)."""
    offsets = np.cumsum([0] + [len(p) for p in parts]).astype(np.int64)
    data = np.concatenate(parts, 0).astype(np.float32) if parts else np.zeros((0, dim), np.float32)
    return data, offsets


def _batches(clips: list[Clip], batch_size: int):
    """Batches of clips of similar length (less padding); yields (clips,)."""
    order = sorted(range(len(clips)), key=lambda i: (clips[i].num_frames, len(clips[i].words)))
    for k in range(0, len(order), batch_size):
        yield [clips[i] for i in order[k:k + batch_size]]


def embed_clips(model, gesture: list[Clip], content: list[Clip], modalities: str = "ta", batch_size: int = 32,
                progress: bool = False, desc: str = "embed") -> Embeddings:
    """Embed ``gesture`` clips (frames + clip vector) and ``content`` clips (words + clip vector).

    ``model`` is a :class:`jegal.model.JEGAL` (or anything with its ``embed``); ``modalities``
    is the content input at test time (``t``, ``a``, ``ta``). Padding is cut off: each clip keeps
    its own T frames / W words."""
    from jegal.native_logs import progress_bar

    total = -(-len(gesture) // batch_size) + -(-len(content) // batch_size)
    bar = progress_bar(total, desc, unit="batch", disable=not progress, leave=False)
    sides = {}  # part -> (ids, clip vectors per batch, per-clip frames or words)
    for part, clips, seq, mask, vec, kw in (("g", gesture, "gesture_frames", "frame_mask", "gesture_clip", {}),
                                             ("c", content, "content_words", "word_mask", "content_clip",
                                              {"modalities": modalities})):
        ids, vecs, seqs = [], [], []
        for chunk in _batches(clips, batch_size):
            out = model.embed(collate_clips(chunk), parts=part, **kw)
            lengths = out[mask].sum(1).cpu().numpy()
            vecs.append(out[vec].float().cpu().numpy())
            ids += [c.clip_id for c in chunk]
            seqs += [x[:n] for x, n in zip(out[seq].float().cpu().numpy(), lengths)]
            bar.update(1)
        sides[part] = (ids, vecs, seqs)
    bar.close()
    d = next((a.shape[1] for _, vecs, _ in sides.values() for a in vecs), 0)

    def stack(vecs):
        return np.concatenate(vecs) if vecs else np.zeros((0, d), np.float32)

    (g_ids, g_vecs, g_frames), (c_ids, c_vecs, c_words) = sides["g"], sides["c"]
    return Embeddings(g_ids, stack(g_vecs), g_frames, c_ids, stack(c_vecs), c_words)
