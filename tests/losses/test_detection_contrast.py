"""The detection contrast (jegal.losses.coupling.detection_contrast_loss) against a loop reference,
and what it learns that a timing or word prior cannot."""

import math

import pytest
import torch
import torch.nn.functional as F

from jegal.losses.coupling import detection_contrast_loss
from tests.losses.test_coupling import assert_matches_loop_reference, ragged


def loop_detection_contrast(frames, words, spans, window, temperature):
    """The docstring's formula word by word: frames[n] (T_n, d), words[b] (W_b, d), spans[b] [(s, e)]."""
    N = len(frames)
    terms = []
    for b in range(N):
        qs = []
        for w, (s, e) in enumerate(spans[b]):
            lo = max(s - window, 0)
            cand = {}
            for n in range(N):
                hi = min(e + window, frames[n].shape[0] - 1)
                if lo <= hi:
                    cand[n] = max(torch.dot(words[b][w], frames[n][t]) for t in range(lo, hi + 1)) / temperature
            if b in cand and len(cand) >= 2:
                z = torch.stack(list(cand.values()))
                qs.append(torch.exp(cand[b] - torch.logsumexp(z, 0)))
        if qs:
            terms.append(-torch.log(torch.stack(qs).mean()))
    return torch.stack(terms).sum() / N if terms else torch.zeros(())


@pytest.mark.parametrize("seed,window,temperature", [(0, 3, 0.07), (1, 0, 0.5), (2, 10, 0.2)])
def test_detection_contrast_matches_loop_reference(seed, window, temperature):
    assert_matches_loop_reference(detection_contrast_loss, loop_detection_contrast, seed, window, temperature)


def test_a_rank_slice_against_the_gathered_frames_gives_its_rows_share():
    frames, fm, words, wm, spans, *_ = ragged(5, n=6, d=8)
    kw = dict(window=4, temperature=0.1)
    whole = detection_contrast_loss(frames, fm, words, spans, wm, **kw)
    parts = [detection_contrast_loss(frames[lo:hi, :int(fm[lo:hi].sum(1).max())], fm[lo:hi, :int(fm[lo:hi].sum(1).max())],
                                     words[lo:hi], spans[lo:hi], wm[lo:hi], batch_frames=frames,
                                     batch_frame_mask=fm, offset=lo, **kw) * (hi - lo) / 6
             for lo, hi in ((0, 2), (2, 6))]
    torch.testing.assert_close(sum(parts), whole, atol=1e-6, rtol=1e-5)


def test_one_clip_or_identical_motion_has_nothing_to_contrast():
    frames, fm, words, wm, spans, *_ = ragged(3, n=4, d=8)
    assert detection_contrast_loss(frames[:1], fm[:1], words[:1], spans[:1], wm[:1]) == 0
    same = frames[:1].expand(4, -1, -1).contiguous()  # every clip moves alike: chance, log(4)
    loss = detection_contrast_loss(same, fm[:1].expand(4, -1), words, spans, wm[:1].expand(4, -1) & wm)
    assert math.isclose(float(loss), math.log(4), rel_tol=1e-5)


def test_it_learns_the_word_s_motion_where_position_and_word_identity_are_no_help():
    """Four clips with the same words at the same frames; every frame carries its position (a
    sinusoid-like code) and each clip gestures word 1 or not. Trained with the contrast alone, a
    linear frame head makes the gestured clips' word 1 score above the ungestured ones', which no
    word prior or timing prior can do (the words and positions are identical in all four)."""
    torch.manual_seed(0)
    d, T, B = 12, 24, 8
    spans = torch.tensor([[0, 7], [8, 15], [16, 23]]).expand(B, 3, 2)
    wm = torch.ones(B, 3, dtype=torch.bool)
    fm = torch.ones(B, T, dtype=torch.bool)
    pos = torch.stack([torch.sin(torch.arange(T) / (k + 1.0)) for k in range(4)], -1)  # (T, 4)
    gesture = torch.randn(4)
    gestured = torch.tensor([1, 0] * (B // 2), dtype=torch.bool)
    motion = 0.3 * torch.randn(B, T, 4)
    motion[gestured, 10:14] += gesture
    raw = torch.cat([pos.expand(B, T, 4), motion], -1)  # (B, T, 8)
    head = torch.nn.Linear(8, d)
    word_vecs = torch.nn.Parameter(torch.randn(3, d))

    def score():
        g = F.normalize(head(raw), dim=-1)
        c = F.normalize(word_vecs, dim=-1)
        return (g[:, 2:22] @ c[1]).amax(-1)  # word 1's best cosine in its window, per clip

    before = score().detach()
    opt = torch.optim.Adam([*head.parameters(), word_vecs], lr=0.05)
    for _ in range(150):
        opt.zero_grad()
        g = F.normalize(head(raw), dim=-1)
        c = F.normalize(word_vecs, dim=-1).expand(B, 3, d)
        detection_contrast_loss(g, fm, c, spans, wm, window=2, temperature=0.1).backward()
        opt.step()
    after = score().detach()
    gap_before = before[gestured].min() - before[~gestured].max()
    gap_after = after[gestured].min() - after[~gestured].max()
    assert gap_after > 0.1 and gap_after > gap_before + 0.1, (before, after)  # every gestured clip above every other
