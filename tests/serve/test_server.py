"""``jegal serve`` through FastAPI's TestClient: content checks, limits, path handling, sessions
and the queue, cleanup, and (slow, with a trained model) whole jobs whose results are those of
``jegal spot``."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from starlette.testclient import TestClient

from jegal.data.transcripts import read_txt
from jegal.perception.errors import ITEM_FAILURES, BadInput
from jegal.serve.app import SESSION_COOKIE, create_app, host_only
from jegal.serve.errors import ERRORS
from jegal.serve.examples import list_examples
from jegal.serve.queue import Limits
from jegal.serve.recovery import MARKER
from jegal.serve.uploads import display_name, sniff_audio, sniff_video, transcript_suffix
from jegal.serve.work import page_warning
from jegal.use.video import FrontEndMismatch, NoWordsOnPeople

from ..perception.wild import stripes, write_video
from .conftest import StubProvider, wait_job

TIMED = b"Text: hello there\nLang: en\n\nWORD, START, END, SCORE\nhello, 0.1, 0.5, 0.9\nthere, 0.6, 1.0, 0.9\n"
SMALL = Limits(max_upload_mb=1.0, max_seconds=10.0, max_transcript_kb=20.0)


def make_client(tmp_path, limits=SMALL, provider=None, **kw) -> TestClient:
    app = create_app(None, tmp_path / "work", limits, provider=provider or StubProvider(), **kw)
    return TestClient(app)


def video_files(real, name="sample1.avi", transcript=True, audio=False, as_name=None) -> dict:
    files = {"video": (as_name or name, (real / name).read_bytes(), "application/octet-stream")}
    stem = Path(name).stem
    if transcript:
        files["transcript"] = (f"{stem}.txt", (real / f"{stem}.txt").read_bytes(), "text/plain")
    if audio:
        files["audio"] = (f"{stem}.wav", (real / f"{stem}.wav").read_bytes(), "audio/wav")
    return files


def all_files(root: Path) -> list[Path]:
    """The files under ``root`` but the server's marker (jegal.serve.recovery)."""
    return [p for p in root.rglob("*") if p.is_file() and p.name != MARKER]


# -- content sniffing ---------------------------------------------------------------------------------
def test_containers_are_recognised_by_their_first_bytes_and_nothing_else(real_files):
    assert sniff_video((real_files / "sample1.avi").read_bytes()[:512]) == "avi"
    assert sniff_video((real_files / "speaker_raw.mp4").read_bytes()[:512]) == "mp4"
    assert sniff_video(b"\x1a\x45\xdf\xa3" + bytes(60)) == "matroska"
    assert sniff_video(b"FLV\x01" + bytes(60)) == "flv"
    ts = bytearray(600)
    ts[0] = ts[188] = ts[376] = 0x47
    assert sniff_video(bytes(ts)) == "mpegts"
    for not_video in (b"<html><script>alert(1)</script>", b"\x89PNG\r\n\x1a\n" + bytes(40), b"%PDF-1.7",
                      (real_files / "sample1.txt").read_bytes(), (real_files / "sample1.wav").read_bytes()[:512],
                      b"PK\x03\x04" + bytes(40), b""):
        assert sniff_video(not_video[:512]) is None
    assert sniff_audio((real_files / "sample1.wav").read_bytes()[:512])
    assert sniff_audio(b"ID3\x04" + bytes(20)) and sniff_audio(b"fLaC" + bytes(20))
    assert not sniff_audio(b"hello world, not audio")


