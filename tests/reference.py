"""A slow, obviously-correct reference: the same model and losses with per-sample and
per-word Python loops. Used by the tests (as the oracle for the vectorised code) and by
``bench/bench_step.py`` (as the speed baseline). Never use it for training.

It reads the model only through its public modules and config (encoders, heads, the loss's
temperatures), so a change to the model's private plumbing cannot make it agree by accident."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from jegal.losses.contrastive import symmetric_info_nce


def loop_subword_pool(states: torch.Tensor, word_ids: list[list[int | None]]) -> list[torch.Tensor]:
    """Per clip, per word: the mean of that word's subword states. states (B, S, d) -> list of (W_i, d)."""
    out = []
    for i, ids in enumerate(word_ids):
        n_words = 1 + max((w for w in ids if w is not None), default=-1)
        rows = []
        for w in range(n_words):
            pos = [s for s, wid in enumerate(ids) if wid == w]
            rows.append(states[i, pos].mean(0) if pos else states.new_zeros(states.shape[-1]))
        out.append(torch.stack(rows) if rows else states.new_zeros(0, states.shape[-1]))
    return out


def loop_frame_pool(frames: torch.Tensor, spans: list[list[tuple[int, int]]]) -> list[torch.Tensor]:
    """Per clip, per word: the mean of frames start..end inclusive. frames (B, T, d) -> list of (W_i, d)."""
    out = []
    for i, clip_spans in enumerate(spans):
        out.append(torch.stack([frames[i, s:e + 1].mean(0) for s, e in clip_spans]))
    return out


def loop_window_pool(g: torch.Tensor, c: torch.Tensor, spans: list[tuple[int, int]], window: int,
                     gamma: float) -> tuple[torch.Tensor, list[list[int]]]:
    """One gesture clip g (T_i, d, real frames only) pooled in each window of one content clip's
    words c (W_j, d) with spans; returns (W_j, d) and per word the frames its window used."""
    T = g.shape[0]
    pooled, used = [], []
    for w, (s, e) in enumerate(spans):
        lo, hi = max(0, s - window), min(T - 1, e + window)
        if hi < lo:  # the window lies beyond this (shorter) gesture clip
            pooled.append(g.new_zeros(g.shape[1]))
            used.append([])
            continue
        a = torch.softmax(gamma * (g[lo:hi + 1] @ c[w]), 0)  # weights over the window's frames
        pooled.append(a @ g[lo:hi + 1])
        used.append(list(range(lo, hi + 1)))
    return torch.stack(pooled), used


def loop_pair_score(g: torch.Tensor, c: torch.Tensor, spans: list[tuple[int, int]], window: int,
                    gamma: float) -> torch.Tensor:
    """lambda(i, j) for one gesture clip (real frames) and one content clip (real words):
    for each word, the best cosine over the pooled windows; then the mean over words."""
    h, _ = loop_window_pool(g, c, spans, window, gamma)
    norms = h.norm(dim=1)
    total = 0.0
    for w in range(c.shape[0]):
        cos = torch.where(norms > 1e-6, (h @ c[w]) / norms.clamp_min(1e-6), torch.zeros_like(norms))
        total = total + cos.max()
    return total / c.shape[0]


def loop_coupling_scores(gesture: list[torch.Tensor], content: list[torch.Tensor],
                         spans: list[list[tuple[int, int]]], window: int, gamma: float) -> torch.Tensor:
    """(Ng, Nc) by a loop over every pair of clips."""
    return torch.stack([torch.stack([loop_pair_score(g, c, s, window, gamma) for c, s in zip(content, spans)])
                        for g in gesture])


def loop_word_discrimination(gesture: list[torch.Tensor], content: list[torch.Tensor],
                             spans: list[list[tuple[int, int]]], window: int, temperature: float) -> torch.Tensor:
    """Word discrimination clip by clip, frame by frame, word by word: per clip, -log mean over
    words (with a frame in their window) of the best windowed spotting probability; the mean over
    all clips, clips with fewer than two words counting 0. The probabilities are a softmax over
    the words of every clip of the batch (the clip's own ones first)."""
    terms = []
    for i, (g, c, sp) in enumerate(zip(gesture, content, spans)):
        T, W = g.shape[0], c.shape[0]
        if W < 2:
            continue
        rivals = [c[v] for v in range(W)]
        rivals += [o[v] for j, o in enumerate(content) if j != i for v in range(o.shape[0])]
        best = []
        for w, (s, e) in enumerate(sp):
            probs = [torch.softmax(torch.stack([torch.dot(g[t], r) for r in rivals]) / temperature, 0)[w]
                     for t in range(max(0, s - window), min(T - 1, e + window) + 1)]
            if probs:
                best.append(torch.stack(probs).max())
        if best:
            terms.append(-torch.log(torch.stack(best).mean()))
    # clips left out count as 0 in a mean over all clips, so per-rank means add up to the whole-batch mean
    return torch.stack(terms).sum() / len(gesture) if terms else torch.zeros(())


def _to(batch: dict, device: torch.device) -> dict:
    return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


