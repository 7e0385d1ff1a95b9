"""The FastAPI app of ``jegal serve``: :func:`create_app`, made of

- :mod:`~jegal.serve.routes`: the routes (the page, the status, the jobs and their files);
- :mod:`~jegal.serve.uploads`: what an upload may be, checked by content;
- :mod:`~jegal.serve.queue`: the jobs and the queue that runs them one at a time;
- :mod:`~jegal.serve.work`: what one job does (``jegal spot`` / ``jegal asd`` through :mod:`jegal.use`);
- :mod:`~jegal.serve.errors`: what the page says when something fails;
- :mod:`~jegal.serve.examples` and :mod:`~jegal.serve.default_model`: the examples and the model.

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

**Slow clients.** A request's headers must arrive within ``Limits.read_timeout_s`` of the
connection (or of the previous response on a kept-alive one): :func:`deadline_protocol`, uvicorn's
HTTP/1.1 protocol with that timer (uvicorn has only a keep-alive timeout); an upload's body within
the same time of its headers (:class:`BodyLimit`, 408 ``too_slow``). The queue slot is taken only
once the body has arrived, and one client address may have at most
``Limits.max_uploads_per_client`` uploads being received at once (:mod:`~jegal.serve.routes`).
:func:`uvicorn_options` gives ``uvicorn.run`` / ``uvicorn.Config`` what this needs.

**Crash safety.** The work folder carries a marker and every job's state (:mod:`jegal.serve.recovery`);
with ``recover=True`` (``jegal serve`` does) the app deletes the work folders of dead servers beside
its own and answers their unfinished jobs' ids with "the server stopped while this job ran".
"""

# No "from __future__ import annotations": FastAPI reads the route functions' annotations.
import asyncio
import os
import shutil
import sys
import threading
from contextlib import asynccontextmanager
from pathlib import Path

from jegal.serve.errors import Refused, error_info
from jegal.serve.examples import DEFAULT_EXAMPLES, list_examples
from jegal.serve.queue import Job, JobQueue, Limits
from jegal.serve.routes import SESSION_COOKIE, TOO_LARGE, TOO_SLOW, add_routes

CSP = ("default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; style-src 'self'; script-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")


def host_only(host: str) -> str:
    """The host of a ``Host`` header without its port or IPv6 brackets, lower case."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def deadline_protocol(seconds: float):
    """uvicorn's HTTP/1.1 protocol (h11) with a deadline on a request's headers: a connection whose
    next request's headers have not all arrived ``seconds`` after it opened (or after the previous
    response) is closed, with one line in the log. uvicorn itself only times out idle kept-alive
    connections, and only until their first byte."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeaderDeadline(H11Protocol):
        _late: asyncio.TimerHandle | None = None

        def _arm(self) -> None:
            self._disarm()
            self._late = self.loop.call_later(seconds, self._headers_late)

        def _disarm(self) -> None:
            if self._late is not None:
                self._late.cancel()
                self._late = None

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._arm()

        def handle_events(self) -> None:
            cycle = self.cycle
            super().handle_events()
            if self.cycle is not cycle:  # a request's headers have all arrived
                self._disarm()

        def on_response_complete(self) -> None:
            self._arm()  # the next request's headers (a pipelined one disarms it at once)
            super().on_response_complete()

        def connection_lost(self, exc) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _headers_late(self) -> None:
            self._late = None
            if (self.cycle is None or self.cycle.response_complete) and not self.transport.is_closing():
                who = "%s:%d" % self.client if self.client else "a client"
                print(f"jegal serve: closed a connection from {who}: no complete request headers within "
                      f"{seconds:g} s", file=sys.stderr, flush=True)
                self.transport.close()

    return HeaderDeadline


def uvicorn_options(limits: Limits) -> dict:
    """The keyword arguments of ``uvicorn.run`` / ``uvicorn.Config`` that the page's limits need:
    the header deadline (:func:`deadline_protocol`)."""
    return {"http": deadline_protocol(limits.read_timeout_s)}


