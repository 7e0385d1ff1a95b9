"""Loading a benchmark's clips from shards (the CSVs are read by :mod:`jegal.data.benchmarks`).

The clips live in WebDataset shards (``--data``) whose ``clip_id`` equals the CSV
``filename``. A clip that is missing or cannot be read is recorded in
:attr:`ClipSet.problems`, never silently dropped.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, replace

from jegal.data.benchmarks import BenchmarkError
from jegal.data.clip import Clip
from jegal.data.shards import ShardError, clip_key, read_clip_list
from jegal.data.words import Word


@dataclass
class ClipSet:
    clips: dict[str, Clip]  # clip id -> the decoded, validated clip, in the order asked for
    problems: dict[str, str]  # clip id -> why it is not usable (``missing:``, ``unreadable:``, ``invalid:`` ...)


def load_clips(data: str | os.PathLike, wanted: Iterable[str]) -> ClipSet:
    """The ``wanted`` clips (by clip id) from a shard directory or tar, through
    :func:`jegal.data.shards.read_clip_list`: other samples are skipped without being read.
    Clips that are absent, fail to decode or fail validation are listed in ``problems``; a
    damaged shard keeps the clips read before the damage and names the shard in the problems
    of the rest. Raises :class:`BenchmarkError` when ``data`` holds no shards."""
    wanted = list(dict.fromkeys(wanted))
    try:
        found, skipped = read_clip_list(data, {clip_key(c) for c in wanted})
    except ShardError as err:
        raise BenchmarkError(f"--data: {err}") from None
    by_id = {c.clip_id: c for c in found}
    by_key = dict(skipped)
    clips, problems = {}, {}
    for cid in wanted:
        if cid in by_id:
            clips[cid] = by_id[cid]
        else:  # a clip whose key matched but whose id differs (ids "a.b" and "a_b" share a key) is missing
            problems[cid] = by_key.get(clip_key(cid), f"missing: not in {data}")
    return ClipSet(clips=clips, problems=problems)


def with_benchmark_words(clip: Clip, words: list[Word]) -> tuple[Clip, int]:
    """The clip with the CSV's words (the benchmark is the authority on its words), spans
    clipped to the clip's frames. Returns the clip and how many words had to be clipped."""
    T = clip.num_frames
    fixed, clipped = [], 0
    for w in words:
        if w.end >= T or w.start >= T:
            clipped += 1
            s = min(w.start, T - 1)
            w = Word(w.text, s, max(s, min(w.end, T - 1)), w.display)
        fixed.append(w)
    return replace(clip, words=fixed), clipped
