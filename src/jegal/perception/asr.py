"""Step 5, when there is no transcript: the words recognised from the speech, offline.

Raw talk videos rarely come with a transcript. ``--asr`` chooses what happens then
(:data:`ASR_MODES`):

- ``auto`` (default): the transcript beside the input when there is one, else offline
  recognition with pocketsphinx (or faster-whisper when ``--asr-model DIR`` is given);
- ``pocketsphinx``: the en-us acoustic model, the CMU dictionary and the ``en-us.lm.bin``
  trigram language model that ship inside the ``pocketsphinx`` wheel; continuous
  recognition, no network, about 1 s of CPU per second of audio;
- ``faster-whisper``: the optional extra (``pip install 'jegal[asr]'``), only with a local
  CTranslate2 model directory (``--asr-model DIR``); it is never downloaded, and the package
  is imported only when it is used;
- ``none``: an input without a transcript fails with ``no_transcript``.

A given transcript always wins. The recognised words are written, with their times and
confidences, to ``OUT/transcripts/<key>.txt`` in the reference txt format with the header
line ``Source: asr <engine>`` (:func:`format_transcript`); the txt reader skips it. A user
corrects that file in place (and deletes the ``Source:`` line, so the clips count as having a
given transcript) or puts it beside the video, and reruns: an input whose clips came from a
machine transcript is redone when that file changed or a transcript appeared beside it
(:func:`needs_redo`). Every clip carries ``transcript_source`` in its metadata
(``"given"`` or ``"asr:<engine>"``), so training can filter or weight machine-made words.

With ``Transcriber(beside=True)`` the recogniser runs in a process of its own
(:class:`RecogniserProcess`, ``python -m jegal.perception.asr --serve ENGINE``), so that
:meth:`jegal.prepare.pipeline.Preparer.read` can recognise while the people stage runs.

:func:`word_error_rate` and :func:`timing_error` measure a recogniser against reference
words (``bench/bench_asr.py``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jegal.atomic import write_text_atomic
from jegal.data.words import Word, normalise_word
from jegal.perception.errors import BadInput, NoTranscript, PrepareError
from jegal.timebase import SAMPLE_RATE

ASR_MODES = ("auto", "pocketsphinx", "faster-whisper", "none")
GIVEN = "given"
TRANSCRIPT_DIR = "transcripts"
# Longer audio is decoded in pieces cut at the quietest 10 ms within the last CUT_WINDOW_S of
# each piece: pocketsphinx's search memory grows with the utterance, and a quiet cut rarely
# splits a word.
CHUNK_S = 30.0
CUT_WINDOW_S = 10.0
_SOURCE_LINE = re.compile(r"^\s*Source\s*:\s*asr\s+(\S+)\s*$", re.IGNORECASE)
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


def quiet_cuts(audio: np.ndarray, chunk_s: float = CHUNK_S, window_s: float = CUT_WINDOW_S) -> list[tuple[int, int]]:
    """``[(start, end)]`` sample ranges of at most ``chunk_s`` covering ``audio``, each cut at
    the quietest 10 ms within its last ``window_s``."""
    n, limit, hop = len(audio), int(chunk_s * SAMPLE_RATE), SAMPLE_RATE // 100
    spans, start = [], 0
    while n - start > limit:
        lo = start + limit - int(window_s * SAMPLE_RATE)
        frames = audio[lo:start + limit][: (limit - (lo - start)) // hop * hop].reshape(-1, hop)
        cut = lo + int(np.argmin((frames.astype(np.float64) ** 2).mean(axis=1))) * hop + hop // 2
        spans.append((start, cut))
        start = cut
    spans.append((start, n))
    return spans


def _pcm16(audio: np.ndarray) -> bytes:
    return (np.clip(np.asarray(audio, np.float32), -1, 1) * 32767).astype("<i2").tobytes()


class PocketsphinxRecogniser:
    """Continuous recognition with the models inside the ``pocketsphinx`` wheel (en-us)."""

    engine = "pocketsphinx"
    language = "en"

    def __init__(self) -> None:
        from pocketsphinx import Decoder, get_model_path

        model = Path(get_model_path()) / "en-us"
        self.decoder = Decoder(hmm=str(model / "en-us"), lm=str(model / "en-us.lm.bin"),
                               dict=str(model / "cmudict-en-us.dict"), samprate=SAMPLE_RATE, loglevel="FATAL")

    def recognise(self, audio: np.ndarray) -> list[RecognisedWord]:
        """The words spoken in ``audio`` (16 kHz mono float), in order."""
        d = self.decoder
        words = []
        for a, b in quiet_cuts(audio):
            # Cepstral mean normalisation carries over between utterances: start each piece
            # from the model's prior so the words do not depend on what was decoded before.
            d.reinit_feat()
            d.start_utt()
            d.process_raw(_pcm16(audio[a:b]), full_utt=True)
            d.end_utt()
            if d.hyp() is None:
                continue
            d.get_prob()  # computes the lattice posteriors: each segment's prob becomes its confidence
            offset, frate = a / SAMPLE_RATE, 100.0
            for seg in d.seg():
                name = re.sub(r"\(\d+\)$", "", seg.word)
                if not normalise_word(name) or name[:1] in "<[":  # <s>, </s>, <sil>, [NOISE] ...
                    continue
                words.append(RecognisedWord(name, offset + seg.start_frame / frate,
                                            offset + (seg.end_frame + 1) / frate,
                                            min(1.0, max(0.0, float(seg.prob)))))
        return words


class FasterWhisperRecogniser:
    """faster-whisper with a local CTranslate2 model directory (never a download)."""

    engine = "faster-whisper"

    def __init__(self, model_dir: str | os.PathLike, threads: int = 1) -> None:
        path = check_whisper_model(model_dir)
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the directory holds everything: never reach for the hub
        try:
            from faster_whisper import WhisperModel
        except ImportError as err:
            raise AsrUnavailable(f"--asr faster-whisper: cannot import faster_whisper ({err}); "
                                 "pip install 'jegal[asr]'") from None
        self.model = WhisperModel(str(path), device="cpu", compute_type="int8", cpu_threads=threads,
                                  local_files_only=True)
        self.language = "en"

    def recognise(self, audio: np.ndarray) -> list[RecognisedWord]:
        segments, info = self.model.transcribe(np.asarray(audio, np.float32), word_timestamps=True,
                                               condition_on_previous_text=False)
        self.language = info.language or self.language
        return [RecognisedWord(w.word.strip(), float(w.start), float(w.end), float(w.probability))
                for seg in segments for w in (seg.words or []) if normalise_word(w.word)]


def make_recogniser(engine: str, model_dir: str | os.PathLike | None = None, threads: int = 1):
    if engine == "pocketsphinx":
        return PocketsphinxRecogniser()
    if engine == "faster-whisper":
        return FasterWhisperRecogniser(model_dir, threads)
    raise AsrUnavailable(f"no speech recogniser named {engine!r}")


def format_transcript(words: list[RecognisedWord], engine: str, language: str = "en") -> str:
    """The reference txt format (docs/design.md section 3) with a ``Source: asr <engine>`` header
    line marking it machine-made; the SCORE column is the recogniser's confidence."""
    lines = ["Text: " + " ".join(w.display for w in words), f"Lang: {language}", f"Source: asr {engine}", "",
             "WORD, START, END, SCORE"]
    lines += [f"{w.display}, {w.start:.3f}, {w.end:.3f}, {w.score:.3f}" for w in words]
    return "\n".join(lines) + "\n"


