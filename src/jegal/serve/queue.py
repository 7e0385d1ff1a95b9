"""The jobs of ``jegal serve`` and the queue that runs them one at a time.

**Queue** (:class:`JobQueue`). One worker thread runs one job at a time (the model and the
people tracker each want every core of a small machine); the others wait in order of arrival.
Each browser session (a random cookie) has at most one job waiting or running: a second
upload from it is refused with :class:`Refused` ``busy`` until the first ends, and a waiting
job is told how many jobs are ahead of it. Every job works in its own directory
``WORK/jobs/<id>/`` (``id``: 32 random hex digits chosen by the server); uploads are saved
there under fixed names (``input/video.<ext>``, ``input/video.txt|json|TextGrid``,
``input/audio.bin``), never under a name from the user. The inputs are deleted as soon as the
job ends; its results are deleted when the session starts another job, when they are older than
:attr:`Limits.keep_minutes`, and with the whole work directory when the server stops.

**On disk.** Each job's state is also written to ``WORK/jobs/<id>/job.json`` (:data:`JOB_FILE`) at
every change (receiving, queued, running, done, failed), so that a server started after this one
died (``kill -9``, a crash, a power cut) can tell the jobs' sessions what became of them
(:mod:`jegal.serve.recovery`): :meth:`JobQueue.adopt` keeps each unfinished job of a dead server as
failed ``server_stopped`` ("the server stopped while this job ran").

**Slots.** A job counts against :attr:`Limits.max_queue` from :meth:`JobQueue.reserve`, which the
upload route calls only once the whole request body has arrived (:meth:`JobQueue.check` refuses
``busy`` / ``queue_full`` before the body is read, without taking anything): a client that sends
headers and then nothing, or trickles its body, holds no slot.
"""

from __future__ import annotations

import collections
import secrets
import shutil
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from jegal.serve.errors import Refused, error_info

JOB_ID_PATTERN = r"^[0-9a-f]{32}$"
JOB_FILE = "job.json"  # a job's state on disk (module docstring)
SERVER_STOPPED = "the server stopped while this job ran"


@dataclass(frozen=True)
class Limits:
    """What one request and one job may use.

    ``max_upload_mb``: the whole upload request (video + transcript + audio), MB (10^6 bytes);
    ``max_seconds``: video duration, seconds (from the packets' timestamps, not the header);
    ``max_transcript_kb``: a transcript file, kB (10^3 bytes); ``max_queue``: jobs waiting or
    running, all sessions together (more are refused as ``queue_full``); ``keep_minutes``:
    how long a finished job's results stay downloadable; ``read_timeout_s``: a request's headers
    must arrive within this many seconds of the connection (or of the previous response), and an
    upload's whole body within this many seconds of its headers (``too_slow``, 408); at the default
    30 s a 100 MB upload needs about 27 Mbit/s: raise it for slow links;
    ``max_uploads_per_client``: uploads being received at once from one client address (more are
    refused as ``too_many_uploads``, 429)."""

    max_upload_mb: float = 100.0
    max_seconds: float = 120.0
    max_transcript_kb: float = 1000.0
    max_queue: int = 8
    keep_minutes: float = 60.0
    read_timeout_s: float = 30.0
    max_uploads_per_client: int = 4

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1_000_000)

    @property
    def max_transcript_bytes(self) -> int:
        return int(self.max_transcript_kb * 1000)

    def to_json(self) -> dict:
        return {"max_upload_mb": self.max_upload_mb, "max_upload_bytes": self.max_upload_bytes,
                "max_seconds": self.max_seconds, "max_transcript_kb": self.max_transcript_kb,
                "max_queue": self.max_queue, "keep_minutes": self.keep_minutes, "read_timeout_s": self.read_timeout_s,
                "max_uploads_per_client": self.max_uploads_per_client}


