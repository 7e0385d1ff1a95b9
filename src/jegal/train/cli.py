"""``jegal train``: train a JEGAL model, in one process or under ``torchrun``.

    jegal train --data demo_out/corpus --out runs/cpu300 --preset cpu --max-steps 300   # make demo's corpus
    jegal train --data demo_out/corpus --out runs/cpu300 --preset cpu --max-steps 300 --resume   # after a kill
    torchrun --nproc-per-node 8 -m jegal.cli train --data /data/shards --out runs/paper --preset paper

Every flag sets one field of :class:`jegal.train.config.TrainConfig` (the table below), and
only when given, so ``--config FILE`` and the preset supply the rest.
"""

from __future__ import annotations

import argparse
import json
import sys

from jegal.model.config import OBJECTIVE_WEIGHTS

# flag -> (config field, type, help); type None = a switch that stores the given constant
FLAGS: dict[str, tuple[str, object, str]] = {
    "--data": ("data.train", str, "training shards: a shard dir or tar, or a corpus dir with train/ and test/"),
    "--out": ("out", str, "run directory (config, logs, checkpoints, best/ and final model/, metrics.json)"),
    "--model-preset": ("model_preset", str, "model preset name or JSON file (default: the training preset)"),
    "--val-data": ("data.val", str, "validation shards (default: <corpus>/test, else a held-out fraction of --data)"),
    "--val-spot": ("data.val_spot", str, "spotting CSV for validation (default: <val>/../benchmarks/spot.csv)"),
    "--val-fraction": ("data.val_fraction", float, "fraction of --data held out for validation when there is no validation set"),
    "--val-max-clips": ("data.val_max_clips", int, "at most this many validation clips"),
    "--batch-size": ("data.batch_size", int, "clips per process (global batch = this x processes)"),
    "--crop": ("data.crop", str, "training crops: words (random 5-20 word windows, paper) or frames (fixed length)"),
    "--crop-frames": ("data.crop_frames", int, "frames per training crop with --crop frames"),
    "--min-words": ("data.min_words", int, "shortest random word window (paper: 5)"),
    "--max-words": ("data.max_words", int, "longest random word window (paper: 20)"),
    "--shuffle-buffer": ("data.shuffle_buffer", int, "samples held by the streaming shuffle"),
    "--workers": ("data.workers", int, "DataLoader worker processes per process"),
    "--epochs": ("epochs", int, "at most this many passes over the training data (0: no limit; default: the "
                                "preset's, none when --max-steps is given)"),
    "--max-steps": ("max_steps", int, "stop after this many optimiser steps (0: no step limit)"),
    "--max-seconds": ("max_seconds", float, "time budget in seconds, checked after every step; the learning-rate "
                                            "schedule ends with it (0: none)"),
    "--lr": ("optim.lr", float, "peak learning rate (paper: 5e-5)"),
    "--weight-decay": ("optim.weight_decay", float, "AdamW weight decay on weight matrices (paper: 1e-4)"),
    "--warmup-steps": ("optim.warmup_steps", int, "linear warmup steps"),
    "--schedule": ("optim.schedule", str, "after warmup: cosine or constant"),
    "--grad-clip": ("optim.grad_clip", float, "max gradient norm (0: off)"),
    "--max-bad-steps": ("optim.max_bad_steps", int, "consecutive non-finite steps before aborting"),
    "--seed": ("seed", int, "seed of weights, data order, word windows and dropout"),
    "--device": ("device", str, "auto, cpu, cuda, cuda:N"),
    "--precision": ("precision", str, "auto (bf16 on CUDA, fp32 on CPU), fp32, bf16, fp16"),
    "--threads": ("threads", int, "torch CPU threads per process (0: CPUs / processes on this node)"),
    "--checkpoint-every": ("checkpoint_every", int, "steps between checkpoints (also at each epoch end and at the end)"),
    "--keep-checkpoints": ("keep_checkpoints", int, "most recent checkpoints kept"),
    "--log-every": ("log_every", int, "steps between TensorBoard scalars"),
    "--validate-every": ("validate_every", int, "epochs between validations (0: only at the end)"),
    "--best-metric": ("best_metric", str, "validation metric that picks best/ (auto: spot_acc, else ret_R@10_mean)"),
}
SWITCHES: dict[str, tuple[str, bool, str]] = {
    "--resume": ("resume", True, "continue from the newest checkpoint in --out (start fresh if there is none)"),
    "--no-progress": ("progress", False, "no progress bar"),
    "--no-tensorboard": ("tensorboard", False, "no TensorBoard logs"),
    "--ddp-find-unused": ("ddp_find_unused", True, "let DDP tolerate parameters without gradients"),
    "--augment": ("data.augment", True, "augment training clips against speaker shortcuts (mirror/scale/rotate "
                                        "keypoints, shift/scale log-mel)"),
    "--no-augment": ("data.augment", False, "no training augmentation"),
}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", default=None,
                        help="training + model preset: paper (as published), recommended (paper sizes, this "
                             "project's objective; the default) or cpu (small, minutes on 2 cores), or a preset file")
    parser.add_argument("--objective", default=None, choices=tuple(OBJECTIVE_WEIGHTS),
                        help="what to train for [model field loss.objective]: jegal (the JEGAL objective), clip "
                             "(the clip-level CLIP baseline: global loss only) or sync (the sync-style baseline: "
                             "temporal synchrony only) (default: the preset's, jegal)")
    parser.add_argument("--config", default=None, metavar="FILE",
                        help="JSON training config (any subset of the fields in train_config.json)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override one field: a training field (optim.lr=1e-4, data.margin=8, epochs=3) "
                             "or a dotted model field (loss.beta=1.0, content.fusion=avg); repeatable")
    for flag, (field, typ, help_) in FLAGS.items():
        parser.add_argument(flag, dest=field, type=typ, default=argparse.SUPPRESS, help=f"{help_} [{field}]",
                            metavar=flag.lstrip("-").upper().replace("-", "_"))
    for flag, (field, value, help_) in SWITCHES.items():
        parser.add_argument(flag, dest=field, action="store_const", const=value, default=argparse.SUPPRESS,
                            help=f"{help_} [{field}]")
    parser.add_argument("--print-config", action="store_true", help="print the resolved config and exit")


