"""Streaming training clips from WebDataset shards, deterministically, over ranks and workers.

The order of an epoch is a pure function of the shard index (manifest), the seed and the
epoch, computed from sample keys alone before any byte is decoded:

1. the shards are permuted (seeded by ``(seed, epoch)``) and their samples concatenated;
2. that sequence is cut into ``world_size`` contiguous parts, one per rank (sizes differ by
   at most one), so each rank streams only its own stretch of shards;
3. each rank's part is shuffled with a bounded buffer (seeded by ``(seed, epoch, rank)``),
   the classic streaming shuffle, simulated on indices;
4. the rank's sequence is cut into batches of ``batch_size``; batch ``j`` is a fixed set of
   samples, whatever the number of loader workers. Worker ``w`` of ``W`` builds batches
   ``j`` with ``(j - start) % W == w``, which is the order in which a ``DataLoader``
   collects them, so batches arrive as ``start, start + 1, ...``.

Hence every sample is seen exactly once per epoch over all ranks and workers, and a resumed
run that starts at batch ``j`` sees exactly the batches an uninterrupted run would. Each
training sample is cropped to a random run of ``min_words..max_words`` consecutive words
(plus ``margin`` frames of context), or with ``crop="frames"`` to a window of a fixed
number of frames, drawn from a generator seeded by ``(seed, epoch, clip key)``. Samples that
cannot be used (truncated shard, undecodable member, a clip with no words, parts that do not
fit together) are skipped and reported with the batch they belonged to, as ``[key, reason]``
(:func:`jegal.data.shards.problem`), so a batch may come out smaller, never shifted.

Each worker reads every tar of its rank's stretch but extracts only the members of its own
batches (tar headers are skipped by seeking), so input bytes are read once per rank and
decoded once per sample. Listing, reading, decoding and the skip reasons are those of
:mod:`jegal.data.shards` (which also says why the ``webdataset`` library is not used here).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from jegal.data.batch import collate_clips
from jegal.data.clip import Clip, ClipError
from jegal.data.shards import ShardError, ShardIndex, load_clip, missing_reason, problem, read_samples
from jegal.train.augment import augment_clip


def key_hash(key: str) -> int:
    return zlib.crc32(key.encode())


def holdout_keys(index: ShardIndex, fraction: float, max_clips: int) -> set[str]:
    """A fixed validation subset chosen by key hash: the same clips whatever the shard layout."""
    if fraction <= 0 or max_clips <= 0:
        return set()
    keys = [k for ks in index.keys for k in ks]
    ranked = sorted(keys, key=lambda k: (key_hash(k), k))
    n = min(max_clips, max(1, int(round(fraction * len(keys)))))
    return set(ranked[:n])


def buffer_shuffle(items: np.ndarray, buffer: int, rng: np.random.Generator) -> np.ndarray:
    """The streaming shuffle (reservoir of ``buffer`` items, a random one emitted per item
    read), on indices. An item read at position p is emitted at position >= p - buffer, so a
    reader holding ``buffer`` samples can follow the order."""
    n = len(items)
    if buffer <= 1 or n <= 1:
        return items.copy()
    out = np.empty(n, dtype=items.dtype)
    pool = list(items[:buffer])
    picks = rng.random(n)
    o = 0
    for item in items[buffer:]:
        j = int(picks[o] * len(pool))
        out[o] = pool[j]
        pool[j] = item
        o += 1
    rest = rng.permutation(len(pool))
    out[o:] = np.asarray(pool, dtype=items.dtype)[rest]
    return out


def rank_bounds(n: int, rank: int, world_size: int) -> tuple[int, int]:
    return rank * n // world_size, (rank + 1) * n // world_size


def epoch_order(index: ShardIndex, epoch: int, seed: int, rank: int = 0, world_size: int = 1,
                buffer: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """``(read_order, emit_order)`` of global sample ids for one rank in one epoch.

    ``read_order`` is the rank's stretch of the shard-shuffled sequence (the order bytes are
    read in); ``emit_order`` is that stretch after the buffer shuffle (the training order)."""
    offs = index.offsets()
    shard_perm = np.random.default_rng([seed, epoch]).permutation(len(index.shards))
    seq = np.concatenate([np.arange(offs[s], offs[s + 1]) for s in shard_perm] or [np.zeros(0, np.int64)])
    lo, hi = rank_bounds(len(seq), rank, world_size)
    part = seq[lo:hi]
    return part, buffer_shuffle(part, buffer, np.random.default_rng([seed, epoch, rank, 1]))


def word_window(clip: Clip, rng: np.random.Generator, min_words: int, max_words: int, margin: int) -> Clip:
    """A random run of ``min_words..max_words`` consecutive words, all modalities cropped to it.
    A clip with fewer than ``min_words`` words is kept whole (cropped to its words)."""
    n = len(clip.words)
    lo, hi = min(min_words, n), min(max_words, n)
    length = int(rng.integers(lo, hi + 1))
    first = int(rng.integers(0, n - length + 1))
    return clip.word_window(first, first + length - 1, margin=margin)


def frame_window(clip: Clip, rng: np.random.Generator, frames: int) -> Clip:
    """A random window of ``frames`` consecutive frames holding at least one whole word (a
    random one); words cut by the window edges are dropped. Clips shorter than ``frames``
    are kept whole."""
    T = clip.num_frames
    if T <= frames:
        return clip
    w = clip.words[int(rng.integers(len(clip.words)))]
    lo, hi = max(0, w.end - frames + 1), min(w.start, T - frames)
    start = int(rng.integers(lo, hi + 1)) if hi >= lo else int(rng.integers(0, T - frames + 1))
    return clip.crop(start, start + frames - 1)


class _Reader:
    """Reads a rank's stretch in read order and hands out the raw members of wanted samples."""

    def __init__(self, index: ShardIndex, read_order: np.ndarray, wanted: set[int]):
        self.index, self.wanted = index, wanted
        self.offs = index.offsets()
        # shards in the order their samples appear in the stretch
        shard_of = np.searchsorted(self.offs, read_order, side="right") - 1
        seen, self.shard_seq = set(), []
        for s in shard_of.tolist():
            if s not in seen:
                seen.add(s)
                self.shard_seq.append(s)
        self.next_shard = 0
        self.store: dict[int, dict[str, bytes] | str] = {}  # gid -> members, or the reason it is missing

    def get(self, gid: int) -> dict[str, bytes] | str:
        while gid not in self.store:
            if self.next_shard >= len(self.shard_seq):
                return f"missing: sample {gid} not found in any shard"
            self._read_shard(self.shard_seq[self.next_shard])
            self.next_shard += 1
        return self.store.pop(gid)

    def _read_shard(self, s: int) -> None:
        path, keys = self.index.shards[s], self.index.keys[s]
        gids = {k: int(self.offs[s]) + i for i, k in enumerate(keys)}
        wanted_keys = {k for k, g in gids.items() if g in self.wanted}
        if not wanted_keys:
            return
        got, damage = read_samples(path, wanted_keys)
        for k in wanted_keys:
            self.store[gids[k]] = got[k] if k in got else missing_reason(path, damage)