@dataclass
class Inputs:
    """What a job reads. ``video``: a video file or ``.kps.npz`` (server-side path);
    ``transcript`` / ``audio``: optional files (``audio`` any format PyAV decodes; written as
    ``<video stem>.wav`` beside the video before reading); ``frames``: the video whose pictures
    the page shows (default ``video``); ``silent_s``: the video has no sound and none was given:
    a silent track of this many seconds (the longer of the packets' and the header's duration,
    so a truncated file is still found out) is made and the text alone is read;
    ``duration_s``: the duration checked at upload; ``name``: what the page calls it;
    ``names``: server path -> the user's file name, to keep server paths out of messages;
    ``tier``: the words tier of an ``.eaf`` / ``.TextGrid`` transcript (None: by the rule of
    :func:`jegal.perception.transcripts.choose_eaf_tiers`)."""

    video: Path
    name: str
    transcript: Path | None = None
    audio: Path | None = None
    frames: Path | None = None
    silent_s: float | None = None
    duration_s: float | None = None
    names: dict[str, str] = field(default_factory=dict)
    tier: str | None = None


@dataclass
class Job:
    """One upload or example run. ``state``: ``receiving`` (upload being checked), ``queued``,
    ``running``, ``done`` or ``failed``; ``stage``/``progress`` (0-1) while running;
    ``result`` (the page's JSON) when done; ``error`` (:func:`error_info`) when failed."""

    id: str
    session: str
    dir: Path
    created: float = field(default_factory=time.time)
    state: str = "receiving"
    stage: str = ""
    progress: float = 0.0
    started: float | None = None
    finished: float | None = None
    inputs: Inputs | None = None
    result: dict | None = None
    error: dict | None = None
    files: dict = field(default_factory=dict)  # "video", "zip", "maps": server paths the API may send
    name: str = ""  # what the page calls the job when its inputs are gone (a job adopted from a dead server)

    def save(self) -> None:
        """Write the job's state to ``dir/job.json`` (atomically; nothing when its folder is gone)."""
        from jegal.atomic import write_json_atomic

        record = {"id": self.id, "session": self.session, "state": self.state, "created": self.created,
                  "started": self.started, "finished": self.finished, "error": self.error,
                  "name": self.inputs.name if self.inputs else self.name}
        if self.dir.is_dir():
            try:
                write_json_atomic(self.dir / JOB_FILE, record)
            except OSError:  # the folder went away meanwhile (the job was forgotten)
                pass

    @property
    def active(self) -> bool:
        return self.state in ("receiving", "queued", "running")

    def report(self, stage: str, progress: float) -> None:
        """The job's progress (:mod:`jegal.use.progress`'s protocol): ``stage`` in words, ``progress``
        0-1 of the whole job; it never goes down."""
        self.stage, self.progress = stage, max(self.progress, float(progress))

    def scrub(self, message: str) -> str:
        """``message`` with server paths replaced by the user's file names (or ``...``)."""
        names = dict(self.inputs.names) if self.inputs else {}
        for path, name in sorted(names.items(), key=lambda kv: -len(kv[0])):
            message = message.replace(path, name)
        return message.replace(str(self.dir), "...")


