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
do nothing.
"""

from __future__ import annotations

import atexit
import os
import re
import sys
import threading

_NATIVE = re.compile(rb"^(?:[IW]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [\w./-]+:\d+\] "  # glog/absl INFO and WARNING
                     rb"|WARNING: All log messages before absl::InitializeLog\(\) is called"
                     rb"|INFO: Created TensorFlow Lite)")
_done = threading.Lock()
_state: dict = {}


def is_native_chatter(line: bytes) -> bool:
    """Whether ``line`` (one line of fd 2, bytes) is a native library's INFO or WARNING line."""
    return bool(_NATIVE.match(line))


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
            original = os.dup(2)
            read_end, write_end = os.pipe()
            os.dup2(write_end, 2)
            os.close(write_end)
        except OSError:  # no fd 2 to filter (a service without one): the environment has to do
            return
        thread = threading.Thread(target=_pump, args=(read_end, original), name="jegal-native-logs", daemon=True)
        _state.update(original=original, thread=thread)
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
            if pending and not is_native_chatter(pending):
                os.write(original, pending)
            os.close(read_end)
            return
        pending += chunk
        *lines, pending = pending.split(b"\n")
        kept = b"".join(line + b"\n" for line in lines if not is_native_chatter(line))
        if len(pending) > 65536:  # a very long line without an end: pass it on as it is
            kept, pending = kept + pending, b""
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


__all__ = ["is_native_chatter", "quiet_native_logs"]