def parse_sets(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        out[key.strip()] = value.strip()
    return out


def resolve_args(args: argparse.Namespace):
    from jegal.train.config import resolve

    fields = {f for f, _, _ in FLAGS.values()} | {f for f, _, _ in SWITCHES.values()}
    flags = {k: v for k, v in vars(args).items() if k in fields}
    model_flags = {"loss.objective": args.objective} if args.objective else {}
    return resolve(preset=args.preset, config_file=args.config, flags=flags,
                   overrides={**model_flags, **parse_sets(args.set)})


def run(args: argparse.Namespace) -> int:
    from jegal.model.config import ConfigError
    from jegal.train.config import TrainConfigError

    try:
        cfg = resolve_args(args)
    except (ValueError, ConfigError, TrainConfigError) as err:
        print(f"jegal train: {err}", file=sys.stderr)
        return 2
    if args.print_config:
        print(json.dumps(cfg.to_dict(), indent=2))
        return 0
    from jegal.train.loop import TrainingDiverged, train

    try:
        summary = train(cfg)
    except (TrainConfigError, ConfigError) as err:
        print(f"jegal train: {err}", file=sys.stderr)
        return 2
    except TrainingDiverged as err:
        print(f"jegal train: {err}", file=sys.stderr)
        return 3
    import os

    if int(os.environ.get("RANK", "0")) == 0:
        brief = {k: summary[k] for k in ("run_dir", "objective", "steps", "epochs_completed", "stopped_by",
                                         "final_loss", "best_metric", "best", "skipped_samples", "bad_steps",
                                         "clips_per_s")}
        print(json.dumps({**brief, "metrics": summary["metrics"]}, indent=2))
    return 0
