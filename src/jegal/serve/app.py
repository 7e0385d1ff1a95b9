"""The FastAPI app of ``jegal serve``: :func:`create_app`.

Routes (JSON unless said; every ``/api/jobs/{id}...`` route answers 404 unless ``id`` is 32 hex
digits naming a job of the caller's session):

- ``GET /``: the page (``static/index.html``); sets the session cookie (random, HttpOnly,
  SameSite=Strict). ``GET /static/...``: the page's JS and CSS, from the package.
- ``GET /api/status``: the model (state, progress, what it was trained on), the limits, the
  examples, and the session's latest job.
- ``POST /api/jobs``: multipart ``video`` (+ optional ``transcript``, ``audio``), or ``example``
  (an example id from the status). 200 with the job's status; 413 ``too_large`` / ``too_long``,
  415 ``not_a_video`` / ``not_a_transcript`` / ``not_audio``, 422 ``corrupt_video`` / ``no_video``,
  409 ``busy`` (the session has a job), 503 ``queue_full``, 400 ``no_file``, 404
  ``unknown_example``; each as ``{"error": {"reason", "title", "hint", "message"}}``.
- ``GET /api/jobs/{id}``: state, stage, progress, queue message, error or result.
- ``GET /api/jobs/{id}/video`` (the page's mp4, with HTTP ranges), ``/maps/{k}`` (the k-th
  heatmap PNG), ``/download`` (the zip of every output); ``DELETE /api/jobs/{id}`` forgets a
  job that waits or has ended.

**Safety.** Uploads are checked by content, never by name: the first bytes must be a known video
container (:func:`sniff_video`), then PyAV must open it, find a video stream and demux packets
whose timestamps stay within ``max_seconds`` (:func:`probe_video`); the extension the file is
saved with comes from the container PyAV found. A transcript must be text (UTF-8/16 or
Windows-1252, no NUL bytes) and is saved as ``.json``/``.TextGrid``/``.txt`` by what it holds.
The request body is counted as it arrives and cut off past ``max_upload_mb`` (a
``Content-Length`` above it is refused before reading). No name or path from the user reaches
the file system: files are saved under fixed names in the job's directory; results are sent by
job id (checked against the session) and index. POST/DELETE with a foreign ``Origin`` are
refused (another web site cannot make a visitor's browser submit jobs), and with
``allowed_hosts`` the ``Host`` header is checked (DNS rebinding). Responses carry a strict
Content-Security-Policy: the page loads nothing from elsewhere.
"""

# No "from __future__ import annotations": FastAPI reads the route functions' annotations, and
# Request/Response are imported inside create_app (FastAPI is not imported with this module).
import os
import re
import secrets
import shutil
import threading
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from jegal.serve.jobs import JOB_ID_PATTERN, Inputs, Job, JobQueue, Limits, Refused, analyse, error_info

STATIC = Path(__file__).resolve().parent / "static"
# The repository's real samples (../shared/data/real beside the checkout), as jegal demo finds them.
DEFAULT_EXAMPLES = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "real"
SESSION_COOKIE = "jegal_session"
_SESSION = re.compile(r"^[A-Za-z0-9_-]{32}$")
_JOB = re.compile(JOB_ID_PATTERN)
_TOO_LARGE = "jegal.body_too_large"
CSP = ("default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; style-src 'self'; script-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")

# Container formats accepted (PyAV/FFmpeg format name -> the suffix the upload is saved with).
FORMATS = {"avi": ".avi", "mov": ".mp4", "mp4": ".mp4", "matroska": ".mkv", "webm": ".webm", "flv": ".flv",
           "mpeg": ".mpg", "mpegts": ".ts", "asf": ".wmv"}


