import math

import torch
import torch.nn.functional as F

from jegal.losses.contrastive import LogitScale, symmetric_info_nce
from jegal.losses.loss import JEGALLoss
from jegal.losses import LossConfig


def naive_info_nce(scores):
    """-1/N sum_i log softmax_row(i)[i], averaged with the same for columns."""
    n = scores.shape[0]
    rows = [-(scores[i, i] - torch.logsumexp(scores[i], 0)) for i in range(n)]
    cols = [-(scores[i, i] - torch.logsumexp(scores[:, i], 0)) for i in range(n)]
    return 0.5 * (sum(rows) / n + sum(cols) / n)


def test_symmetric_info_nce_matches_the_formula():
    s = torch.randn(6, 6)
    torch.testing.assert_close(symmetric_info_nce(s, s.T), naive_info_nce(s))


def test_local_rows_against_global_batch_average_to_the_full_loss():
    s = torch.randn(8, 8)
    full = symmetric_info_nce(s, s.T)
    halves = [symmetric_info_nce(s[r * 4:(r + 1) * 4], s.T[r * 4:(r + 1) * 4], offset=r * 4) for r in range(2)]
    torch.testing.assert_close((halves[0] + halves[1]) / 2, full)


def test_logit_scale_starts_at_init_and_is_clamped():
    ls = LogitScale(1 / 0.07, 100.0)
    assert math.isclose(float(ls().detach()), 1 / 0.07, rel_tol=1e-6)
    with torch.no_grad():
        ls.log_scale.fill_(10.0)
    assert float(ls().detach()) == 100.0
    with torch.no_grad():
        ls.log_scale.fill_(-3.0)
    assert float(ls().detach()) == 1.0


def _features(n=6, T=12, W=4, d=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    frames = F.normalize(torch.randn(n, T, d, generator=g), dim=-1)
    words = F.normalize(torch.randn(n, W, d, generator=g), dim=-1)
    fm = torch.ones(n, T, dtype=torch.bool)
    wm = torch.ones(n, W, dtype=torch.bool)
    fm[0, 9:] = False
    wm[1, 3:] = False
    spans = torch.tensor([[0, 2], [3, 5], [6, 8], [9, 11]]).expand(n, W, 2).clone()
    gc = F.normalize(torch.randn(n, d, generator=g), dim=-1)
    cc = F.normalize(torch.randn(n, d, generator=g), dim=-1)
    return frames * fm[..., None], fm, words * wm[..., None], spans, wm, gc, cc


def test_permuting_the_batch_leaves_the_losses_unchanged():
    loss = JEGALLoss(LossConfig(), couple_chunk=2)
    f = _features()
    out = loss(*f)
    perm = torch.tensor([3, 0, 5, 1, 4, 2])
    out_p = loss(*[x[perm] for x in f])
    for k in ("loss", "loss_global", "loss_couple"):
        torch.testing.assert_close(out_p[k], out[k])


def test_beta_weights_the_two_losses():
    f = _features(seed=1)
    parts = JEGALLoss(LossConfig(beta=0.5))(*f)
    for beta in (0.0, 0.3, 1.0):
        out = JEGALLoss(LossConfig(beta=beta))(*f)
        expect = beta * parts["loss_global"] + (1 - beta) * (parts["loss_couple"] if beta < 1 else 0)
        torch.testing.assert_close(out["loss"], expect)


def test_matched_features_give_lower_loss_than_shuffled():
    frames, fm, words, spans, wm, gc, cc = _features(seed=2)
    loss = JEGALLoss(LossConfig())
    matched = loss(frames, fm, words, spans, wm, gc, gc)["loss_global"]
    shuffled = loss(frames, fm, words, spans, wm, gc, gc.roll(1, 0))["loss_global"]
    assert matched < shuffled