def machine_source(path: str | os.PathLike) -> str | None:
    """``asr:<engine>`` when the txt at ``path`` carries a ``Source: asr <engine>`` header line
    (before its word table), else None. Non-txt and unreadable files give None."""
    path = Path(path)
    if path.suffix.lower() != ".txt":
        return None
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as f:
            for line in f:
                if line.replace(" ", "").upper().startswith("WORD,START,END"):
                    break
                m = _SOURCE_LINE.match(line)
                if m:
                    return source_tag(m.group(1).lower())
    except OSError:
        return None
    return None


def _sha1(path: Path) -> str:
    try:
        return hashlib.sha1(path.read_bytes()).hexdigest()
    except OSError:
        return ""


def machine_transcript_path(out: str | os.PathLike, key: str) -> Path:
    """Where the transcript recognised for the input ``key`` is written: ``OUT/transcripts/<key>.txt``."""
    return Path(out) / TRANSCRIPT_DIR / f"{key}.txt"


@dataclass
class Transcribed:
    """The words chosen for one input and where they came from."""

    words: list[Word]
    source: str  # "given" or "asr:<engine>"
    path: Path | None  # the file the words were read from or written to (None: not written)

    def record(self, out: str | os.PathLike | None = None) -> dict:
        """What the status record keeps, to tell on a rerun whether the words changed: the
        source, the file (relative to ``out`` when it lies there) and its SHA-1."""
        if self.path is None:
            return {"source": self.source}
        path = self.path.as_posix()
        if out is not None and self.path.is_relative_to(out):
            path = self.path.relative_to(out).as_posix()
        return {"source": self.source, "path": path, "sha1": _sha1(self.path)}


