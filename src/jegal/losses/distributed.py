"""Gathering features across ranks with gradient (open_clip's ``gather_with_grad`` pattern).

Each rank computes its local rows against the global batch. The gather's backward sums the
gradients every rank computed for a slot and hands each rank its own slot, so after DDP
averages parameter gradients over ranks they equal those of one process on the whole batch
(the loss of each rank is weighted so that the mean over ranks is the whole-batch loss).

Ranks may hold different batch sizes and different padded lengths (T, W): tensors are padded
to the largest shape before the gather and the padding rows removed after.
"""

from __future__ import annotations

import torch
import torch.distributed as dist


class _AllGatherWithGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        world = dist.get_world_size()
        ctx.rank, ctx.world = dist.get_rank(), world
        parts = [torch.empty_like(x) for _ in range(world)]
        dist.all_gather(parts, x.contiguous())
        return torch.cat(parts, 0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad.chunk(ctx.world, 0)[ctx.rank]


def all_gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """Concatenate ``x`` (same shape on every rank) over ranks along dim 0, keeping gradients."""
    return _AllGatherWithGrad.apply(x)


def all_gather_no_grad(x: torch.Tensor) -> torch.Tensor:
    parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts, 0)


def gather_batch(tensors: dict[str, torch.Tensor], rank: int, world_size: int) -> tuple[dict[str, torch.Tensor], int]:
    """Gather a dict of per-clip tensors (dim 0 = clips) from all ranks.

    Returns the gathered dict (ranks' clips in rank order) and this rank's row offset in it.
    Tensors that require grad keep their gradient path; bool tensors travel as uint8 and are
    padded with False. With ``world_size == 1`` the input comes back unchanged."""
    if world_size == 1:
        return tensors, 0
    if not dist.is_available() or not dist.is_initialized():
        raise RuntimeError(f"world_size={world_size} but torch.distributed is not initialised")
    if dist.get_rank() != rank or dist.get_world_size() != world_size:
        raise RuntimeError(f"rank/world_size ({rank}/{world_size}) do not match the process group "
                           f"({dist.get_rank()}/{dist.get_world_size()})")
    names = list(tensors)
    first = tensors[names[0]]
    device = first.device
    # every tensor's shape, flattened into one row so one small gather fetches them all
    shape_row = torch.tensor([s for n in names for s in tensors[n].shape], device=device, dtype=torch.long)
    shapes = all_gather_no_grad(shape_row[None]).view(world_size, -1)  # (R, sum of ndims)
    counts = shapes[:, 0].tolist()
    out = {}
    pos = 0
    for n in names:
        x = tensors[n]
        nd = x.ndim
        target = shapes[:, pos:pos + nd].amax(0).tolist()
        pos += nd
        pad = []
        for have, want in zip(reversed(x.shape), reversed(target)):
            pad += [0, want - have]
        is_bool = x.dtype == torch.bool
        y = x.to(torch.uint8) if is_bool else x
        y = torch.nn.functional.pad(y, pad) if any(pad) else y
        g = all_gather_with_grad(y) if y.requires_grad else all_gather_no_grad(y)
        nmax = target[0]
        keep = torch.cat([torch.arange(r * nmax, r * nmax + c, device=device) for r, c in enumerate(counts)])
        g = g.index_select(0, keep)
        out[n] = g.bool() if is_bool else g
    return out, int(sum(counts[:rank]))
