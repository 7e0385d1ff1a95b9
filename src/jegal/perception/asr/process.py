"""A recogniser in a process of its own: the parent's handle (:class:`RecogniserProcess`) and the
child's loop (:func:`serve`, run by ``python -m jegal.perception.asr --serve ENGINE``).

The protocol: the parent writes each input as an 8-byte little-endian length and float32 samples
(16 kHz mono) on the child's stdin; the child answers one JSON line per input on its stdout,
``{"words": [[display, start_s, end_s, score], ...], "language": ...}``, or ``{"unavailable": ...}``
(the recogniser cannot load) or ``{"error": ...}``. The end of stdin ends the child.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from jegal.perception.asr.engines import AsrUnavailable, RecognisedWord, RecognitionFailed, make_recogniser


class RecogniserProcess:
    """A recogniser (:func:`make_recogniser`) in a process of its own, with the same
    ``recognise(audio)`` and ``language``.

    Why: pocketsphinx holds the GIL for a whole utterance (measured: a Python thread beside
    it gets 0.7-1.3 % of the time it gets alone), so in the same process it would stall the
    people stage's threads instead of running beside them. The process is
    ``python -m jegal.perception.asr --serve ENGINE`` (:func:`serve`) (a plain subprocess, so a user's script
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
        # A directory is passed as an absolute path (the child starts elsewhere); a bundled model's name as it is.
        if model_dir is not None and Path(model_dir).is_dir():
            model_dir = Path(model_dir).resolve()
        self._args = (engine, None if model_dir is None else str(model_dir), threads)
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


def serve(engine: str, model_dir: str | None, threads: int, parent: int | None = None) -> int:
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