class Transcriber:
    """The transcript stage: the given transcript, or recognised words (the recogniser is
    loaded once per process, on the first input that needs it).

    ``beside=True``: the recogniser runs in a process of its own (:class:`RecogniserProcess`),
    so that recognition can run while the people stage does (:meth:`Preparer.read
    <jegal.prepare.pipeline.Preparer.read>`); :meth:`close` ends that process."""

    def __init__(self, mode: str = "auto", model_dir: str | os.PathLike | None = None, threads: int = 1,
                 max_overhang_s: float = 1.0, beside: bool = False):
        self.mode, self.model_dir, self.threads, self.max_overhang_s = mode, model_dir, threads, max_overhang_s
        self.engine = engine_for(mode, model_dir)
        self.beside = beside
        self._recogniser = None

    @property
    def recogniser(self):
        if self._recogniser is None:
            self._recogniser = (RecogniserProcess if self.beside else make_recogniser)(self.engine, self.model_dir,
                                                                                      self.threads)
        return self._recogniser

    def close(self, kill: bool = False) -> None:
        """End the recogniser's process (``kill``: at once, even in the middle of an input)."""
        if isinstance(self._recogniser, RecogniserProcess):
            self._recogniser.close(kill)
        self._recogniser = None

    def words(self, item, audio: np.ndarray, out: str | os.PathLike | None = None,
              warnings: list[str] | None = None) -> Transcribed:
        """The words of ``item`` (a :class:`~jegal.perception.discover.Item`) over ``audio`` (16 kHz mono).

        Order: the transcript beside the input; with ``--asr none`` nothing more
        (:class:`~jegal.perception.errors.NoTranscript`); ``OUT/transcripts/<key>.txt`` from an
        earlier run when it was corrected (no ``Source: asr`` line) or comes from the same
        recogniser; else recognition, written to that file (when ``out`` is given). Raises the
        transcript failures of :func:`jegal.perception.transcripts.read_words`, and
        ``NoTranscript`` when no word was recognised. Notes go to ``warnings``. The same as
        :meth:`known`, then :meth:`recognise` when it found nothing."""
        return self.known(item, audio, out, warnings) or self.recognise(item, audio, out, warnings)

    def known(self, item, audio: np.ndarray, out: str | os.PathLike | None = None,
              warnings: list[str] | None = None) -> Transcribed | None:
        """The words :meth:`words` finds without recognising (the given transcript, or the
        transcript file of an earlier run it may use); None when recognition is needed. Raises
        ``NoTranscript`` when there is no transcript and no recogniser (``--asr none``)."""
        from jegal.perception.transcripts import read_words

        if item.transcript is not None:
            words = read_words(item.transcript, audio, self.max_overhang_s, warnings=warnings)
            return Transcribed(words, machine_source(item.transcript) or GIVEN, Path(item.transcript))
        if self.engine is None:
            raise NoTranscript(f"{item.source}: no transcript (.txt, .json or .TextGrid) beside it "
                               "(--asr none; --asr auto recognises the speech instead)")
        path = machine_transcript_path(out, item.key) if out is not None else None
        if path is not None and path.is_file():
            earlier = machine_source(path)
            if earlier is None or earlier == source_tag(self.engine):
                words = read_words(path, audio, self.max_overhang_s, warnings=warnings)
                if earlier is not None:
                    _note(warnings, f"{item.source}: no transcript; words of {path} from an earlier run (machine-made)")
                return Transcribed(words, earlier or GIVEN, path)
        return None

    def recognise(self, item, audio: np.ndarray, out: str | os.PathLike | None = None,
                  warnings: list[str] | None = None) -> Transcribed:
        """The words recognised in ``audio``, written to ``OUT/transcripts/<key>.txt`` when
        ``out`` is given (see :meth:`words`). Raises ``NoTranscript`` when no word was recognised."""
        from jegal.perception.transcripts import read_words

        recogniser = self.recogniser
        try:
            found = recogniser.recognise(audio)
        except RecognitionFailed as err:
            raise RecognitionFailed(f"{item.source}: speech recognition failed: {err}") from None
        if not found:
            raise NoTranscript(f"{item.source}: no transcript beside it, and {self.engine} recognised no words "
                               "in its audio (silence or noise?)")
        note = f"{item.source}: no transcript; {len(found)} words recognised by {self.engine} (machine-made)"
        path = machine_transcript_path(out, item.key) if out is not None else None
        if path is None:
            from jegal.data.transcripts import words_from_seconds

            _note(warnings, note)
            words = words_from_seconds([(w.display, w.start, w.end) for w in found], f"{item.source} ({self.engine})")
            return Transcribed(words, source_tag(self.engine), None)
        write_text_atomic(path, format_transcript(found, self.engine, getattr(recogniser, "language", "en")))
        _note(warnings, f"{note}: correct {path} and rerun")
        words = read_words(path, audio, self.max_overhang_s, warnings=warnings)
        return Transcribed(words, source_tag(self.engine), path)


