"""One training step (forward + backward, both losses) of the vectorised JEGAL model against the
per-sample / per-word loop reference (``jegal.model.reference.loop_forward``) on the same weights
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
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from jegal.losses.contrastive import symmetric_info_nce  # noqa: E402
from jegal.losses.coupling import coupling_scores  # noqa: E402
from jegal.model import JEGAL  # noqa: E402
from jegal.model.dummy import random_batch  # noqa: E402
from jegal.model.reference import loop_forward  # noqa: E402


def step_time(fn, model, reps: int) -> tuple[float, float]:
    """Median seconds of ``fn()`` forward + backward; returns (seconds, loss)."""
    times, loss = [], 0.0
    for _ in range(reps):
        model.zero_grad(set_to_none=True)
        t0 = time.perf_counter()
        out = fn()
        out["loss"].backward()
        times.append(time.perf_counter() - t0)
        loss = float(out["loss"].detach())
    times.sort()
    return times[len(times) // 2], loss


def bench_steps(args) -> list[str]:
    rows = ["| preset | front-end | batch | vectorised clips/s | loop reference clips/s | speed-up | "
            "vectorised bf16 clips/s | loss (vec / loop) |",
            "|---|---|---|---|---|---|---|---|"]
    print("\n".join(rows), flush=True)
    for preset in args.presets.split(","):
        frontend = "features" if preset == "paper" else "keypoints"
        overrides = {"gesture.frontend": frontend, "content.modality_dropout": 0.0,
                     "text.cache_size": 4 * args.batch}  # frozen subword states cached for both paths
        for part in ("gesture", "text", "speech", "content"):
            overrides[f"{part}.dropout"] = 0.0  # dropout off so both paths compute the same loss
        torch.manual_seed(0)
        model = JEGAL.from_preset(preset, overrides)
        batch = random_batch(args.batch, num_frames=args.frames, num_words=args.words, seed=0,
                             feature_dim=1024 if frontend == "features" else 0)
        model(batch)["loss"].backward()  # warm-up: loads the backbone, fills the cache
        vec_s, vec_loss = step_time(lambda: model(batch), model, args.reps)
        bf16 = "n/a"
        if not args.no_bf16:
            def run_bf16():
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    return model(batch)
            run_bf16()["loss"].backward()
            bf_s, _ = step_time(run_bf16, model, args.reps)
            bf16 = f"{args.batch / bf_s:.1f}"
        if args.no_loop:
            loop_cell, ratio, loop_loss = "skipped", "", float("nan")
        else:
            loop_s, loop_loss = step_time(lambda: loop_forward(model, batch), model, 1)
            loop_cell, ratio = f"{args.batch / loop_s:.2f}", f"{loop_s / vec_s:.1f}x"
        rows.append(f"| {preset} | {frontend} | {args.batch} | {args.batch / vec_s:.1f} | {loop_cell} | {ratio} | "
                    f"{bf16} | {vec_loss:.5f} / {loop_loss:.5f} |")
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
    p.add_argument("--reps", type=int, default=3, help="timed vectorised steps (median reported)")
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
