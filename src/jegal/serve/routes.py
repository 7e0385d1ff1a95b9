"""The routes of ``jegal serve``: the page, the status, the jobs and their files.

Routes (JSON unless said; every ``/api/jobs/{id}...`` route answers 404 unless ``id`` is 32 hex
digits naming a job of the caller's session):

- ``GET /``: the page (``static/index.html``); sets the session cookie (random, HttpOnly,
  SameSite=Strict). ``GET /static/...``: the page's JS and CSS, from the package.
- ``GET /api/status``: the model (state, progress, what it was trained on), the limits, the
  examples, and the session's latest job.
- ``POST /api/jobs``: multipart ``video`` (+ optional ``transcript``, ``audio``), or ``example``
  (an example id from the status). 200 with the job's status; 413 ``too_large`` / ``too_long``,
  415 ``not_a_video`` / ``not_a_transcript`` / ``not_audio``, 422 ``corrupt_video`` / ``no_video``,
  409 ``busy`` (the session has a job), 503 ``queue_full``, 408 ``too_slow`` (the body did not
  arrive within ``read_timeout_s``), 429 ``too_many_uploads`` (this address already sends
  ``max_uploads_per_client``), 400 ``no_file``, 404 ``unknown_example``; each as
  ``{"error": {"reason", "title", "hint", "message"}}``. ``busy`` and ``queue_full`` are checked
  before the body is read, and again when it has arrived: only then is the queue slot taken.
  An upload the client aborts is logged in one line.
- ``GET /api/jobs/{id}``: state, stage, progress, queue message, error or result.
- ``GET /api/jobs/{id}/video`` (the page's mp4, with HTTP ranges), ``/maps/{k}`` (the k-th
  heatmap PNG), ``/download`` (the zip of every output); ``DELETE /api/jobs/{id}`` forgets a
  job that waits or has ended.
"""

# No "from __future__ import annotations": FastAPI reads the route functions' annotations.
import collections
import re
import secrets
import sys
from pathlib import Path

from jegal.serve.errors import Refused
from jegal.serve.queue import JOB_ID_PATTERN, Job, JobQueue, Limits
from jegal.serve.uploads import check_upload

STATIC = Path(__file__).resolve().parent / "static"
SESSION_COOKIE = "jegal_session"
_SESSION = re.compile(r"^[A-Za-z0-9_-]{32}$")
_JOB = re.compile(JOB_ID_PATTERN)
TOO_LARGE = "jegal.body_too_large"  # set in the request's scope by jegal.serve.app.BodyLimit
TOO_SLOW = "jegal.body_too_slow"  # likewise, when the body did not arrive in time


def add_routes(app, queue: JobQueue, provider, limits: Limits, examples: dict) -> None:
    """Every route of the page on ``app`` (module docstring): ``queue`` runs the jobs, ``provider``
    (:class:`jegal.serve.default_model.ModelProvider`) says how the model is, ``examples``
    (:func:`jegal.serve.examples.list_examples`) are offered."""
    from fastapi import Request, Response
    from fastapi.responses import FileResponse
    from fastapi.staticfiles import StaticFiles
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import ClientDisconnect

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
            raise Refused(404, "unknown_job", "no such job (finished jobs are kept "
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

    opened: collections.Counter = collections.Counter()  # client address -> uploads being received

    def unreadable(request: Request, err: BaseException | None = None) -> Refused | None:
        """Why the body could not be read, as the refusal to answer (None: the client went away)."""
        if request.scope.get(TOO_LARGE):
            return Refused(413, "too_large", f"the upload is larger than the limit of {limits.max_upload_mb:g} MB")
        if request.scope.get(TOO_SLOW):
            return Refused(408, "too_slow", f"the upload did not arrive within {limits.read_timeout_s:g} s")
        if err is not None:
            return Refused(400, "bad_input", f"the upload cannot be read ({type(err).__name__}: {err})")
        return None

    @app.post("/api/jobs")
    async def create_job(request: Request, response: Response):
        sid = session(request, response)
        queue.check(sid)  # busy / queue_full before the body is read; nothing is taken yet
        client = request.client.host if request.client else ""
        if opened[client] >= limits.max_uploads_per_client:
            raise Refused(429, "too_many_uploads", f"{opened[client]} uploads from your address are still arriving")
        opened[client] += 1
        form = job = None
        try:
            try:
                form = await request.form(max_files=3, max_fields=4, max_part_size=64 * 1024)
            except ClientDisconnect:
                refusal = unreadable(request)
                if refusal is not None:
                    raise refusal from None
                print(f"jegal serve: an upload from {client or 'a client'} was aborted by the client",
                      file=sys.stderr, flush=True)
                return Response(status_code=400)  # nobody is listening
            except Exception as err:  # python-multipart's and Starlette's parse errors
                raise unreadable(request, err) from None
        finally:
            opened[client] -= 1
            if opened[client] <= 0:
                del opened[client]
        try:
            job = queue.reserve(sid)  # the upload has arrived: now it takes its place in the queue
            inputs = await run_in_threadpool(check_upload, form, job, limits, examples)
        except BaseException:
            if job is not None:
                queue.release(job)
            raise
        finally:
            await form.close()
        queue.submit(job, inputs)
        return queue.status(job)

    @app.get("/api/jobs/{job_id}")
    def job_status(request: Request, job_id: str):
        return queue.status(own_job(request, job_id))

    def _file(job: Job, key: str) -> Path:
        path = job.files.get(key)
        if job.state != "done" or path is None or not Path(path).is_file():
            raise Refused(404, "not_found", "this job has no such file (not finished, or failed)")
        return Path(path)

    @app.get("/api/jobs/{job_id}/video")
    def job_video(request: Request, job_id: str):
        return FileResponse(_file(own_job(request, job_id), "video"), media_type="video/mp4")

    @app.get("/api/jobs/{job_id}/maps/{k}")
    def job_map(request: Request, job_id: str, k: str):
        job = own_job(request, job_id)
        maps = job.files.get("maps", []) if job.state == "done" else []
        if not re.fullmatch(r"[0-9]{1,6}", k) or int(k) >= len(maps):  # (str.isdigit takes "²" too)
            raise Refused(404, "not_found", "no such map")
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


__all__ = ["SESSION_COOKIE", "STATIC", "TOO_LARGE", "TOO_SLOW", "add_routes"]