class RecogniserProcess:
    """A recogniser (:func:`make_recogniser`) in a process of its own, with the same
    ``recognise(audio)`` and ``language``.

    Why: pocketsphinx holds the GIL for a whole utterance (measured: a Python thread beside
    it gets 0.7-1.3 % of the time it gets alone), so in the same process it would stall the
    people stage's threads instead of running beside them. The process is
    ``python -m jegal.perception.asr --serve ENGINE`` (a plain subprocess, so a user's script
    needs no ``if __name__ == "__main__"`` guard, as multiprocessing's spawn would), started
    at construction in the directory that holds this ``jegal`` (so a ``jegal.py`` or
    ``numpy.py`` in the user's folder cannot shadow a module). It loads the recogniser, then
    reads length-prefixed float32 audio on its stdin and answers one JSON line per input. It
    runs in a session of its own, so Ctrl-C in a terminal reaches only the parent, and dies
    with the thread that started it (Linux: ``PR_SET_PDEATHSIG``; elsewhere when its pipe
    breaks); a process found dead before an input is started again. A recogniser that cannot
    load raises :class:`AsrUnavailable` here; a recognition that fails or a process that dies
    during it raises :class:`RecognitionFailed`. :meth:`close` ends it."""

    def __init__(self, engine: str, model_dir: str | os.PathLike | None = None, threads: int = 1):
        self.engine, self.language, self._process = engine, "en", None
        self._args = (engine, None if model_dir is None else str(Path(model_dir).resolve()), threads)
        self._process = self._start()

    def _start(self):
        import subprocess
        import sys

        import jegal

        engine, model_dir, threads = self._args
        root = Path(jegal.__file__).resolve().parents[1]
        cmd = [sys.executable, "-m", "jegal.perception.asr", "--serve", engine, "--threads", str(threads),
               "--parent", str(os.getpid())] + ([] if model_dir is None else ["--model-dir", model_dir])
        env = dict(os.environ)  # the child imports this jegal, installed or not
        env["PYTHONPATH"] = os.pathsep.join([str(root)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
        return subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, cwd=root,
                                start_new_session=True)

    def recognise(self, audio: np.ndarray) -> list[RecognisedWord]:
        """The words spoken in ``audio`` (16 kHz mono float), in order."""
        import json
        import struct

        if self._process is None:
            raise RecognitionFailed(f"the {self.engine} recogniser's process was closed")
        if self._process.poll() is not None:  # died while idle (e.g. with the thread that started it)
            self._process.stdout.close()
            self._process = self._start()
        process = self._process
        data = np.ascontiguousarray(audio, "<f4").tobytes()
        try:
            process.stdin.write(struct.pack("<Q", len(data)) + data)
            process.stdin.flush()
            line = process.stdout.readline()
        except (OSError, ValueError):  # a broken pipe, or a pipe closed by close()
            line = b""
        if not line:
            try:
                code = process.wait(timeout=2)
            except Exception:  # noqa: BLE001 - still running: its output was closed
                code = None
            how = ("still running" if code is None else f"killed by signal {-code}" if code < 0
                   else f"exit code {code}")
            raise RecognitionFailed(f"the {self.engine} recogniser's process ended ({how})")
        reply = json.loads(line)
        if "unavailable" in reply:
            raise AsrUnavailable(reply["unavailable"])
        if "error" in reply:
            raise RecognitionFailed(f"{self.engine} recognition failed: {reply['error']}")
        self.language = reply["language"]
        return [RecognisedWord(d, float(a), float(b), float(c)) for d, a, b, c in reply["words"]]

    def close(self, kill: bool = False) -> None:
        """End the process: after its current input, or (``kill``) at once."""
        if self._process is None:
            return
        process, self._process = self._process, None
        if kill:
            process.kill()
        try:
            process.stdin.close()  # end of input: the process returns
        except OSError:
            pass
        try:
            process.wait(timeout=5)
        except Exception:  # noqa: BLE001 - a process that does not end is killed
            process.kill()
            process.wait()
        process.stdout.close()

    def __del__(self) -> None:
        try:
            self.close(kill=True)
        except Exception:  # noqa: BLE001 - at interpreter exit the pipes may already be gone
            pass


def _die_with_parent(parent: int) -> None:
    """Linux: have the kernel kill this process when its parent dies; then check that it has not
    died already (it may have, between the fork and here)."""
    import ctypes
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: the broken pipe ends the process at the next input
    if os.getppid() != parent:
        os._exit(0)


def _serve(engine: str, model_dir: str | None, threads: int, parent: int | None = None) -> int:
    """The body of :class:`RecogniserProcess`: recognise each input on stdin until it ends."""
    import json
    import struct
    import sys

    if parent is not None:
        _die_with_parent(parent)
    replies = os.fdopen(os.dup(1), "w")  # the answers; anything a library prints goes to stderr
    os.dup2(2, 1)
    failure = None
    try:
        recogniser = make_recogniser(engine, model_dir, threads)
    except AsrUnavailable as err:
        failure = {"unavailable": str(err)}
    except Exception as err:  # noqa: BLE001 - reported to the parent, which raises it
        failure = {"error": f"{type(err).__name__}: {err}"}
    stdin = sys.stdin.buffer
    while True:
        head = stdin.read(8)
        if len(head) < 8:
            return 0
        audio = np.frombuffer(stdin.read(struct.unpack("<Q", head)[0]), "<f4")
        reply = failure
        if reply is None:
            try:
                words = recogniser.recognise(audio)
                reply = {"words": [[w.display, w.start, w.end, w.score] for w in words],
                         "language": getattr(recogniser, "language", "en")}
            except Exception as err:  # noqa: BLE001
                reply = {"error": f"{type(err).__name__}: {err}"}
        try:
            replies.write(json.dumps(reply) + "\n")
            replies.flush()
        except BrokenPipeError:  # the parent is gone
            os._exit(0)


def _note(warnings: list[str] | None, text: str) -> None:
    if warnings is not None:
        warnings.append(text)


def needs_redo(status: dict, item, out: str | os.PathLike) -> bool:
    """Whether an input finished with the words of ``OUT/transcripts/<key>.txt`` (recognised,
    or corrected by hand) must be prepared again: a transcript now lies beside it, or that
    file was edited since."""
    record = status.get("transcript") or {}
    if record.get("path") != f"{TRANSCRIPT_DIR}/{item.key}.txt":
        return False
    if item.transcript is not None:
        return True
    path = machine_transcript_path(out, item.key)
    return path.is_file() and _sha1(path) != record.get("sha1")


# --- measuring a recogniser against reference words -------------------------------------------

def _edit_alignment(ref: list[str], hyp: list[str]) -> tuple[int, list[tuple[int, int]]]:
    """Levenshtein distance over words, and the (ref, hyp) index pairs of the equal words on one best path."""
    n, m = len(ref), len(hyp)
    cost = np.zeros((n + 1, m + 1), np.int64)
    cost[:, 0] = np.arange(n + 1)
    cost[0, :] = np.arange(m + 1)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            cost[i, j] = min(cost[i - 1, j] + 1, cost[i, j - 1] + 1, cost[i - 1, j - 1] + (ref[i - 1] != hyp[j - 1]))
    pairs, i, j = [], n, m
    while i > 0 and j > 0:
        if cost[i, j] == cost[i - 1, j - 1] + (ref[i - 1] != hyp[j - 1]):
            if ref[i - 1] == hyp[j - 1]:
                pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif cost[i, j] == cost[i - 1, j] + 1:
            i -= 1
        else:
            j -= 1
    return int(cost[n, m]), pairs[::-1]


def word_error_rate(reference: list[str], hypothesis: list[str]) -> float:
    """(substitutions + deletions + insertions) / reference words, on normalised words
    (lower case, punctuation stripped: ``"Hat,"`` equals ``"hat"``)."""
    ref = [t for t in map(normalise_word, reference) if t]
    hyp = [t for t in map(normalise_word, hypothesis) if t]
    if not ref:
        raise ValueError("word error rate needs at least one reference word")
    return _edit_alignment(ref, hyp)[0] / len(ref)


def timing_error(reference: list[tuple[str, float, float]], hypothesis: list[tuple[str, float, float]]
                 ) -> tuple[float, float, int]:
    """Mean absolute start and end differences (seconds) over the words the two sequences
    share on a best edit alignment, and how many words that is (NaNs when none)."""
    ref = [(normalise_word(w), s, e) for w, s, e in reference if normalise_word(w)]
    hyp = [(normalise_word(w), s, e) for w, s, e in hypothesis if normalise_word(w)]
    _, pairs = _edit_alignment([r[0] for r in ref], [h[0] for h in hyp])
    if not pairs:
        return math.nan, math.nan, 0
    starts = [abs(ref[i][1] - hyp[j][1]) for i, j in pairs]
    ends = [abs(ref[i][2] - hyp[j][2]) for i, j in pairs]
    return float(np.mean(starts)), float(np.mean(ends)), len(pairs)


__all__ = ["ASR_MODES", "GIVEN", "AsrUnavailable", "FasterWhisperRecogniser", "PocketsphinxRecogniser",
           "RecognisedWord", "RecogniserProcess", "RecognitionFailed", "Transcribed", "Transcriber", "check_asr", "engine_for", "format_transcript",
           "machine_source", "machine_transcript_path", "make_recogniser", "needs_redo", "quiet_cuts", "source_tag",
           "timing_error", "word_error_rate"]


if __name__ == "__main__":  # the process of RecogniserProcess
    import argparse

    _parser = argparse.ArgumentParser(description="serve a speech recogniser on stdin/stdout (RecogniserProcess)")
    _parser.add_argument("--serve", required=True, choices=[m for m in ASR_MODES if m not in ("auto", "none")])
    _parser.add_argument("--model-dir", default=None)
    _parser.add_argument("--threads", type=int, default=1)
    _parser.add_argument("--parent", type=int, default=None, help="die with this process (Linux)")
    _args = _parser.parse_args()
    raise SystemExit(_serve(_args.serve, _args.model_dir, _args.threads, _args.parent))