def test_transcripts_are_typed_by_content_and_binary_files_are_refused(real_files):
    from jegal.serve.errors import Refused

    assert transcript_suffix((real_files / "sample1.txt").read_bytes(), "t") == ".txt"
    assert transcript_suffix(json.dumps({"segments": []}).encode(), "t") == ".json"
    assert transcript_suffix(b'File type = "ooTextFile"\nObject class = "TextGrid"\n', "t") == ".TextGrid"
    assert transcript_suffix("hello there\n".encode("utf-16"), "t") == ".txt"
    assert transcript_suffix("caf\xe9 au lait".encode("cp1252"), "t") == ".txt"
    for binary in ((real_files / "sample1.avi").read_bytes()[:2000], b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"):
        with pytest.raises(Refused) as err:
            transcript_suffix(binary, "clip.txt")
        assert err.value.reason == "not_a_transcript" and "clip.txt" in err.value.message


def test_names_are_only_shown_never_used_as_paths():
    assert display_name("../../etc/passwd", "video") == "passwd"
    assert display_name("C:\\Users\\me\\talk.mp4", "video") == "talk.mp4"
    assert display_name("a\x00b\nc.avi", "video") == "abc.avi"
    assert display_name("", "video") == "video" and display_name(None, "video") == "video"
    assert host_only("127.0.0.1:7860") == "127.0.0.1" and host_only("[::1]:7860") == "::1"
    assert host_only("LOCALHOST") == "localhost"


def test_every_failure_prepare_can_report_has_a_title_and_a_hint():
    reasons = {cls.reason for cls in (*ITEM_FAILURES, BadInput, NoWordsOnPeople, FrontEndMismatch)}
    missing = reasons - set(ERRORS)
    assert not missing, f"no page message for {sorted(missing)}"
    assert all(title and hint for title, hint in ERRORS.values())


# -- the page ---------------------------------------------------------------------------------------
def test_page_and_its_files_are_served_with_a_session_cookie_and_a_strict_policy(tmp_path):
    with make_client(tmp_path) as client:
        page = client.get("/")
        assert page.status_code == 200 and 'src="static/app.js"' in page.text
        cookie = page.headers["set-cookie"]
        assert SESSION_COOKIE in cookie and "HttpOnly" in cookie and "samesite=strict" in cookie.lower()
        assert "default-src 'self'" in page.headers["content-security-policy"]
        for name in ("app.js", "app.css", "index.html"):
            assert client.get(f"/static/{name}").status_code == 200
        for bad in ("/static/../app.py", "/static/%2e%2e/app.py", "/static/..%2fapp.py", "/static/%2e%2e%2fjobs.py"):
            r = client.get(bad)
            assert r.status_code == 404 and "def create_app" not in r.text and "JobQueue" not in r.text
        # no page or script refers to anything outside the server
        for name in ("index.html", "app.js", "app.css"):
            text = client.get(f"/static/{name}").text
            assert "http://" not in text and "https://" not in text and "//cdn" not in text


def test_status_lists_limits_and_only_the_examples_that_exist(tmp_path, real_files):
    folder = tmp_path / "ex"
    folder.mkdir()
    shutil.copy(real_files / "speaker_raw.mp4", folder / "talk.mp4")
    (folder / "notes.txt").write_text("not a video")
    with make_client(tmp_path, examples_dir=folder) as client:
        status = client.get("/api/status").json()
    assert status["limits"]["max_upload_mb"] == SMALL.max_upload_mb and status["limits"]["max_seconds"] == 10.0
    assert [e["id"] for e in status["examples"]] == ["real-talk", "synthgest"]
    assert "speech recognition" in status["examples"][0]["description"]  # no transcript beside it
    assert status["model"]["state"] == "failed" and status["job"] is None
    assert "real-sample1" in list_examples(real_files) and list_examples(tmp_path / "nowhere").keys() == {"synthgest"}


# -- limits -----------------------------------------------------------------------------------------
def test_an_upload_over_the_size_limit_is_refused_and_leaves_nothing(tmp_path, real_files):
    limits = Limits(max_upload_mb=0.05)  # sample1.avi is 130 kB
    with make_client(tmp_path, limits) as client:
        r = client.post("/api/jobs", files=video_files(real_files))
        assert r.status_code == 413 and r.json()["error"]["reason"] == "too_large"
        assert "0.05 MB" in r.json()["error"]["message"]
        # without a Content-Length (chunked): cut off while arriving
        body, ctype = _multipart(video_files(real_files))
        r = client.post("/api/jobs", content=iter([body[i:i + 8192] for i in range(0, len(body), 8192)]),
                        headers={"content-type": ctype})
        assert r.status_code == 413 and r.json()["error"]["reason"] == "too_large"
        assert not client.app.state.queue.jobs
        assert not all_files(tmp_path / "work")


def _multipart(files: dict) -> tuple[bytes, str]:
    import httpx2 as httpx

    request = httpx.Request("POST", "http://x/", files=files)
    return request.read(), request.headers["content-type"]


def test_a_video_over_the_duration_limit_is_refused(tmp_path, real_files):
    with make_client(tmp_path, Limits(max_seconds=2.0)) as client:  # sample1 lasts 2.24 s
        r = client.post("/api/jobs", files=video_files(real_files))
        assert r.status_code == 413 and r.json()["error"]["reason"] == "too_long" and "2 s" in r.json()["error"]["message"]
        r = client.post("/api/jobs", files=video_files(real_files, "speaker_raw.mp4", transcript=False))
        assert r.status_code == 413 and r.json()["error"]["reason"] == "too_long"
        assert not client.app.state.queue.jobs and not all_files(tmp_path / "work")


def test_a_transcript_over_its_limit_is_refused(tmp_path, real_files):
    with make_client(tmp_path, Limits(max_transcript_kb=0.1)) as client:
        r = client.post("/api/jobs", files=video_files(real_files))  # sample1.txt: 297 bytes
        assert r.status_code == 413 and r.json()["error"]["reason"] == "too_large"
        assert "sample1.txt" in r.json()["error"]["message"]


# -- content, not names ----------------------------------------------------------------------------------
@pytest.mark.parametrize("payload,reason", [(b"<html><body>hello</body></html>" * 20, "not_a_video"),
                                            (b"\x89PNG\r\n\x1a\n" + bytes(500), "not_a_video"),
                                            (b"RIFF\x00\x10\x00\x00AVI LIST" + bytes(60), "corrupt_video")])
def test_files_named_like_videos_are_refused_by_their_content(tmp_path, payload, reason):
    with make_client(tmp_path) as client:
        r = client.post("/api/jobs", files={"video": ("talk.mp4", payload, "video/mp4")})
        assert r.json()["error"]["reason"] == reason and r.status_code in (415, 422)
        assert "talk.mp4" in r.json()["error"]["message"]
        assert str(tmp_path) not in r.text  # no server path in what the page shows
        assert not all_files(tmp_path / "work")


def test_a_damaged_video_gets_a_clear_message_naming_the_users_file(tmp_path, real_files):
    data = (real_files / "sample1.avi").read_bytes()
    noise = np.random.default_rng(0).integers(0, 256, 60_000, dtype=np.uint8).tobytes()
    with make_client(tmp_path) as client:
        r = client.post("/api/jobs", files={"video": ("holiday.avi", data[:4096] + noise, "video/x-msvideo")})
        err = r.json()["error"]
        assert r.status_code == 422 and err["reason"] == "corrupt_video"
        assert err["title"] == ERRORS["corrupt_video"][0] and err["hint"]
        assert err["message"].startswith("holiday.avi:") and str(tmp_path) not in r.text


def test_a_video_named_as_text_is_accepted_and_saved_under_a_name_of_the_servers_choosing(tmp_path, real_files):
    provider = StubProvider(block=True)  # the job waits, so its inputs can be looked at
    with make_client(tmp_path, provider=provider) as client:
        files = video_files(real_files, as_name="../../../escape/notes.txt")
        files["transcript"] = ("../../t.avi", files["transcript"][1], "video/avi")
        r = client.post("/api/jobs", files=files)
        assert r.status_code == 200, r.text
        job = client.app.state.queue.jobs[r.json()["id"]]
        assert r.json()["name"] == "notes.txt"
        saved = sorted(p.name for p in (job.dir / "input").iterdir())
        assert saved == ["transcript.txt", "video.avi"]  # by content: an AVI and a reference transcript
        assert not (tmp_path / "escape").exists() and not list(tmp_path.rglob("notes.txt"))
        assert all(p.is_relative_to(tmp_path / "work" / "jobs") for p in all_files(tmp_path / "work"))
        provider.release.set()
        status = wait_job(client, job.id)
        assert status["state"] == "failed" and status["error"]["reason"] == "model_failed"  # (the stub has no model)
        assert not (job.dir / "input").exists()  # the upload is deleted when the job ends


def test_an_audio_file_is_checked_by_content(tmp_path, real_files):
    with make_client(tmp_path) as client:
        files = video_files(real_files)
        files["audio"] = ("voice.wav", b"just some text, not sound" * 10, "audio/wav")
        r = client.post("/api/jobs", files=files)
        assert r.status_code == 415 and r.json()["error"]["reason"] == "not_audio"
        files["audio"] = ("voice.mp4", (real_files / "sample1.avi").read_bytes(), "audio/mp4")  # a video without sound
        r = client.post("/api/jobs", files=files)
        assert r.status_code == 415 and r.json()["error"]["reason"] == "not_audio"


def test_missing_video_and_unknown_examples_are_refused(tmp_path):
    with make_client(tmp_path, examples_dir=None) as client:
        r = client.post("/api/jobs", data={"x": "1"})
        assert r.status_code == 400 and r.json()["error"]["reason"] == "no_file"
        r = client.post("/api/jobs", data={"example": "../../etc/passwd"})
        assert r.status_code == 404 and r.json()["error"]["reason"] == "unknown_example"


def test_the_page_tells_a_visitor_what_to_do_with_recognised_words_not_which_server_file_to_edit(tmp_path):
    out = tmp_path / "jobs" / "ab" / "outputs"
    note = (f"video.avi: no transcript; 41 words recognised by pocketsphinx (machine-made): correct "
            f"{out / 'transcripts' / 'video.txt'} and rerun")
    said = page_warning(note, out)
    assert str(tmp_path) not in said and "rerun" not in said
    assert said.endswith(": the download holds them in transcripts/video.txt; correct that file and upload it with "
                         "the video as its transcript")
    assert page_warning("video.avi: 3 frames without a person", out) == "video.avi: 3 frames without a person"
    assert (page_warning(f"{out / 'transcripts' / 'video.txt'}: dropped 1 word(s) outside the media's 6.88 s", out)
            == "transcripts/video.txt: dropped 1 word(s) outside the media's 6.88 s")


def test_an_examples_messages_name_its_files_not_the_servers_folders(tmp_path, real_files):
    from jegal.serve.queue import Job
    from jegal.serve.uploads import check_upload

    examples = list_examples(real_files)
    job = Job("0" * 32, "s", tmp_path / "job")
    (job.dir / "input").mkdir(parents=True)
    job.inputs = check_upload({"example": "real-sample1"}, job, SMALL, examples)
    said = job.scrub(f"{real_files / 'sample1.avi'}: 2 frames without a person; {real_files / 'sample1.txt'}: "
                     "3 words past the end")
    assert said == "sample1.avi: 2 frames without a person; sample1.txt: 3 words past the end"


def test_an_aborted_upload_logs_one_line_and_no_traceback(tmp_path, real_files, capfd):
    """A client that goes away in the middle of its upload (a real server, a raw socket)."""
    import socket
    import time

    from .conftest import serving

    app = create_app(None, tmp_path / "work", SMALL, provider=StubProvider())
    with serving(app) as url:
        port = int(url.rsplit(":", 1)[1].strip("/"))
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(b"POST /api/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; "
                     b"boundary=xyz\r\nContent-Length: 100000\r\n\r\n--xyz\r\n" + b"x" * 1000)
        time.sleep(0.3)
        sock.close()
        time.sleep(0.5)
        assert not app.state.queue.jobs
    err = capfd.readouterr().err
    assert "Traceback" not in err and "Exception in ASGI application" not in err
    assert err.count("was aborted by the client") == 1


# -- paths, sessions, the queue -------------------------------------------------------------------------
def test_results_are_reached_by_job_id_of_ones_own_session_only(tmp_path, real_files):
    with make_client(tmp_path) as client:
        r = client.post("/api/jobs", files=video_files(real_files))
        job_id = r.json()["id"]
        assert len(job_id) == 32 and all(c in "0123456789abcdef" for c in job_id)
        wait_job(client, job_id)
        assert client.get(f"/api/jobs/{job_id}").status_code == 200
        for path in ("/api/jobs/..%2F..%2Fetc%2Fpasswd", "/api/jobs/" + "g" * 32, f"/api/jobs/{job_id[:-1]}",
                     f"/api/jobs/{job_id}/maps/0", f"/api/jobs/{job_id}/maps/-1", f"/api/jobs/{job_id}/maps/%2e%2e",
                     f"/api/jobs/{job_id}/maps/%C2%B2", f"/api/jobs/{job_id}/maps/%D9%A3",  # "²", Arabic-Indic 3
                     f"/api/jobs/{job_id}/download", f"/api/jobs/{job_id}/video",  # failed: nothing to send
                     f"/api/jobs/{job_id}/../../../app.py"):
            r = client.get(path)
            assert r.status_code == 404, path
            assert "def create_app" not in r.text
        stranger = TestClient(client.app)  # another browser: another session cookie
        stranger.get("/")
        assert stranger.cookies[SESSION_COOKIE] != client.cookies[SESSION_COOKIE]
        assert stranger.get(f"/api/jobs/{job_id}").status_code == 404
        # not about a file: a title of its own
        assert stranger.get(f"/api/jobs/{job_id}").json()["error"]["title"] == "No such job"
        assert client.get(f"/api/jobs/{job_id}/maps/%C2%B2").json()["error"]["title"] == "Not found"
        assert stranger.delete(f"/api/jobs/{job_id}").status_code == 404
        assert job_id in client.app.state.queue.jobs


def test_one_job_at_a_time_per_session_and_a_queue_message_for_the_others(tmp_path, real_files):
    provider = StubProvider(block=True)  # the first job waits for a model until released
    with make_client(tmp_path, provider=provider) as alice:
        bob = TestClient(alice.app)
        first = alice.post("/api/jobs", files=video_files(real_files)).json()
        again = alice.post("/api/jobs", files=video_files(real_files))
        assert again.status_code == 409 and again.json()["error"]["reason"] == "busy"
        second = bob.post("/api/jobs", files=video_files(real_files))
        assert second.status_code == 200
        status = bob.get(f"/api/jobs/{second.json()['id']}").json()
        assert status["state"] == "queued" and status["ahead"] == 1
        assert "1 job ahead of yours" in status["message"]
        assert alice.get("/api/status").json()["job"]["id"] == first["id"]  # a reload finds the job again
        provider.release.set()
        assert wait_job(alice, first["id"])["error"]["reason"] == "model_failed"
        assert wait_job(bob, second.json()["id"])["state"] == "failed"
        assert alice.post("/api/jobs", files=video_files(real_files)).status_code == 200  # free again
        assert first["id"] not in alice.app.state.queue.jobs  # its earlier job's files went with it


def test_a_full_queue_refuses_new_jobs(tmp_path, real_files):
    provider = StubProvider(block=True)
    with make_client(tmp_path, Limits(max_queue=1), provider=provider) as alice:
        alice.post("/api/jobs", files=video_files(real_files))
        r = TestClient(alice.app).post("/api/jobs", files=video_files(real_files))
        assert r.status_code == 503 and r.json()["error"]["reason"] == "queue_full"
        provider.release.set()


def test_work_directories_are_cleaned_up(tmp_path, real_files):
    import time

    client = make_client(tmp_path)
    with client:
        job_id = client.post("/api/jobs", files=video_files(real_files)).json()["id"]
        wait_job(client, job_id)
        queue = client.app.state.queue
        job_dir = queue.jobs[job_id].dir
        assert job_dir.is_dir() and not (job_dir / "input").exists()
        assert queue.sweep(now=time.time() + 1800) == 0  # kept keep_minutes (60)
        assert queue.sweep(now=time.time() + 2 * 3600) == 1 and not job_dir.exists()
        job_id = client.post("/api/jobs", files=video_files(real_files)).json()["id"]
        wait_job(client, job_id)
        assert client.delete(f"/api/jobs/{job_id}").json()["state"] == "forgotten"
        assert client.get(f"/api/jobs/{job_id}").status_code == 404
        client.post("/api/jobs", files=video_files(real_files))
    assert not (tmp_path / "work" / "jobs").exists()  # the app's shutdown deletes every job


def test_other_sites_and_other_host_names_are_refused(tmp_path, real_files):
    with make_client(tmp_path, allowed_hosts=["127.0.0.1", "localhost"]) as client:
        client.headers["host"] = "localhost:7860"
        r = client.post("/api/jobs", files=video_files(real_files), headers={"origin": "http://evil.example"})
        assert r.status_code == 403
        r = client.get("/api/status", headers={"host": "attacker.example"})
        assert r.status_code == 400 and r.json()["error"]["reason"] == "bad_host"
        assert r.json()["error"]["title"] != ERRORS["bad_input"][0]
        assert client.get("/api/status").status_code == 200
        r = client.post("/api/jobs", files=video_files(real_files), headers={"origin": "http://localhost:7860"})
        assert r.status_code == 200


# -- whole jobs with a trained model (slow) ----------------------------------------------------------------
@pytest.fixture(scope="module")
def served(use_model, tmp_path_factory, real_files):  # noqa: F811
    """A TestClient on an app with the small trained model (loaded once for the module)."""
    tmp = tmp_path_factory.mktemp("served")
    app = create_app(use_model, tmp / "work", Limits(max_upload_mb=5, max_seconds=20), examples_dir=real_files)
    with TestClient(app) as client:
        yield client


def _run(client, files=None, data=None, seen=None) -> dict:
    client.cookies.clear()  # a new session each time
    r = client.post("/api/jobs", files=files, data=data)
    assert r.status_code == 200, r.text
    return wait_job(client, r.json()["id"], seen=seen)


@pytest.mark.slow
def test_an_upload_gives_what_jegal_spot_gives(served, use_model, real_files, tmp_path):  # noqa: F811
    import av

    from jegal.cli import main
    from jegal.inference import spot_people
    from jegal.model import JEGAL
    from jegal.use.spot import words_csv
    from jegal.use.video import read_video

    seen = []
    status = _run(served, files=video_files(real_files, audio=True), seen=seen)
    assert status["state"] == "done", status.get("error")
    # the job's progress is jegal spot's: it never goes back, moves through the stages, ends at 1
    fractions = [p for _, p in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert len(set(fractions)) >= 3
    res = status["result"]
    spot = res["spot"]  # spot.json as jegal spot writes it
    expected = [w.display for w in read_txt(real_files / "sample1.txt")]
    assert [w["word"] for w in spot["words"]] == expected
    assert spot["modalities"] == "ta" and spot["people"] and res["asd"] is None
    # the same numbers as jegal spot on the same files
    model = JEGAL.from_pretrained(use_model).load_text_backbone()
    video = read_video(real_files / "sample1.avi", real_files / "sample1.txt", progress=False)
    spots = spot_people(model, video.people, video.words, "ta")
    for page_person, s in zip(spot["people"], spots):
        mine = {w["index"]: (w["probability"], w["gesture_score"]) for w in page_person["words"]}
        ref = {int(w): (float(p), float(g)) for w, p, g in zip(s.word_index, s.prob, s.gesture_score)}
        assert mine.keys() == ref.keys() and np.allclose(list(mine.values()), list(ref.values()), atol=1e-3)
        assert [w["gestured"] for w in page_person["words"]] == [bool(g) for g in s.gestured]  # one person
    # the download holds the files jegal spot writes
    z = zipfile.ZipFile(io.BytesIO(served.get(res["download_url"]).content))
    names = set(z.namelist())
    for want in ("spot.json", "words.csv", "maps.npz", "annotated.mp4", "spot.eaf", "spot.TextGrid"):
        assert f"sample1.spot/{want}" in names
    eaf = z.read("sample1.spot/spot.eaf").decode()  # ELAN finds the user's video beside the unpacked folder
    assert 'MEDIA_URL="file:///sample1.avi"' in eaf and 'RELATIVE_MEDIA_URL="../sample1.avi"' in eaf
    assert "/jobs/" not in eaf and 'TIER_ID="person 0 gestured"' in eaf
    pngs = [n for n in names if n.startswith("sample1.spot/heatmaps/") and n.endswith(".png")]
    assert len(pngs) == len(res["map_urls"]) >= 1
    doc = json.loads(z.read("sample1.spot/spot.json"))
    assert z.read("sample1.spot/words.csv").decode() == words_csv(doc["people"])
    assert [w["word"] for w in doc["words"]] == expected
    with np.load(io.BytesIO(z.read("sample1.spot/maps.npz"))) as maps:
        assert maps["person0_probs"].shape[0] == len(spot["people"][0]["words"])
    # the map and the page's video: exactly one picture per model frame, at 25 fps, with sound
    png = served.get(res["map_urls"][spot["people"][0]["heatmaps"][0]])
    assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    mp4 = tmp_path / "page.mp4"
    mp4.write_bytes(served.get(res["video_url"]).content)
    with av.open(str(mp4)) as c:
        assert sum(1 for _ in c.decode(video=0)) == spot["num_frames"] == len(res["boxes"][0])
        assert c.streams.audio and float(c.streams.video[0].average_rate) == 25
    partial = served.get(res["video_url"], headers={"range": "bytes=0-99"})  # browsers seek with ranges
    assert partial.status_code == 206 and len(partial.content) == 100
    # the page and the command line write the same spot.json for the same input (but for times and paths)
    cli_out = tmp_path / "cli.spot"
    assert main(["spot", str(real_files / "sample1.avi"), "--transcript", str(real_files / "sample1.txt"), "--model",
                 str(use_model), "--out", str(cli_out), "--quiet"]) == 0
    cli = json.loads((cli_out / "spot.json").read_text())
    for d in (cli, doc):
        for key in ("timings", "video", "transcript", "warnings"):
            d.pop(key)
    assert doc == cli


@pytest.mark.slow
def test_a_video_without_sound_is_read_from_the_transcripts_times(served, real_files):
    status = _run(served, files=video_files(real_files))  # sample1.avi has no sound track of its own
    assert status["state"] == "done", status.get("error")
    res = status["result"]
    spot = res["spot"]
    assert spot["modalities"] == "t" and any("no sound track" in w for w in spot["warnings"])
    assert all(str(Path(served.app.state.queue.root)) not in w for w in spot["warnings"])
    assert str(Path(served.app.state.queue.root)) not in json.dumps(spot)  # no server path reaches the page


@pytest.mark.slow
def test_prepare_failures_reach_the_page_as_clear_messages(served, real_files, tmp_path):
    data = (real_files / "sample1.avi").read_bytes()
    status = _run(served, files={"video": ("cut.avi", data[:len(data) // 3], "video/x-msvideo"),
                                 "transcript": ("cut.txt", (real_files / "sample1.txt").read_bytes(), "text/plain")})
    assert status["state"] == "failed" and status["error"]["reason"] == "corrupt_video"
    assert status["error"]["message"].startswith("cut.avi:") and "truncated" in status["error"]["message"]
    # nobody in view: stripes and a tone
    path = tmp_path / "empty.avi"
    write_video(path, [stripes(i, 128, 96) for i in range(50)], audio=[(True, 440.0)])
    status = _run(served, files={"video": ("empty.avi", path.read_bytes(), "video/x-msvideo"),
                                 "transcript": ("t.txt", TIMED, "text/plain")})
    assert status["state"] == "failed" and status["error"]["reason"] == "no_person"
    assert status["error"]["title"] == ERRORS["no_person"][0] and "empty.avi" in status["error"]["message"]


@pytest.mark.slow
def test_the_synthgest_example_is_made_on_demand_and_read_from_its_keypoints(served):
    examples = [e["id"] for e in served.get("/api/status").json()["examples"]]
    assert "synthgest" in examples
    status = _run(served, data={"example": "synthgest"})
    assert status["state"] == "done", status.get("error")
    res = status["result"]
    spot = res["spot"]
    assert spot["transcript_source"] == "given" and spot["words"] and len(spot["people"]) == 1
    assert spot["size"] == [256, 256] and res["boxes"][0][0] is not None
    assert served.get(res["video_url"]).content[4:8] == b"ftyp"  # the page shows the rendered drawing


@pytest.mark.slow
def test_with_two_people_the_page_says_who_is_speaking(served):
    status = _run(served, data={"example": "real-two_speakers_raw"})  # no transcript: speech recognition
    assert status["state"] == "done", status.get("error")
    res = status["result"]
    # two people in each of its two shots: 4 tracks from the people stage as it is (2 if it links them over the cut)
    people = {str(p["person"]) for p in res["spot"]["people"]}
    assert len(people) >= 2 and res["spot"]["transcript_source"].startswith("asr:")
    assert res["asd"]["segments"], "several people: segments with speakers"
    for seg in res["asd"]["segments"]:
        assert seg["decision"] in ("gestures", "only_person", "undecided")
        assert (seg["speaker"] is None) == (seg["decision"] == "undecided")
        assert set(seg["scores"]) <= people
    z = zipfile.ZipFile(io.BytesIO(served.get(res["download_url"]).content))
    assert {"two_speakers_raw.spot/asd/asd.json", "two_speakers_raw.spot/asd/asd.csv"} <= set(z.namelist())