class ClipStream(IterableDataset):
    """Batches of one rank's training clips for one epoch (see the module docstring).

    Call :meth:`set_epoch` before iterating. Each item is a dict: ``batch`` (the
    :func:`collate_clips` dict, or None when every sample of the batch was bad), ``index``
    (batch number in the epoch), ``epoch``, ``size`` and ``skipped`` (list of
    ``[key, reason]``)."""

    def __init__(self, index: ShardIndex, batch_size: int, seed: int = 0, rank: int = 0, world_size: int = 1,
                 shuffle_buffer: int = 1000, min_words: int = 5, max_words: int = 20, margin: int = 10,
                 crop: str = "words", crop_frames: int = 50, augment: bool = False):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if not 1 <= min_words <= max_words:
            raise ValueError(f"need 1 <= min_words <= max_words, got {min_words}, {max_words}")
        self.index, self.batch_size, self.seed = index, batch_size, seed
        self.rank, self.world_size, self.shuffle_buffer = rank, world_size, shuffle_buffer
        if crop not in ("words", "frames", "none"):
            raise ValueError(f"crop must be words, frames or none, got {crop!r}")
        self.min_words, self.max_words, self.margin, self.crop = min_words, max_words, margin, crop
        self.crop_frames = crop_frames
        self.augment = augment
        self.epoch, self.start = 0, 0
        self._offs = index.offsets()

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        self.epoch, self.start = epoch, start_batch

    def rank_samples(self) -> int:
        lo, hi = rank_bounds(self.index.num_samples, self.rank, self.world_size)
        return hi - lo

    def num_batches(self) -> int:
        return -(-self.rank_samples() // self.batch_size)

    def batch_ids(self, epoch: int) -> list[np.ndarray]:
        """Global sample ids of each batch of this rank in ``epoch``."""
        _, emit = epoch_order(self.index, epoch, self.seed, self.rank, self.world_size, self.shuffle_buffer)
        return self._batches(emit)

    def _batches(self, emit: np.ndarray) -> list[np.ndarray]:
        return [emit[i : i + self.batch_size] for i in range(0, len(emit), self.batch_size)]

    def __iter__(self) -> Iterator[dict]:
        info = get_worker_info()
        wid, nw = (info.id, info.num_workers) if info is not None else (0, 1)
        read, emit = epoch_order(self.index, self.epoch, self.seed, self.rank, self.world_size, self.shuffle_buffer)
        batches = self._batches(emit)
        mine = [j for j in range(self.start, len(batches)) if (j - self.start) % nw == wid]
        wanted = {int(g) for j in mine for g in batches[j]}
        reader = _Reader(self.index, read, wanted)
        for j in mine:
            clips, skipped = [], []
            for gid in batches[j].tolist():
                s = int(np.searchsorted(self._offs, gid, side="right") - 1)
                i = gid - int(self._offs[s])
                key = self.index.keys[s][i]
                got = reader.get(gid)
                if isinstance(got, str):
                    skipped.append([key, got])
                    continue
                try:
                    clip = load_clip(got, f"{self.index.shards[s]}:{key}")
                    rng = np.random.default_rng([self.seed, self.epoch, key_hash(key)])
                    if self.crop == "words":
                        clip = word_window(clip, rng, self.min_words, self.max_words, self.margin)
                    elif self.crop == "frames":
                        clip = frame_window(clip, rng, self.crop_frames)
                    if not clip.words:
                        raise ClipError(f"{key}: no whole word inside the crop")
                    if self.augment:
                        clip = augment_clip(clip, rng)
                except (ShardError, ClipError, ValueError) as err:
                    skipped.append([key, problem(err)])
                    continue
                clips.append(clip)
            yield {"batch": collate_clips(clips) if clips else None, "index": j, "epoch": self.epoch,
                   "size": len(clips), "skipped": skipped}


def make_loader(stream: ClipStream, workers: int = 0, pin_memory: bool = False) -> torch.utils.data.DataLoader:
    """A DataLoader over the stream's pre-built batches (``batch_size=None``); with workers,
    the round-robin collection order equals the batch order (see the module docstring)."""
    # A private generator: creating the iterator otherwise draws from the global torch RNG,
    # which would make dropout after a resume differ from an uninterrupted run.
    return torch.utils.data.DataLoader(stream, batch_size=None, num_workers=workers, pin_memory=pin_memory,
                                       persistent_workers=False, generator=torch.Generator().manual_seed(stream.seed))
