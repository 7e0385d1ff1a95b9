"""The jobs of ``jegal serve``: limits, the queue, and the work one job does.

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

**Work** (:func:`analyse`). What ``jegal spot VIDEO [--transcript T] --model M`` does, through
the same functions (:func:`jegal.use.video.read_video`, :func:`jegal.use.spot.spot_video`,
:func:`jegal.use.spot.write_outputs`), and with two or more people what ``jegal asd`` does
(:func:`jegal.use.asd.make_segments`, :func:`~jegal.use.asd.decide`,
:func:`~jegal.use.asd.write_outputs`, into ``asd/``). Then the page's own files: the video
re-encoded for browsers (H.264 + AAC mp4, exactly one picture per 25 fps frame the model saw,
so ``currentTime * 25`` is the model's frame index) and a zip of every output file.

A video without a sound track is still read when the transcript gives word times: it gets a
silent track and the model reads the text only (content modality ``t``), with a warning on
the page. Without a sound track and without timed words it fails with ``no_audio``.
"""

from __future__ import annotations

import collections
import secrets
import shutil
import sys
import threading
import time
import traceback
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

JOB_ID_PATTERN = r"^[0-9a-f]{32}$"
PAGE_MAX_SIDE = 640  # the page's video: the decode size of jegal prepare (and of the annotated video)


@dataclass(frozen=True)
class Limits:
    """What one request and one job may use.

    ``max_upload_mb``: the whole upload request (video + transcript + audio), MB (10^6 bytes);
    ``max_seconds``: video duration, seconds (from the packets' timestamps, not the header);
    ``max_transcript_kb``: a transcript file, kB (10^3 bytes); ``max_queue``: jobs waiting or
    running, all sessions together (more are refused as ``queue_full``); ``keep_minutes``:
    how long a finished job's results stay downloadable."""

    max_upload_mb: float = 100.0
    max_seconds: float = 120.0
    max_transcript_kb: float = 1000.0
    max_queue: int = 8
    keep_minutes: float = 60.0

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1_000_000)

    @property
    def max_transcript_bytes(self) -> int:
        return int(self.max_transcript_kb * 1000)

    def to_json(self) -> dict:
        return {"max_upload_mb": self.max_upload_mb, "max_upload_bytes": self.max_upload_bytes,
                "max_seconds": self.max_seconds, "max_transcript_kb": self.max_transcript_kb,
                "max_queue": self.max_queue, "keep_minutes": self.keep_minutes}


class Refused(Exception):
    """A request the server turns down before any work: ``status`` (HTTP), ``reason`` (a key of
    :data:`ERRORS`) and a message for the page."""

    def __init__(self, status: int, reason: str, message: str):
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message


