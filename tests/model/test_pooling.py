"""Vectorised word pooling (subwords and audio frames) against per-sample, per-word loops."""

import torch

from tests.dummy import random_batch
from jegal.model.layers import group_matrix, masked_mean, span_matrix
from tests.reference import loop_frame_pool, loop_subword_pool


def test_group_pooling_matches_loop_on_random_ragged_index():
    g = torch.Generator().manual_seed(0)
    B, S, W, d = 5, 17, 6, 8
    x = torch.randn(B, S, d, generator=g)
    index = torch.randint(-1, W, (B, S), generator=g)
    index[0] = -1  # a clip with no word at all
    index[1, -1] = W - 1  # the last word sits at the very end
    ids = [[None if w < 0 else int(w) for w in row] for row in index]
    fast = masked_mean(x, group_matrix(index, W))
    ref = loop_subword_pool(x, ids)
    for i in range(B):
        n = ref[i].shape[0]
        torch.testing.assert_close(fast[i, :n], ref[i])
        absent = [w for w in range(W) if w not in set(index[i].tolist())]
        assert torch.all(fast[i, absent] == 0)


def test_text_words_pool_only_their_own_subwords(model):
    enc = model.text
    words = [["the", "unbelievable", "gesture"], ["hi"], ["a", "b", "antidisestablishmentarianism", "c", "yes"]]
    states, word_index, mask = enc.subword_states(words)
    sub = enc.out(enc.head(enc.in_proj(states), mask))  # (B, S, d/2)
    fast = enc(words, 6)
    tok = enc.backbone._tokenizer
    for i, w in enumerate(words):
        ids = tok(w, is_split_into_words=True).word_ids()  # the tokenizer's own mapping, unpadded
        ref = loop_subword_pool(sub[i:i + 1, : len(ids)], [ids])[0]
        assert ref.shape[0] == len(w)
        torch.testing.assert_close(fast[i, : len(w)], ref, atol=1e-6, rtol=1e-5)
        assert torch.all(fast[i, len(w):] == 0)
        # the reference code's defect: the last word pooled together with the end token and padding
        last = [s for s, wid in enumerate(ids) if wid == len(w) - 1]
        wrong = sub[i, last[0]:].mean(0)
        assert not torch.allclose(fast[i, len(w) - 1], wrong, atol=1e-4)


def test_audio_word_pooling_matches_loop_with_edge_and_one_frame_words(model):
    batch = random_batch(6, num_frames=(5, 30), num_words=(1, 5), seed=4)
    spans = batch["word_spans"]
    n_words = batch["word_mask"].sum(1).tolist()
    assert any(int(s[0]) == 0 for s in spans[:, 0])  # words touch the start ...
    lengths = batch["frame_mask"].sum(1)
    assert all(int(spans[i, n_words[i] - 1, 1]) == int(lengths[i]) - 1 for i in range(6))  # ... and the end
    spans[0, 0] = torch.tensor([0, 0])  # a one-frame word
    per_frame = model.speech(batch["mel"], batch["frame_mask"])
    fast = masked_mean(per_frame, span_matrix(spans, batch["word_mask"], per_frame.shape[1]))
    ref = loop_frame_pool(per_frame, [[tuple(map(int, s)) for s in spans[i, :n_words[i]]] for i in range(6)])
    for i in range(6):
        torch.testing.assert_close(fast[i, :n_words[i]], ref[i])
        assert torch.all(fast[i, n_words[i]:] == 0)
    torch.testing.assert_close(fast[0, 0], per_frame[0, 0])


def test_batch_standardise_matches_batchnorm_and_cannot_collapse():
    from jegal.model.layers import BatchStandardise

    torch.manual_seed(0)
    std, ref = BatchStandardise(6, momentum=0.3), torch.nn.BatchNorm1d(6, momentum=0.3, affine=False)
    for _ in range(3):  # training: batch statistics, running statistics updated like BatchNorm's
        x = torch.randn(9, 6) * 3 + 5
        torch.testing.assert_close(std(x), ref(x), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(std.running_mean[0], ref.running_mean)
    torch.testing.assert_close(std.running_var[0], ref.running_var)
    std.eval(), ref.eval()
    x = torch.randn(4, 6)
    torch.testing.assert_close(std(x), ref(x), atol=1e-5, rtol=1e-5)
    # a batch of nearly identical vectors (a collapsing clip space) comes out spread: unit variance per feature
    std.train()
    near = torch.ones(16, 6) + 0.05 * torch.randn(16, 6)  # pairwise cosines ~0.998
    out = std(near)
    torch.testing.assert_close(out.var(0, unbiased=False), torch.ones(6), atol=1e-2, rtol=1e-2)


def test_grouped_batch_standardise_is_one_batchnorm_per_group():
    from jegal.model.layers import BatchStandardise

    torch.manual_seed(1)
    std = BatchStandardise(5, groups=3, momentum=0.5)
    refs = [torch.nn.BatchNorm1d(5, momentum=0.5, affine=False) for _ in range(3)]
    for step in range(3):
        group = torch.tensor([0, 2, 0, 0, 2, 2, 0] if step != 1 else [0, 0, 0, 2, 2, 0, 2])  # group 1 never seen
        x = torch.randn(7, 5) + group[:, None].float() * 4  # the groups have different means
        out = std(x, group)
        for g in (0, 2):
            torch.testing.assert_close(out[group == g], refs[g](x[group == g]), atol=1e-5, rtol=1e-5)
    for g in (0, 2):
        torch.testing.assert_close(std.running_mean[g], refs[g].running_mean)
        torch.testing.assert_close(std.running_var[g], refs[g].running_var)
    assert (std.running_mean[1] == 0).all() and (std.running_var[1] == 1).all()  # untouched
    std.eval()
    x = torch.randn(4, 5)
    torch.testing.assert_close(std(x, 2), (x - std.running_mean[2]) / torch.sqrt(std.running_var[2] + std.eps))
