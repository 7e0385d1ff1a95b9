"""Per-frame GestSync RGB features: the fast whole-video path against the reference's sliding-window
procedure, same weights (the released-checkpoint fixture's recipe), same video, one run.

    python bench/bench_rgb_features.py                 # 50 frames of 270 x 480 random video
    python bench/bench_rgb_features.py --frames 100 --threads 2

The reference pushes every frame through the 3D-conv backbone 25 times (one 25-frame window per
output frame); the fast path runs the backbone once per frame (plus 4 edge steps) and the
Transformer head once per output frame (jegal.model.gestsync). Rows:

- ``sliding window (reference)``: :func:`jegal.model.gestsync.sliding_window_features`;
- ``fast path, reference layers``: the fast algorithm with the backbone run as the reference's
  modules (what the algorithm alone saves);
- ``fast path``: :func:`jegal.model.gestsync.video_features` (BatchNorm folded, channels-last).

Wall seconds and process CPU seconds (all threads) per output frame; the ratio is the reference's
wall time over the row's; max |diff| is against the reference's features (the fixture README's
tolerance is 1e-5 x max |feature|, printed below the table).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from jegal.model.gestsync import (FeatureStream, GestSyncRGB, convert_gestsync, sliding_window_features,  # noqa: E402
                                  video_features)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root: the recipe lives in tests/
from tests.model.released_fixture import recipe_state  # noqa: E402


def timed(fn):
    """(result, wall seconds, process CPU seconds) of ``fn()``."""
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=50, help="video length in frames (25 fps)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--window-batch", type=int, default=4, help="windows per call of the reference procedure")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    model = GestSyncRGB()
    model.load_state_dict(convert_gestsync(recipe_state("gestsync"), "recipe").state)
    frames = np.random.default_rng(7).integers(0, 256, size=(args.frames, 270, 480, 3), dtype=np.uint8)
    frames[:, :111] = 0  # the no-face band, as the fixture's video
    video_features(model, frames[:6])  # warm-up: first-call allocations of both paths
    sliding_window_features(model, frames[:1], batch=1)

    split = {}

    def stream_features(folded: bool):
        stream = FeatureStream(model, folded=folded)
        w = time.perf_counter()
        for s in range(0, len(frames), 64):
            stream.push(frames[s:s + 64])
        split["backbone"] = time.perf_counter() - w
        w = time.perf_counter()
        out = stream.finish()  # the 4 edge steps and the Transformer head of every window
        split["head"] = time.perf_counter() - w
        return out

    ref, ref_wall, ref_cpu = timed(lambda: sliding_window_features(model, frames, batch=args.window_batch))
    rows = [("sliding window (reference)", ref, ref_wall, ref_cpu)]
    rows.append(("fast path, reference layers", *timed(lambda: stream_features(False))))
    rows.append(("fast path", *timed(lambda: stream_features(True))))
    T = args.frames
    print(f"\n{T} frames of 270 x 480 RGB, {args.threads} threads, torch {torch.__version__}, float32\n")
    print("| method | s / output frame (wall) | s / output frame (CPU) | speed-up (wall) | max abs diff |")
    print("|---|---:|---:|---:|---:|")
    for name, out, wall, cpu in rows:
        diff = float((out - ref).abs().max())
        print(f"| {name} | {wall / T:.4f} | {cpu / T:.4f} | {ref_wall / wall:.1f}x | {diff:.2e} |")
    print(f"\nmax |feature| {float(ref.abs().max()):.3f}: tolerance 1e-5 x that = {1e-5 * float(ref.abs().max()):.2e}")
    print(f"fast path split (wall): backbone {split['backbone'] / T:.4f} s / frame, edge steps + Transformer head "
          f"{split['head'] / T:.4f} s / frame")
    return 0


if __name__ == "__main__":
    sys.exit(main())
