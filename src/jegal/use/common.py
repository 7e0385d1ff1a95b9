"""What the commands that apply a model share: loading it, the video flags, the output folder, errors.

- :func:`add_model_arguments` / :func:`load_model`: ``--model`` accepts a saved model directory
  (``config.json`` + ``model.safetensors``) or a training run directory (its ``model/``, or
  ``best/`` with ``--checkpoint best``), as ``jegal eval`` does; ``--device`` is any torch
  device and is checked before the model is read; ``--modalities`` the content inputs
  (:func:`content_modalities`: the imported released model without its text backbone runs with
  speech only, :func:`text_problem`).
- :func:`add_video_arguments`: VIDEO, ``--transcript``, ``--asr``, ``--asr-model``, the window
  flags and ``--rgb-size`` (the arguments of :func:`jegal.use.video.read_video`).
- :func:`output_dir`: ``--out``, by default ``<video stem>.<command>/`` in the working directory.
- :func:`model_and_video`: all of the above in the order that fails cheapest first, then the video read.
- :func:`document`: the JSON document every command writes (settings, the video, results, outputs, timings).
- :func:`report_error`: one line on stderr naming the command, the file and the problem.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import weakref
from dataclasses import dataclass
from pathlib import Path

from jegal.inference.windows import OVERLAP_FRAMES, WINDOW_FRAMES


class DeviceUnavailable(ValueError):
    """``--device`` names a device this machine does not have."""


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """``--model``, ``--checkpoint``, ``--modalities``, ``--device``, ``--threads``."""
    parser.add_argument("--model", required=True, metavar="MODEL_OR_RUN",
                        help="a saved model directory (config.json + model.safetensors) or a training run directory")
    parser.add_argument("--checkpoint", choices=("final", "best"), default="final",
                        help="with a run directory: its final model (default) or its best validation checkpoint")
    parser.add_argument("--modalities", default=None, choices=("t", "a", "ta"),
                        help="content inputs: text, speech or both (default: what the model was trained with)")
    parser.add_argument("--device", default="cpu", help="torch device for the model: cpu (default), cuda, cuda:1, mps")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")


def add_video_arguments(parser: argparse.ArgumentParser) -> None:
    """VIDEO and the flags of :func:`jegal.use.video.read_video`, plus ``--out`` and ``--quiet``."""
    from jegal.perception.asr import ASR_MODES

    parser.add_argument("video", metavar="VIDEO",
                        help="a video file (or precomputed keypoints <name>.kps.npz with <name>.wav beside them)")
    parser.add_argument("--transcript", default=None, metavar="FILE",
                        help="transcript (reference txt, WhisperX JSON, TextGrid, or plain text to force-align); "
                             "default: <name>.txt/.json/.TextGrid beside the video, else speech recognition (--asr)")
    parser.add_argument("--asr", choices=ASR_MODES, default="auto",
                        help="without a transcript: offline speech recognition (auto, the default: pocketsphinx, or "
                             "faster-whisper with --asr-model), or none")
    parser.add_argument("--asr-model", default=None, metavar="DIR",
                        help="a local CTranslate2 Whisper model directory for --asr faster-whisper (never downloaded)")
    parser.add_argument("--window-frames", type=int, default=WINDOW_FRAMES,
                        help=f"frames (25 fps) of each window the model sees (default {WINDOW_FRAMES})")
    parser.add_argument("--overlap-frames", type=int, default=OVERLAP_FRAMES,
                        help="frames shared by neighbouring windows; each result is taken from the window where it "
                             f"lies most centrally (default {OVERLAP_FRAMES})")
    parser.add_argument("--rgb-size", type=int, default=None, metavar="PX",
                        help="for an rgb model: the crop size it was trained on (default 112)")
    parser.add_argument("--out", default=None, metavar="DIR", help="output folder (default ./<video name>.<command>/)")
    parser.add_argument("--no-video", action="store_true", help="do not write the annotated video")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def check_device(device: str):
    """``device`` as a torch device; raises :class:`DeviceUnavailable` when this machine lacks it."""
    import torch

    try:
        dev = torch.device(device)
    except RuntimeError as err:
        raise DeviceUnavailable(f"--device {device!r}: not a torch device ({err})") from None
    if dev.type == "cuda" and (not torch.cuda.is_available() or (dev.index or 0) >= torch.cuda.device_count()):
        raise DeviceUnavailable(f"--device {device}: no such CUDA device here ({torch.cuda.device_count()} visible); "
                                "use --device cpu")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise DeviceUnavailable(f"--device {device}: MPS is not available here; use --device cpu")
    return dev


def load_model(model: str | os.PathLike, device: str = "cpu", checkpoint: str = "final", threads: int = 0):
    """``(model, model_dir)``: a :class:`jegal.model.JEGAL` in eval mode on ``device``, from a
    model directory or a training run directory. Raises
    :class:`jegal.model.pretrained.ModelNotFound` (a FileNotFoundError) naming the path,
    :class:`DeviceUnavailable`, :class:`jegal.model.config.ConfigError` for weights that do
    not fit their config, or :class:`jegal.model.text.TextBackboneError` when the frozen text
    backbone the config names is not available offline (except for the released text head: that
    model then runs with speech only, :func:`text_problem`)."""
    import torch

    from jegal.model.pretrained import resolve_model_dir
    from jegal.model import JEGAL

    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing is ever downloaded: a missing backbone is an error
    if threads:
        torch.set_num_threads(threads)
    dev = check_device(device)
    model_dir = resolve_model_dir(model, checkpoint)
    net = JEGAL.load(model_dir, device=dev)
    net.eval()
    # The frozen text backbone is read on first use: read it now, so a missing backbone fails here and
    # the load is timed as loading. The released text head without it runs with speech only (text_problem).
    if net.text is not None and not net.text.released:
        net.text.backbone.load()
    text_problem(net)
    return net, model_dir


_TEXT_PROBLEMS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> TextBackboneError | None
_TEXT_NOTED: weakref.WeakSet = weakref.WeakSet()  # models whose speech-only default was announced


def text_problem(model):
    """Why ``model`` cannot read text here, as the :class:`jegal.model.text.TextBackboneError` its
    text encoder raises (it says to run with speech only, ``--modalities a``, or to give a local
    copy of the backbone), or None. Only the released text head (``text.architecture ==
    "released"``, ``jegal import-released``) runs without its backbone: xlm-roberta-base cannot be
    installed offline (docs/released.md); any other model's missing backbone is an error of
    :func:`load_model`. Loads the backbone when it is on disk; the answer is kept per model."""
    from jegal.model.text import TextBackboneError

    text = getattr(model, "text", None)
    if text is None or not getattr(text, "released", False):
        return None
    if model not in _TEXT_PROBLEMS:
        _TEXT_PROBLEMS[model] = None
        try:
            text.backbone.load()
        except TextBackboneError:
            try:  # the text encoder's own message (what to do), from a call that fails before any compute
                text.subword_states([["text"]])
            except TextBackboneError as err:
                _TEXT_PROBLEMS[model] = err
    return _TEXT_PROBLEMS[model]


def speech_only_note(model) -> str:
    """The one line saying that ``model`` runs with speech only (:func:`text_problem`)."""
    return (f"the text backbone {model.config.text.backbone!r} is not available here, so the model runs with "
            "speech only (--modalities a; docs/released.md says how to give it the backbone)")


def content_modalities(model, asked: str | None) -> str:
    """The content inputs to use: ``asked`` (t, a, ta) or what the model was trained with. A model
    that cannot read text here (:func:`text_problem`) defaults to speech only, ``a``, and says so
    once on stderr (:func:`speech_only_note`). Raises :class:`BadFlag` when the model was not
    trained with ``asked``, and the :class:`jegal.model.text.TextBackboneError` of
    :func:`text_problem` when ``asked`` holds text that the model cannot read here."""
    from jegal.model.pretrained import parse_modalities

    problem = text_problem(model)
    if problem is not None and asked is None and "a" in model.config.content.modalities:
        if model not in _TEXT_NOTED:
            _TEXT_NOTED.add(model)
            print(f"jegal: {speech_only_note(model)}", file=sys.stderr)
        asked = "a"
    try:
        modalities = parse_modalities(asked, model.config.content.modalities)[0]
    except ValueError as err:
        raise BadFlag(str(err)) from None
    if problem is not None and "t" in modalities:
        raise problem
    return modalities


def output_dir(out: str | os.PathLike | None, video: str | os.PathLike, command: str) -> Path:
    """``out``, or ``./<video name>.<command>`` (the name without ``.kps.npz`` or the suffix). Not
    created here: the first output written creates it, so a failed run leaves no empty folder.
    Raises NotADirectoryError when it exists as a file."""
    if out is None:
        name = Path(video).name
        name = name[: -len(".kps.npz")] if name.endswith(".kps.npz") else Path(name).stem
        out = Path.cwd() / f"{name}.{command}"
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"--out {out}: exists and is not a folder")
    return out


def report_error(command: str, err: BaseException) -> int:
    """Print ``jegal <command>: <message>`` on stderr; returns the exit status 1."""
    print(f"jegal {command}: {err}", file=sys.stderr)
    return 1


@dataclass
class Loaded:
    """What :func:`model_and_video` read for a command."""

    model: object  # jegal.model.JEGAL
    model_dir: Path
    modalities: str
    out: Path
    video: object  # jegal.use.video.VideoInput
    timings: dict  # seconds: model_load


def model_and_video(args: argparse.Namespace, command: str, require_words: bool = True) -> Loaded:
    """The steps every video command starts with, in the order that fails cheapest first: the
    flags (:func:`check_flags`), the model (:func:`load_model`), the content modalities
    (:func:`content_modalities`), the front end against the input
    (:func:`jegal.use.video.model_inputs`: rgb crops, or GestSync features from the weights in the
    model directory, and the log-mel the model reads), the output folder, and the video
    (:func:`jegal.use.video.read_video`, recognised words written under the output folder).
    Raises what those raise (:func:`expected_errors`)."""
    from jegal.use.video import model_inputs, read_video

    check_flags(args)
    t = time.perf_counter()
    model, model_dir = load_model(args.model, args.device, args.checkpoint, args.threads)
    load_s = time.perf_counter() - t
    modalities = content_modalities(model, args.modalities)
    inputs = model_inputs(model, model_dir, args.video, args.rgb_size)
    out = output_dir(args.out, args.video, command)
    video = read_video(args.video, args.transcript, asr=args.asr, asr_model=args.asr_model,
                       window_frames=args.window_frames, overlap_frames=args.overlap_frames, progress=not args.quiet,
                       work_dir=out, require_words=require_words, **inputs)
    if text_problem(model) is not None:
        video.warnings.append(speech_only_note(model))
    return Loaded(model, model_dir, modalities, out, video, {"model_load": load_s})


def person_record(person) -> dict:
    """Where a :class:`jegal.use.video.PersonInput` is in the video, for a command's JSON."""
    return {"person": person.person, "first_frame": person.first_frame, "last_frame": person.last_frame,
            "start_s": round(person.first_frame / 25, 3), "end_s": round((person.last_frame + 1) / 25, 3),
            "frames_seen": int(person.visible.sum())}


