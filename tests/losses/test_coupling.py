import pytest
import torch
import torch.nn.functional as F

from jegal.metrics import spot_word, spotting_probabilities
from jegal.losses.coupling import (coupling_scores, frame_word_scores, windowed_attention_pool,
                                   word_discrimination_loss, word_windows)
from tests.reference import loop_coupling_scores, loop_window_pool, loop_word_discrimination


def ragged(seed, n=5, d=16, t_range=(6, 30), w_range=(1, 6)):
    """Random unit-vector frames/words with ragged lengths, spans touching both clip edges, 1-frame words."""
    g = torch.Generator().manual_seed(seed)
    Ts = torch.randint(t_range[0], t_range[1] + 1, (n,), generator=g).tolist()
    Ws = [min(int(torch.randint(w_range[0], w_range[1] + 1, (1,), generator=g)), T) for T in Ts]
    T, W = max(Ts), max(Ws)
    frames = F.normalize(torch.randn(n, T, d, generator=g), dim=-1)
    words = F.normalize(torch.randn(n, W, d, generator=g), dim=-1)
    frame_mask = torch.arange(T)[None] < torch.tensor(Ts)[:, None]
    word_mask = torch.arange(W)[None] < torch.tensor(Ws)[:, None]
    frames = frames * frame_mask[..., None]
    words = words * word_mask[..., None]
    spans = torch.zeros(n, W, 2, dtype=torch.long)
    span_list = []
    for i, (Ti, Wi) in enumerate(zip(Ts, Ws)):
        cuts = sorted(torch.randperm(Ti - 1, generator=g)[: Wi - 1].add(1).tolist())
        starts, ends = [0] + cuts, [c - 1 for c in cuts] + [Ti - 1]
        if Wi >= 2:  # force a one-frame word
            ends[0] = starts[0]
        s = list(zip(starts, ends))
        spans[i, :Wi] = torch.tensor(s)
        span_list.append(s)
    return frames, frame_mask, words, word_mask, spans, Ts, Ws, span_list


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_windowed_pool_matches_loop_and_ignores_frames_outside_window(seed):
    frames, fm, words, wm, spans, Ts, Ws, span_list = ragged(seed)
    pooled, weights = windowed_attention_pool(frames, fm, words, spans, wm, window=3, gamma=7.0)
    for i in range(len(Ts)):
        ref, used = loop_window_pool(frames[i, :Ts[i]], words[i, :Ws[i]], span_list[i], 3, 7.0)
        torch.testing.assert_close(pooled[i, :Ws[i]], ref, atol=1e-5, rtol=1e-5)
        for w, (s, e) in enumerate(span_list[i]):
            inside = torch.zeros(weights.shape[-1], dtype=torch.bool)
            inside[max(0, s - 3): e + 4] = True
            inside[Ts[i]:] = False
            assert torch.all(weights[i, w][~inside] == 0)
            assert torch.isclose(weights[i, w].sum(), torch.tensor(1.0))
            assert used[w] == inside.nonzero().flatten().tolist()
        assert torch.all(pooled[i, Ws[i]:] == 0)


def test_windowed_pool_padding_changes_nothing():
    frames, fm, words, wm, spans, *_ = ragged(3)
    pooled, weights = windowed_attention_pool(frames, fm, words, spans, wm, window=10)
    frames2 = torch.cat([frames, torch.randn(frames.shape[0], 7, frames.shape[2])], 1)  # garbage padding
    fm2 = torch.cat([fm, torch.zeros(fm.shape[0], 7, dtype=torch.bool)], 1)
    words2 = torch.cat([words, torch.randn(words.shape[0], 2, words.shape[2])], 1)
    wm2 = torch.cat([wm, torch.zeros(wm.shape[0], 2, dtype=torch.bool)], 1)
    spans2 = torch.cat([spans, torch.randint(0, 5, (spans.shape[0], 2, 2))], 1)
    pooled2, weights2 = windowed_attention_pool(frames2, fm2, words2, spans2, wm2, window=10)
    torch.testing.assert_close(pooled2[:, : pooled.shape[1]], pooled)
    torch.testing.assert_close(weights2[:, : weights.shape[1], : weights.shape[2]], weights)
    assert torch.all(weights2[:, :, weights.shape[2]:] == 0)


@pytest.mark.parametrize("seed", [0, 1])
def test_coupling_scores_match_loop_reference(seed):
    frames, fm, words, wm, spans, Ts, Ws, span_list = ragged(seed, n=4)
    fast = coupling_scores(frames, fm, words, spans, wm, window=2, gamma=5.0)
    ref = loop_coupling_scores([frames[i, :Ts[i]] for i in range(4)], [words[j, :Ws[j]] for j in range(4)],
                               span_list, 2, 5.0)
    torch.testing.assert_close(fast, ref, atol=1e-5, rtol=1e-5)


