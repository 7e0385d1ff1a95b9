"""The training objectives: global InfoNCE on clip vectors and the gesture-word coupling loss
(the JEGAL objective), and the sync-style baseline's synchrony loss."""

from jegal.losses.config import OBJECTIVE_WEIGHTS, LossConfig
from jegal.losses.contrastive import LogitScale, symmetric_info_nce
from jegal.losses.coupling import coupling_scores, frame_word_scores, windowed_attention_pool, word_windows
from jegal.losses.distributed import all_gather_with_grad, gather_batch
from jegal.losses.loss import JEGALLoss
from jegal.losses.sync import SYNC_OFFSETS, sync_loss, sync_objective, sync_scores

__all__ = ["LossConfig", "OBJECTIVE_WEIGHTS", "JEGALLoss", "LogitScale", "symmetric_info_nce", "coupling_scores",
           "frame_word_scores", "windowed_attention_pool", "word_windows", "all_gather_with_grad", "gather_batch",
           "SYNC_OFFSETS", "sync_scores", "sync_loss", "sync_objective"]
