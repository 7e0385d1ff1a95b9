"""Quiet the native libraries' logging (mediapipe, TensorFlow Lite, absl), in one place.

mediapipe's C++ code logs through absl/glog straight to file descriptor 2, before and without
any ``absl::InitializeLog()``: about five lines per pose model it opens ("All log messages before
absl::InitializeLog() ...", "GPU support is not available", "Created TensorFlow Lite XNNPACK
delegate", "Feedback manager requires a model with a single signature ..."). The environment
variables that glog and TensorFlow read (``GLOG_minloglevel``, ``TF_CPP_MIN_LOG_LEVEL``) do not reach
these lines in mediapipe 0.10's wheel (measured), and Python's ``logging`` never sees them.

:func:`quiet_native_logs` therefore does both: it sets those variables (for builds that honour
them) and, where asked (``filter_fd=True``, as ``jegal serve`` does), passes file descriptor 2
through a filter thread that drops the native INFO and WARNING lines (:func:`is_native_chatter`)
and passes everything else through unchanged: Python's own messages and tracebacks, uvicorn's log,
native ERROR and FATAL lines. Call it before mediapipe is loaded, once per process; later calls
do nothing. A line glued to the end of a progress bar's line (a bar has no newline) loses only the
native part; text ending in a carriage return (a progress bar's redraw) is passed on at once.

:func:`quiet_for_command` is what ``jegal COMMAND`` calls for every command (:mod:`jegal.cli`):
quiet unless ``--verbose``, the file descriptor filtered when Python's stderr is the process's own
(not while a test harness captures it). :func:`stderr_is_terminal` says whether stderr was a
terminal before the filter made fd 2 a pipe (progress bars ask it: :mod:`jegal.use.progress`).
"""

from __future__ import annotations

import atexit
import os
import re
import sys
import threading

_NATIVE = re.compile(rb"(?:[IW]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [\w./-]+:\d+\] "  # glog/absl INFO and WARNING
                     rb"|WARNING: All log messages before absl::InitializeLog\(\) is called"
                     rb"|INFO: Created TensorFlow Lite)")
_done = threading.Lock()
_state: dict = {}


def is_native_chatter(line: bytes) -> bool:
    """Whether ``line`` (one line of fd 2, bytes) is a native library's INFO or WARNING line."""
    return bool(_NATIVE.match(line))


def strip_chatter(line: bytes) -> bytes | None:
    """``line`` (one line of fd 2 without its newline) less the native INFO or WARNING line in it:
    None when it is one, the text before it when one is glued to a progress bar's line (the
    native line then ends the line, so the bar keeps its line), else ``line`` itself."""
    found = _NATIVE.search(line)
    if found is None:
        return line
    return None if found.start() == 0 else line[:found.start()]


def stderr_is_terminal() -> bool:
    """Whether this process's stderr is a terminal: as it was before :func:`quiet_native_logs`
    made file descriptor 2 a pipe (the filter), else as it is now."""
    if "tty" in _state:
        return _state["tty"]
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError, OSError):
        return False


def quiet_for_command(verbose: bool = False) -> None:
    """The logging of a ``jegal`` command (:func:`jegal.cli.main`): everything the libraries print
    with ``verbose``; else :func:`quiet_native_logs`, filtering fd 2 only when ``sys.stderr`` is
    the process's own (a harness that captures stderr, such as pytest, keeps its file descriptor)."""
    if verbose:
        return
    quiet_native_logs(filter_fd=sys.stderr is sys.__stderr__)


def quiet_native_logs(filter_fd: bool = False) -> None:
    """Quiet the native libraries (module docstring): the environment always; with ``filter_fd``
    file descriptor 2 as well (a thread filters it until the process exits)."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)
    except ImportError:  # absl comes with mediapipe; without it there is nothing to quiet
        pass
    if not filter_fd:
        return
    with _done:
        if _state:
            return
        try:
            sys.stderr.flush()
            tty = os.isatty(2)
            original = os.dup(2)
            read_end, write_end = os.pipe()
            os.dup2(write_end, 2)
            os.close(write_end)
        except OSError:  # no fd 2 to filter (a service without one): the environment has to do
            return
        thread = threading.Thread(target=_pump, args=(read_end, original), name="jegal-native-logs", daemon=True)
        _state.update(original=original, thread=thread, tty=tty)
        thread.start()
        atexit.register(_restore)


def _pump(read_end: int, original: int) -> None:
    """Copy the lines of ``read_end`` to ``original`` but the native chatter, until end of file."""
    pending = b""
    while True:
        try:
            chunk = os.read(read_end, 65536)
        except OSError:
            chunk = b""
        if not chunk:
            rest = strip_chatter(pending) if pending else None
            if rest:
                os.write(original, rest)
            os.close(read_end)
            return
        pending += chunk
        *lines, pending = pending.split(b"\n")
        kept = b""
        for line in lines:
            rest = strip_chatter(line)
            if rest is not None:
                # a native line glued to a bar's text ended that line, not the bar's: no newline
                kept += rest if rest is not line else line + b"\n"
        if b"\r" in pending or len(pending) > 65536:  # a bar's redraw, or a long line without an end: now
            rest = strip_chatter(pending)
            kept, pending = kept + (rest or b""), b""
        if kept:
            os.write(original, kept)


def _restore() -> None:
    """At exit: fd 2 back to what it was, and what the filter still holds written out."""
    try:
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    original = _state.get("original")
    if original is None:
        return
    os.dup2(original, 2)  # the pipe's last writer is gone: the thread reads to its end and stops
    _state["thread"].join(2.0)


__all__ = ["is_native_chatter", "quiet_for_command", "quiet_native_logs", "stderr_is_terminal", "strip_chatter"]


class LineProgress:
    """A counter that reports as plain lines, for stderr that is not a terminal (a log file, a pipe):
    ``desc: n/total unit`` when at least a tenth of the total more is done than at the last line, and
    once at :meth:`close`; no carriage returns or escape codes. The part of tqdm's interface the
    project's loops use: :meth:`update`, :meth:`set_postfix`, :meth:`close`, a context manager."""

    def __init__(self, total: int, desc: str, unit: str = "it", initial: int = 0):
        self.total, self.desc, self.unit, self.n = int(total), desc, unit, int(initial)
        self._said = self.n
        self._closed = False
        self._postfix = ""

    def _say(self) -> None:
        print(f"{self.desc}: {self.n}/{self.total} {self.unit}{self._postfix}", file=sys.stderr, flush=True)
        self._said = self.n

    def update(self, n: int = 1) -> None:
        self.n += n
        if self.n - self._said >= max(1, self.total / 10):
            self._say()

    def set_postfix(self, **values) -> None:
        """Values shown at the end of the next line (``loss=1.23``), as tqdm's ``set_postfix``."""
        self._postfix = "".join(f", {k}={v}" for k, v in values.items())

    def close(self) -> None:
        if not self._closed and self.total and self.n != self._said:
            self._say()
        self._closed = True

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def progress_bar(total: int, desc: str, unit: str = "it", disable: bool = False, initial: int = 0,
                 leave: bool = True):
    """The progress of a loop of ``total`` steps on stderr: a tqdm bar where stderr is a terminal
    (:func:`stderr_is_terminal`), else a :class:`LineProgress` (plain lines, at most about ten);
    ``disable`` shows nothing (a tqdm that draws nothing). Both have ``update(n)``, ``close()`` and
    are context managers."""
    if disable or stderr_is_terminal():
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=desc, unit=unit, initial=initial, disable=disable, leave=leave,
                    dynamic_ncols=True)
    return LineProgress(total, desc, unit, initial)
