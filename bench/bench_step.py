"""One training step (forward + backward, both losses) of the vectorised JEGAL model against the
per-sample / per-word loop reference (``tests/reference.py``, ``loop_forward``) on the same weights
and batch, in one run; then the peak memory of the coupling loss with and without chunking.

    python bench/bench_step.py                      # cpu + paper presets, batch 32, T=75, W=12
    python bench/bench_step.py --presets cpu --batch 16 --memory-n 32,64

Peak memory is measured, not estimated: ``torch.profiler`` with ``profile_memory=True`` records
every allocation and free of the CPU allocator during the call; the running sum of those events,
maximised over time, is the peak of tensor memory allocated by the coupling loss forward +
backward (inputs allocated before the call are not counted; Python objects are not tensors and
are not counted).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from jegal.losses.contrastive import symmetric_info_nce  # noqa: E402
from jegal.losses.coupling import coupling_scores  # noqa: E402
from jegal.model import JEGAL  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root: the oracle lives in tests/
from tests.dummy import random_batch  # noqa: E402
from tests.reference import loop_forward  # noqa: E402


def timed_step(fn, model) -> tuple[float, float]:
    """Seconds of one forward + backward of ``fn()``, and its loss."""
    model.zero_grad(set_to_none=True)
    t0 = time.perf_counter()
    out = fn()
    out["loss"].backward()
    return time.perf_counter() - t0, float(out["loss"].detach())


def bench_steps(args) -> list[str]:
    """Per preset, the variants are timed interleaved (vectorised, bf16, loop, vectorised, ...) so that load
    from other processes hits all of them alike; the fastest repetition of each is reported."""
    rows = ["| preset | front-end | batch | vectorised clips/s | loop reference clips/s | speed-up | "
            "vectorised bf16 clips/s | loss (vec / loop) |",
            "|---|---|---|---|---|---|---|---|"]
    print("\n".join(rows), flush=True)
    for preset in args.presets.split(","):
        frontend = "features" if preset == "paper" else "keypoints"
        overrides = {"gesture.frontend": frontend, "content.modality_dropout": 0.0}
        for part in ("gesture", "text", "speech", "content"):
            overrides[f"{part}.dropout"] = 0.0  # dropout off so both paths compute the same loss
        torch.manual_seed(0)
        # frozen subword states cached for both paths
        model = JEGAL.from_preset(preset, overrides).set_runtime(text_cache_size=4 * args.batch)
        batch = random_batch(args.batch, num_frames=args.frames, num_words=args.words, seed=0,
                             feature_dim=1024 if frontend == "features" else 0)

        def run_bf16():
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return model(batch)

        variants = {"vec": lambda: model(batch)}
        if not args.no_bf16:
            variants["bf16"] = run_bf16
        if not args.no_loop:
            variants["loop"] = lambda: loop_forward(model, batch)
        timed_step(variants["vec"], model)  # warm-up: loads the backbone, fills the cache
        best = {k: float("inf") for k in variants}
        loss = {}
        for rep in range(args.reps):
            for k, fn in variants.items():
                if k == "loop" and rep >= args.loop_reps:
                    continue
                t, loss[k] = timed_step(fn, model)
                best[k] = min(best[k], t)
        vec_s = best["vec"]
        bf16 = f"{args.batch / best['bf16']:.1f}" if "bf16" in best else "n/a"
        if "loop" in best:
            loop_cell, ratio = f"{args.batch / best['loop']:.2f}", f"{best['loop'] / vec_s:.1f}x"
        else:
            loop_cell, ratio = "skipped", ""
        rows.append(f"| {preset} | {frontend} | {args.batch} | {args.batch / vec_s:.1f} | {loop_cell} | {ratio} | "
                    f"{bf16} | {loss['vec']:.5f} / {loss.get('loop', float('nan')):.5f} |")
        print(rows[-1], flush=True)
    return rows


def peak_bytes(fn) -> int:
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    events = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
    events.sort(key=lambda e: e.start_ns())
    current = peak = 0
    for e in events:
        current += e.nbytes()
        peak = max(peak, current)
    return peak


def bench_memory(args) -> list[str]:
    d, T, W = args.memory_d, args.frames, args.words
    variants = [("one chunk", 0, False), (f"chunk {args.chunk}", args.chunk, False),
                (f"chunk {args.chunk} + checkpoint", args.chunk, True)]
    rows = ["| N | " + " | ".join(f"{name} MiB" for name, _, _ in variants) + " | N x chunk x W x T x 4 B (MiB) |",
            "|---" * (len(variants) + 2) + "|"]
    print("\n".join(rows), flush=True)
    for n in [int(x) for x in args.memory_n.split(",")]:
        g = torch.Generator().manual_seed(n)
        frames = F.normalize(torch.randn(n, T, d, generator=g), dim=-1).requires_grad_(True)
        words = F.normalize(torch.randn(n, W, d, generator=g), dim=-1).requires_grad_(True)
        fm = torch.ones(n, T, dtype=torch.bool)
        wm = torch.ones(n, W, dtype=torch.bool)
        starts = torch.arange(W) * (T // W)
        spans = torch.stack([starts, starts + T // W - 1], -1).expand(n, W, 2).contiguous()
        cells = []
        for _, chunk, ckpt in variants:
            def run():
                s = coupling_scores(frames, fm, words, spans, wm, chunk=chunk, use_checkpoint=ckpt)
                symmetric_info_nce(14.3 * s, 14.3 * s.T).backward()
            cells.append(f"{peak_bytes(run) / 2**20:.0f}")
        unit = n * args.chunk * W * T * 4 / 2**20
        rows.append(f"| {n} | " + " | ".join(cells) + f" | {unit:.1f} |")
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--presets", default="cpu,paper", help="comma-separated presets to time")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--frames", type=int, default=75, help="T, frames per clip")
    p.add_argument("--words", type=int, default=12, help="W, words per clip")
    p.add_argument("--reps", type=int, default=3, help="timed steps of each variant (the fastest is reported)")
    p.add_argument("--loop-reps", type=int, default=2, help="timed steps of the slow loop reference (<= reps)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--no-loop", action="store_true", help="skip the loop reference")
    p.add_argument("--no-bf16", action="store_true", help="skip the bf16 autocast timing")
    p.add_argument("--memory-n", default="32,64,128", help="batch sizes N for the coupling-loss memory table")
    p.add_argument("--memory-d", type=int, default=512, help="embedding width d for the memory table")
    p.add_argument("--chunk", type=int, default=32, help="chunk size for the chunked memory rows")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads, batch {args.batch}, T={args.frames}, W={args.words}\n")
    print("### Training step (forward + backward, global + coupling loss)\n")
    bench_steps(args)
    print(f"\n### Coupling loss peak memory (forward + backward, d={args.memory_d}, T={args.frames}, W={args.words})\n")
    bench_memory(args)


if __name__ == "__main__":
    main()