# reason -> (title, what to do). Every failure `jegal prepare` (jegal.perception.errors) and
# jegal.use.video can report has an entry, plus the server's own refusals.
ERRORS: dict[str, tuple[str, str]] = {
    "bad_input": ("This file cannot be used", "Upload a video file (MP4, AVI, MKV, MOV, WebM, ...)."),
    "missing_file": ("A file is missing", "Upload the video again."),
    "corrupt_video": ("The video cannot be read", "The file is damaged or truncated. Export it again (MP4 with "
                      "H.264 plays everywhere) and upload that."),
    "no_video": ("No pictures in this file", "The file holds no video stream (audio only?). Upload a video."),
    "no_audio": ("No sound", "The video has no sound track. Upload its audio as well, or a transcript with "
                 "word times (reference .txt, WhisperX .json or a TextGrid)."),
    "bad_audio": ("The audio cannot be read", "Upload the audio again as WAV, FLAC, MP3 or in the video itself."),
    "no_person": ("No person found", "Nobody could be followed through the video. The speaker's face and upper "
                  "body should be in view, lit, and not too small."),
    "no_transcript": ("No words", "No transcript was given and speech recognition found no words. Upload a "
                      "transcript (plain text is enough when the video has sound)."),
    "no_words_on_people": ("No words while someone is in view", "The words are spoken while nobody is in view; "
                           "check that the transcript belongs to this video."),
    "empty_transcript": ("The transcript is empty", "Upload a transcript with words in it."),
    "bad_transcript": ("The transcript cannot be read", "Use a reference .txt (WORD, START, END, SCORE), a "
                       "WhisperX .json, a Praat TextGrid, or plain text."),
    "no_word_tier": ("The TextGrid has no word tier", "Its tiers hold phones only; export the words tier too."),
    "transcript_too_long": ("The transcript runs past the end of the video",
                            "Is it the transcript of another video?"),
    "unalignable": ("The words cannot be aligned to the speech", "Check that the text is what is said, or give "
                    "a transcript with word times."),
    "bad_keypoints": ("The keypoints cannot be read", "Upload the video instead."),
    "frontend_mismatch": ("This model cannot read this input", "Start the server with a keypoints or rgb model."),
    "error": ("Something went wrong", "An unexpected error (a bug): please report it with the message below."),
    # the server's own
    "too_large": ("The upload is too large", "Upload a shorter or smaller file."),
    "too_long": ("The video is too long", "Cut it shorter and upload the part you want to see."),
    "not_a_video": ("Not a video", "The file's content is not a video this page reads (MP4, AVI, MKV, MOV, WebM, "
                    "MPEG, FLV, WMV)."),
    "not_a_transcript": ("Not a transcript", "A transcript is a text file: reference .txt, WhisperX .json, "
                         "Praat TextGrid, or plain text."),
    "not_audio": ("Not audio", "The audio file's content holds no sound stream."),
    "no_file": ("No video given", "Choose a video file or one of the examples."),
    "unknown_example": ("No such example", "Pick one of the examples listed on the page."),
    "busy": ("You already have a job", "Wait for it to finish; its progress is shown on the page."),
    "queue_full": ("The server is busy", "Too many jobs are waiting; try again in a few minutes."),
    "model_failed": ("The model is not available", "The server could not load or prepare its model; see the "
                     "message and the server's log."),
}


def error_info(reason: str, message: str) -> dict:
    """``{"reason", "title", "hint", "message"}`` for the page."""
    title, hint = ERRORS.get(reason, ERRORS["error"])
    return {"reason": reason, "title": title, "hint": hint, "message": message}


