"""Slow clients against a real server (uvicorn in a thread, raw sockets on 127.0.0.1): a client that
sends a request's headers and then nothing, or only part of its headers, holds no queue slot and is
cut off after the read deadline; one address may have only so many uploads arriving at once."""

from __future__ import annotations

import socket
import time

import pytest

from jegal.serve.app import create_app
from jegal.serve.queue import Limits

from .conftest import StubProvider, request, serving, upload

DEADLINE = 2.0


def headers_only(url: str, length: int = 200_000) -> socket.socket:
    """A socket that has sent a ``POST /api/jobs``'s headers (announcing ``length`` bytes of body) and nothing more."""
    host, port = url.split("//")[1].strip("/").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    sock.sendall(f"POST /api/jobs HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: multipart/form-data; "
                 f"boundary=xyz\r\nContent-Length: {length}\r\n\r\n".encode())
    return sock


def answer(sock: socket.socket) -> bytes:
    """What the server sends before it closes ``sock``."""
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


@pytest.fixture
def slow_server(tmp_path):
    def make(**limits):
        app = create_app(None, tmp_path / "work", Limits(read_timeout_s=DEADLINE, **limits), provider=StubProvider())
        return serving(app)
    return make


def test_two_header_only_uploads_do_not_block_a_third_visitor_beyond_the_deadline(slow_server, real_files):
    with slow_server(max_queue=2, max_uploads_per_client=2) as url:
        t0 = time.monotonic()
        slow = [headers_only(url), headers_only(url)]
        time.sleep(0.3)  # both are in the route, waiting for their bodies
        first = upload(url, real_files)  # same address: refused while the two still arrive, at once
        assert first.status_code == 429 and first.json()["error"]["reason"] == "too_many_uploads", first.text
        while True:
            r = upload(url, real_files)
            if r.status_code != 429:
                break
            assert time.monotonic() - t0 < DEADLINE + 2.0, "the slow uploads held their places past the deadline"
            time.sleep(0.2)
        assert r.status_code == 200, r.text  # accepted: the two slow ones never took a queue slot
        for sock in slow:  # each was answered 408 and closed
            reply = answer(sock)
            assert reply.startswith(b"HTTP/1.1 408") and b"too_slow" in reply, reply[:300]
            sock.close()


def test_header_only_uploads_take_no_queue_slot(slow_server, real_files):
    with slow_server(max_queue=2, max_uploads_per_client=4) as url:
        slow = [headers_only(url), headers_only(url)]
        time.sleep(0.3)
        t0 = time.monotonic()
        r = upload(url, real_files)  # a queue of 2 and two uploads arriving: the third is not "queue full"
        assert r.status_code == 200, r.text
        assert time.monotonic() - t0 < DEADLINE
        for sock in slow:
            sock.close()


def test_a_connection_that_never_finishes_its_headers_is_closed_after_the_deadline(slow_server):
    with slow_server() as url:
        host, port = url.split("//")[1].strip("/").split(":")
        sock = socket.create_connection((host, int(port)), timeout=30)
        t0 = time.monotonic()
        sock.sendall(b"POST /api/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        assert answer(sock) == b""  # closed by the server
        assert DEADLINE - 0.2 < time.monotonic() - t0 < DEADLINE + 3.0
        sock.close()
        assert request(url, "GET", "/api/status").status_code == 200  # others are served meanwhile


def test_an_upload_that_trickles_past_the_deadline_is_refused(slow_server):
    with slow_server() as url:
        sock = headers_only(url, length=10_000)
        t0 = time.monotonic()
        for _ in range(int(DEADLINE / 0.5) + 4):
            try:
                sock.sendall(b"--xyz\r\n" if _ == 0 else b"x" * 50)
            except OSError:
                break
            time.sleep(0.5)
        reply = answer(sock)
        assert reply.startswith(b"HTTP/1.1 408"), reply[:300]
        assert time.monotonic() - t0 < DEADLINE + 4.0
        sock.close()