def document(out: Path, video, meta: dict, body: dict, outputs: dict, timings: dict) -> dict:
    """A command's JSON document: ``meta`` (model, settings), the video's record, ``body`` (the
    command's results), ``outputs`` (file names; the recognised transcript added when it lies in
    ``out``), the warnings, and the seconds per stage (``video.timings``, ``meta["timings"]``,
    ``timings``)."""
    if video.transcript_path is not None and video.transcript_path.is_relative_to(out):
        outputs = {**outputs, "transcript": video.transcript_path.relative_to(out).as_posix()}
    seconds = {**video.timings, **meta.get("timings", {}), **timings}
    return {**meta, "video": str(video.path), "num_frames": video.num_frames, "fps": video.fps,
            "duration_s": round(video.duration, 3), "size": list(video.size),
            "transcript_source": video.transcript_source,
            "transcript": None if video.transcript_path is None else str(video.transcript_path),
            **body, "outputs": outputs, "warnings": video.warnings,
            "timings": {k: round(v, 3) for k, v in seconds.items()}}


class BadFlag(ValueError):
    """A flag value the command cannot use; the message names the flag."""


def check_flags(args: argparse.Namespace) -> None:
    """The window flags of :func:`add_video_arguments`; raises :class:`BadFlag`."""
    from jegal.inference.windows import cut_windows

    try:
        cut_windows(0, 0, args.window_frames, args.overlap_frames)
    except ValueError as err:
        raise BadFlag(f"--window-frames/--overlap-frames: {err}") from None
    if args.rgb_size is not None and args.rgb_size < 8:
        raise BadFlag(f"--rgb-size {args.rgb_size}: crops need at least 8 pixels")


def expected_errors() -> tuple[type[BaseException], ...]:
    """The failures a command reports as one line (a bad input, model, device or flag), never as
    a traceback: the prepare errors, a missing model, weights that do not fit their config, an
    unavailable text backbone or device, a bad flag."""
    from jegal.model.config import ConfigError
    from jegal.model.text import TextBackboneError
    from jegal.perception.errors import PrepareError

    return (PrepareError, FileNotFoundError, NotADirectoryError, DeviceUnavailable, ConfigError, TextBackboneError,
            BadFlag)


__all__ = ["BadFlag", "DeviceUnavailable", "Loaded", "add_model_arguments", "add_video_arguments", "check_device",
           "check_flags", "content_modalities", "document", "expected_errors", "load_model", "model_and_video",
           "output_dir", "person_record", "report_error", "speech_only_note", "text_problem"]
