r"""Word-level alignment and the gesture-word coupling score (docs/design.md section 6).

Notation: gesture clip i has L2-normalised frame embeddings ``g_it`` (frames t < T_i);
content clip j has L2-normalised word embeddings ``c_jw`` with inclusive frame spans
[s_jw, e_jw]; p is the window (10 frames).

**Windowed attention pooling.** The gesture of clip i for word v of clip j is

    h_{ij,v} = sum_t a_{ij,v,t} g_it,   a_{ij,v,.} = softmax over t in [s_jv - p, e_jv + p]
                                         (and t < T_i) of gamma * g_it . c_jv

so a gesture may lead or lag its word by up to p frames. Frames outside the window get
weight exactly 0; a window with no frame of clip i gives h = 0 (cosine 0).

**Coupling score (the reading chosen here).** The seed's "best match" is read as ColBERT-style
MaxSim over the *windows* of clip j: each word w of content clip j takes its best cosine over
the word-level gesture embeddings of clip i pooled in j's word windows v, and the score is
the mean over j's real words:

    lambda(i, j) = 1/W_j sum_w  max_v  cos(c_jw, h_{ij,v})

A matched pair needs only a few strongly coupled word/window pairs to score high, and a word
whose gesture drifted into a neighbour's window still finds it. Taking the max over windows
(not over raw frames) keeps the soft, learnable attention inside each window.

**Computing it for all N x N pairs without the (N, N, W, d) tensor.** Because the g_it and
c_jw are unit vectors, with S_{ij,wt} = c_jw . g_it and the frame Gram matrix
K_i = g_i g_i^T:

    c_jw . h_{ij,v} = sum_t a_{ij,v,t} S_{ij,wt}          |h_{ij,v}|^2 = a_{ij,v} K_i a_{ij,v}^T

so every intermediate is (N, N, W, T) or (N, N, W, W); chunks over the gathered side bound
it to (n, chunk, W, T), and checkpointing each chunk keeps the backward at that size too.
"""

from __future__ import annotations

import torch
from torch.utils.checkpoint import checkpoint

_EPS = 1e-6
_NEG = -1e30  # additive bias that takes a frame out of a softmax (exp underflows to exactly 0)


def word_windows(word_spans: torch.Tensor, word_mask: torch.Tensor, num_frames: int, window: int) -> torch.Tensor:
    """(N, W, T) bool: frame t lies in [start - window, end + window] of word w (real words only)."""
    t = torch.arange(num_frames, device=word_spans.device)
    return (t >= word_spans[..., :1] - window) & (t <= word_spans[..., 1:] + window) & word_mask[..., None]


