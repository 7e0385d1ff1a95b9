"""``jegal synth``: generate the SynthGest corpus and its benchmarks.

    jegal synth --out data/synth                                      # 40 speakers, 3000 clips (~1 min on 2 cores)
    jegal synth --out synth_small --speakers 10 --train-clips 200 --test-clips 60 --baselines

docs/synth.md describes the corpus, its files and its floors.
"""

from __future__ import annotations

import argparse
import json
import sys


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="output directory (created; files in it are overwritten)")
    parser.add_argument("--speakers", type=int, default=40,
                        help="speakers in all; a fifth (at least 2) are test speakers")
    parser.add_argument("--train-clips", type=int, default=3000, help="training clips of 2-4 s")
    parser.add_argument("--test-clips", type=int, default=500, help="rows of each benchmark (3 s test clips)")
    parser.add_argument("--seed", type=int, default=0, help="same seed, same bytes")
    parser.add_argument("--render", action="store_true", help="also draw an mp4 per clip that has media")
    parser.add_argument("--train-media", action="store_true",
                        help="write wav/txt/kps.npz (and mp4 with --render) for training clips too, "
                             "not only test clips")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: min(2, CPUs))")
    parser.add_argument("--clips-per-shard", type=int, default=500, help="clips per WebDataset tar shard")
    parser.add_argument("--baselines", action="store_true",
                        help="also print the trivial baselines (fastest-hand spotting, clip-length retrieval)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from jegal.synth.corpus import SynthError, generate_corpus

    try:
        summary = generate_corpus(args.out, speakers=args.speakers, train_clips=args.train_clips,
                                  test_clips=args.test_clips, seed=args.seed, render=args.render,
                                  progress=not args.quiet, train_media=args.train_media, workers=args.workers,
                                  clips_per_shard=args.clips_per_shard)
    except SynthError as err:
        print(f"jegal synth: {err}", file=sys.stderr)
        return 1
    report = {"out": str(args.out), "seconds": summary["seconds"], **summary["counts"]}
    if args.baselines:
        from jegal.synth.baselines import trivial_baselines

        report["baselines"] = trivial_baselines(args.out)
    print(json.dumps(report, indent=2))
    return 0
