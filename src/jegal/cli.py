"""The ``jegal`` command line.

Each subcommand lives beside the code it drives, in a module exposing
``configure(parser)`` (adds its flags) and ``run(args) -> int``. Modules are imported
only when their command runs, so ``jegal --help`` stays fast and loads no model. A command's
``--help`` ends with the usage lines of its module's docstring (the indented lines that start
with ``jegal``), so the examples a user reads there are the ones the docs show.

Every command is quiet by default: the native libraries' INFO and WARNING lines (mediapipe,
TensorFlow Lite, absl) are dropped (:func:`jegal.native_logs.quiet_for_command`) unless the
command is given ``--verbose``, which every command takes.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# name -> (module, one-line help), in the order a new user meets them
COMMANDS = {
    "demo": ("jegal.demo", "the whole pipeline on a generated corpus, with a report (what `make demo` runs)"),
    "synth": ("jegal.synth.cli", "generate the SynthGest corpus and its benchmarks"),
    "prepare": ("jegal.prepare.cli", "turn videos + transcripts into training shards"),
    "train": ("jegal.train.cli", "train a JEGAL model (one process or torchrun)"),
    "eval": ("jegal.evaluation.cli", "run the retrieval / spotting / ASD benchmarks"),
    "ablate": ("jegal.evaluation.ablate", "train and evaluate the paper's ablations and baselines"),
    "spot": ("jegal.use.spot", "which words each person in a video gestured: maps, words, annotated video"),
    "asd": ("jegal.use.asd", "who is speaking in a video, from gestures alone, per transcript segment"),
    "embed": ("jegal.use.embed", "gesture and content embeddings of videos, a folder or a shard set"),
    "search": ("jegal.use.search", "build and query a FAISS gallery of gesture clips (text, audio or video queries)"),
    "serve": ("jegal.serve.cli", "a local web page: gestured words, who is speaking, downloads"),
    "import-released": ("jegal.released.cli", "import the authors' released checkpoints (jegal.pth, gestsync.pth) "
                        "as a model directory"),
    "fetch": ("jegal.released.fetch", "download, verify and import the authors' released model into the cache "
              "(then --model released)"),
}

EPILOG = """\
start here:
  make demo                                     # writes demo_out/: a corpus, a trained model, a report
  jegal spot demo_out/real/input/sample1.avi --model demo_out --out sample1.spot

--model takes a model directory, a training run, jegal demo's output folder, or released (the
authors' model, after `jegal fetch released`).
Each command: jegal COMMAND --help. Docs: docs/*.md in the repository."""


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions and usage examples keep their lines; an option's default is shown once, where
    it says something (not for flags, empty values, or help that already names its default)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (not action.option_strings or "default" in text or default is None or default is False
                or default == argparse.SUPPRESS or (isinstance(default, (str, list, tuple, dict)) and not default)):
            return text
        return f"{text} (default: %(default)s)" if text else "default: %(default)s"


def usage_lines(doc: str | None) -> str | None:
    """The indented ``jegal ...`` lines of a module docstring, as an ``examples:`` epilog."""
    lines = [line.rstrip() for line in (doc or "").splitlines()
             if line.startswith(" ") and line.lstrip().startswith("jegal ")]
    if not lines:
        return None
    indent = min(len(line) - len(line.lstrip()) for line in lines)
    return "examples:\n" + "\n".join("  " + line[indent:] for line in lines)


def build_parser(load: str | None = None) -> argparse.ArgumentParser:
    from jegal import __version__

    parser = argparse.ArgumentParser(prog="jegal", formatter_class=HelpFormatter, epilog=EPILOG,
                                     description="Co-speech gestures, speech and text in one embedding space "
                                                 "(JEGAL, arXiv 2503.22668).")
    parser.add_argument("--version", action="version", version=f"jegal {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for name, (module, help_) in COMMANDS.items():
        p = sub.add_parser(name, help=help_, description=help_, formatter_class=HelpFormatter)
        p.add_argument("--verbose", action="store_true",
                       help="let the libraries' own logging through (mediapipe, TensorFlow Lite, absl: hidden by default)")
        if name == load:
            mod = importlib.import_module(module)
            mod.configure(p)
            p.formatter_class = HelpFormatter  # one look for every command's --help
            if p.epilog is None:
                p.epilog = usage_lines(getattr(mod, "__doc__", None))
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(load=command if command in COMMANDS else None)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    from jegal.native_logs import quiet_for_command

    quiet_for_command(args.verbose)  # before the command's module can load mediapipe
    module = importlib.import_module(COMMANDS[args.command][0])
    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt:  # Ctrl-C: outputs are written atomically, so nothing half-written is left
        print(f"jegal {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