def _unbatch(batch: dict, i: int) -> dict:
    T = int(batch["frame_mask"][i].sum())
    W = int(batch["word_mask"][i].sum())
    one = {"frame_mask": batch["frame_mask"][i:i + 1, :T], "word_mask": batch["word_mask"][i:i + 1, :W],
           "word_spans": batch["word_spans"][i:i + 1, :W], "words": [batch["words"][i]],
           "mel": batch["mel"][i:i + 1, :4 * T]}
    for k in ("keypoints", "features", "rgb"):
        if k in batch:
            one[k] = batch[k][i:i + 1, :T]
    return one


def _clip_vectors(pooled: list[torch.Tensor], head, standardise, group: int = 0) -> list[torch.Tensor]:
    """Unit clip vectors from pooled features; with ``standardise``, each feature is first
    standardised with the batch's own mean and (population) variance, or the running ones in eval."""
    if standardise is not None:
        if standardise.training:
            mean = sum(pooled) / len(pooled)
            var = sum((p - mean) ** 2 for p in pooled) / len(pooled)
        else:
            mean, var = standardise.running_mean[group], standardise.running_var[group]
        pooled = [(p - mean) / torch.sqrt(var + standardise.eps) for p in pooled]
    return [F.normalize(head(p), dim=-1) for p in pooled]


def loop_forward(model, batch: dict) -> dict[str, torch.Tensor]:
    """The training loss of ``model`` on ``batch`` (one process, no modality dropout) computed
    clip by clip and word by word. Matches ``model(batch)`` in eval mode / with dropout 0."""
    cfg = model.config
    mods = cfg.content.modalities
    follows = mods == "ta" and cfg.content.speech_clip_follows
    centre = cfg.embedding.local_centre

    frames, g_pooled, words, c_pooled, s_pooled, spans = [], [], [], [], [], []
    for i in range(len(batch["words"])):
        one = _to(_unbatch(batch, i), model.device)
        x = model.gesture(one)[0]  # (T_i, d)
        a = model.gesture_align(x)
        frames.append(F.normalize(a - a.mean(0) if centre and len(a) > 1 else a, dim=-1))
        g_pooled.append(x.mean(0))
        clip_spans = [tuple(map(int, s)) for s in one["word_spans"][0]]
        text = speech = None
        if "t" in mods:
            enc = model.text
            states, word_index, mask = enc.subword_states(one["words"])
            sub = enc.out(enc.head(enc.in_proj(states), mask))
            ids = [None if w < 0 else int(w) for w in word_index[0]]
            text = loop_subword_pool(sub, [ids])[0][None]
        if "a" in mods:
            per_frame = model.speech(one["mel"], one["frame_mask"])
            speech = loop_frame_pool(per_frame, [clip_spans])[0][None]
        x = model.fusion(text, speech)[0]  # (W_i, d)
        a = model.content_align(x)
        words.append(F.normalize(a - a.mean(0) if centre and len(a) > 1 else a, dim=-1))
        global_mods = mods
        if mods == "ta" and not cfg.content.global_speech:  # the clip vector from the text alone
            x = model.fusion(text, torch.zeros_like(speech))[0]
            global_mods = "t"
        c_pooled.append(x.mean(0))
        if follows:  # the speech-only clip vector
            x = model.fusion(torch.zeros_like(text), speech)[0]
            s_pooled.append(x.mean(0))
        spans.append(clip_spans)
    g_clips = _clip_vectors(g_pooled, model.gesture_global, model.gesture_standardise)
    c_clips = _clip_vectors(c_pooled, model.content_global, model.content_standardise,
                            ("ta", "t", "a").index(global_mods))
    g_clip, c_clip = torch.stack(g_clips), torch.stack(c_clips)
    loss_fn = model.loss
    scale = loss_fn.logit_scale()
    sims = torch.stack([torch.stack([torch.dot(g, c) for c in c_clips]) for g in g_clips])
    loss_global = symmetric_info_nce(scale * sims, scale * sims.T)
    loss_follow = torch.zeros(())
    if follows:  # speech-only clip vectors against gesture clip vectors and a temperature held fixed
        s_clips = _clip_vectors(s_pooled, model.content_global, model.content_standardise, 2)  # group 2: speech
        sims = torch.stack([torch.stack([torch.dot(g.detach(), c) for c in s_clips]) for g in g_clips])
        loss_follow = symmetric_info_nce(scale.detach() * sims, scale.detach() * sims.T)
    couple = loop_coupling_scores(frames, words, spans, cfg.loss.window, cfg.loss.gamma)
    cs = loss_fn.couple_scale()
    loss_couple = symmetric_info_nce(cs * couple, cs * couple.T)
    beta = cfg.loss.beta
    loss = beta * (loss_global + loss_follow) + (1 - beta) * loss_couple
    loss_spot = torch.zeros(())  # reported as 0 when the term is off, like the vectorised loss
    if cfg.loss.spot_weight > 0:
        loss_spot = loop_word_discrimination(frames, words, spans, cfg.loss.window, cfg.loss.spot_temperature)
        loss = loss + cfg.loss.spot_weight * loss_spot
    return {"loss": loss, "loss_global": loss_global, "loss_couple": loss_couple, "loss_spot": loss_spot,
            "loss_follow": loss_follow,
            "gesture_clip": g_clip, "content_clip": c_clip}
