"""The validation glue: which rows are scored, how, and under which keys. The metric functions
themselves are tested against slow references in tests/test_metrics.py."""

import csv
from types import SimpleNamespace

import numpy as np
import torch
import torch.nn.functional as F

from jegal.data.benchmarks import read_benchmark
from jegal.train.validate import validate

from .conftest import fake_clip


class OracleModel:
    """Embeds each clip so that the gesture frames of a chosen word point at that word: a
    stand-in that makes the expected metrics known, to test the validation glue alone."""

    def __init__(self, gestured: dict, scramble_clip: bool = False):
        self.gestured, self.scramble = gestured, scramble_clip
        self.config = SimpleNamespace(content=SimpleNamespace(modalities="ta"))
        self.device = torch.device("cpu")

    def embed(self, batch, modalities="ta"):
        B, T = batch["frame_mask"].shape
        W = batch["word_mask"].shape[1]
        d = 64
        words = torch.eye(d)[torch.arange(W) + 1].expand(B, W, d).clone()
        frames = torch.zeros(B, T, d)
        frames[..., 0] = 1.0  # a direction no word has: probability 1/W everywhere
        for b, cid in enumerate(batch["clip_ids"]):
            w = self.gestured.get(cid)
            if w is not None:
                s, e = batch["word_spans"][b, w].tolist()
                frames[b, s : e + 1] = words[b, w] * 5 + frames[b, s : e + 1]
        frames = F.normalize(frames, dim=-1)
        ids = torch.tensor([int(c.split(".")[1]) for c in batch["clip_ids"]])
        clip_vec = F.one_hot(ids, 128).float()
        content = clip_vec if not self.scramble else F.one_hot((ids + 1) % 128, 128).float()
        return {"gesture_frames": frames, "frame_mask": batch["frame_mask"], "content_words": words,
                "word_mask": batch["word_mask"], "gesture_clip": clip_vec, "content_clip": content}


def test_validate_with_spotting_rows(tmp_path):
    rng = np.random.default_rng(0)
    clips = [fake_clip(i, 8, rng) for i in range(12)]
    path = tmp_path / "spot.csv"
    with open(path, "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(["filename", "word_boundaries", "target_word_boundary", "stress_label"])
        for i, c in enumerate(clips):
            w = c.words[i % 8]
            wr.writerow([c.clip_id, repr([[x.text, x.start, x.end] for x in c.words]), repr([w.text, w.start, w.end]),
                         i % 2])
        wr.writerow(["clip.9999", "[['w0', 3, 5]]", "['w0', 3, 5]", 0])  # a clip not in the validation set
        wr.writerow(["clip.0000", "[['w0', 3, 5]]", "['w9', 30, 35]", 0])  # unparsable: target not among the words
    rows = read_benchmark(path, task="spotting")
    gestured = {c.clip_id: i % 8 for i, c in enumerate(clips) if i < 9}  # 9 of 12 targets gestured
    m = validate(OracleModel(gestured), clips, rows, batch_size=5)
    assert m["spot_acc"] == 9 / 12 and m["spot_rows"] == 12 and m["spot_rows_missing"] == 2
    assert m["spot_acc_stressed"] == 4 / 6 and m["spot_acc_unstressed"] == 5 / 6
    assert m["ret_c2g_R@5"] == 1.0 and m["ret_g2c_median_rank"] == 1.0
    bad = validate(OracleModel(gestured, scramble_clip=True), clips, rows, batch_size=5)
    assert bad["ret_c2g_R@5"] == 0.0 and bad["ret_c2g_median_rank"] == 12.0  # no match scores at all: ties rank last
    # without rows every word of every clip is a target: one gestured word per clip
    m_all = validate(OracleModel(gestured), clips, None, batch_size=5)
    assert m_all["spot_all_words"] == 9 / (12 * 8) and "spot_acc" not in m_all
    # the rows alone (no Benchmark) are accepted too; unparsable rows are then the caller's to count
    assert validate(OracleModel(gestured), clips, rows.rows, batch_size=5)["spot_rows_missing"] == 1
