"""Which recogniser an ``--asr`` mode names, whether it can run here, and making it.

The failures of recognition (:class:`AsrUnavailable`, :class:`RecognitionFailed`) and what a
recogniser returns (:class:`RecognisedWord`) live here too, as every other module of the
package uses them.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from jegal.perception.errors import BadInput, PrepareError

ASR_MODES = ("auto", "pocketsphinx", "faster-whisper", "none")
# Files a CTranslate2 Whisper model directory needs; without tokenizer.json faster-whisper
# fetches one from the hub.
WHISPER_FILES = ("model.bin", "config.json", "tokenizer.json")


class RecognitionFailed(PrepareError):
    """Recognition itself failed (the recogniser's process died or raised); recorded as an
    unexpected ``error``, the message naming the input."""


class AsrUnavailable(BadInput):
    """The recogniser asked for cannot run (no model directory, extra not installed): the
    whole run stops before any input, as for an unusable INPUT."""


@dataclass(frozen=True)
class RecognisedWord:
    """One recognised word: its spelling, times in seconds from the media start, confidence 0..1."""

    display: str
    start: float
    end: float
    score: float = 1.0


def engine_for(mode: str, model_dir: str | os.PathLike | None = None) -> str | None:
    """The recogniser ``mode`` uses for an input without a transcript (None for ``none``)."""
    if mode not in ASR_MODES:
        raise AsrUnavailable(f"--asr {mode!r}: choose one of {', '.join(ASR_MODES)}")
    if mode == "none":
        return None
    if mode == "auto":
        return "faster-whisper" if model_dir else "pocketsphinx"
    return mode


def source_tag(engine: str) -> str:
    """What a clip's ``transcript_source`` says for words from ``engine``: ``asr:<engine>``."""
    return f"asr:{engine}"


def check_asr(mode: str, model_dir: str | os.PathLike | None = None) -> None:
    """Raise :class:`AsrUnavailable` with the fix when ``mode`` cannot run here; imports nothing heavy."""
    engine = engine_for(mode, model_dir)
    if model_dir and engine != "faster-whisper":
        raise AsrUnavailable(f"--asr-model is the faster-whisper model directory; it does nothing with --asr {mode}")
    if engine == "faster-whisper":
        check_whisper_model(model_dir)
        if importlib.util.find_spec("faster_whisper") is None:
            raise AsrUnavailable("--asr faster-whisper: the faster-whisper package is not installed; "
                                 "pip install 'jegal[asr]' (or use --asr pocketsphinx, offline and built in)")


def check_whisper_model(model_dir: str | os.PathLike | None) -> Path:
    """The model directory, or :class:`AsrUnavailable` saying what is missing. Models are never downloaded."""
    if not model_dir:
        raise AsrUnavailable("--asr faster-whisper needs a local model directory: --asr-model DIR, a CTranslate2 "
                             "Whisper model (model.bin, config.json, tokenizer.json, e.g. a copy of "
                             "Systran/faster-whisper-small made on a machine that is online); jegal never downloads "
                             "one. Without a model, use --asr pocketsphinx (offline, built in).")
    path = Path(model_dir)
    if not path.is_dir():
        raise AsrUnavailable(f"--asr-model {path}: no such directory (a CTranslate2 Whisper model directory is needed)")
    missing = [f for f in WHISPER_FILES if not (path / f).is_file()]
    if missing:
        raise AsrUnavailable(f"--asr-model {path}: not a CTranslate2 Whisper model directory, it lacks "
                             f"{', '.join(missing)}")
    return path


def make_recogniser(engine: str, model_dir: str | os.PathLike | None = None, threads: int = 1):
    """The recogniser named ``engine`` (``pocketsphinx`` or ``faster-whisper``), loaded in this process;
    raises :class:`AsrUnavailable` for another name or a recogniser that cannot load."""
    from jegal.perception.asr.sphinx import PocketsphinxRecogniser
    from jegal.perception.asr.whisper import FasterWhisperRecogniser

    if engine == "pocketsphinx":
        return PocketsphinxRecogniser()
    if engine == "faster-whisper":
        return FasterWhisperRecogniser(model_dir, threads)
    raise AsrUnavailable(f"no speech recogniser named {engine!r}")
