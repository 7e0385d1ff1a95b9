"""What the commands that apply a model share: loading it, the video flags, the output folder, errors.

- :func:`add_model_arguments` / :func:`load_for_command`: ``--model`` accepts what
  :meth:`jegal.model.JEGAL.from_pretrained` accepts (a saved model directory, a training run
  directory, ``jegal demo``'s output folder; ``--checkpoint best``), as ``jegal eval`` does;
  ``--device`` is any torch device and is checked before the model is read; ``--modalities`` the
  content inputs (:func:`content_modalities`: the imported released model without its text
  backbone runs with speech only, :attr:`jegal.model.JEGAL.speech_only`).
- :func:`add_video_arguments`: VIDEO (a file, or a folder: :mod:`jegal.use.folder`), ``--transcript``,
  ``--asr``, ``--asr-model``, the window flags and ``--rgb-size`` (the arguments of
  :func:`jegal.use.video.read_video`), ``--out``, ``--no-video``, ``--quiet``, ``--keypoints-csv``.
- :func:`output_dir`: ``--out``, by default ``<video stem>.<command>/`` in the working directory.
- :func:`load_for_command` / :func:`read_for_model`: the model and the video, each in the order that
  fails cheapest first.
- :func:`document`: the JSON document every command writes (settings, the video, results, outputs, timings).
- :func:`report_error`: one line on stderr naming the command, the file and the problem.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import weakref
from pathlib import Path

from jegal.inference.windows import OVERLAP_FRAMES, WINDOW_FRAMES


class DeviceUnavailable(ValueError):
    """``--device`` names a device this machine does not have."""


MODEL_HELP = ("a saved model directory (config.json + model.safetensors), a training run directory, or jegal "
              "demo's output folder (its run's model)")


def add_model_arguments(parser: argparse.ArgumentParser, *, required: bool = True, model_help: str = MODEL_HELP,
                        modalities: bool = True) -> None:
    """``--model``, ``--checkpoint``, ``--modalities`` (unless ``modalities`` is False), ``--device``,
    ``--threads``: the one declaration every command that loads a model uses (``jegal spot``,
    ``asd``, ``embed``, ``search``, ``serve``). ``required=False``: ``--model`` defaults to None."""
    parser.add_argument("--model", required=required, default=None, metavar="MODEL_OR_RUN", help=model_help)
    parser.add_argument("--checkpoint", choices=("final", "best"), default="final",
                        help="with a run directory: its final model (default) or its best validation checkpoint")
    if modalities:
        parser.add_argument("--modalities", default=None, choices=("t", "a", "ta"),
                            help="content inputs: text, speech or both (default: what the model was trained with)")
    parser.add_argument("--device", default="cpu", help="torch device for the model: cpu (default), cuda, cuda:1, mps")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")


def add_video_arguments(parser: argparse.ArgumentParser) -> None:
    """VIDEO and the flags of :func:`jegal.use.video.read_video`, plus ``--out`` and ``--quiet``."""
    from jegal.perception.asr import ASR_HELP, ASR_MODEL_HELP, ASR_MODES
    from jegal.perception.transcripts import TIER_HELP

    parser.add_argument("video", metavar="VIDEO",
                        help="a video file (or precomputed keypoints <name>.kps.npz with <name>.wav beside them), "
                             "or a folder of them: every one in one run, a combined table in --out (docs/use.md)")
    parser.add_argument("--transcript", default=None, metavar="FILE",
                        help="transcript (reference txt, WhisperX JSON, TextGrid, WebVTT .vtt, SubRip .srt, ELAN .eaf, "
                             "or plain text to force-align); default: <name>.txt/.json/.TextGrid/.vtt/.srt/.eaf or "
                             "<name>.<lang>.vtt (yt-dlp) beside the video, else speech recognition (--asr)")
    parser.add_argument("--tier", default=None, metavar="NAME", help=TIER_HELP)
    parser.add_argument("--asr", choices=ASR_MODES, default="auto", help=ASR_HELP)
    parser.add_argument("--asr-model", default=None, metavar="NAME|DIR", help=ASR_MODEL_HELP)
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
    parser.add_argument("--keypoints-csv", action="store_true",
                        help="also write keypoints.csv: every person's keypoints per frame and joint, in pixels and "
                             "normalised, with confidence (docs/use.md, 'The keypoint table')")


def check_device(device: str, threads: int = 0):
    """``device`` as a torch device, with torch's CPU threads set to ``threads`` first (0 leaves
    torch's default); raises :class:`DeviceUnavailable` when this machine lacks the device."""
    import torch

    if threads:
        torch.set_num_threads(threads)
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


_TEXT_NOTED: weakref.WeakSet = weakref.WeakSet()  # models whose speech-only default was announced on stderr


def speech_only_note(model) -> str:
    """The one line saying that ``model`` runs with speech only (:attr:`jegal.model.JEGAL.speech_only`)."""
    return (f"the text backbone {model.config.text.backbone!r} is not available here, so the model runs with "
            "speech only (--modalities a; docs/released.md says how to give it the backbone)")


def content_modalities(model, asked: str | None) -> str:
    """The content inputs to use (:meth:`jegal.model.JEGAL.content_modalities`): ``asked`` (t, a, ta)
    or the model's default. A model that runs with speech only here (its text backbone missing,
    :attr:`jegal.model.JEGAL.speech_only`) says so once on stderr (:func:`speech_only_note`). Raises
    :class:`BadFlag` when the model was not trained with ``asked``, and the model's
    :attr:`~jegal.model.JEGAL.text_problem` when ``asked`` holds text that it cannot read here."""
    if asked is None and model.speech_only and model not in _TEXT_NOTED:
        _TEXT_NOTED.add(model)
        print(f"jegal: {speech_only_note(model)}", file=sys.stderr)
    try:
        return model.content_modalities(asked)
    except ValueError as err:
        raise BadFlag(str(err)) from None