class JobQueue:
    """Jobs of all sessions, run one at a time by one worker thread (module docstring).

    ``runner(job)`` does a job's work and returns its result (the page's JSON); an exception
    fails the job: ``PrepareError`` subclasses and :class:`Refused` with their own reason,
    anything else as ``error`` (a bug: the traceback goes to stderr)."""

    def __init__(self, root: str | Path, limits: Limits, runner: Callable[[Job], dict]):
        self.root = Path(root) / "jobs"
        self.limits, self.runner = limits, runner
        self.jobs: dict[str, Job] = {}
        self.waiting: collections.deque[Job] = collections.deque()
        self.running: Job | None = None
        self._cv = threading.Condition()
        self._stop = False
        self._thread: threading.Thread | None = None

    # -- sessions and submission -----------------------------------------------------------------
    def check(self, session: str) -> None:
        """Raises :class:`Refused` ``busy`` (the session has a job receiving, waiting or running) or
        ``queue_full``, as :meth:`reserve` would, without reserving anything (before an upload is read)."""
        with self._cv:
            mine = self.active_job(session)
            if mine is not None:
                raise Refused(409, "busy", f"your job {mine.id[:8]} is still {mine.state}; one job at a time "
                                           "per session")
            if self.active_count() >= self.limits.max_queue:
                raise Refused(503, "queue_full", f"{self.limits.max_queue} jobs are waiting or running")

    def reserve(self, session: str) -> Job:
        """A new job for ``session`` in state ``receiving``, with its empty directory: its slot in the
        queue, taken once the upload has arrived. Raises :class:`Refused` ``busy`` (the session has a
        job waiting or running) or ``queue_full``."""
        self.sweep()
        with self._cv:
            self.check(session)
            for old in [j for j in self.jobs.values() if j.session == session]:
                self._forget(old)
            job_id = secrets.token_hex(16)
            job = Job(job_id, session, self.root / job_id)
            (job.dir / "input").mkdir(parents=True)
            self.jobs[job_id] = job
            job.save()
            return job

    def adopt(self, records: list[dict]) -> int:
        """Keep the unfinished jobs of a dead server (:func:`jegal.serve.recovery.recover`'s records:
        ``id``, ``session``, ``name``, ``created``) as failed ``server_stopped``, so their sessions
        learn what became of them; kept :attr:`Limits.keep_minutes` like any finished job. Returns how many."""
        import re

        now, n = time.time(), 0
        with self._cv:
            for rec in records:
                job_id, session = str(rec.get("id", "")), str(rec.get("session", ""))
                if not re.match(JOB_ID_PATTERN, job_id) or not session or job_id in self.jobs:
                    continue
                job = Job(job_id, session, self.root / job_id, created=float(rec.get("created") or now),
                          state="failed", finished=now, name=str(rec.get("name") or "")[:100],
                          error=error_info("server_stopped", SERVER_STOPPED))
                job.dir.mkdir(parents=True, exist_ok=True)
                self.jobs[job_id] = job
                job.save()
                n += 1
        return n

    def submit(self, job: Job, inputs: Inputs) -> None:
        """Queue a reserved job with its checked inputs."""
        with self._cv:
            job.inputs, job.state = inputs, "queued"
            job.stage = "waiting for its turn"
            job.save()
            self.waiting.append(job)
            self._ensure_worker()
            self._cv.notify_all()

    def release(self, job: Job) -> None:
        """Drop a reserved job whose upload was refused (its directory is removed)."""
        with self._cv:
            self._forget(job)

    def active_job(self, session: str) -> Job | None:
        """The session's job that is receiving, waiting or running, if any."""
        return next((j for j in list(self.jobs.values()) if j.session == session and j.active), None)

    def active_count(self) -> int:
        """Jobs receiving, waiting or running, all sessions together."""
        return sum(j.active for j in list(self.jobs.values()))  # (a copy: other threads add and remove jobs)

    def latest(self, session: str) -> Job | None:
        """The session's most recent job (active or finished), if it is still kept."""
        mine = [j for j in list(self.jobs.values()) if j.session == session]
        return max(mine, key=lambda j: j.created) if mine else None

    def get(self, job_id: str, session: str) -> Job | None:
        """The job ``job_id`` if it belongs to ``session`` (else None: other sessions' jobs do not exist)."""
        job = self.jobs.get(job_id)
        return job if job is not None and job.session == session else None

    def ahead(self, job: Job) -> int:
        """How many jobs run or wait before ``job`` (0 when it runs or has ended)."""
        with self._cv:
            if job.state != "queued":
                return 0
            return list(self.waiting).index(job) + (self.running is not None) if job in self.waiting else 0

    def cancel(self, job: Job) -> bool:
        """Forget a job that waits or has ended (its files are deleted); False for a running one."""
        with self._cv:
            if job.state in ("running", "receiving"):
                return False
            if job in self.waiting:
                self.waiting.remove(job)
            self._forget(job)
            return True

    # -- cleanup ----------------------------------------------------------------------------------
    def _forget(self, job: Job) -> None:
        self.jobs.pop(job.id, None)
        shutil.rmtree(job.dir, ignore_errors=True)

    def sweep(self, now: float | None = None) -> int:
        """Forget finished jobs older than ``keep_minutes``; returns how many."""
        now = time.time() if now is None else now
        with self._cv:
            old = [j for j in list(self.jobs.values())
                   if j.finished is not None and now - j.finished > 60 * self.limits.keep_minutes]
            for j in old:
                self._forget(j)
            return len(old)

    def close(self, timeout: float = 5.0) -> None:
        """Stop the worker (after the job it runs, waiting at most ``timeout`` s) and delete every job's files."""
        with self._cv:
            self._stop = True
            self.waiting.clear()
            self._cv.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
        with self._cv:
            for job in list(self.jobs.values()):
                self._forget(job)
        shutil.rmtree(self.root, ignore_errors=True)

    # -- the worker --------------------------------------------------------------------------------
    @staticmethod
    def _release_memory() -> None:
        """After a job: collect its cycles and hand the freed heap back to the system (glibc's
        ``malloc_trim``; a job's decoded frames and arrays are freed, but glibc keeps the pages of
        its arenas, so without this the server's resident memory stays at its highest job's).
        Elsewhere only the collection."""
        import gc

        gc.collect()
        if sys.platform.startswith("linux"):
            try:
                import ctypes

                ctypes.CDLL("libc.so.6").malloc_trim(0)
            except (OSError, AttributeError):  # not glibc (musl): nothing to trim
                pass

    def _ensure_worker(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._work, name="jegal-serve-worker", daemon=True)
            self._thread.start()

    def _work(self) -> None:
        from jegal.perception.errors import PrepareError

        while True:
            with self._cv:
                while not self.waiting and not self._stop:
                    self._cv.wait()
                if self._stop:
                    return
                job = self.waiting.popleft()
                self.running, job.state, job.started = job, "running", time.time()
                job.report("starting", 0.0)
                job.save()
            # The outcome becomes visible (state done/failed) only once the job is wholly finished
            # (inputs deleted, finish time set), so a client that sees it can rely on both.
            result, error = None, None
            try:
                result = self.runner(job)
            except Refused as err:
                error = error_info(err.reason, job.scrub(err.message))
            except PrepareError as err:
                error = error_info(type(err).reason, job.scrub(str(err)))
            except Exception as err:  # a bug: the page says so, the log has the traceback
                traceback.print_exc(file=sys.stderr)
                error = error_info("error", job.scrub(f"{type(err).__name__}: {err}"))
            finally:
                shutil.rmtree(job.dir / "input", ignore_errors=True)
                if result is None and error is None:  # interrupted (the server is stopping)
                    error = error_info("error", "the job was interrupted")
                with self._cv:
                    if error is None:
                        job.report("done", 1.0)
                    job.result, job.error = result, error
                    job.finished, self.running = time.time(), None
                    job.state = "done" if error is None else "failed"
                    job.save()
                self._release_memory()

    def status(self, job: Job) -> dict:
        """The job as the page polls it: state, stage, progress, the queue message, error or result."""
        out = {"id": job.id, "state": job.state, "stage": job.stage, "progress": round(job.progress, 3),
               "name": job.inputs.name if job.inputs else job.name, "ahead": self.ahead(job),
               "elapsed_s": round((job.finished or time.time()) - (job.started or job.created), 1)}
        if job.state == "queued":
            n = out["ahead"]
            out["message"] = (f"Queued: {n} job{'s' if n != 1 else ''} ahead of yours (one runs at a time)."
                              if n else "Queued: yours is next.")
        if job.error is not None:
            out["error"] = job.error
        if job.result is not None:
            out["result"] = job.result
        return out


__all__ = ["Inputs", "JOB_FILE", "JOB_ID_PATTERN", "Job", "JobQueue", "Limits", "SERVER_STOPPED"]