def test_coupling_window_beyond_short_gesture_clip_scores_zero_not_nan():
    frames, fm, words, wm, spans, *_ = ragged(4, n=2)
    fm = fm.clone()
    fm[0, 2:] = False  # gesture clip 0 has 2 frames; words of clip 1 lie far beyond them
    spans[1, : int(wm[1].sum())] = torch.tensor([20, 25])
    s = coupling_scores(frames * fm[..., None], fm, words, spans, wm, window=1)
    assert torch.isfinite(s).all()
    assert s[0, 1] == 0


@pytest.mark.parametrize("chunk_over", ["content", "gesture"])
@pytest.mark.parametrize("use_checkpoint", [False, True])
def test_chunked_coupling_equals_plain_in_value_and_gradient(chunk_over, use_checkpoint):
    frames, fm, words, wm, spans, *_ = ragged(5, n=7)
    frames.requires_grad_(True)
    words.requires_grad_(True)
    weights = torch.randn(7, 7)
    plain = coupling_scores(frames, fm, words, spans, wm)
    gf, gw = torch.autograd.grad((plain * weights).sum(), [frames, words])
    chunked = coupling_scores(frames, fm, words, spans, wm, chunk=3, chunk_over=chunk_over,
                              use_checkpoint=use_checkpoint)
    cf, cw = torch.autograd.grad((chunked * weights).sum(), [frames, words])
    torch.testing.assert_close(chunked, plain, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(cf, gf, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(cw, gw, atol=1e-6, rtol=1e-5)


def test_a_gesture_at_a_word_makes_its_pair_the_best_in_row_and_column():
    """Clips of noise; gesture clip 2 carries a distinctive motion (a fixed direction m) inside
    the window of content clip 2's word 1, whose embedding also points along m."""
    torch.manual_seed(0)
    n, T, W, d = 6, 40, 5, 32
    frames = F.normalize(torch.randn(n, T, d), dim=-1)
    words = F.normalize(torch.randn(n, W, d), dim=-1)
    spans = torch.tensor([[0, 7], [8, 15], [16, 23], [24, 31], [32, 39]]).expand(n, W, 2).clone()
    fm = torch.ones(n, T, dtype=torch.bool)
    wm = torch.ones(n, W, dtype=torch.bool)
    m = F.normalize(torch.randn(d), dim=0)
    words[2, 1] = m
    base = coupling_scores(frames, fm, words, spans, wm)
    base_heat = frame_word_scores(frames, words)[2, 1, 8:16].mean()
    frames[2, 9:14] = F.normalize(m + 0.1 * torch.randn(5, d), dim=-1)  # the gesture, inside word 1's span
    s = coupling_scores(frames, fm, words, spans, wm)
    assert s[2, 2] > base[2, 2] + 0.1
    assert s[2].argmax() == 2 and s[:, 2].argmax() == 2
    # that word's frame scores rise where the gesture is
    assert frame_word_scores(frames, words)[2, 1, 8:16].mean() > base_heat + 0.3
    # the other pairs of the row and column changed little
    others = torch.ones(n, n, dtype=torch.bool)
    others[2, 2] = False
    assert (s - base)[2][others[2]].abs().max() < 0.1


def test_word_windows_clip_at_edges():
    spans = torch.tensor([[[0, 0], [5, 9]]])
    win = word_windows(spans, torch.tensor([[True, False]]), 12, 2)
    assert win[0, 0].nonzero().flatten().tolist() == [0, 1, 2]
    assert not win[0, 1].any()


def assert_matches_loop_reference(loss, loop, seed: int, window: int, temperature: float):
    """``loss`` (batched, padded) against ``loop`` (clip by clip, unpadded) on a random ragged batch of
    6 clips: value and gradients agree, padding frames get no gradient. Returns the batch and ``loss``'s value."""
    frames, fm, words, wm, spans, Ts, Ws, span_list = ragged(seed, n=6, d=8)
    frames.requires_grad_(True)
    words.requires_grad_(True)
    fast = loss(frames, fm, words, spans, wm, window=window, temperature=temperature)
    ref = loop([frames[i, :Ts[i]] for i in range(6)], [words[i, :Ws[i]] for i in range(6)], span_list, window,
               temperature)
    torch.testing.assert_close(fast, ref, atol=1e-5, rtol=1e-5)
    g_fast = torch.autograd.grad(fast, (frames, words))
    for a, b in zip(g_fast, torch.autograd.grad(ref, (frames, words))):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
    assert g_fast[0][~fm].abs().sum() == 0  # padding frames get no gradient
    return (frames, fm, words, wm, spans, Ts, Ws, span_list), fast


@pytest.mark.parametrize("seed,window,temperature", [(0, 3, 0.07), (1, 0, 0.5), (2, 10, 0.2), (1, 10, 0.2)])
def test_word_discrimination_matches_loop_reference(seed, window, temperature):
    (frames, fm, words, wm, spans, Ts, Ws, span_list), fast = assert_matches_loop_reference(
        word_discrimination_loss, loop_word_discrimination, seed, window, temperature)
    # the gathered batch given explicitly is the same batch
    explicit = word_discrimination_loss(frames, fm, words, spans, wm, window=window, temperature=temperature,
                                        batch_words=words, batch_word_mask=wm)
    torch.testing.assert_close(explicit, fast)
    # each clip alone (a batch of one: only its own words as rivals) scores lower: more rivals can
    # only lower every probability
    within = sum(word_discrimination_loss(frames[i:i + 1], fm[i:i + 1], words[i:i + 1], spans[i:i + 1], wm[i:i + 1],
                                          window=window, temperature=temperature) for i in range(6)) / 6
    ref_within = sum(loop_word_discrimination([frames[i, :Ts[i]]], [words[i, :Ws[i]]], [span_list[i]], window,
                                              temperature) for i in range(6)) / 6
    torch.testing.assert_close(within, ref_within, atol=1e-5, rtol=1e-5)
    assert fast > within


def test_batch_negative_word_discrimination_of_a_rank_slice_equals_its_rows():
    """Local rows at ``offset`` against the whole batch's words give those rows' share of the loss."""
    frames, fm, words, wm, spans, *_ = ragged(5, n=6, d=8)
    kw = dict(window=4, temperature=0.1, batch_words=words, batch_word_mask=wm)
    whole = word_discrimination_loss(frames, fm, words, spans, wm, **kw)
    parts = [word_discrimination_loss(frames[lo:hi], fm[lo:hi], words[lo:hi], spans[lo:hi], wm[lo:hi], offset=lo, **kw)
             * (hi - lo) / 6 for lo, hi in ((0, 2), (2, 6))]
    torch.testing.assert_close(sum(parts), whole, atol=1e-6, rtol=1e-5)


def test_word_discrimination_ignores_single_word_clips_and_padding_words():
    frames, fm, words, wm, spans, Ts, Ws, _ = ragged(4, n=4, d=8)
    base = word_discrimination_loss(frames, fm, words, spans, wm)
    junk = words.clone()
    junk[~wm] = F.normalize(torch.randn(int((~wm).sum()), 8), dim=-1)  # padding words: any content
    torch.testing.assert_close(word_discrimination_loss(frames, fm, junk, spans, wm), base)
    one = wm.clone()
    one[:, 1:] = False  # every clip has one word: nothing to tell apart
    assert word_discrimination_loss(frames, fm, words, spans, one) == 0


def test_word_discrimination_raises_a_gestured_words_spotting_probability():
    """One clip: a static posture shared by every frame (what the untrained local space looks
    like), plus a faint gesture for word 2 in its frames. The coupling MaxSim is already high,
    but no word is spotted; a few steps on the new term alone spot word 2 at p >= 0.5."""
    torch.manual_seed(0)
    d, T = 16, 30
    words = torch.eye(d)[None, :4]  # (1, 4, d)
    spans = torch.tensor([[[0, 6], [7, 13], [14, 19], [20, 29]]])
    posture = words[0].sum(0) / 2 + torch.eye(d)[4]  # the same cosine with every word
    raw = posture.repeat(1, T, 1) + 0.002 * torch.randn(1, T, d)
    raw[0, 15:19] += 0.03 * words[0, 2]  # the faint gesture of word 2, inside its span
    raw.requires_grad_(True)
    fm, wm = torch.ones(1, T, dtype=torch.bool), torch.ones(1, 4, dtype=torch.bool)

    def spot():
        p = spotting_probabilities(F.normalize(raw[0], dim=-1).detach().numpy(), words[0].numpy())
        return spot_word(p, 2, 14, 19)

    before = spot()
    assert not before["correct"] and before["prob"] < 0.5
    opt = torch.optim.SGD([raw], lr=0.05)
    for _ in range(30):
        opt.zero_grad()
        word_discrimination_loss(F.normalize(raw, dim=-1), fm, words, spans, wm, window=2).backward()
        opt.step()
    after = spot()
    assert after["correct"] and after["prob"] > before["prob"] + 0.3, (before, after)