def _masked_softmax(logits: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Softmax over the last dim restricted to ``valid``; all-invalid rows give all zeros."""
    logits = torch.where(valid, logits, torch.finfo(logits.dtype).min)
    return torch.softmax(logits, -1) * valid


def windowed_attention_pool(gesture_frames: torch.Tensor, frame_mask: torch.Tensor, content_words: torch.Tensor,
                            word_spans: torch.Tensor, word_mask: torch.Tensor, window: int = 10,
                            gamma: float = 10.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Word-level gesture embeddings of each clip for its own words.

    gesture_frames (B, T, d), frame_mask (B, T), content_words (B, W, d), word_spans (B, W, 2),
    word_mask (B, W) -> pooled (B, W, d) (zero for padding words), weights (B, W, T)."""
    T = gesture_frames.shape[1]
    valid = word_windows(word_spans, word_mask, T, window) & frame_mask[:, None, :]  # (B, W, T)
    logits = gamma * torch.einsum("bwd,btd->bwt", content_words, gesture_frames)
    weights = _masked_softmax(logits, valid)
    return torch.bmm(weights, gesture_frames), weights


def _pair_scores(g: torch.Tensor, frame_bias: torch.Tensor, frame_valid: torch.Tensor, gram: torch.Tensor,
                 c: torch.Tensor, windows: torch.Tensor, word_mask: torch.Tensor, gamma: float) -> torch.Tensor:
    """lambda(i, j) for gesture clips g (Ng, T, d) and content clips c (Nc, W, d) -> (Ng, Nc).

    frame_bias (Ng, T) is 0 on real frames and _NEG on padding; frame_valid (Ng, T) its float mask."""
    Ng, T, _ = g.shape
    Nc, W, _ = c.shape
    sim = torch.matmul(c.reshape(1, Nc * W, -1), g.transpose(1, 2)).view(Ng, Nc, W, T)  # c_jw . g_it
    win = windows.to(sim.dtype)
    # masking by additive biases: no (Ng, Nc, W, T) boolean mask is ever formed
    logits = gamma * sim + (win - 1.0).mul_(-_NEG)[None] + frame_bias[:, None, None, :]
    attn = torch.softmax(logits, -1)  # a_{ij,v,t}, window v on dim 2
    # a window with no real frame of clip i pools nothing: its cosine is 0
    any_valid = torch.einsum("it,jvt->ijv", frame_valid, win) > 0  # (Ng, Nc, W)
    dots = torch.matmul(sim, attn.transpose(2, 3))  # (Ng, Nc, W, W): c_jw . h_{ij,v}, v on the last dim
    norm2 = (torch.matmul(attn.reshape(Ng, Nc * W, T), gram).view(Ng, Nc, W, T) * attn).sum(-1)  # |h_{ij,v}|^2
    cos = dots / norm2.clamp_min(_EPS * _EPS).sqrt()[:, :, None, :]
    cos = cos * any_valid[:, :, None, :]
    cos = cos.masked_fill(~word_mask[None, :, None, :], -2.0)  # padding windows never win the max
    best = cos.amax(-1)  # (Ng, Nc, W): best window for each word w
    wm = word_mask.to(best.dtype)
    return (best * wm[None]).sum(-1) / wm.sum(-1).clamp_min(1.0)[None]


def coupling_scores(gesture_frames: torch.Tensor, frame_mask: torch.Tensor, content_words: torch.Tensor,
                    word_spans: torch.Tensor, word_mask: torch.Tensor, window: int = 10, gamma: float = 10.0,
                    chunk: int = 0, chunk_over: str = "content", use_checkpoint: bool = False) -> torch.Tensor:
    """Coupling scores lambda(i, j) of every gesture clip i against every content clip j.

    gesture_frames (Ng, T, d) and content_words (Nc, W, d) L2-normalised; frame_mask (Ng, T);
    word_spans (Nc, W, 2); word_mask (Nc, W). Returns (Ng, Nc).

    ``chunk`` > 0 processes that many clips of the ``chunk_over`` side ("content" or "gesture")
    at a time, so peak memory is ~ (other side) x chunk x W x T instead of Ng x Nc x W x T;
    ``use_checkpoint`` recomputes each chunk in backward so the saved tensors stay that size."""
    if chunk_over not in ("content", "gesture"):
        raise ValueError(f"chunk_over must be 'content' or 'gesture', got {chunk_over!r}")
    T = gesture_frames.shape[1]
    windows = word_windows(word_spans, word_mask, T, window)  # (Nc, W, T)
    gram = gesture_frames @ gesture_frames.transpose(1, 2)  # (Ng, T, T)
    frame_valid = frame_mask.to(gesture_frames.dtype)
    frame_bias = (frame_valid - 1.0) * -_NEG  # (Ng, T): 0 on real frames, _NEG on padding
    n = content_words.shape[0] if chunk_over == "content" else gesture_frames.shape[0]
    if chunk <= 0 or chunk >= n:  # one chunk: checkpointing would only cost a recomputation
        return _pair_scores(gesture_frames, frame_bias, frame_valid, gram, content_words, windows, word_mask, gamma)

    def run(g, fb, fv, k, c, win, wm):
        if use_checkpoint and torch.is_grad_enabled():
            return checkpoint(_pair_scores, g, fb, fv, k, c, win, wm, gamma, use_reentrant=False)
        return _pair_scores(g, fb, fv, k, c, win, wm, gamma)

    if chunk_over == "content":
        parts = [run(gesture_frames, frame_bias, frame_valid, gram, content_words[s:s + chunk], windows[s:s + chunk],
                     word_mask[s:s + chunk]) for s in range(0, n, chunk)]
        return torch.cat(parts, 1)
    parts = [run(gesture_frames[s:s + chunk], frame_bias[s:s + chunk], frame_valid[s:s + chunk], gram[s:s + chunk],
                 content_words, windows, word_mask) for s in range(0, n, chunk)]
    return torch.cat(parts, 0)


def frame_word_scores(gesture_frames: torch.Tensor, content_words: torch.Tensor) -> torch.Tensor:
    """Cosine of every frame with every word of the same clip, (B, W, T): the heatmap behind
    gestured-word spotting (``softmax`` over words of this / 0.07 gives the spotting probabilities)."""
    return torch.einsum("bwd,btd->bwt", content_words, gesture_frames)


def word_discrimination_loss(gesture_frames: torch.Tensor, frame_mask: torch.Tensor, content_words: torch.Tensor,
                             word_spans: torch.Tensor, word_mask: torch.Tensor, window: int = 10,
                             temperature: float = 0.07, batch_words: torch.Tensor | None = None,
                             batch_word_mask: torch.Tensor | None = None, offset: int = 0) -> torch.Tensor:
    r"""Word discrimination against the batch's words, the training counterpart of gestured-word spotting.

    Per frame t of clip b, a softmax over the real words of *every* clip of the (gathered) batch
    of cos(g_bt, c_w) / temperature; the targets are clip b's own words, p_{b,t,w}. Each own
    word takes its best frame inside its window [s - window, e + window]; the clip's term is a
    multiple-instance "some word is spotted" (gestures are sparse: most words have none):

        L = - mean_b  log( mean_w  max_{t in window(w)} p_{b,t,w} )

    The gradient of the log-mean weights each word by its current probability, so the words
    that are already spotted (gestured ones, once the model has found them) get the push, and
    unspotted words are left alone. Clips with fewer than two real words or no word with a
    frame in its window count 0; the mean is over all B clips, so per-rank means weighted by
    their share of the global batch add up to the whole-batch mean.

    Why the batch's words: telling a clip's own words apart needs little more than "this word
    is gesturable, this frame moves"; telling them from the words of other clips needs the
    gesture's *meaning*, which is what retrieval and speaker detection use (docs/model.md; a
    softmax over the clip's own words only measured worse and was removed). A batch of one clip
    is exactly that within-clip softmax.

    gesture_frames (B, T, d), content_words (B, W, d) L2-normalised; frame_mask (B, T);
    word_spans (B, W, 2); word_mask (B, W). ``batch_words`` (N, W', d) and ``batch_word_mask``
    (N, W') are the gathered batch's words, in which local clip b is row ``offset + b`` (its
    words, in order, are ``content_words[b]``); None = this batch is the whole batch
    (``content_words``, ``word_mask``, offset 0). Returns a scalar."""
    if batch_words is None:
        batch_words, batch_word_mask, offset = content_words, word_mask, 0
    B, T = gesture_frames.shape[:2]
    W = content_words.shape[1]
    N, Wb = batch_word_mask.shape
    logits = torch.einsum("nwd,btd->btnw", batch_words, gesture_frames) / temperature  # (B, T, N, W')
    logits = logits.masked_fill(~batch_word_mask[None, None], _NEG)
    log_p = torch.log_softmax(logits.flatten(2), -1).view(B, T, N, Wb)
    own = torch.arange(B, device=log_p.device)
    log_p = log_p[own, :, offset + own, :W].transpose(1, 2)  # (B, W, T): each clip's own words
    valid = word_windows(word_spans, word_mask, T, window) & frame_mask[:, None, :].bool()  # (B, W, T)
    best = log_p.masked_fill(~valid, _NEG).amax(-1)  # (B, W): log p of each word's best frame
    return _some_word_found(best, valid.any(-1), word_mask.sum(-1) >= 2)


def _some_word_found(log_p: torch.Tensor, has_frame: torch.Tensor, used: torch.Tensor) -> torch.Tensor:
    """The multiple-instance clip term of the word-level losses: ``-mean_b log mean_w p_{b,w}`` over
    the words with ``has_frame`` (B, W), from their log-probabilities ``log_p`` (B, W); clips with no
    such word or not ``used`` (B,) count 0, and the mean is over all B clips."""
    log_p = log_p.masked_fill(~has_frame, _NEG)
    n = has_frame.sum(-1)  # (B,)
    clip = torch.logsumexp(log_p, -1) - n.clamp_min(1).to(log_p.dtype).log()  # (B,) log mean_w p
    return -(clip * ((n > 0) & used)).sum() / max(clip.shape[0], 1)


def detection_contrast_loss(gesture_frames: torch.Tensor, frame_mask: torch.Tensor, content_words: torch.Tensor,
                            word_spans: torch.Tensor, word_mask: torch.Tensor, window: int = 10,
                            temperature: float = 0.07, batch_frames: torch.Tensor | None = None,
                            batch_frame_mask: torch.Tensor | None = None, offset: int = 0) -> torch.Tensor:
    r"""Detection contrast: a word's own gesture against other motion *at the same frames* (issue 21).

    The training counterpart of the per-word gesture score (:mod:`jegal.inference.gesture_score`),
    whose controls keep the word vector and its frames and change only the motion. For word w of
    clip b, every clip n of the (gathered) batch offers its best frame inside the word's window
    [s - window, e + window] (the same frame indices, so the same positions and the same place in
    the clip), and a softmax over those clips asks which one carries this word's gesture:

        q_{b,w} = softmax_n( max_{t in window(w)} cos(c_bw, g_nt) / temperature )[b]
        L = - mean_b  log( mean_w q_{b,w} )

    A timing prior cannot lower it (every candidate sits at the same frames) and neither can a
    word prior (the word is the same in every row); only motion that belongs to the word can.
    As in :func:`word_discrimination_loss`, the clip's term is multiple-instance ("some word's
    gesture is found": most words have none), so the push goes to the words already found and
    ungestured words are not forced to tell motion apart. A clip n with no real frame in the
    window is no candidate; words with no frame of their own clip in it, clips with no such word,
    and a batch of one clip count 0. The mean is over all B clips (per-rank means weighted by
    their share of the batch add up to the whole-batch mean).

    gesture_frames (B, T, d), content_words (B, W, d) L2-normalised; frame_mask (B, T);
    word_spans (B, W, 2) inclusive frame spans (frames at 25 fps); word_mask (B, W).
    ``batch_frames`` (N, T', d), T' >= T, and ``batch_frame_mask`` (N, T') are the gathered
    batch's frames, in which local clip b is row ``offset + b``; None = this batch is the whole
    batch. Returns a scalar."""
    if batch_frames is None:
        batch_frames, batch_frame_mask, offset = gesture_frames, frame_mask, 0
    B, W = content_words.shape[:2]
    N, T = batch_frame_mask.shape
    if N < 2:
        return gesture_frames.sum() * 0.0
    win = word_windows(word_spans, word_mask, T, window)  # (B, W, T) on the gathered frame axis
    valid = win[:, :, None, :] & batch_frame_mask[None, None].bool()  # (B, W, N, T)
    sim = torch.einsum("bwd,ntd->bwnt", content_words, batch_frames)
    logits = sim.masked_fill(~valid, _NEG).amax(-1) / temperature  # (B, W, N)
    candidate = valid.any(-1)  # (B, W, N)
    logits = logits.masked_fill(~candidate, _NEG)
    own = torch.arange(B, device=logits.device)
    log_q = torch.log_softmax(logits, -1)[own, :, offset + own]  # (B, W)
    has_frame = candidate[own, :, offset + own] & (candidate.sum(-1) >= 2)  # (B, W)
    return _some_word_found(log_q, has_frame, torch.ones(B, dtype=torch.bool, device=log_q.device))
