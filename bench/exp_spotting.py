"""Spotting experiment: which local-space objective makes words of a clip discriminable?

Generates one SynthGest corpus, trains the cpu preset (gesture-text, ``content.modalities=t``)
for a fixed number of steps per variant, and prints validation spotting accuracy (held-out
speakers, the protocol of ``jegal.metrics``) and retrieval R@10 side by side with
SynthGest's trivial floors.

    python bench/exp_spotting.py [--steps 150] [--variants base,centre,spot,centre+spot,centre+spot:1] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

VARIANTS = {
    "base": {"embedding.local_centre": False, "loss.spot_weight": 0.0},
    "centre": {"embedding.local_centre": True, "loss.spot_weight": 0.0},
    "spot": {"embedding.local_centre": False, "loss.spot_weight": 0.5},
    "centre+spot": {"embedding.local_centre": True, "loss.spot_weight": 0.5},
    "centre+spot1": {"embedding.local_centre": True, "loss.spot_weight": 1.0},
}


def main() -> None:
    from jegal.synth.baselines import trivial_baselines
    from jegal.synth.corpus import generate_corpus
    from jegal.train.config import resolve
    from jegal.train.loop import train

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--variants", default="base,centre,spot,centre+spot")
    ap.add_argument("--speakers", type=int, default=10)
    ap.add_argument("--train-clips", type=int, default=600)
    ap.add_argument("--test-clips", type=int, default=60)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--keep", default="", help="work directory to keep (default: a temp dir)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep or tmp)
        corpus = root / "corpus"
        if not (corpus / "summary.json").is_file():
            generate_corpus(corpus, speakers=args.speakers, train_clips=args.train_clips, test_clips=args.test_clips,
                            seed=args.seed, progress=False, workers=1)
        floor = trivial_baselines(corpus)["spotting"]
        rows = []
        for spec in args.variants.split(","):
            name, _, steps = spec.partition(":")  # "centre:1": that variant after 1 step (an untrained control)
            steps = int(steps or args.steps)
            t0 = time.perf_counter()
            cfg = resolve(preset="cpu", flags={"data.train": str(corpus), "out": str(root / f"run-{spec}"),
                                               "max_steps": steps, "epochs": 100, "validate_every": 2,
                                               "progress": False, "tensorboard": False},
                          overrides={"content.modalities": "t", **VARIANTS[name]})
            summary = train(cfg)
            m = summary["metrics"]
            hist = [h for h in summary["history"] if "spot_acc" in h] or [m]
            rows.append((f"{name} ({steps} steps)", m.get("spot_acc", float("nan")), max(h["spot_acc"] for h in hist),
                         m.get("ret_R@10_mean", float("nan")), max(h["ret_R@10_mean"] for h in hist),
                         time.perf_counter() - t0))
            print(json.dumps({"variant": spec, "metrics": m}), flush=True)

    print(f"\ncpu preset, content.modalities=t, {args.speakers} speakers, "
          f"{args.train_clips} train / {args.test_clips} test clips, seed {args.seed}")
    print(f"floors: fastest hand {floor['fastest_hand']:.3f}, random frame {floor['random_frame']:.3f}\n")
    print("| variant | spot acc (final) | spot acc (best) | R@10 (final) | R@10 (best) | s |")
    print("|---|---|---|---|---|---|")
    for name, sa, sb, ra, rb, s in rows:
        print(f"| {name} | {sa:.3f} | {sb:.3f} | {ra:.3f} | {rb:.3f} | {s:.0f} |")


if __name__ == "__main__":
    main()
