"""``jegal serve``: the local web page (:mod:`jegal.serve`).

    jegal serve                                  # default model; http://127.0.0.1:7860
    jegal serve --model demo_out --port 8000
    jegal serve --max-upload-mb 50 --max-seconds 60 --examples ../shared/data/real

Binds to 127.0.0.1 (this machine only) unless ``--host`` says otherwise; anything else prints a
warning, since whoever reaches the port can upload videos and use this machine's CPU.
"""

from __future__ import annotations

import argparse
import ipaddress
import shutil
import sys
import tempfile
from pathlib import Path

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1", "[::1]")


def configure(parser: argparse.ArgumentParser) -> None:
    from jegal.serve.examples import DEFAULT_EXAMPLES
    from jegal.serve.queue import Limits
    from jegal.use import add_model_arguments

    parser.formatter_class = argparse.ArgumentDefaultsHelpFormatter
    d = Limits()
    add_model_arguments(parser, required=False, modalities=False,
                        model_help="a saved model directory, a training run directory, or jegal demo's output "
                                   "folder (default: the cached serve model, else ./demo_out from make demo, else one "
                                   "trained on SynthGest on first start)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=7860, help="port to listen on")
    parser.add_argument("--max-upload-mb", type=float, default=d.max_upload_mb, help="largest upload (MB)")
    parser.add_argument("--max-seconds", type=float, default=d.max_seconds, help="longest video (seconds)")
    parser.add_argument("--max-queue", type=int, default=d.max_queue, help="jobs waiting or running at once")
    parser.add_argument("--keep-minutes", type=float, default=d.keep_minutes,
                        help="how long finished results stay downloadable")
    parser.add_argument("--read-timeout", type=float, default=d.read_timeout_s, metavar="S",
                        help="seconds a request's headers, and an upload's whole body, may take to arrive")
    parser.add_argument("--max-uploads-per-client", type=int, default=d.max_uploads_per_client, metavar="N",
                        help="uploads one client address may be sending at once")
    parser.add_argument("--examples", default=str(DEFAULT_EXAMPLES), metavar="DIR",
                        help="folder of example videos offered on the page (listed when it exists)")
    parser.add_argument("--work-dir", default=None, metavar="DIR",
                        help="where the server's work folder goes (default: the temporary directory); it is deleted "
                             "on exit, and those of servers that died are deleted at the next start")


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def run(args: argparse.Namespace) -> int:
    from jegal.native_logs import quiet_native_logs

    quiet_native_logs(filter_fd=True)  # mediapipe's per-job lines; before anything loads it
    import uvicorn

    from jegal.model.pretrained import ModelNotFound, resolve_model_dir
    from jegal.serve.app import create_app, uvicorn_options
    from jegal.serve.queue import Limits

    if args.model is not None:
        try:
            resolve_model_dir(args.model, args.checkpoint)
        except ModelNotFound as err:
            print(f"jegal serve: {err}", file=sys.stderr)
            return 1
    for flag, value in (("--max-upload-mb", args.max_upload_mb), ("--max-seconds", args.max_seconds),
                        ("--max-queue", args.max_queue), ("--keep-minutes", args.keep_minutes),
                        ("--read-timeout", args.read_timeout),
                        ("--max-uploads-per-client", args.max_uploads_per_client)):
        if value <= 0:
            print(f"jegal serve: {flag} must be positive, got {value}", file=sys.stderr)
            return 1
    limits = Limits(max_upload_mb=args.max_upload_mb, max_seconds=args.max_seconds, max_queue=args.max_queue,
                    keep_minutes=args.keep_minutes, read_timeout_s=args.read_timeout,
                    max_uploads_per_client=args.max_uploads_per_client)
    from jegal.serve.default_model import ModelProvider

    provider = ModelProvider(args.model, device=args.device, checkpoint=args.checkpoint, threads=args.threads)
    local = is_loopback(args.host)
    allowed = ["localhost", "127.0.0.1", "::1", "[::1]"] if local else None
    if not local:
        print(f"jegal serve: warning: listening on {args.host}: anyone who can reach port {args.port} can upload "
              "videos and run jobs on this machine", file=sys.stderr)
    from jegal.serve.recovery import PREFIX

    if args.work_dir is not None:
        Path(args.work_dir).mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=PREFIX, dir=args.work_dir))
    try:  # the app's shutdown deletes the folder (uvicorn re-raises Ctrl+C/SIGTERM after it)
        examples = Path(args.examples) if args.examples else None
        app = create_app(None, work, limits, provider=provider, examples_dir=examples, allowed_hosts=allowed,
                         remove_work_root=True, recover=True)
        shown = f"[{args.host}]" if ":" in args.host and not args.host.startswith("[") else args.host
        print(f"jegal serve: http://{shown}:{args.port}/  (Ctrl+C to stop)", flush=True)
        uvicorn.run(app, host=args.host.strip("[]"), port=args.port, log_level="warning", **uvicorn_options(limits))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0
