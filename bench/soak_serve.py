"""Soak ``jegal serve``: N sessions upload, poll and cancel, slow clients hold connections, for M minutes.

    python bench/soak_serve.py --model DIR [--sessions 4] [--minutes 3] [--max-jobs 60] [--slow 2]

Starts ``jegal serve`` as a process of its own on a free port of 127.0.0.1 (loopback only: no other
address can be given) with a temporary work folder, waits for its model, then runs, until
``--minutes`` have passed or ``--max-jobs`` uploads were made (both bounds always hold):

- ``--sessions`` visitors (one cookie each), each in a loop: upload the video (and its transcript),
  poll every 0.5 s until the job is done or failed, fetch the zip of a done job; every fourth
  upload is cancelled (``DELETE``) as soon as it is accepted (a waiting job is forgotten, a
  running one answers 409 and is followed to its end);
- ``--slow`` slow clients, each in a loop: a connection that sends a ``POST /api/jobs``'s headers
  and then nothing (answered 408 after ``--read-timeout``), or half a request line (closed).

Then it stops the server (SIGTERM) and prints a markdown table: uploads accepted, done, failed (by
reason), cancelled, refused (busy / queue full / too many uploads), **lost** (an accepted job that
was not cancelled and whose id stopped answering before it ended, or that had not ended when the
soak and its grace period were over; must be 0), p50 / p95 time from upload to result, the slow
clients cut off, and the server's resident memory (``/proc/<pid>/status`` VmRSS sampled every
0.2 s: after the model loaded, after the first job, at the peak, at the end). ``--json`` writes
the same numbers to a file.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"
HOST = "127.0.0.1"


def rss_mb(pid: int) -> float | None:
    """Resident memory of process ``pid`` in MB (10^6 bytes), None when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024 / 1e6
    except OSError:
        return None
    return None


class Client:
    """One visitor: a cookie and requests on fresh connections to the server at ``port``."""

    def __init__(self, port: int):
        self.port, self.cookie = port, ""

    def request(self, method: str, path: str, body: bytes = b"", headers: dict | None = None) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=60)
        try:
            h = {**(headers or {}), **({"Cookie": self.cookie} if self.cookie else {})}
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            data = r.read()
            cookie = r.getheader("set-cookie")
            if cookie:
                self.cookie = cookie.split(";", 1)[0]
            return r.status, data
        finally:
            conn.close()

    def json(self, method: str, path: str, **kw) -> tuple[int, dict]:
        status, data = self.request(method, path, **kw)
        try:
            return status, json.loads(data)
        except ValueError:
            return status, {}


