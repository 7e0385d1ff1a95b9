"""``python -m jegal.perception.asr --serve ENGINE``: the process of
:class:`~jegal.perception.asr.process.RecogniserProcess`."""

import argparse

from jegal.perception.asr.engines import ASR_MODES
from jegal.perception.asr.process import serve


def main(argv: list[str] | None = None) -> int:
    """Serve the recogniser named by ``--serve`` on stdin/stdout until stdin ends; the exit status."""
    parser = argparse.ArgumentParser(description="serve a speech recogniser on stdin/stdout (RecogniserProcess)")
    parser.add_argument("--serve", required=True, choices=[m for m in ASR_MODES if m not in ("auto", "none")])
    parser.add_argument("--model-dir", default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--parent", type=int, default=None, help="die with this process (Linux)")
    args = parser.parse_args(argv)
    return serve(args.serve, args.model_dir, args.threads, args.parent)


if __name__ == "__main__":  # (importing this module, as the layering test does, starts nothing)
    raise SystemExit(main())
