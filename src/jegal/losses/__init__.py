"""The training objectives: global InfoNCE on clip vectors and the gesture-word coupling loss."""

from jegal.losses.contrastive import LogitScale, symmetric_info_nce
from jegal.losses.coupling import coupling_scores, frame_word_scores, windowed_attention_pool, word_windows
from jegal.losses.distributed import all_gather_with_grad, gather_batch
from jegal.losses.loss import JEGALLoss

__all__ = ["JEGALLoss", "LogitScale", "symmetric_info_nce", "coupling_scores", "frame_word_scores",
           "windowed_attention_pool", "word_windows", "all_gather_with_grad", "gather_batch"]