def output_dir(out: str | os.PathLike | None, video: str | os.PathLike, command: str) -> Path:
    """``out``, or ``./<video name>.<command>`` (the name without ``.kps.npz`` or the suffix). Not
    created here: the first output written creates it, so a failed run leaves no empty folder.
    Raises NotADirectoryError when it exists as a file."""
    if out is None:
        name = Path(video).name
        from jegal.perception.discover import KPS_SUFFIX

        name = name[: -len(KPS_SUFFIX)] if name.endswith(KPS_SUFFIX) else Path(name).stem
        out = Path.cwd() / f"{name}.{command}"
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"--out {out}: exists and is not a folder")
    return out


def report_error(command: str, err: BaseException) -> int:
    """Print ``jegal <command>: <message>`` on stderr; returns the exit status 1."""
    print(f"jegal {command}: {err}", file=sys.stderr)
    return 1


def load_for_command(args: argparse.Namespace) -> tuple[object, Path, dict]:
    """``(model, model_dir, {"model_load": seconds})`` for a command: its flags checked first
    (:func:`check_flags`), then the device (:func:`check_device`, ``--threads``), then the model
    (:meth:`jegal.model.JEGAL.from_pretrained` with ``--model`` and ``--checkpoint``, in eval mode, its
    text backbone read now: :meth:`~jegal.model.JEGAL.load_text_backbone`); ``model_dir`` is the
    directory it was read from. Raises what those raise (:func:`expected_errors`)."""
    from jegal.model import JEGAL

    check_flags(args)
    device = check_device(args.device, args.threads)
    t = time.perf_counter()
    model = JEGAL.from_pretrained(args.model, args.checkpoint, device).load_text_backbone()
    return model, model.source_dir, {"model_load": time.perf_counter() - t}


def read_for_model(video: str | os.PathLike, model, model_dir: str | os.PathLike | None, *,
                   transcript: str | os.PathLike | None = None, out: Path | None = None, asr: str = "auto",
                   asr_model: str | os.PathLike | None = None, window_frames: int | None = None,
                   overlap_frames: int | None = None, rgb_size: int | None = None, require_words: bool = True,
                   progress=None, preparer=None, tier: str | None = None):
    """``video`` read as ``model`` needs it, in the order that fails cheapest first: the window
    settings, the front end against the input (:func:`jegal.use.video.model_inputs`: rgb crops,
    or GestSync features from the weights in ``model_dir``, and the log-mel the model reads), then
    :func:`jegal.use.video.read_video` (recognised words written under ``out``). A model that runs
    with speech only here says so in the video's warnings. ``window_frames`` / ``overlap_frames``
    None: the defaults. Raises :class:`BadFlag` and what read_video raises."""
    from jegal.inference.windows import cut_windows
    from jegal.use.video import model_inputs, read_video

    window_frames = WINDOW_FRAMES if window_frames is None else window_frames
    overlap_frames = OVERLAP_FRAMES if overlap_frames is None else overlap_frames
    try:
        cut_windows(0, 0, window_frames, overlap_frames)
    except ValueError as err:
        raise BadFlag(f"--window-frames/--overlap-frames: {err}") from None
    inputs = model_inputs(model, model_dir, video, rgb_size)
    got = read_video(video, transcript, asr=asr, asr_model=asr_model, window_frames=window_frames,
                     overlap_frames=overlap_frames, progress=progress, work_dir=out, require_words=require_words,
                     preparer=preparer, tier=tier, **({} if preparer is not None else inputs))
    if model.speech_only:
        got.warnings.append(speech_only_note(model))
    return got


def task_input(video, model, model_dir, command: str, out: str | os.PathLike | None, modalities: str | None,
               read: dict, require_words: bool = True, progress=None):
    """``(modalities, out, video)`` at the start of a task (:func:`jegal.use.spot_words`,
    :func:`jegal.use.find_speakers`), in the order that fails cheapest first: the content
    modalities (:func:`content_modalities`), the output folder (:func:`output_dir`, default
    ``./<video name>.<command>``), then ``video`` read by :func:`read_for_model` with ``read``
    (its keyword arguments) unless it is a :class:`jegal.use.video.VideoInput` already. ``model_dir``
    None: the folder the model was loaded from (``model.source_dir``)."""
    modalities = content_modalities(model, modalities)
    model_dir = model_dir if model_dir is not None else getattr(model, "source_dir", None)
    if not isinstance(video, (str, os.PathLike)):
        return modalities, output_dir(out, video.path, command), video
    out = output_dir(out, video, command)
    return modalities, out, read_for_model(video, model, model_dir, out=out, require_words=require_words,
                                           progress=progress, **read)


def person_record(person) -> dict:
    """Where a :class:`jegal.use.video.PersonInput` is in the video, for a command's JSON."""
    from jegal.timebase import frame_to_seconds

    return {"person": person.person, "first_frame": person.first_frame, "last_frame": person.last_frame,
            "start_s": round(frame_to_seconds(person.first_frame), 3),
            "end_s": round(frame_to_seconds(person.last_frame + 1), 3),
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


__all__ = ["BadFlag", "DeviceUnavailable", "MODEL_HELP", "add_model_arguments", "add_video_arguments", "check_device",
           "check_flags", "content_modalities", "document", "expected_errors", "load_for_command",
           "read_for_model", "task_input",
           "output_dir", "person_record", "report_error", "speech_only_note"]
