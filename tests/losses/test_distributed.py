"""Distributed parity with real processes: 2 gloo ranks on CPU against one process."""

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from safetensors.torch import load_file, save_file

from jegal.data.batch import collate_clips
from jegal.model import JEGAL
from tests.dummy import random_clip

# no randomness in the forward pass, tiny sizes; chunk 2 exercises the chunked gathered side
OVERRIDES = {"gesture.d_model": 32, "gesture.heads": 2, "gesture.ffn": 64, "gesture.dropout": 0.0,
             "text.head_dim": 32, "text.heads": 2, "text.ffn": 64, "text.dropout": 0.0,
             "speech.channels": [4, 8, 8], "speech.dropout": 0.0, "content.dropout": 0.0,
             "content.modality_dropout": 0.0}
RANK_CLIPS = [[0, 1, 2], [3, 4, 5, 6, 7]]  # unequal local batches, different padded T and W


def _clips():
    rng = np.random.default_rng(11)
    lengths = [(12, 3), (30, 6), (18, 2), (25, 5), (9, 4), (40, 8), (16, 1), (21, 3)]
    return [random_clip(rng, T, W, f"c{i}") for i, (T, W) in enumerate(lengths)]


def _model():
    torch.manual_seed(0)
    return JEGAL.from_preset("cpu", OVERRIDES).set_runtime(couple_chunk=2)


def _worker(rank, world, init_file, out_file):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        model = _model()
        clips = _clips()
        out = model(collate_clips([clips[i] for i in RANK_CLIPS[rank]]), rank=rank, world_size=world)
        out["loss"].backward()
        grads = {}
        for name, p in model.named_parameters():  # what DDP does: average gradients over ranks
            dist.all_reduce(p.grad)
            grads[name] = p.grad / world
        loss = out["loss"].detach().clone()
        dist.all_reduce(loss)
        if rank == 0:
            save_file({"loss": (loss / world).reshape(1), **grads}, out_file)
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_two_gloo_ranks_match_one_process_on_the_whole_batch(tmp_path):
    out_file = str(tmp_path / "dist.safetensors")
    mp.spawn(_worker, args=(2, str(tmp_path / "init"), out_file), nprocs=2, join=True)
    dist_result = load_file(out_file)

    model = _model()
    out = model(collate_clips(_clips()))
    out["loss"].backward()
    torch.testing.assert_close(dist_result["loss"][0], out["loss"].detach(), atol=1e-5, rtol=1e-5)
    for name, p in model.named_parameters():
        torch.testing.assert_close(dist_result[name], p.grad, atol=1e-5, rtol=1e-4, msg=f"gradient of {name}")