def multipart(files: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = "soak" + os.urandom(8).hex()
    parts = []
    for field, (name, data) in files.items():
        parts.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{name}\"\r\n"
                     "Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


class Soak:
    def __init__(self, port: int, files: dict, args):
        self.port, self.files, self.args = port, files, args
        self.end = time.monotonic() + 60 * args.minutes
        self.lock = threading.Lock()
        self.uploads = 0
        self.counts: Counter = Counter()
        self.failed: Counter = Counter()
        self.times: list[float] = []
        self.lost: list[str] = []
        self.slow: Counter = Counter()
        self.first_done = threading.Event()

    def take_upload(self) -> bool:
        with self.lock:
            if time.monotonic() >= self.end or self.uploads >= self.args.max_jobs:
                return False
            self.uploads += 1
            return True

    def session(self, k: int) -> None:
        client = Client(self.port)
        client.request("GET", "/")
        n = 0
        while self.take_upload():
            n += 1
            body, ctype = multipart(self.files)
            t0 = time.monotonic()
            status, doc = client.json("POST", "/api/jobs", body=body, headers={"Content-Type": ctype})
            if status != 200:
                reason = (doc.get("error") or {}).get("reason", str(status))
                with self.lock:
                    self.counts[f"refused {reason}"] += 1
                time.sleep(1.0)
                continue
            job = doc["id"]
            with self.lock:
                self.counts["accepted"] += 1
            cancelled = False
            if n % 4 == 0:
                status, _ = client.json("DELETE", f"/api/jobs/{job}")
                cancelled = status == 200
                with self.lock:
                    self.counts["cancelled" if cancelled else "cancel refused (running)"] += 1
                if cancelled:
                    continue
            self.follow(client, job, t0)

    def follow(self, client: Client, job: str, t0: float) -> None:
        grace = self.end + self.args.grace_s
        while True:
            status, doc = client.json("GET", f"/api/jobs/{job}")
            if status != 200:
                with self.lock:
                    self.lost.append(f"{job}: HTTP {status} while following it")
                return
            if doc["state"] in ("done", "failed"):
                break
            if time.monotonic() > grace:
                with self.lock:
                    self.lost.append(f"{job}: still {doc['state']} after the soak and its grace period")
                return
            time.sleep(0.5)
        took = time.monotonic() - t0
        with self.lock:
            self.times.append(took)
            if doc["state"] == "done":
                self.counts["done"] += 1
            else:
                self.counts["failed"] += 1
                self.failed[doc["error"]["reason"]] += 1
        if doc["state"] == "done":
            status, data = client.request("GET", f"/api/jobs/{job}/download")
            if status != 200 or not data.startswith(b"PK"):
                with self.lock:
                    self.lost.append(f"{job}: done, but its download answered HTTP {status}")
            self.first_done.set()

    def slow_client(self, k: int) -> None:
        while time.monotonic() < self.end:
            try:
                sock = socket.create_connection((HOST, self.port), timeout=self.args.read_timeout + 30)
                if k % 2 == 0:
                    sock.sendall(f"POST /api/jobs HTTP/1.1\r\nHost: {HOST}:{self.port}\r\nContent-Type: "
                                 "multipart/form-data; boundary=x\r\nContent-Length: 1000000\r\n\r\n".encode())
                else:
                    sock.sendall(b"POST /api/jo")
                t0, data = time.monotonic(), b""
                while True:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                sock.close()
                kind = "408" if data.startswith(b"HTTP/1.1 408") else ("closed" if not data else data[:12].decode())
                with self.lock:
                    self.slow[kind] += 1
                    self.slow["held_s_max"] = max(self.slow["held_s_max"], round(time.monotonic() - t0))
            except OSError as err:
                with self.lock:
                    self.slow[f"error {type(err).__name__}"] += 1
                time.sleep(1.0)


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="the model jegal serve uses (as --model)")
    parser.add_argument("--video", default=str(REAL / "sample1.avi"))
    parser.add_argument("--transcript", default=str(REAL / "sample1.txt"), help="'' for none")
    parser.add_argument("--sessions", type=int, default=4)
    parser.add_argument("--slow", type=int, default=2, help="slow clients")
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--max-jobs", type=int, default=60, help="uploads at most, all sessions together")
    parser.add_argument("--max-queue", type=int, default=8)
    parser.add_argument("--read-timeout", type=float, default=10.0)
    parser.add_argument("--grace-s", type=float, default=300.0, help="time after the soak for accepted jobs to end")
    parser.add_argument("--json", default=None, help="also write the numbers here")
    args = parser.parse_args(argv)
    if not 0 < args.minutes <= 60 or not 0 < args.max_jobs <= 1000 or not 0 < args.sessions <= 32 or args.slow > 32:
        parser.error("bounds: 0 < --minutes <= 60, 0 < --max-jobs <= 1000, 0 < --sessions <= 32, --slow <= 32")
    files = {"video": (Path(args.video).name, Path(args.video).read_bytes())}
    if args.transcript:
        files["transcript"] = (Path(args.transcript).name, Path(args.transcript).read_bytes())

    with socket.socket() as s:
        s.bind((HOST, 0))
        port = s.getsockname()[1]
    work = tempfile.mkdtemp(prefix="soak-")
    log = open(Path(work) / "server.log", "w")
    server = subprocess.Popen([sys.executable, "-m", "jegal.cli", "serve", "--model", args.model, "--host", HOST,
                               "--port", str(port), "--work-dir", work, "--max-queue", str(args.max_queue),
                               "--read-timeout", str(args.read_timeout), "--examples", ""],
                              stdout=log, stderr=subprocess.STDOUT)
    rss: list[tuple[float, float]] = []
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            v = rss_mb(server.pid)
            if v is not None:
                rss.append((time.monotonic(), v))
            stop.wait(0.2)

    threading.Thread(target=sample, daemon=True).start()
    probe = Client(port)
    deadline = time.monotonic() + 600
    while True:
        try:
            status, doc = probe.json("GET", "/api/status")
            if status == 200 and doc["model"]["state"] in ("ready", "failed"):
                break
        except OSError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            print("the server did not get ready; its log:", (Path(work) / "server.log").read_text(), file=sys.stderr)
            server.kill()
            return 1
        time.sleep(0.5)
    if doc["model"]["state"] != "ready":
        print(f"the model failed: {doc['model']['error']}", file=sys.stderr)
        server.kill()
        return 1
    time.sleep(1.0)
    rss_ready = rss_mb(server.pid)
    soak = Soak(port, files, args)
    t_start = time.monotonic()
    threads = [threading.Thread(target=soak.session, args=(k,)) for k in range(args.sessions)]
    threads += [threading.Thread(target=soak.slow_client, args=(k,), daemon=True) for k in range(args.slow)]
    for t in threads:
        t.start()
    soak.first_done.wait(60 * args.minutes + args.grace_s)
    rss_first = rss_mb(server.pid)
    for t in threads[:args.sessions]:
        t.join()
    wall = time.monotonic() - t_start
    soak.end = time.monotonic()  # the slow clients stop too (each after its connection is cut off)
    for t in threads[args.sessions:]:
        t.join(args.read_timeout + 10)
    rss_end = rss_mb(server.pid)
    stop.set()
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(60)
    except subprocess.TimeoutExpired:
        server.kill()
    leftover = [p for p in Path(work).glob("jegal-serve-*")]
    peak = max((v for _, v in rss), default=None)
    c = soak.counts
    result = {
        "sessions": args.sessions, "slow_clients": args.slow, "minutes": round(wall / 60, 2),
        "accepted": c["accepted"], "done": c["done"], "failed": c["failed"], "failed_reasons": dict(soak.failed),
        "cancelled": c["cancelled"], "cancel_refused_running": c["cancel refused (running)"],
        "refused": {k.removeprefix("refused "): v for k, v in c.items() if k.startswith("refused ")},
        "lost": len(soak.lost), "lost_jobs": soak.lost,
        "p50_s": pct(soak.times, 50), "p95_s": pct(soak.times, 95),
        "slow": dict(soak.slow), "rss_ready_mb": rss_ready, "rss_after_first_job_mb": rss_first,
        "rss_peak_mb": peak, "rss_end_mb": rss_end, "work_folder_left": [str(p) for p in leftover],
    }
    fmt = (lambda v: "-" if v is None else f"{v:.1f}")
    print("| sessions | slow clients | minutes | accepted | done | failed | cancelled | refused | lost | "
          "p50 s | p95 s | slow cut off | RSS ready / first job / peak / end (MB) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---|---|")
    refused = ", ".join(f"{k} {v}" for k, v in result["refused"].items()) or "0"
    cut = ", ".join(f"{k} {v}" for k, v in soak.slow.items() if k != "held_s_max")
    print(f"| {args.sessions} | {args.slow} | {result['minutes']} | {c['accepted']} | {c['done']} | {c['failed']} | "
          f"{c['cancelled']} | {refused} | {len(soak.lost)} | {fmt(result['p50_s'])} | {fmt(result['p95_s'])} | "
          f"{cut or '0'} (held at most {soak.slow['held_s_max']} s) | {fmt(rss_ready)} / {fmt(rss_first)} / "
          f"{fmt(peak)} / {fmt(rss_end)} |")
    if soak.failed:
        print("failed:", dict(soak.failed))
    for line in soak.lost:
        print("LOST:", line)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    log.close()
    return 1 if soak.lost or leftover else 0


if __name__ == "__main__":
    sys.exit(main())
