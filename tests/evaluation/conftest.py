"""A tiny benchmark with a transparent fake model, so protocol results can be computed by hand.

Clip k (id ``vid{k}_0.0-3.0/00000``) has words ``w{k}a, w{k}b, w{k}c``; its keypoints carry
the clip code k in joint 0 and, per frame, the index of the word gestured there in joint 1
(-1 = none). The fake model embeds a gesture clip as one-hot(k) and a frame as one-hot of its
word slot; content as one-hot(k) and word j as one-hot(j). So retrieval and ASD are perfect,
and spotting hits exactly where the keypoints say a word was gestured.
"""

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from jegal.data.clip import Clip
from jegal.data.shards import write_shards
from jegal.data.transcripts import format_word_boundaries
from jegal.data.words import Word

D = 64
T = 40
WORD_SPANS = [(2, 6), (15, 20), (30, 34)]


def clip_id(k: int) -> str:
    return f"vid{k}_0.000000-3.000000/00000"


def make_clip(k: int, gestured: int | None = 1, at: tuple[int, int] | None = None) -> Clip:
    kp = np.zeros((T, 56, 3), np.float32)
    kp[:, 0, 0] = k
    kp[:, 1, 0] = -1
    if gestured is not None:
        s, e = at or WORD_SPANS[gestured]
        kp[s:e + 1, 1, 0] = gestured
    words = [Word(f"w{k}{c}", s, e) for c, (s, e) in zip("abc", WORD_SPANS)]
    return Clip(clip_id(k), kp, np.zeros((4 * T, 80), np.float32), words, speaker_id=f"s{k}")


class FakeModel:
    """Implements ``embed`` like :class:`jegal.model.JEGAL`."""

    def __init__(self):
        self.calls = 0

    def embed(self, batch, modalities="ta", parts="gc"):
        self.calls += 1
        out = {}
        if "g" in parts:
            kp = batch["keypoints"]  # (B, T, 56, 3)
            code = kp[:, 0, 0, 0].long()
            slot = kp[:, :, 1, 0].long()  # (B, T)
            frames = torch.where((slot >= 0)[..., None], F.one_hot(slot.clamp_min(0) + 50, D).float(),
                                 F.one_hot(torch.full_like(slot, 60), D).float())
            out.update(gesture_clip=F.one_hot(code, D).float(), gesture_frames=frames * batch["frame_mask"][..., None],
                       frame_mask=batch["frame_mask"])
        if "c" in parts:
            code = torch.tensor([int(ws[0][1:-1]) for ws in batch["words"]])
            W = batch["word_mask"].shape[1]
            words = F.one_hot(torch.arange(W) + 50, D).float()[None].repeat(len(code), 1, 1)
            out.update(content_clip=F.one_hot(code, D).float(), content_words=words * batch["word_mask"][..., None],
                       word_mask=batch["word_mask"])
        return out


def write_csv(path: Path, columns: list[str], rows: list[dict]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=columns)
        w.writeheader()
        w.writerows(rows)
    return path


def words_literal(k: int) -> str:
    return format_word_boundaries([Word(f"w{k}{c}", s, e) for c, (s, e) in zip("abc", WORD_SPANS)])


@pytest.fixture
def fake_model():
    return FakeModel()


@pytest.fixture
def tiny_bench(tmp_path):
    """Shards with clips 0..7 (clip 3 gestures word 'a' far from it); CSVs over clips 0..8
    (clip 8 is missing from the shards)."""
    clips = [make_clip(k) for k in range(8)]
    clips[3] = make_clip(3, gestured=0, at=(25, 28))  # word a is at 2-6: gesture 19+ frames late
    write_shards(clips, tmp_path / "test", clips_per_shard=3)
    ids = list(range(9))
    ret = write_csv(tmp_path / "ret.csv", ["video_id", "start_time", "end_time", "filename", "phrase", "word_boundaries"],
                    [{"video_id": f"vid{k}", "start_time": 0, "end_time": 3, "filename": clip_id(k), "phrase": "x",
                      "word_boundaries": words_literal(k)} for k in ids])
    spot_rows = []
    for k in ids:
        target = 0 if k == 3 else 1
        s, e = WORD_SPANS[target]
        spot_rows.append({"video_id": f"vid{k}", "start_time": 0, "end_time": 3, "filename": clip_id(k), "num_frames": T,
                          "phrase": "x", "target_word": f"w{k}{'abc'[target]}",
                          "target_word_boundary": repr([f"w{k}{'abc'[target]}", s, e]),
                          "word_boundaries": words_literal(k), "stress_label": k % 2, "lighting": "", "speaker_pose": ""})
    spot = write_csv(tmp_path / "spot.csv", list(spot_rows[0]), spot_rows)
    asd_rows = []
    for k in ids:
        negs = [clip_id((k + j) % 9) for j in range(1, 6)]
        asd_rows.append({"video_id": f"vid{k}", "start_time": 0, "end_time": 3, "filename": clip_id(k), "phrase": "x",
                         "word_boundaries": words_literal(k), "neg_files": repr(negs), "num_frames": T, "score": "",
                         "correct_2spk": "", "correct_4spk": "", "correct_6spk": ""})
    asd = write_csv(tmp_path / "asd.csv", list(asd_rows[0]), asd_rows)
    return {"dir": tmp_path, "data": tmp_path / "test", "ret": ret, "spot": spot, "asd": asd}
