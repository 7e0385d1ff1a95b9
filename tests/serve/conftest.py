"""Fixtures of the ``jegal serve`` tests: the small trained model of tests/conftest.py, model stand-ins, a
live server (uvicorn in a thread) and the files the tests upload."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from jegal.serve.default_model import ModelUnavailable
from tests.conftest import REAL

CHROMIUM = Path("/usr/bin/chromium")


class StubProvider:
    """A model provider for tests that never reach the model: :meth:`get` waits until
    :attr:`release` is set (immediately by default), then fails with ``ModelUnavailable``."""

    def __init__(self, block: bool = False):
        self.release = threading.Event()
        if not block:
            self.release.set()
        self.started = False

    def start(self) -> None:
        self.started = True

    def status(self) -> dict:
        return {"state": "failed", "stage": "", "progress": 0.0, "error": "no model in this test", "about": None}

    def get(self, timeout=None):
        self.release.wait(30)
        raise ModelUnavailable("no model in this test")


@pytest.fixture(scope="session")
def real_files() -> Path:
    """The real samples (sample1.avi with its .txt and .wav, ...); the tests that need them skip without."""
    if not (REAL / "sample1.avi").is_file():
        pytest.skip(f"the real samples are not at {REAL} (clone the repo with shared/ beside it)")
    return REAL


@contextmanager
def serving(app):
    """Run ``app`` with uvicorn on a free port of 127.0.0.1 in a thread, as ``jegal serve`` runs it (the header
    deadline of its limits); yields its base URL."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    from jegal.serve.app import uvicorn_options

    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on",
                                           **uvicorn_options(app.state.limits)))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started:
        if time.time() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


@dataclass
class Reply:
    status_code: int
    text: str
    set_cookie: str = ""

    def json(self):
        return json.loads(self.text)


def request(url: str, method: str, path: str, body: bytes = b"", headers: dict | None = None) -> Reply:
    """One HTTP request to the server at ``url`` on a connection of its own (a raw client: no cookie jar)."""
    host, port = url.split("//")[1].strip("/").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return Reply(r.status, r.read().decode("utf-8", "replace"), r.getheader("set-cookie") or "")
    finally:
        conn.close()


def upload(url: str, real, headers: dict | None = None) -> Reply:
    """A visitor (a new one unless ``headers`` has its cookie) uploads sample1.avi."""
    data = (real / "sample1.avi").read_bytes()
    body = (b"--xyz\r\nContent-Disposition: form-data; name=\"video\"; filename=\"sample1.avi\"\r\n"
            b"Content-Type: application/octet-stream\r\n\r\n" + data + b"\r\n--xyz--\r\n")
    return request(url, "POST", "/api/jobs", body,
                   {"Content-Type": "multipart/form-data; boundary=xyz", **(headers or {})})


def wait_job(client, job_id: str, timeout: float = 600.0, seen: list | None = None) -> dict:
    """Poll ``/api/jobs/<id>`` until the job is done or failed; returns its last status. ``seen``
    receives the ``(stage, progress)`` of every poll."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = client.get(f"/api/jobs/{job_id}").json()
        if seen is not None:
            seen.append((status["stage"], status["progress"]))
        if status["state"] in ("done", "failed"):
            return status
        time.sleep(0.2)
    raise TimeoutError(f"job {job_id} still {status['state']} after {timeout} s")