class BodyLimit:
    """ASGI middleware: a POST/PUT/PATCH whose ``Content-Length`` exceeds ``max_bytes`` gets 413 at
    once; a body that grows past it while arriving is cut off (the app sees a disconnect, and
    ``scope["jegal.body_too_large"]`` is set so it can answer 413); so is a body not wholly
    arrived ``timeout_s`` after the request's headers (``scope["jegal.body_too_slow"]``: 408)."""

    def __init__(self, app, max_bytes: int, timeout_s: float | None = None):
        self.app, self.max_bytes, self.timeout_s = app, max_bytes, timeout_s

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
        loop = asyncio.get_running_loop()
        deadline = None if self.timeout_s is None else loop.time() + self.timeout_s

        async def counted():
            nonlocal seen, deadline
            if deadline is None:
                message = await receive()
            else:
                try:
                    message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
                except asyncio.TimeoutError:
                    scope[TOO_SLOW] = True
                    return {"type": "http.disconnect"}
            if message["type"] == "http.request":
                if not message.get("more_body", False):
                    deadline = None  # the body is complete: what follows is waiting for a disconnect
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    scope[TOO_LARGE] = True
                    return {"type": "http.disconnect"}
            return message

        return await self.app(scope, counted, send)


def create_app(model_dir: str | os.PathLike | None, work_root: str | os.PathLike, limits: Limits = Limits(), *,
               provider=None, examples_dir: str | os.PathLike | None = DEFAULT_EXAMPLES,
               allowed_hosts: list[str] | None = None, remove_work_root: bool = False, recover: bool = False):
    """The ``jegal serve`` app (module docstring).

    ``model_dir``: a model or training run directory, or None for the default model
    (:mod:`jegal.serve.default_model`); ``provider``: a ready-made
    :class:`~jegal.serve.default_model.ModelProvider` instead. ``work_root``: where job
    directories go (``work_root/jobs`` is deleted when the app shuts down, and ``work_root``
    itself with ``remove_work_root``: uvicorn re-raises SIGTERM/SIGINT after its shutdown, so
    only the app's shutdown is sure to run). ``limits``:
    :class:`~jegal.serve.queue.Limits`. ``examples_dir``: the folder of real example videos
    (listed when it exists). ``allowed_hosts``: accepted ``Host`` headers (None: any).
    ``recover``: delete the work folders of dead servers beside ``work_root`` and answer their
    unfinished jobs (:mod:`jegal.serve.recovery`). The model is prepared in the background from
    startup (or the first request)."""
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse

    from jegal.serve.default_model import ModelProvider, ModelUnavailable
    from jegal.serve.recovery import recover as recover_dead
    from jegal.serve.recovery import write_marker
    from jegal.serve.work import analyse
    from jegal.use import synth_example

    work_root = Path(work_root)
    work_root.mkdir(parents=True, exist_ok=True)
    write_marker(work_root)
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
            inputs.names.update({str(kps): kps.name, str(mp4): mp4.name, str(kps.parent) + os.sep: ""})
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
    if recover:
        records, removed = recover_dead(work_root.parent, work_root)
        queue.adopt(records)
        if removed:
            print(f"jegal serve: removed the work folders of {len(removed)} stopped server(s) "
                  f"({len(records)} unfinished job(s) will be reported as stopped)", file=sys.stderr, flush=True)

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
    app.add_middleware(BodyLimit, max_bytes=limits.max_upload_bytes, timeout_s=limits.read_timeout_s)
    hosts = None if allowed_hosts is None else {h.strip("[]").lower() for h in allowed_hosts}

    @app.middleware("http")
    async def headers(request: Request, call_next):
        if hosts is not None and host_only(request.headers.get("host", "")) not in hosts:
            return JSONResponse({"error": error_info("bad_host", "unexpected Host header")}, status_code=400)
        if request.method in ("POST", "DELETE", "PUT", "PATCH"):
            origin = request.headers.get("origin")
            if origin is not None and origin.split("://", 1)[-1] != request.headers.get("host", ""):
                return JSONResponse({"error": error_info("other_site", "requests from another site are refused")},
                                    status_code=403)
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        return response

    @app.exception_handler(Refused)
    async def refused(request: Request, err: Refused):
        close = {"Connection": "close"} if err.status in (408, 413) else None  # the rest of the body is not read
        return JSONResponse({"error": error_info(err.reason, err.message)}, status_code=err.status, headers=close)

    add_routes(app, queue, provider, limits, examples)
    return app


__all__ = ["CSP", "SESSION_COOKIE", "BodyLimit", "create_app", "deadline_protocol", "host_only", "uvicorn_options"]
