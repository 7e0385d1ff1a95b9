"""The ``jegal`` command line.

Each subcommand lives beside the code it drives, in a module exposing
``configure(parser)`` (adds its flags) and ``run(args) -> int``. Modules are imported
only when their command runs, so ``jegal --help`` stays fast and loads no model.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys

# name -> (module, one-line help)
COMMANDS = {
    "synth": ("jegal.synth.cli", "generate the SynthGest corpus and its benchmarks"),
    "prepare": ("jegal.prepare.cli", "turn videos + transcripts into training shards"),
    "train": ("jegal.train.cli", "train a JEGAL model (one process or torchrun)"),
    "eval": ("jegal.evaluation.cli", "run the retrieval / spotting / ASD benchmarks"),
    "ablate": ("jegal.evaluation.ablate", "train and evaluate the paper's ablations and baselines"),
    "demo": ("jegal.demo", "the whole pipeline on a generated corpus, with a report"),
    "spot": ("jegal.use.spot", "which words each person in a video gestured: maps, words, annotated video"),
    "asd": ("jegal.use.asd", "who is speaking in a video, from gestures alone, per transcript segment"),
    "embed": ("jegal.use.embed", "gesture and content embeddings of videos, a folder or a shard set"),
    "search": ("jegal.use.search", "build and query a FAISS gallery of gesture clips (text, audio or video queries)"),
    "import-released": ("jegal.released.cli", "import the authors' released checkpoints (jegal.pth, gestsync.pth) "
                        "as a model directory"),
    "serve": ("jegal.serve.cli", "a local web page: spotted words, who is speaking, downloads"),
}


def _available() -> dict:
    out = {}
    for name, (module, help_) in COMMANDS.items():
        try:
            if importlib.util.find_spec(module) is not None:
                out[name] = (module, help_)
        except ModuleNotFoundError:
            continue
    return out


def build_parser(load: str | None = None) -> argparse.ArgumentParser:
    from jegal import __version__

    parser = argparse.ArgumentParser(prog="jegal", description="Co-speech gestures, speech and text in one embedding space.")
    parser.add_argument("--version", action="version", version=f"jegal {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_) in _available().items():
        p = sub.add_parser(name, help=help_, description=help_)
        if name == load:
            importlib.import_module(module).configure(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(load=command if command in COMMANDS else None)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    module = importlib.import_module(COMMANDS[args.command][0])
    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt:  # Ctrl-C: outputs are written atomically, so nothing half-written is left
        print(f"jegal {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