# -- content checks --------------------------------------------------------------------------------
def sniff_video(head: bytes) -> str | None:
    """The container family the first bytes of a file announce (``avi``, ``mp4``, ``matroska``,
    ``flv``, ``mpeg``, ``mpegts``, ``asf``), None when they are no video container's.
    Sources: the containers' specifications (RIFF 'AVI ' form; ISO/IEC 14496-12 boxes; the EBML
    magic 1A 45 DF A3; 'FLV'; MPEG-PS pack 00 00 01 BA; 188-byte MPEG-TS packets with sync byte
    0x47; the ASF header GUID)."""
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    if head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip"):
        return "mp4"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "matroska"
    if head[:3] == b"FLV":
        return "flv"
    if head[:4] in (b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3"):
        return "mpeg"
    if len(head) > 376 and head[0] == head[188] == head[376] == 0x47:
        return "mpegts"
    if head[:16] == bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c"):
        return "asf"
    return None


def sniff_audio(head: bytes) -> bool:
    """Whether the first bytes announce an audio file (WAV, FLAC, MP3, Ogg, AIFF, AMR, CAF, or a
    video container, whose sound track is used)."""
    return (sniff_video(head) is not None or (head[:4] == b"RIFF" and head[8:12] == b"WAVE")
            or head[:4] in (b"fLaC", b"OggS", b"FORM", b"caff") or head[:3] == b"ID3" or head[:5] == b"#!AMR"
            or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0))


def _clean(err: BaseException, path: Path, name: str) -> str:
    """An FFmpeg/OS error's text with the server's path replaced by the user's file name."""
    return str(err).replace(str(path), name)


def probe_video(path: Path, max_seconds: float, name: str, sniffed: bool = False) -> dict:
    """Open ``path`` with PyAV and demux its video packets: ``{"suffix", "duration_s" (the
    packets'), "declared_s" (the header's, at most ``max_seconds`` + 1), "has_audio", "format"}``. Raises :class:`Refused`: ``not_a_video`` (PyAV cannot open it, or
    not an accepted container), ``no_video`` (no video stream), ``corrupt_video`` (no packet can
    be read, or ``sniffed``: the first bytes announced a video container, yet PyAV cannot open
    it), ``too_long`` (a packet ends after ``max_seconds``). ``name`` is the user's file name,
    for the messages."""
    import av

    from jegal.perception.decode import _declared_seconds, pick_stream

    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError, ValueError, UnicodeDecodeError) as err:
        if sniffed:
            raise Refused(422, "corrupt_video", f"{name}: starts like a video file but cannot be opened "
                                                f"({_clean(err, path, name)})") from None
        raise Refused(415, "not_a_video", f"{name}: cannot be opened as a video ({_clean(err, path, name)})") from None
    with container:
        names = (container.format.name or "").split(",")
        suffix = next((FORMATS[n] for n in names if n in FORMATS), None)
        if suffix is None:
            raise Refused(415, "not_a_video", f"{name}: a {container.format.long_name or names[0]} file, not a video "
                                              "container this page reads")
        stream = pick_stream(container.streams.video)
        if stream is None:
            raise Refused(422, "no_video", f"{name}: has no video stream")
        start = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
        end, packets = 0.0, 0
        try:
            for packet in container.demux(stream):
                if packet.pts is None:
                    continue
                packets += 1
                end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base) - start)
                if end > max_seconds + 0.1:  # (a tenth of a second for timestamp rounding)
                    raise Refused(413, "too_long", f"{name}: longer than the limit of {max_seconds:g} s")
        except av.error.FFmpegError as err:
            if not packets:
                raise Refused(422, "corrupt_video", f"{name}: no video packet can be read "
                                                    f"({_clean(err, path, name)})") from None
        if not packets:
            raise Refused(422, "corrupt_video", f"{name}: no video packet can be read (empty or damaged file)")
        declared = _declared_seconds(stream, container)  # what jegal prepare checks truncation against
        return {"suffix": suffix, "duration_s": end, "has_audio": bool(container.streams.audio),
                "format": names[0], "declared_s": min(end if declared is None else declared, max_seconds + 1.0)}


