"""``jegal eval {retrieval,spotting,asd,gestured,avs}``: one benchmark, one model, a table and a JSON file.

    jegal eval spotting --model demo_out --benchmark demo_out/corpus/benchmarks/spot.csv --data demo_out/corpus/test
    jegal eval asd --model demo_out/run --benchmark demo_out/corpus/benchmarks/asd.csv --data demo_out/corpus/test
    jegal eval gestured --model demo_out --truth demo_out/corpus/benchmarks/gestured_words.csv --data demo_out/corpus/test
    jegal eval gestured --floors-only --truth my_annotations.csv --data my_shards
    jegal eval avs --model released --csv-dir jegal/dataset --clips avs_videos --out avs_eval

``gestured`` runs the protocols of :mod:`jegal.evaluation.gestured` (detection, identification,
localisation, the gestured flag, each beside its floors) on a gestured-words CSV
(:mod:`jegal.data.gestured_words`); for a SynthGest corpus generated before it wrote that file,
the rows are built from its ``ground_truth.jsonl`` (in memory; a copy is written beside ``--out``).
``avs`` runs the paper's three AVS benchmarks from their CSVs and a folder of clips
(:mod:`jegal.evaluation.avs`: the clips prepared with the model's input spec, one table beside the
paper's Tables 2-4).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from jegal.atomic import write_json_atomic
from jegal.data.benchmarks import TASKS, BenchmarkError, read_benchmark
from jegal.evaluation.benchmarks import load_clips
from jegal.evaluation.protocols import evaluate_benchmark, markdown_table, summary_row, ties_note
from jegal.model.config import ConfigError
from jegal.model.pretrained import RELEASED_NAME, parse_modalities

GESTURED = "gestured"
AVS = "avs"

def record_on_card(model_dir: Path, task: str, benchmark: str, results: dict) -> None:
    """Put the headline numbers into the model card (``jegal.model.card``), one entry per benchmark
    and content input, replacing the previous result of that evaluation; skipped with a note when
    the model directory is not writable or its card unreadable."""
    from jegal.model.card import CardError, metrics_entry, update_card

    entries = {f"{task}: {Path(benchmark).name} ({m})": metrics_entry(summary_row(r), source=str(benchmark))
               for m, r in results.items()}
    try:
        if not os.access(model_dir, os.W_OK):
            raise PermissionError(f"{model_dir} is not writable")
        update_card(model_dir, metrics=entries)
    except (OSError, CardError) as err:
        print(f"jegal eval: model card not updated ({err})", file=sys.stderr)


def configure(parser: argparse.ArgumentParser) -> None:
    from jegal.use import add_model_arguments

    parser.formatter_class = argparse.ArgumentDefaultsHelpFormatter
    parser.add_argument("task", choices=(*TASKS, GESTURED, AVS), help="which benchmark protocol (avs: the paper's "
                        "three, from their CSVs and clips)")
    # --model, --checkpoint, --device, --threads: as every command (--model is checked in run: gestured
    # --floors-only needs none)
    add_model_arguments(parser, modalities=False, required=False)
    parser.add_argument("--benchmark", default=None, metavar="CSV",
                        help="benchmark CSV (AVS or SynthGest columns); required for retrieval, spotting, asd")
    parser.add_argument("--truth", default=None, metavar="CSV",
                        help="gestured: the gestured-words CSV (docs/evaluation.md; SynthGest writes "
                             "corpus/benchmarks/gestured_words.csv)")
    parser.add_argument("--floors-only", action="store_true", help="gestured: only the floors (no --model needed)")
    parser.add_argument("--data", default=None, metavar="DIR",
                        help="shard directory (or tar) holding the benchmark's clips; clip_id = the CSV filename "
                             "(required but for avs)")
    parser.add_argument("--modalities", default=None, metavar="t|a|ta",
                        help="content inputs at test time; comma-separated for several (default: what the model was trained with)")
    parser.add_argument("--out", default=None, metavar="JSON",
                        help="result file (default RUN_OR_DIR/eval/<task>_<csv stem>.json); avs: the output "
                             "folder (default ./avs_eval)")
    parser.add_argument("--cache", default=None, metavar="DIR", help="embedding cache directory (default next to --out)")
    parser.add_argument("--no-cache", action="store_true", help="always recompute embeddings")
    parser.add_argument("--batch-size", type=int, default=32, help="clips per embedding batch")
    parser.add_argument("--no-rows", action="store_true", help="leave per-row details out of the JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    from jegal.evaluation.avs import add_arguments

    add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    import torch

    from jegal.model import JEGAL

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.task == AVS:
        from jegal.evaluation.avs import run_avs

        return run_avs(args)
    if args.data is None:
        print(f"jegal eval {args.task}: --data is required", file=sys.stderr)
        return 1
    if args.task == GESTURED:
        return run_gestured(args)
    if args.model is None or args.benchmark is None:
        print(f"jegal eval {args.task}: --model and --benchmark are required", file=sys.stderr)
        return 1
    try:
        bench = read_benchmark(args.benchmark)
        if bench.task != args.task:
            raise BenchmarkError(f"{args.benchmark}: its columns make it a {bench.task} benchmark, not {args.task}")
        model = JEGAL.from_pretrained(args.model, checkpoint=args.checkpoint, device=args.device)
        model_dir = model.source_dir
        mods = parse_modalities(args.modalities, model.config.content.modalities)
        clips = load_clips(args.data, bench.clip_ids())
    except (BenchmarkError, ConfigError, ValueError, OSError) as err:
        print(f"jegal eval: {err}", file=sys.stderr)
        return 1
    home = model_dir if args.model == RELEASED_NAME else Path(args.model)  # the cache's model, not ./released
    out = Path(args.out) if args.out else home / "eval" / f"{args.task}_{Path(args.benchmark).stem}.json"
    cache = None if args.no_cache else Path(args.cache) if args.cache else out.parent / "cache"
    if clips.problems:
        print(f"{len(clips.problems)} of {len(bench.clip_ids())} clips missing or unreadable (counted as errors), "
              f"e.g. {next(iter(clips.problems))}: {next(iter(clips.problems.values()))}", file=sys.stderr)
    if bench.bad_rows:
        print(f"{len(bench.bad_rows)} rows of {args.benchmark} could not be parsed (counted as errors), "
              f"e.g. {bench.bad_rows[0]['error']}", file=sys.stderr)
    model_id = model.identity
    results = {}
    for m in mods:
        results[m] = evaluate_benchmark(model, bench, clips, modalities=m, cache_dir=cache, model_id=model_id,
                                        batch_size=args.batch_size, progress=not args.quiet, keep_rows=not args.no_rows)
    doc = {"task": args.task, "model": str(model_dir), "benchmark": str(args.benchmark), "data": str(args.data),
           "results": results}
    table = [(f"{model_dir.name} ({m})", summary_row(r)) for m, r in results.items()]
    if args.task == "spotting":  # the transcript-only floor, from the CSV alone (no clip needed)
        from jegal.synth import word_order_spotting

        doc["word_order_floor"] = word_order_spotting(bench)
        floor = doc["word_order_floor"]
        table.append(("floor: word order, no gesture", {"accuracy": floor["word_order"],
                                                        "stress=0": floor.get("word_order_unstressed"),
                                                        "stress=1": floor.get("word_order_stressed")}))
    write_json_atomic(out, doc)
    record_on_card(model_dir, args.task, args.benchmark, results)
    first = next(iter(results.values()))["metrics"]
    print(f"{args.task} on {args.benchmark}: {first['evaluated']} of {first['rows']} rows evaluated")
    print(markdown_table(table))
    if args.task == "retrieval":
        print(ties_note())
    if args.task == "spotting":
        print("Spotting (the AVS-Spot rule) measures the localisation of a word known to be gestured; whether a "
              "word is gestured at all: jegal eval gestured.")
    print(f"wrote {out}")
    return 0


def run_gestured(args: argparse.Namespace) -> int:
    """``jegal eval gestured``: the gestured-word protocols, floors beside the model rows."""
    from jegal.data.gestured_words import GesturedWordsError, find_gestured_words, write_gestured_words
    from jegal.evaluation.gestured import evaluate_gestured, gestured_markdown

    if args.truth is None or (args.model is None and not args.floors_only):
        print("jegal eval gestured: --truth is required, and --model unless --floors-only", file=sys.stderr)
        return 1
    try:
        truth = find_gestured_words(args.truth)
        clips = load_clips(args.data, truth.clips("test").keys())
        model = model_dir = None
        if not args.floors_only:
            from jegal.model import JEGAL

            model = JEGAL.from_pretrained(args.model, checkpoint=args.checkpoint, device=args.device)
            model_dir = model.source_dir
        mods = parse_modalities(args.modalities, model.config.content.modalities) if model is not None else ["-"]
    except (GesturedWordsError, BenchmarkError, ConfigError, ValueError, OSError) as err:
        print(f"jegal eval: {err}", file=sys.stderr)
        return 1
    default_dir = Path(args.model) / "eval" if args.model and not args.floors_only else Path(".")
    out = Path(args.out) if args.out else default_dir / f"gestured_{Path(args.truth).stem}.json"
    cache = None if args.no_cache else Path(args.cache) if args.cache else out.parent / "cache"
    if truth.path is not None and truth.path.suffix == ".jsonl":
        built = write_gestured_words(out.with_name(out.stem + "_truth.csv"), truth.rows)
        print(f"{args.truth} not found: rows built from {truth.path}, a copy written to {built}", file=sys.stderr)
    if clips.problems:
        print(f"{len(clips.problems)} of {len(truth.clips('test'))} test clips missing or unreadable (their words "
              f"count as errors), e.g. {next(iter(clips.problems))}: {next(iter(clips.problems.values()))}",
              file=sys.stderr)
    results = {}
    for m in mods:
        results[m] = evaluate_gestured(truth, clips, model, modalities=m if model is not None else "ta",
                                       cache_dir=cache, model_id=model.identity if model is not None else None,
                                       batch_size=args.batch_size, progress=not args.quiet)
    doc = {"task": GESTURED, "model": None if model_dir is None else str(model_dir), "truth": str(args.truth),
           "data": str(args.data), "results": results}
    write_json_atomic(out, doc)
    for m, r in results.items():
        if model is not None:
            print(f"## {model_dir.name} ({m})\n")
        print(gestured_markdown(r) + "\n")
    print(f"wrote {out}")
    return 0
