"""``jegal prepare``: videos (+ transcripts) -> per-person clips in WebDataset shards.

    jegal prepare demo_out/real/input --out shards             # make demo's sample clips, transcripts beside them
    jegal prepare videos/ --out shards/ --shard 3/16 --workers 2   # job 3 of 16 on a cluster
    jegal prepare list.csv --out shards/ --rgb-size 112         # a CSV of inputs, plus face-masked rgb crops

docs/prepare.md describes the inputs, the stages (the library :mod:`jegal.perception`) and the outputs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _shard(value: str) -> tuple[int, int]:
    try:
        i, n = (int(v) for v in value.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shard wants i/N such as 0/4, got {value!r}") from None
    if n < 1 or not 0 <= i < n:
        raise argparse.ArgumentTypeError(f"--shard {value}: need 0 <= i < N")
    return i, n


def configure(parser: argparse.ArgumentParser) -> None:
    from jegal.perception.asr import ASR_HELP, ASR_MODEL_HELP, ASR_MODES
    from jegal.perception.transcripts import TIER_HELP

    parser.add_argument("input", help="a folder of videos (and/or <name>.kps.npz), one video, or a CSV listing them")
    parser.add_argument("--out", required=True, help="output folder: <name>.tar shards, manifest.json, status/, summary.json")
    parser.add_argument("--shard", type=_shard, default=(0, 1), metavar="I/N",
                        help="process only job I of N (stable split by input name); default 0/1")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: min(2, CPUs))")
    parser.add_argument("--rgb-size", type=int, default=None, metavar="PX",
                        help="also store face-masked person crops of PX x PX pixels (for the rgb front-end)")
    parser.add_argument("--rgb-features", choices=["gestsync"], default=None,
                        help="also store 1024-d per-frame features as the clips' features: gestsync = the GestSync "
                             "RGB branch the released model reads (needs --gestsync-weights; docs/released.md)")
    parser.add_argument("--gestsync-weights", default=None, metavar="DIR_OR_FILE",
                        help="GestSync weights for --rgb-features gestsync: a model directory written by "
                             "`jegal import-released --gestsync`, its gestsync.safetensors, or gestsync.pth")
    parser.add_argument("--mel", choices=["jegal", "reference"], default="jegal",
                        help="the log-mel stored: jegal (this project's models) or reference (the released "
                             "model's speech CNN: magnitude, log(x + 1e-20))")
    parser.add_argument("--raw-audio", action="store_true", help="also store each clip's 16 kHz waveform (int16)")
    parser.add_argument("--min-activity", type=float, default=0.0,
                        help="drop clips whose gesture-activity score (hand speed, shoulder widths/s) is lower")
    parser.add_argument("--max-frames", type=int, default=750, help="split person tracks into segments of at most this many frames")
    parser.add_argument("--min-frames", type=int, default=25, help="shortest person track or segment kept (frames)")
    parser.add_argument("--chunk-frames", type=int, default=750,
                        help="decode and track this many frames at a time: memory stays bounded on long videos")
    parser.add_argument("--max-side", type=int, default=640, help="decode frames no larger than this many pixels (longer side)")
    parser.add_argument("--scene-threshold", type=float, default=0.15,
                        help="histogram change (0..1) that counts as a scene cut; tracks never cross a cut")
    parser.add_argument("--detect-stride", type=int, default=5,
                        help="look for new faces on every k-th frame (people are followed by their bodies on every "
                             "frame; 1 = every frame)")
    parser.add_argument("--hands", choices=["auto", "always", "never"], default="auto",
                        help="run the hand model where a wrist is visible (auto), on every frame, or never")
    parser.add_argument("--hand-stride", type=int, default=1, metavar="K",
                        help="run the hand model on every K-th frame and interpolate between (faster)")
    parser.add_argument("--threads", type=int, default=None,
                        help="pose threads inside each worker (default 1; when a single process does all the work, "
                             "at least the --workers count)")
    parser.add_argument("--max-overhang", type=float, default=1.0, metavar="SECONDS",
                        help="a transcript ending more than this after the media fails as transcript_too_long")
    parser.add_argument("--asr", choices=ASR_MODES, default="auto",
                        help=ASR_HELP + " (an input without a transcript then fails as no_transcript). A given "
                             "transcript always wins; recognised ones are written to OUT/transcripts/<key>.txt to "
                             "correct")
    parser.add_argument("--tier", default=None, metavar="NAME", help=TIER_HELP + "; a CSV's tier column wins")
    parser.add_argument("--asr-model", default=None, metavar="NAME|DIR", help=ASR_MODEL_HELP)
    parser.add_argument("--rebuild-manifest", action="store_true",
                        help="only rebuild OUT/manifest.json from the status records (after parallel --shard jobs)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    import os

    from jegal.perception.errors import BadInput
    from jegal.perception.options import PrepareOptions
    from jegal.prepare.pipeline import rebuild_manifest, run_prepare

    if args.rebuild_manifest:
        manifest = json.loads(rebuild_manifest(Path(args.out)).read_text())
        print(json.dumps({"out": str(args.out), "shards": len(manifest["shards"]), "clips": manifest["num_clips"]}))
        return 0

    options = PrepareOptions(max_side=args.max_side, rgb_size=args.rgb_size, rgb_features=args.rgb_features,
                             gestsync_weights=args.gestsync_weights, mel=args.mel, raw_audio=args.raw_audio,
                             min_activity=args.min_activity, max_frames=args.max_frames, min_frames=args.min_frames,
                             scene_threshold=args.scene_threshold, detect_stride=args.detect_stride, hands=args.hands,
                             max_overhang_s=args.max_overhang, hand_stride=args.hand_stride,
                             chunk_frames=args.chunk_frames,
                             threads=args.threads or 1, asr=args.asr, asr_model=args.asr_model)
    workers = args.workers if args.workers is not None else min(2, os.cpu_count() or 1)
    try:
        summary = run_prepare(args.input, args.out, options, shard=args.shard, workers=workers, progress=not args.quiet,
                              tier=args.tier)
    except BadInput as err:
        print(f"jegal prepare: {err}", file=sys.stderr)
        return 2
    short = {k: summary[k] for k in ("out", "shard", "items", "done", "skipped", "failed", "clips", "seconds",
                                     "transcripts")}
    short["failures"] = summary["failures"]
    print(json.dumps(short, indent=2))
    return 0