def probe_audio(path: Path, name: str) -> None:
    """Raises :class:`Refused` ``not_audio`` unless PyAV opens ``path`` and finds a sound stream."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise Refused(415, "not_audio", f"{name}: holds no sound stream")
    except (av.error.FFmpegError, OSError, ValueError, UnicodeDecodeError) as err:
        raise Refused(415, "not_audio", f"{name}: cannot be opened as audio ({_clean(err, path, name)})") from None


def transcript_suffix(data: bytes, name: str) -> str:
    """The suffix a transcript is saved with (``.json``, ``.TextGrid`` or ``.txt``), by the rules
    ``jegal spot`` reads a transcript file with (:func:`jegal.perception.transcripts.decode_transcript`).
    Raises :class:`Refused` ``not_a_transcript`` for binary content or an undecodable file."""
    from jegal.data.transcripts import TranscriptError
    from jegal.perception.transcripts import decode_transcript

    try:
        return decode_transcript(data, name).suffix
    except TranscriptError as err:
        raise Refused(415, "not_a_transcript", str(err)) from None


def host_only(host: str) -> str:
    """The host of a ``Host`` header without its port or IPv6 brackets, lower case."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def display_name(filename: str | None, fallback: str) -> str:
    """The user's file name for display only (never a path): its last part, printable, at most 100 characters."""
    name = re.split(r"[\\/]", filename or "")[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()[:100]
    return name or fallback


# -- examples ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Example:
    """A bundled example: ``id`` (what the page sends), a title, a description, and its video
    (None for the SynthGest clip, generated on first use)."""

    id: str
    title: str
    description: str
    video: Path | None = None

    def to_json(self) -> dict:
        return {"id": self.id, "title": self.title, "description": self.description}


def list_examples(folder: Path | None) -> dict[str, Example]:
    """The real videos in ``folder`` (each with what lies beside it), then the SynthGest clip."""
    from jegal.perception.discover import VIDEO_SUFFIXES
    from jegal.perception.transcripts import find_transcript

    out: dict[str, Example] = {}
    if folder is not None and Path(folder).is_dir():
        for video in sorted(Path(folder).iterdir()):
            if video.suffix.lower() not in VIDEO_SUFFIXES or not video.is_file():
                continue
            key = "real-" + re.sub(r"[^A-Za-z0-9_-]+", "_", video.stem)
            beside = [what for what, ok in (("its transcript", find_transcript(video) is not None),
                                            ("its separate audio", video.with_suffix(".wav").is_file())) if ok]
            out[key] = Example(key, video.name, "a real video" + (" with " + " and ".join(beside) if beside else
                                                                  ", words from speech recognition"), video)
    out["synthgest"] = Example("synthgest", "SynthGest clip", "a generated cartoon speaker (jegal synth) with "
                                                              "known gestures: what the default model was trained on")
    return out


def synth_example(root: Path) -> tuple[Path, Path]:
    """``(keypoints, video)`` of a generated SynthGest test clip under ``root`` (made once:
    :func:`jegal.synth.generate_corpus` with ``render``): the model reads the exact keypoints
    (``.kps.npz`` with its ``.wav`` and ``.txt``), the page shows the rendered ``.mp4``."""
    from jegal.synth import generate_corpus

    corpus = root / "corpus"
    if not (corpus / "synth.json").is_file():
        generate_corpus(corpus, speakers=3, train_clips=1, test_clips=2, seed=11, render=True, progress=False,
                        workers=1)
    # a spotting clip first: its first gesturable word is always gestured (docs/synth.md)
    kps = sorted((corpus / "media").rglob("*.kps.npz"), key=lambda p: (not p.parent.name.startswith("sgspot"), p))
    if not kps:
        raise FileNotFoundError(f"{corpus}: the generated SynthGest clip has no media")
    return kps[0], kps[0].with_name(kps[0].name[:-len(".kps.npz")] + ".mp4")


# -- the app ------------------------------------------------------------------------------------------
class BodyLimit:
    """ASGI middleware: a POST/PUT/PATCH whose ``Content-Length`` exceeds ``max_bytes`` gets 413 at
    once; a body that grows past it while arriving is cut off (the app sees a disconnect, and
    ``scope["jegal.body_too_large"]`` is set so it can answer 413)."""

    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            from starlette.responses import JSONResponse

            mb = self.max_bytes / 1e6
            response = JSONResponse({"error": error_info("too_large", f"the upload is {int(length) / 1e6:.1f} MB; "
                                                                      f"the limit is {mb:g} MB")}, status_code=413,
                                    headers={"Connection": "close"})
            return await response(scope, receive, send)
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    scope[_TOO_LARGE] = True
                    return {"type": "http.disconnect"}
            return message

        return await self.app(scope, counted, send)


def create_app(model_dir: str | os.PathLike | None, work_root: str | os.PathLike, limits: Limits = Limits(), *,
               provider=None, examples_dir: str | os.PathLike | None = DEFAULT_EXAMPLES,
               allowed_hosts: list[str] | None = None, remove_work_root: bool = False):
    """The ``jegal serve`` app (module docstring).

    ``model_dir``: a model or training run directory, or None for the default model
    (:mod:`jegal.serve.default_model`); ``provider``: a ready-made
    :class:`~jegal.serve.default_model.ModelProvider` instead. ``work_root``: where job
    directories go (``work_root/jobs`` is deleted when the app shuts down, and ``work_root``
    itself with ``remove_work_root``: uvicorn re-raises SIGTERM/SIGINT after its shutdown, so
    only the app's shutdown is sure to run). ``limits``:
    :class:`~jegal.serve.jobs.Limits`. ``examples_dir``: the folder of real example videos
    (listed when it exists). ``allowed_hosts``: accepted ``Host`` headers (None: any).
    The model is prepared in the background from startup (or the first request)."""
    from fastapi import FastAPI, Request, Response
    from fastapi.responses import FileResponse, JSONResponse
    from fastapi.staticfiles import StaticFiles
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import ClientDisconnect

    from jegal.serve.default_model import ModelProvider, ModelUnavailable

    work_root = Path(work_root)
    work_root.mkdir(parents=True, exist_ok=True)
    if provider is None:
        provider = ModelProvider(model_dir)
    examples = list_examples(Path(examples_dir) if examples_dir is not None else None)
    synth_lock = threading.Lock()

    def run_job(job: Job) -> dict:
        inputs = job.inputs
        if inputs.video is None:  # the SynthGest example, generated on first use
            job.report("generating a SynthGest clip", 0.01)
            with synth_lock:
                kps, mp4 = synth_example(work_root / "examples" / "synthgest")
            inputs.video, inputs.frames = kps, mp4
        while True:  # the page shows the model's progress while the job waits for it
            try:
                net, loaded_dir, about = provider.get(timeout=1.0)
                break
            except ModelUnavailable as err:
                model = provider.status()
                if model["state"] == "failed":
                    raise Refused(503, "model_failed", str(err)) from None
                job.report("waiting for the model: " + (model["stage"] or model["state"]), 0.01)
        return analyse(job, net, loaded_dir, about)

    queue = JobQueue(work_root, limits, run_job)

    @asynccontextmanager
    async def lifespan(app):
        provider.start()
        yield
        queue.close()
        shutil.rmtree(work_root / "examples", ignore_errors=True)
        if remove_work_root:
            shutil.rmtree(work_root, ignore_errors=True)

    app = FastAPI(title="jegal serve", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.queue, app.state.provider, app.state.limits = queue, provider, limits
    app.add_middleware(BodyLimit, max_bytes=limits.max_upload_bytes)
    hosts = None if allowed_hosts is None else {h.strip("[]").lower() for h in allowed_hosts}

    @app.middleware("http")
    async def headers(request: Request, call_next):
        if hosts is not None and host_only(request.headers.get("host", "")) not in hosts:
            return JSONResponse({"error": error_info("bad_input", "unexpected Host header")}, status_code=400)
        if request.method in ("POST", "DELETE", "PUT", "PATCH"):
            origin = request.headers.get("origin")
            if origin is not None and origin.split("://", 1)[-1] != request.headers.get("host", ""):
                return JSONResponse({"error": error_info("bad_input", "requests from another site are refused")},
                                    status_code=403)
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        return response

    @app.exception_handler(Refused)
    async def refused(request: Request, err: Refused):
        return JSONResponse({"error": error_info(err.reason, err.message)}, status_code=err.status)

    def session(request: Request, response: Response) -> str:
        sid = request.cookies.get(SESSION_COOKIE, "")
        if not _SESSION.match(sid):
            sid = secrets.token_urlsafe(24)
            response.set_cookie(SESSION_COOKIE, sid, httponly=True, samesite="strict")
        return sid

    def own_job(request: Request, job_id: str) -> Job:
        sid = request.cookies.get(SESSION_COOKIE, "")
        job = queue.get(job_id, sid) if _JOB.match(job_id) and _SESSION.match(sid) else None
        if job is None:
            raise Refused(404, "bad_input", "no such job (finished jobs are kept "
                                            f"{limits.keep_minutes:g} min, for the session that made them)")
        return job

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def index(request: Request):
        response = FileResponse(STATIC / "index.html", media_type="text/html")
        session(request, response)
        return response

    @app.get("/api/status")
    def status(request: Request, response: Response):
        sid = session(request, response)
        provider.start()
        queue.sweep()
        latest = queue.latest(sid)
        return {"model": provider.status(), "limits": limits.to_json(),
                "examples": [e.to_json() for e in examples.values()],
                "queue": {"active": queue.active_count()},
                "job": queue.status(latest) if latest is not None else None}

    def check_upload(form, job: Job) -> Inputs:
        """The form's files saved under server-chosen names in the job's input folder, checked by content."""
        from starlette.datastructures import UploadFile

        folder = job.dir / "input"
        example = form.get("example")
        if isinstance(example, str) and example:
            ex = examples.get(example)
            if ex is None:
                raise Refused(404, "unknown_example", f"no example {example[:40]!r}")
            if ex.video is None:
                return Inputs(video=None, name=ex.title)
            info = probe_video(ex.video, limits.max_seconds, ex.video.name)
            return Inputs(video=ex.video, name=ex.title, duration_s=info["duration_s"],
                          silent_s=max(info["duration_s"], info["declared_s"]) if not info["has_audio"]
                          and not ex.video.with_suffix(".wav").is_file() else None)
        video = form.get("video")
        if not isinstance(video, UploadFile) or not video.filename and not video.size:
            raise Refused(400, "no_file", "no video file in the upload")
        name = display_name(video.filename, "video")
        raw = folder / "upload.bin"
        with open(raw, "wb") as f:
            shutil.copyfileobj(video.file, f, 1 << 20)
        with open(raw, "rb") as f:
            head = f.read(512)
        if not head:
            raise Refused(400, "no_file", f"{name}: the file is empty")
        if sniff_video(head) is None:
            raise Refused(415, "not_a_video", f"{name}: its content is not a video container (checked by content, "
                                              "not by name)")
        info = probe_video(raw, limits.max_seconds, name, sniffed=True)
        path = folder / ("video" + info["suffix"])
        raw.rename(path)
        names = {str(path): name}
        transcript = None
        t_file = form.get("transcript")
        if isinstance(t_file, UploadFile) and (t_file.filename or t_file.size):
            t_name = display_name(t_file.filename, "transcript")
            data = t_file.file.read(limits.max_transcript_bytes + 1)
            if len(data) > limits.max_transcript_bytes:
                raise Refused(413, "too_large", f"{t_name}: a transcript may have at most "
                                                f"{limits.max_transcript_kb:g} kB")
            if not data.strip():
                raise Refused(415, "not_a_transcript", f"{t_name}: the file is empty")
            transcript = folder / ("transcript" + transcript_suffix(data, t_name))
            transcript.write_bytes(data)
            names[str(transcript)] = t_name
        audio = None
        a_file = form.get("audio")
        if isinstance(a_file, UploadFile) and (a_file.filename or a_file.size):
            a_name = display_name(a_file.filename, "audio")
            audio = folder / "audio.bin"
            with open(audio, "wb") as f:
                shutil.copyfileobj(a_file.file, f, 1 << 20)
            with open(audio, "rb") as f:
                if not sniff_audio(f.read(512)):
                    raise Refused(415, "not_audio", f"{a_name}: its content is not an audio file")
            probe_audio(audio, a_name)
            names[str(audio)] = a_name
            names[str(path.with_suffix(".wav"))] = a_name
        silent = not info["has_audio"] and audio is None
        return Inputs(video=path, name=name, transcript=transcript, audio=audio, duration_s=info["duration_s"],
                      silent_s=max(info["duration_s"], info["declared_s"]) if silent else None, names=names)

    @app.post("/api/jobs")
    async def create_job(request: Request, response: Response):
        sid = session(request, response)
        job = queue.reserve(sid)  # busy / queue_full before the body is read
        form = None
        try:
            try:
                form = await request.form(max_files=3, max_fields=4, max_part_size=64 * 1024)
            except ClientDisconnect:
                if request.scope.get(_TOO_LARGE):
                    raise Refused(413, "too_large", f"the upload is larger than the limit of "
                                                    f"{limits.max_upload_mb:g} MB") from None
                raise
            except Exception as err:  # python-multipart's and Starlette's parse errors
                if request.scope.get(_TOO_LARGE):
                    raise Refused(413, "too_large", f"the upload is larger than the limit of "
                                                    f"{limits.max_upload_mb:g} MB") from None
                raise Refused(400, "bad_input", f"the upload cannot be read ({type(err).__name__}: {err})") from None
            inputs = await run_in_threadpool(check_upload, form, job)
        except BaseException:
            queue.release(job)
            raise
        finally:
            if form is not None:
                await form.close()
        queue.submit(job, inputs)
        return queue.status(job)

    @app.get("/api/jobs/{job_id}")
    def job_status(request: Request, job_id: str):
        return queue.status(own_job(request, job_id))

    def _file(job: Job, key: str) -> Path:
        path = job.files.get(key)
        if job.state != "done" or path is None or not Path(path).is_file():
            raise Refused(404, "bad_input", "this job has no such file (not finished, or failed)")
        return Path(path)

    @app.get("/api/jobs/{job_id}/video")
    def job_video(request: Request, job_id: str):
        return FileResponse(_file(own_job(request, job_id), "video"), media_type="video/mp4")

    @app.get("/api/jobs/{job_id}/maps/{k}")
    def job_map(request: Request, job_id: str, k: str):
        job = own_job(request, job_id)
        maps = job.files.get("maps", []) if job.state == "done" else []
        if not k.isdigit() or int(k) >= len(maps):
            raise Refused(404, "bad_input", "no such map")
        return FileResponse(maps[int(k)], media_type="image/png")

    @app.get("/api/jobs/{job_id}/download")
    def job_download(request: Request, job_id: str):
        job = own_job(request, job_id)
        return FileResponse(_file(job, "zip"), media_type="application/zip", filename=job.files["zip_name"])

    @app.delete("/api/jobs/{job_id}")
    def job_delete(request: Request, job_id: str):
        job = own_job(request, job_id)
        if not queue.cancel(job):
            raise Refused(409, "busy", "a running job cannot be stopped; it ends on its own")
        return {"id": job.id, "state": "forgotten"}

    return app


__all__ = ["CSP", "DEFAULT_EXAMPLES", "Example", "FORMATS", "SESSION_COOKIE", "create_app", "display_name", "host_only",
           "list_examples", "probe_audio", "probe_video", "sniff_audio", "sniff_video", "synth_example",
           "transcript_suffix"]
