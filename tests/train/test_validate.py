import csv
from types import SimpleNamespace

import numpy as np
import torch
import torch.nn.functional as F

from jegal.train.validate import match_ranks, read_spot_rows, retrieval_metrics, spotting_hits, validate

from .conftest import fake_clip


def test_match_ranks_count_ties_against_the_model():
    rng = np.random.default_rng(0)
    sim = torch.from_numpy(rng.integers(0, 4, size=(30, 30)).astype(np.float32))  # many ties
    ranks = match_ranks(sim)
    for i in range(30):
        ref = 1 + sum(1 for j in range(30) if j != i and sim[i, j] >= sim[i, i])
        assert ranks[i] == ref
    assert match_ranks(torch.zeros(5, 5)).tolist() == [5] * 5  # all tied: worst rank, not best
    m = retrieval_metrics(torch.eye(60), "x_")
    assert m["x_R@5"] == 1.0 and m["x_median_rank"] == 1.0


def slow_spot(frames, fmask, words, wmask, target, span):
    T = int(fmask.sum())
    W = int(wmask.sum())
    best_p, best_t = -1.0, -1
    for t in range(T):
        logits = [float(frames[t] @ words[w]) / 0.07 for w in range(W)]
        m = max(logits)
        p = np.exp(logits[target] - m) / sum(np.exp(x - m) for x in logits)
        if p > best_p:
            best_p, best_t = p, t
    return span[0] - 9 <= best_t <= span[1] + 9 and best_p >= 0.5


def test_spotting_hits_match_a_slow_reference():
    g = torch.Generator().manual_seed(0)
    B, T, W, d = 40, 30, 6, 32
    frames = F.normalize(torch.randn(B, T, d, generator=g), dim=-1)
    words = F.normalize(torch.randn(B, W, d, generator=g), dim=-1)
    fmask = torch.arange(T)[None] < torch.randint(10, T + 1, (B, 1), generator=g)
    wmask = torch.arange(W)[None] < torch.randint(2, W + 1, (B, 1), generator=g)
    target = (torch.rand(B, generator=g) * wmask.sum(1)).long()
    start = torch.randint(0, 25, (B,), generator=g)
    spans = torch.stack([start, start + 3], 1)
    # sharpen some clips so both outcomes occur
    frames[::2, :, :] = words[::2, :1, :].expand(-1, T, -1) * 0.12 + frames[::2] * 0.88
    frames = F.normalize(frames, dim=-1)
    got = spotting_hits(frames, fmask, words, wmask, target, spans)
    ref = [slow_spot(frames[b], fmask[b], words[b], wmask[b], int(target[b]), spans[b].tolist()) for b in range(B)]
    assert got.tolist() == ref and 0 < sum(ref) < B


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
        wr.writerow(["filename", "target_word_boundary", "stress_label"])
        for i, c in enumerate(clips):
            w = c.words[i % 8]
            wr.writerow([c.clip_id, repr([w.text, w.start, w.end]), i % 2])
        wr.writerow(["clip.9999", "['w0', 3, 5]", 0])  # a clip not in the validation set
    rows = read_spot_rows(path)
    gestured = {c.clip_id: i % 8 for i, c in enumerate(clips) if i < 9}  # 9 of 12 targets gestured
    m = validate(OracleModel(gestured), clips, rows, batch_size=5)
    assert m["spot_acc"] == 9 / 12 and m["spot_rows"] == 12 and m["spot_rows_missing"] == 1
    assert m["spot_acc_stressed"] == 4 / 6 and m["spot_acc_unstressed"] == 5 / 6
    assert m["ret_c2g_R@5"] == 1.0 and m["ret_g2c_median_rank"] == 1.0
    bad = validate(OracleModel(gestured, scramble_clip=True), clips, rows, batch_size=5)
    assert bad["ret_c2g_R@5"] == 0.0 and bad["ret_c2g_median_rank"] == 12.0  # no match scores at all: ties rank last
    # without rows every word of every clip is a target: one gestured word per clip
    m_all = validate(OracleModel(gestured), clips, None, batch_size=5)
    assert m_all["spot_all_words"] == 9 / (12 * 8) and "spot_acc" not in m_all
