"""The sync-style baseline's objective (jegal.losses.sync) against loop references."""

import math

import numpy as np
import torch
import torch.nn.functional as F

from jegal.losses.sync import SYNC_OFFSETS, SYNC_SCALE, sync_loss, sync_objective, sync_scores


def _slow_sync_scores(g, fm, c, spans, wm, offsets):
    B, T, _ = g.shape
    out = np.full((B, len(offsets)), -np.inf)
    for b in range(B):
        n = int(fm[b].sum())
        for k, o in enumerate(offsets):
            vals = []
            for w in range(spans.shape[1]):
                if not wm[b, w]:
                    continue
                frames = [t for t in range(spans[b, w, 0] + o, spans[b, w, 1] + o + 1) if 0 <= t < n]
                if not frames:
                    continue
                pooled = g[b, frames].mean(0)
                vals.append(float(pooled @ c[b, w] / np.linalg.norm(pooled)))
            if vals:
                out[b, k] = np.mean(vals)
    return out


def test_sync_scores_match_a_loop_reference():
    rng = np.random.default_rng(0)
    B, T, W, d = 3, 30, 4, 8
    g = rng.normal(size=(B, T, d))
    c = rng.normal(size=(B, W, d))
    c /= np.linalg.norm(c, axis=-1, keepdims=True)
    starts = rng.integers(0, 25, size=(B, W))
    spans = np.stack([starts, starts + rng.integers(0, 5, size=(B, W))], -1)
    fm = np.arange(T)[None] < np.array([30, 22, 27])[:, None]
    wm = np.array([[1, 1, 1, 1], [1, 1, 0, 0], [1, 1, 1, 0]], bool)
    offsets = (-20, -4, 0, 4, 20)
    got = sync_scores(torch.tensor(g), torch.tensor(fm), torch.tensor(c), torch.tensor(spans), torch.tensor(wm),
                      offsets).numpy()
    np.testing.assert_allclose(got, _slow_sync_scores(g, fm, c, spans, wm, offsets), rtol=1e-6)


def test_sync_loss_prefers_aligned_speech():
    # gesture frames equal each word's speech embedding at the word's own frames: offset 0 wins
    W, T, d = 3, 40, 8
    c = F.normalize(torch.eye(d)[:W], dim=-1)[None]  # (1, W, d)
    spans = torch.tensor([[[5, 9], [15, 19], [25, 29]]])
    g = torch.zeros(1, T, d)
    g[..., 7] = 1.0  # background direction orthogonal to all words
    for w in range(W):
        g[0, spans[0, w, 0]:spans[0, w, 1] + 1] = c[0, w]
    scores = sync_scores(g, torch.ones(1, T, dtype=torch.bool), c, spans, torch.ones(1, W, dtype=torch.bool))
    assert int(scores.argmax()) == SYNC_OFFSETS.index(0)
    assert sync_loss(scores) < np.log(len(SYNC_OFFSETS)) / 10


def test_sync_loss_is_the_offset_cross_entropy_and_the_objective_reports_it():
    torch.manual_seed(0)
    scores = torch.randn(4, len(SYNC_OFFSETS))
    zero = SYNC_OFFSETS.index(0)
    by_hand = sum(-(SYNC_SCALE * scores[b, zero] - torch.logsumexp(SYNC_SCALE * scores[b], 0)) for b in range(4)) / 4
    torch.testing.assert_close(sync_loss(scores), by_hand)
    assert math.isclose(float(sync_loss(torch.zeros(2, len(SYNC_OFFSETS)))), math.log(len(SYNC_OFFSETS)), rel_tol=1e-6)

    g = F.normalize(torch.randn(2, 40, 8), dim=-1)
    c = F.normalize(torch.randn(2, 3, 8), dim=-1)
    spans = torch.tensor([[[5, 9], [15, 19], [25, 29]]] * 2)
    fm, wm = torch.ones(2, 40, dtype=torch.bool), torch.ones(2, 3, dtype=torch.bool)
    out = sync_objective(g, fm, c, spans, wm)
    torch.testing.assert_close(out["loss"], sync_loss(sync_scores(g, fm, c, spans, wm)))
    assert float(out["loss_sync"]) == float(out["loss"])
    assert all(float(out[k]) == 0.0 for k in ("loss_global", "loss_couple", "loss_spot", "loss_follow"))
