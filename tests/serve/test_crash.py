"""A ``jegal serve`` killed with SIGKILL during a job, then started again: the dead server's work folder
(and the upload in it) is removed, other folders are left alone, and the old job id answers that the
server stopped while the job ran. The servers are processes of their own on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from http.cookies import SimpleCookie
from pathlib import Path

from jegal.serve.queue import SERVER_STOPPED
from jegal.serve.recovery import MARKER, dead_server, process_start, write_marker

from .conftest import request, upload

SCRIPT = Path(__file__).with_name("blocked_serve.py")
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(work: Path, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, str(SCRIPT), "--port", str(port), "--work-dir", str(work),
                             "--examples", ""], stdout=open(log, "w"), stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if request(url, "GET", "/api/status").status_code == 200:
                return proc, url
        except OSError:
            time.sleep(0.2)
        assert proc.poll() is None, log.read_text()
    proc.kill()
    raise RuntimeError("the server did not start: " + log.read_text())


def test_a_server_killed_during_a_job_is_cleaned_up_at_the_next_start(tmp_path, real_files):
    work = tmp_path / "work"
    work.mkdir()
    other = work / "jegal-serve-not-ours"  # looks like a work folder but carries no marker: not touched
    other.mkdir()
    (other / "keep.txt").write_text("someone else's")
    (work / "notes.txt").write_text("not a folder")
    proc, url = start(work, tmp_path / "first.log")
    try:
        r = upload(url, real_files)
        assert r.status_code == 200, r.text
        job_id = r.json()["id"]
        cookie = {"Cookie": "; ".join(f"{k}={m.value}" for k, m in SimpleCookie(r.set_cookie).items())}
        deadline = time.time() + 30
        while request(url, "GET", f"/api/jobs/{job_id}", headers=cookie).json()["state"] != "running":
            assert time.time() < deadline
            time.sleep(0.1)
        (folder,) = [f for f in work.glob("jegal-serve-*") if (f / MARKER).is_file()]
        assert list(folder.glob(f"jobs/{job_id}/input/video.*")), "the upload is on disk while the job runs"
        assert not dead_server(folder)  # its server runs
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    assert folder.is_dir() and dead_server(folder)  # SIGKILL: nothing ran to clean up

    proc, url = start(work, tmp_path / "second.log")
    try:
        assert not folder.exists()  # the dead server's folder went, with its upload
        assert not [p for p in work.rglob("video.*")]
        assert (other / "keep.txt").read_text() == "someone else's" and (work / "notes.txt").is_file()
        r = request(url, "GET", f"/api/jobs/{job_id}", headers=cookie)
        assert r.status_code == 200, r.text
        status = r.json()
        assert status["state"] == "failed" and status["error"]["reason"] == "server_stopped"
        assert status["error"]["message"] == SERVER_STOPPED == "the server stopped while this job ran"
        assert status["name"] == "sample1.avi"
        # to another session the old id is unknown, with a title of its own (not "This file cannot be used")
        r = request(url, "GET", f"/api/jobs/{job_id}")
        assert r.status_code == 404 and r.json()["error"]["title"] == "No such job"
        # the session can start again
        r = upload(url, real_files, headers=cookie)
        assert r.status_code == 200, r.text
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    assert not [f for f in work.glob("jegal-serve-*") if f != other]  # a clean stop deletes its own folder
    assert "Traceback" not in (tmp_path / "second.log").read_text()


def test_only_folders_marked_by_a_dead_server_of_this_host_count_as_dead(tmp_path):
    alive = tmp_path / "jegal-serve-alive"
    alive.mkdir()
    write_marker(alive)  # this process: alive
    assert not dead_server(alive)
    gone = tmp_path / "jegal-serve-gone"
    gone.mkdir()
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    (gone / MARKER).write_text(json.dumps({"pid": child.pid, "start": None, "host": os.uname().nodename}))
    assert dead_server(gone)
    reused = tmp_path / "jegal-serve-reused"  # the pid runs, but it is a later process than the marker's
    reused.mkdir()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (reused / MARKER).write_text(json.dumps({"pid": sleeper.pid, "start": 1, "host": os.uname().nodename}))
        if sys.platform.startswith("linux"):
            assert dead_server(reused)
        write_marker(reused)
        marker = json.loads((reused / MARKER).read_text())
        (reused / MARKER).write_text(json.dumps({**marker, "pid": sleeper.pid, "start": process_start(sleeper.pid)}))
        assert not dead_server(reused)  # the same process: alive
    finally:
        sleeper.kill()
        sleeper.wait()
    elsewhere = tmp_path / "jegal-serve-elsewhere"
    elsewhere.mkdir()
    (elsewhere / MARKER).write_text(json.dumps({"pid": child.pid, "start": None, "host": "another-host"}))
    assert not dead_server(elsewhere)
    unnamed = tmp_path / "my-folder"
    unnamed.mkdir()
    (unnamed / MARKER).write_text(json.dumps({"pid": child.pid, "start": None, "host": os.uname().nodename}))
    assert not dead_server(unnamed)
    bad = tmp_path / "jegal-serve-bad"
    bad.mkdir()
    (bad / MARKER).write_text("not json")
    assert not dead_server(bad)
