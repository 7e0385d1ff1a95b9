"""Training throughput and peak memory of the full training step, per preset and batch size.

One step = what ``jegal.train.loop`` does per batch: autocast forward (both losses),
backward, gradient clipping, AdamW step. Every configuration runs in its own subprocess so
its peak memory is its own: peak resident set size (``ru_maxrss``) on CPU, peak allocated
tensor memory (``torch.cuda.max_memory_allocated``) on GPU. Model FLOPs of one step are
counted with ``torch.utils.flop_counter.FlopCounterMode`` (matmuls and attention, forward +
backward; the frozen text backbone's forward included), which gives the achieved FLOP/s and,
on a GPU, the model FLOP utilisation against the device's dense bf16 peak.

Batches are random clips of T=75 frames and W=12 words (the sizes of docs/design.md section 10),
a fresh batch every step so the text cache never hits (first-epoch cost). A second table
measures the data pipeline alone (shard read + decode + word-window crop + collate).

    python bench/bench_train.py                          # cpu: presets cpu, paper; batch 8, 32
    python bench/bench_train.py --presets cpu --batches 8,16,32,64 --steps 5
    python bench/bench_train.py --device cuda            # + bf16 rows and MFU on a GPU
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

# dense bf16 tensor-core peaks (FLOP/s) for MFU; unknown devices report no MFU
GPU_PEAK_BF16 = {"H100": 989e12, "H200": 989e12, "A100": 312e12, "L4": 121e12, "A10": 125e12}


def one(preset: str, batch: int, precision: str, device: str, steps: int, threads: int) -> dict:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from jegal.model import JEGAL
    from jegal.train.loop import param_groups

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root: random batches live in tests/
    from tests.dummy import random_batch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    dev = torch.device(device)
    model = JEGAL.from_preset(preset).to(dev)
    opt = torch.optim.AdamW(param_groups(model, 1e-4), lr=5e-5, betas=(0.9, 0.98), eps=1e-6)
    params = [p for p in model.parameters() if p.requires_grad]
    dtype = torch.bfloat16 if precision == "bf16" else None

    def step(b):
        with torch.autocast(dev.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            out = model(b)
        out["loss"].backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)

    batches = [random_batch(batch, num_frames=75, num_words=12, seed=s) for s in range(steps + 2)]
    step(batches[0])  # loads the text backbone, warms the allocator
    with FlopCounterMode(display=False) as fc:
        step(batches[1])
    flops = fc.get_total_flops()
    if dev.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for b in batches[2:]:
        step(b)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    sec = (time.perf_counter() - t0) / steps
    if dev.type == "cuda":
        peak_mb = torch.cuda.max_memory_allocated() / 2**20
        name = torch.cuda.get_device_name()
        peak = next((v for k, v in GPU_PEAK_BF16.items() if k in name), None)
    else:
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        peak = None
    return {"preset": preset, "batch": batch, "precision": precision, "device": device, "sec_per_step": sec,
            "clips_per_s": batch / sec, "peak_mb": peak_mb, "tflop_per_step": flops / 1e12,
            "achieved_gflops": flops / sec / 1e9, "mfu": (flops / sec / peak) if peak else None,
            "params_m": model.num_parameters() / 1e6}


def data_pipeline(clips: int, batch: int) -> dict:
    from jegal.synth.corpus import generate_corpus
    from jegal.data.shards import index_shards
    from jegal.train.data import ClipStream

    with tempfile.TemporaryDirectory() as tmp:
        generate_corpus(tmp, speakers=6, train_clips=clips, test_clips=4, progress=False, workers=1)
        stream = ClipStream(index_shards(os.path.join(tmp, "train")), batch)
        stream.set_epoch(0)
        t0 = time.perf_counter()
        n = sum(item["size"] for item in stream)
        sec = time.perf_counter() - t0
    return {"clips": n, "batch": batch, "seconds": sec, "clips_per_s": n / sec}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--presets", default="cpu,paper")
    ap.add_argument("--batches", default="8,32")
    ap.add_argument("--steps", type=int, default=3, help="timed steps per configuration (after 2 warm-up steps)")
    ap.add_argument("--device", default="cuda" if _cuda() else "cpu")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--one", nargs=3, metavar=("PRESET", "BATCH", "PRECISION"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        preset, batch, precision = args.one
        print(json.dumps(one(preset, int(batch), precision, args.device, args.steps, args.threads)))
        return
    precisions = ["fp32", "bf16"] if args.device.startswith("cuda") else ["fp32"]
    rows = []
    for preset in args.presets.split(","):
        for batch in map(int, args.batches.split(",")):
            for precision in precisions:
                cmd = [sys.executable, __file__, "--one", preset, str(batch), precision, "--device", args.device,
                       "--steps", str(args.steps), "--threads", str(args.threads)]
                res = subprocess.run(cmd, capture_output=True, text=True)
                if res.returncode != 0:
                    print(f"<!-- {preset} batch {batch} {precision} failed: {res.stderr.strip()[-300:]} -->")
                    continue
                rows.append(json.loads(res.stdout.strip().splitlines()[-1]))
    print(f"### Training step ({args.device}, {args.threads} threads, T=75 frames, W=12 words, "
          f"{args.steps} timed steps)\n")
    print("| preset | params (M) | batch | precision | s/step | clips/s | peak memory (MiB) | TFLOP/step "
          "| achieved GFLOP/s | MFU |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        mfu = f"{100 * r['mfu']:.1f}%" if r["mfu"] is not None else "-"
        print(f"| {r['preset']} | {r['params_m']:.1f} | {r['batch']} | {r['precision']} | {r['sec_per_step']:.3f} "
              f"| {r['clips_per_s']:.1f} | {r['peak_mb']:.0f} | {r['tflop_per_step']:.3f} "
              f"| {r['achieved_gflops']:.1f} | {mfu} |")
    d = data_pipeline(200, 32)
    print(f"\n### Data pipeline (one process, no workers)\n\n| clips | batch | seconds | clips/s |\n|---|---|---|---|\n"
          f"| {d['clips']} | {d['batch']} | {d['seconds']:.2f} | {d['clips_per_s']:.0f} |")


def _cuda() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:
        return False


if __name__ == "__main__":
    main()
