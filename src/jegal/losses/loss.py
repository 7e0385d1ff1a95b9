"""The JEGAL objective: beta * global InfoNCE + (1 - beta) * coupling InfoNCE
(+ spot_weight * word discrimination against the batch's words)
(+ detect_weight * the detection contrast against the batch's motion at the same frames) (+ beta * the speech-only clip vectors'
InfoNCE against fixed gesture clip vectors, with ``content.speech_clip_follows``).

A plain module that takes ``rank`` and ``world_size`` as arguments (open_clip style): with
``world_size > 1`` it gathers every rank's features with gradient and computes this rank's
rows against the global batch; the coupling scores of the gathered side are chunked.
"""

from __future__ import annotations

import torch
from torch import nn

from jegal.losses.config import LossConfig
from jegal.losses.contrastive import LogitScale, global_scores, symmetric_info_nce
from jegal.losses.coupling import coupling_scores, detection_contrast_loss, word_discrimination_loss
from jegal.losses.distributed import gather_batch


class JEGALLoss(nn.Module):
    """The objective of ``cfg`` (:class:`jegal.losses.config.LossConfig`).

    ``couple_chunk`` (gathered clips per chunk of the N x N coupling scores, 0 = one chunk) and
    ``couple_checkpoint`` (recompute each chunk in backward) change memory and speed only; they
    are attributes, set by :meth:`jegal.model.JEGAL.set_runtime`, not part of the config."""

    def __init__(self, cfg: LossConfig, couple_chunk: int = 32, couple_checkpoint: bool = True):
        super().__init__()
        self.cfg = cfg
        self.couple_chunk = couple_chunk
        self.couple_checkpoint = couple_checkpoint
        self.logit_scale = LogitScale(cfg.logit_scale_init, cfg.logit_scale_max)
        self.couple_scale = LogitScale(cfg.logit_scale_init, cfg.logit_scale_max)

    def forward(self, gesture_frames: torch.Tensor, frame_mask: torch.Tensor, content_words: torch.Tensor,
                word_spans: torch.Tensor, word_mask: torch.Tensor, gesture_clip: torch.Tensor,
                content_clip: torch.Tensor, rank: int = 0, world_size: int = 1,
                content_clip_speech: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """All features L2-normalised: gesture_frames (n, T, d), content_words (n, W, d) in the local
        space; gesture_clip, content_clip (n, d) in the global space. ``content_clip_speech`` (n, d),
        optional: speech-only clip vectors that learn to follow the gesture clip vectors (their loss
        sends no gradient into the gesture side or the temperature). Returns the loss and its parts."""
        cfg = self.cfg
        local = {"gesture_frames": gesture_frames, "frame_mask": frame_mask, "content_words": content_words,
                 "word_spans": word_spans, "word_mask": word_mask, "gesture_clip": gesture_clip,
                 "content_clip": content_clip}
        if content_clip_speech is not None:
            local["content_clip_speech"] = content_clip_speech
        if cfg.beta == 1.0 and cfg.spot_weight == 0 and cfg.detect_weight == 0:  # only the clip vectors are needed from other ranks
            local = {k: local[k] for k in ("gesture_clip", "content_clip", "content_clip_speech") if k in local}
        full, offset = gather_batch(local, rank, world_size)
        n, N = gesture_clip.shape[0], full["gesture_clip"].shape[0]
        # each rank's mean over its n rows, weighted so that the mean over ranks is the whole-batch mean
        weight = n * world_size / N

        scale = self.logit_scale()
        s_gc, s_cg = global_scores(gesture_clip, content_clip, full["gesture_clip"], full["content_clip"])
        loss_global = symmetric_info_nce(scale * s_gc, scale * s_cg, offset)
        loss_follow = torch.zeros((), device=gesture_clip.device)
        if content_clip_speech is not None:
            s_ga, s_ag = global_scores(gesture_clip.detach(), content_clip_speech, full["gesture_clip"].detach(),
                                       full["content_clip_speech"])
            loss_follow = symmetric_info_nce(scale.detach() * s_ga, scale.detach() * s_ag, offset)

        couple_scale = self.couple_scale()
        if cfg.beta < 1.0:
            kw = dict(window=cfg.window, gamma=cfg.gamma, chunk=self.couple_chunk, use_checkpoint=self.couple_checkpoint)
            # local gesture clips against all content clips, chunked over the gathered content side
            s_g = coupling_scores(gesture_frames, frame_mask, full["content_words"], full["word_spans"],
                                  full["word_mask"], chunk_over="content", **kw)  # (n, N)
            if world_size == 1:
                s_c = s_g.T
            else:  # all gesture clips against local content clips, chunked over the gathered gesture side
                s_c = coupling_scores(full["gesture_frames"], full["frame_mask"], content_words, word_spans,
                                      word_mask, chunk_over="gesture", **kw).T  # (n, N)
            loss_couple = symmetric_info_nce(couple_scale * s_g, couple_scale * s_c, offset)
        else:
            loss_couple = torch.zeros((), device=gesture_clip.device)

        loss = cfg.beta * (loss_global + loss_follow) + (1.0 - cfg.beta) * loss_couple
        if cfg.spot_weight > 0:  # this rank's clips, their words against the words of the gathered batch
            loss_spot = word_discrimination_loss(gesture_frames, frame_mask, content_words, word_spans, word_mask,
                                                 window=cfg.window, temperature=cfg.spot_temperature,
                                                 batch_words=full["content_words"], batch_word_mask=full["word_mask"],
                                                 offset=offset)
            loss = loss + cfg.spot_weight * loss_spot
        else:
            loss_spot = torch.zeros((), device=gesture_clip.device)
        if cfg.detect_weight > 0:  # this rank's words against the gathered batch's frames
            loss_detect = detection_contrast_loss(gesture_frames, frame_mask, content_words, word_spans, word_mask,
                                                  window=cfg.window, temperature=cfg.detect_temperature,
                                                  batch_frames=full["gesture_frames"],
                                                  batch_frame_mask=full["frame_mask"], offset=offset)
            loss = loss + cfg.detect_weight * loss_detect
        else:
            loss_detect = torch.zeros((), device=gesture_clip.device)
        return {"loss": loss * weight, "loss_global": loss_global.detach(), "loss_couple": loss_couple.detach(),
                "loss_spot": loss_spot.detach(), "loss_detect": loss_detect.detach(), "loss_follow": loss_follow.detach(),
                "logit_scale": scale.detach(), "couple_scale": couple_scale.detach()}
