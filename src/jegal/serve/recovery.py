"""What a ``jegal serve`` leaves behind when it dies, and what the next one does about it.

Every server marks its work folder with :data:`MARKER` (``jegal-serve.json``: its process id, the
process's start time as the kernel counts it, the host, the time) as soon as the folder exists
(:func:`write_marker`). At start, :func:`recover` looks at the folders beside its own: a folder
named ``jegal-serve-*`` that carries a marker whose process is gone (no such pid, or the pid now
belongs to a process started at another time) is a dead server's. Its unfinished jobs
(``jobs/<id>/job.json`` in state receiving, queued or running: :data:`jegal.serve.queue.JOB_FILE`)
are returned for :meth:`jegal.serve.queue.JobQueue.adopt`, which answers their ids with
"the server stopped while this job ran", and the folder is deleted with the uploads in it.

Never touched: a folder without the marker (another program's, or a server that has not written
its marker yet), a marker of another host (a work folder on a shared disk), a marker whose process
is alive, anything that is not a folder.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import sys
import time
from pathlib import Path

from jegal.serve.queue import JOB_FILE, JOB_ID_PATTERN

MARKER = "jegal-serve.json"
PREFIX = "jegal-serve-"  # the work folders jegal serve makes (tempfile.mkdtemp's prefix)
UNFINISHED = ("receiving", "queued", "running")


def process_start(pid: int) -> int | None:
    """When process ``pid`` started, in clock ticks since boot (``/proc/<pid>/stat`` field 22;
    None where there is no ``/proc`` or no such process). With the pid it names one process: a pid
    reused by a later process has another start time."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    try:  # the command name (field 2) is in parentheses and may itself hold spaces or parentheses
        return int(stat[stat.rindex(")") + 2:].split()[19])
    except (ValueError, IndexError):
        return None


def write_marker(root: str | os.PathLike) -> Path:
    """Mark ``root`` as this process's work folder (module docstring); returns the marker's path."""
    from jegal.atomic import write_json_atomic

    return write_json_atomic(Path(root) / MARKER, {"pid": os.getpid(), "start": process_start(os.getpid()),
                                                   "host": socket.gethostname(), "created": time.time()})


def _alive(pid: int, start: int | None) -> bool:
    """Whether the process of the marker (``pid`` started at ``start``) still runs."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process of that pid: alive (and not ours to judge)
        return True
    except OSError:
        return True
    if start is not None and sys.platform.startswith("linux"):
        now = process_start(pid)
        return now is None or now == start
    return True


def dead_server(folder: Path) -> bool:
    """Whether ``folder`` is the work folder of a ``jegal serve`` of this host that no longer runs
    (module docstring); False whenever in doubt."""
    if not folder.is_dir() or folder.is_symlink() or not folder.name.startswith(PREFIX):
        return False
    try:
        marker = json.loads((folder / MARKER).read_text(encoding="utf-8"))
        pid, start, host = int(marker["pid"]), marker.get("start"), marker.get("host")
    except (OSError, ValueError, KeyError, TypeError):
        return False
    if host != socket.gethostname() or pid == os.getpid() or pid <= 0:
        return False
    return not _alive(pid, int(start) if isinstance(start, int) else None)


def unfinished_jobs(folder: Path) -> list[dict]:
    """The jobs of a work folder that were receiving, queued or running (their ``job.json``)."""
    out = []
    jobs = folder / "jobs"
    for rec_file in sorted(jobs.glob(f"*/{JOB_FILE}")) if jobs.is_dir() else []:
        if not re.match(JOB_ID_PATTERN, rec_file.parent.name):
            continue
        try:
            rec = json.loads(rec_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(rec, dict) and rec.get("state") in UNFINISHED and rec.get("id") == rec_file.parent.name:
            out.append(rec)
    return out


def recover(parent: str | os.PathLike, own: str | os.PathLike | None = None) -> tuple[list[dict], list[Path]]:
    """Clean up after the dead servers whose work folders lie in ``parent`` (besides ``own``, this
    server's): ``(their unfinished jobs, the folders removed)``."""
    parent = Path(parent)
    own_path = Path(own).resolve() if own is not None else None
    records, removed = [], []
    try:
        folders = sorted(parent.iterdir())
    except OSError:
        return records, removed
    for folder in folders:
        if not folder.name.startswith(PREFIX) or folder.is_symlink() or not dead_server(folder):
            continue
        if own_path is not None and folder.resolve() == own_path:
            continue
        records += unfinished_jobs(folder)
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return records, removed


__all__ = ["MARKER", "PREFIX", "dead_server", "process_start", "recover", "unfinished_jobs", "write_marker"]