# -- jobs ---------------------------------------------------------------------------------------------
@dataclass
class Inputs:
    """What a job reads. ``video``: a video file or ``.kps.npz`` (server-side path);
    ``transcript`` / ``audio``: optional files (``audio`` any format PyAV decodes; written as
    ``<video stem>.wav`` beside the video before reading); ``frames``: the video whose pictures
    the page shows (default ``video``); ``silent_s``: the video has no sound and none was given:
    a silent track of this many seconds (the longer of the packets' and the header's duration,
    so a truncated file is still found out) is made and the text alone is read;
    ``duration_s``: the duration checked at upload; ``name``: what the page calls it;
    ``names``: server path -> the user's file name, to keep server paths out of messages."""

    video: Path
    name: str
    transcript: Path | None = None
    audio: Path | None = None
    frames: Path | None = None
    silent_s: float | None = None
    duration_s: float | None = None
    names: dict[str, str] = field(default_factory=dict)


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

    @property
    def active(self) -> bool:
        return self.state in ("receiving", "queued", "running")

    def report(self, stage: str, progress: float) -> None:
        self.stage, self.progress = stage, float(progress)

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
    def reserve(self, session: str) -> Job:
        """A new job for ``session`` in state ``receiving``, with its empty directory. Raises
        :class:`Refused` ``busy`` (the session has a job waiting or running) or ``queue_full``."""
        self.sweep()
        with self._cv:
            mine = self.active_job(session)
            if mine is not None:
                raise Refused(409, "busy", f"your job {mine.id[:8]} is still {mine.state}; one job at a time "
                                           "per session")
            if self.active_count() >= self.limits.max_queue:
                raise Refused(503, "queue_full", f"{self.limits.max_queue} jobs are waiting or running")
            for old in [j for j in self.jobs.values() if j.session == session]:
                self._forget(old)
            job_id = secrets.token_hex(16)
            job = Job(job_id, session, self.root / job_id)
            (job.dir / "input").mkdir(parents=True)
            self.jobs[job_id] = job
            return job

    def submit(self, job: Job, inputs: Inputs) -> None:
        """Queue a reserved job with its checked inputs."""
        with self._cv:
            job.inputs, job.state = inputs, "queued"
            job.stage = "waiting for its turn"
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

    def status(self, job: Job) -> dict:
        """The job as the page polls it: state, stage, progress, the queue message, error or result."""
        out = {"id": job.id, "state": job.state, "stage": job.stage, "progress": round(job.progress, 3),
               "name": job.inputs.name if job.inputs else "", "ahead": self.ahead(job),
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


# -- the work -------------------------------------------------------------------------------------------
def write_wav(path: Path, wave: np.ndarray) -> None:
    """16 kHz mono PCM16 WAV, atomically."""
    import io

    import soundfile as sf

    from jegal.atomic import write_bytes_atomic
    from jegal.timebase import SAMPLE_RATE

    buf = io.BytesIO()
    sf.write(buf, np.clip(wave, -1, 1), SAMPLE_RATE, subtype="PCM_16", format="WAV")
    write_bytes_atomic(path, buf.getvalue())


def _sound_for(inputs: Inputs) -> bool:
    """Put the job's sound beside its video (``<stem>.wav``), as ``read_video`` finds it; returns
    True when the model must read the text alone (a silent track was made). Raises
    ``CorruptVideo`` (the audio file is damaged), ``NoAudio`` (no sound and no timed
    transcript), or the transcript errors of :func:`jegal.perception.transcripts.read_words`."""
    from jegal.data.transcripts import EmptyTranscriptError, TranscriptError
    from jegal.perception.decode import decode_audio
    from jegal.perception.errors import BadAudio, BadTranscript, EmptyTranscript, NoAudio
    from jegal.perception.transcripts import read_transcript
    from jegal.timebase import SAMPLE_RATE

    wav = inputs.video.with_suffix(".wav")
    if inputs.audio is not None:
        wave = decode_audio(inputs.audio)
        if wave is None or not len(wave):
            raise BadAudio(f"{inputs.audio}: holds no sound")
        write_wav(wav, wave)
        return False
    if inputs.silent_s is None:
        return False
    if inputs.transcript is None:
        raise NoAudio(f"{inputs.video}: no sound track, no audio file and no transcript with word times: the words "
                      "cannot be found")
    try:
        timed = read_transcript(inputs.transcript).words is not None
    except EmptyTranscriptError as err:
        raise EmptyTranscript(str(err)) from None
    except TranscriptError as err:
        raise BadTranscript(str(err)) from None
    if not timed:
        raise NoAudio(f"{inputs.video}: no sound track, and {inputs.transcript} has no word times to place the words "
                      "by: upload the audio too, or a transcript with times")
    write_wav(wav, np.zeros(int(np.ceil(inputs.silent_s * SAMPLE_RATE)), np.float32))
    return True


def page_video(path: Path, video, frames: Path, with_audio: bool = True, max_side: int = PAGE_MAX_SIDE) -> Path:
    """The page's video: ``video.num_frames`` pictures of ``frames`` decoded at 25 fps
    (:func:`jegal.perception.decode.iter_video`, the decoder ``read_video`` uses, so picture t is the
    model's frame t), at most ``max_side`` pixels, H.264 yuv420p (sizes rounded up to even)
    with the moov atom first, and ``video.audio`` (16 kHz mono) as AAC; written atomically.
    Raises ``CorruptVideo`` when ``frames`` cannot be decoded."""
    import av

    from jegal.atomic import atomic_path
    from jegal.perception.decode import iter_video
    from jegal.timebase import FPS, SAMPLE_RATE, SAMPLES_PER_FRAME

    chunks = iter_video(frames, max_side=max_side, chunk_frames=50)
    chunk = next(chunks, None)
    if chunk is None or not len(chunk):
        from jegal.perception.errors import CorruptVideo

        raise CorruptVideo(f"{frames}: no picture could be decoded for the page")
    h, w = chunk.shape[1:3]
    with atomic_path(path) as tmp, av.open(str(tmp), "w", options={"movflags": "+faststart"}) as out:
        # every stream is added before the first packet is muxed (the header is written then)
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height = w + w % 2, h + h % 2
        stream.pix_fmt, stream.options = "yuv420p", {"preset": "veryfast", "crf": "23"}
        audio = out.add_stream("aac", rate=SAMPLE_RATE, layout="mono") if with_audio and video.audio is not None \
            else None
        canvas = np.zeros((stream.height, stream.width, 3), np.uint8)
        last, t = chunk[-1], 0
        while t < video.num_frames:
            pictures = [last] * (video.num_frames - t) if chunk is None else chunk[:video.num_frames - t]
            for img in pictures:
                canvas[:h, :w] = img
                frame = av.VideoFrame.from_ndarray(canvas, format="rgb24")
                frame.pts = t
                out.mux(stream.encode(frame))
                last, t = img, t + 1
            chunk = next(chunks, None)
        out.mux(stream.encode())
        if audio is not None:
            n = video.num_frames * SAMPLES_PER_FRAME
            wave = np.zeros(n, np.float32)
            wave[:min(n, len(video.audio))] = np.clip(video.audio[:n], -1, 1)
            for k in range(0, n, SAMPLE_RATE):
                af = av.AudioFrame.from_ndarray(wave[None, k:k + SAMPLE_RATE], format="flt", layout="mono")
                af.sample_rate, af.pts = SAMPLE_RATE, k
                out.mux(audio.encode(af))
            out.mux(audio.encode())
    return path


def zip_outputs(out: Path, zip_path: Path, folder: str) -> Path:
    """Every file under ``out`` into ``zip_path`` (atomically), inside a top folder ``folder``."""
    from jegal.atomic import atomic_path

    with atomic_path(zip_path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(p for p in out.rglob("*") if p.is_file() and not p.name.startswith(".")):
            zf.write(f, f"{folder}/{f.relative_to(out).as_posix()}")
    return zip_path


def _hex(rgb) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def _boxes(person, size) -> list:
    """Per frame ``[x0, y0, x1, y1]`` as fractions of the picture (4 decimals), None where unseen."""
    w, h = size
    b = np.asarray(person.boxes, np.float64) / np.array([w, h, w, h])  # (T, 4)
    b = np.round(np.clip(b, -0.05, 1.05), 4)
    seen = np.isfinite(b).all(axis=1)
    return [row.tolist() if ok else None for row, ok in zip(b, seen)]


def page_result(job: Job, video, spot_doc: dict, asd_doc: dict | None, model_about: dict) -> dict:
    """The page's JSON for a finished job (keys in ``docs/serve.md``): the words, each person's
    spotted words, boxes and maps, the speaker segments, the URLs of the video, maps and zip."""
    from jegal.use.annotate import person_colour

    base = f"api/jobs/{job.id}"
    heatmaps = job.files.get("maps", [])
    index_of = {name: k for k, name in enumerate(spot_doc["outputs"].get("heatmaps", []))}
    people = []
    for rec, person in zip(spot_doc["people"], video.people):
        people.append({
            "person": rec["person"], "colour": _hex(person_colour(rec["person"])),
            "start_s": rec["start_s"], "end_s": rec["end_s"],
            "words": [{k: w[k] for k in ("index", "probability", "best_s", "in_window", "above_threshold", "spotted")}
                      for w in rec["words"]],
            "spotted": [{k: w[k] for k in ("index", "word", "start_s", "end_s", "best_s", "probability")}
                        for w in rec["spotted"]],
            "maps": [f"{base}/maps/{index_of[h]}" for h in rec["heatmaps"] if h in index_of],
            "boxes": _boxes(person, video.size)})
    segments = None
    if asd_doc is not None:
        segments = [{k: s[k] for k in ("index", "start_s", "end_s", "words", "text", "speaker", "decision", "reason",
                                       "scores")} for s in asd_doc["segments"]]
    return {"name": job.inputs.name, "fps": video.fps, "num_frames": video.num_frames,
            "duration_s": round(video.duration, 3), "size": list(video.size),
            "video_url": f"{base}/video", "download_url": f"{base}/download", "maps_count": len(heatmaps),
            "transcript_source": video.transcript_source, "modalities": spot_doc["modalities"],
            "threshold": spot_doc["threshold"],
            "words": [{k: w[k] for k in ("index", "word", "start_s", "end_s")} for w in spot_doc["words"]],
            "people": people, "segments": segments,
            "warnings": [job.scrub(w) for w in spot_doc["warnings"]], "model": model_about,
            "timings": spot_doc["timings"]}


def analyse(job: Job, model, model_dir, model_about: dict | None = None) -> dict:
    """Do ``job``: ``jegal spot`` (and ``jegal asd`` with two or more people) on its inputs into
    ``job.dir/outputs``, the page's video into ``job.dir/page/video.mp4``, the zip into
    ``job.dir/page/<name>.zip``; returns :func:`page_result`. Reports its stage on ``job``.

    Raises the errors of :func:`jegal.use.video.read_video` (``PrepareError`` subclasses naming the
    file) and :class:`Refused` ``too_long`` when the decoded video is longer than the limit the
    upload was checked against (``job.inputs.duration_s`` + 1 s)."""
    from jegal.use import asd, spot
    from jegal.use.common import content_modalities
    from jegal.inference.windows import OVERLAP_FRAMES, WINDOW_FRAMES
    from jegal.use.video import model_inputs, read_video

    inputs = job.inputs
    out, page = job.dir / "outputs", job.dir / "page"
    out.mkdir(parents=True, exist_ok=True)
    job.report("reading the sound", 0.02)
    text_only = _sound_for(inputs)
    modalities = "t" if text_only else content_modalities(model, None)
    # rgb crops, GestSync features and the log-mel as this model needs them (an imported released model too)
    needs = model_inputs(model, model_dir, inputs.video)
    job.report("reading the video: people, keypoints, words", 0.05)
    t = time.perf_counter()
    video = read_video(inputs.video, inputs.transcript, asr="auto", progress=False, work_dir=out, **needs)
    if inputs.duration_s is not None and video.duration > inputs.duration_s + 1.0:
        raise Refused(413, "too_long", f"{inputs.video}: decodes to {video.duration:.1f} s, more than its "
                                       f"{inputs.duration_s:.1f} s checked at upload")
    if text_only:
        video.warnings.insert(0, f"{inputs.video}: no sound track: the words come from the transcript's times and "
                                 "the model read the text only (no speech)")
    read_s = time.perf_counter() - t
    job.report("spotting the gestured words", 0.55)
    t = time.perf_counter()
    spots = spot.spot_video(model, video, modalities)
    meta = {"model": str(model_dir), "modalities": modalities, "window_frames": WINDOW_FRAMES,
            "overlap_frames": OVERLAP_FRAMES, "timings": {"read": read_s, "model": time.perf_counter() - t}}
    job.report("writing the maps, the word table and the annotated video", 0.6)
    spot_doc = spot.write_outputs(out, video, spots, meta)
    asd_doc = None
    if len(video.people) > 1:
        job.report("telling who is speaking", 0.75)
        t = time.perf_counter()
        segments, how = asd.make_segments(video, max_frames=WINDOW_FRAMES)
        asd.decide(model, video, segments, modalities if how == "transcript" else "a")
        asd_meta = {"model": str(model_dir), "modalities": modalities if how == "transcript" else "a",
                    "segmentation": how, "min_visible": asd.MIN_VISIBLE,
                    "timings": {"model": time.perf_counter() - t}}
        (out / "asd").mkdir(exist_ok=True)
        asd_doc = asd.write_outputs(out / "asd", video, segments, asd_meta)
    job.report("preparing the video for the page", 0.85)
    job.files["maps"] = [out / h for h in spot_doc["outputs"].get("heatmaps", [])]
    job.files["video"] = page_video(page / "video.mp4", video, inputs.frames or inputs.video, with_audio=not text_only)
    job.report("packing the download", 0.95)
    folder = f"{_safe_stem(inputs.name)}.spot"
    job.files["zip"] = zip_outputs(out, page / f"{folder}.zip", folder)
    job.files["zip_name"] = f"{folder}.zip"
    return page_result(job, video, spot_doc, asd_doc, model_about or {})


def _safe_stem(name: str) -> str:
    """A file name stem made of ``[A-Za-z0-9_-]`` only (for the download's name), ``video`` if nothing is left."""
    import re

    stem = Path(name).name.rsplit(".", 1)[0] if "." in Path(name).name else Path(name).name
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("_")[:60]
    return stem or "video"


__all__ = ["ERRORS", "Inputs", "JOB_ID_PATTERN", "Job", "JobQueue", "Limits", "Refused", "analyse", "error_info",
           "page_result", "page_video", "zip_outputs"]
