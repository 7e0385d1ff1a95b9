"""A transcript is read by one set of rules whether it lies beside a video (``jegal spot``, ``jegal
prepare``) or is uploaded to the page: the page once refused a UTF-16 transcript without a byte-order
mark (Windows tools write them) that ``jegal spot`` read."""

from __future__ import annotations

import shutil

import pytest
from starlette.testclient import TestClient

from jegal.data.audio import load_audio
from jegal.perception.transcripts import find_transcript, read_words
from jegal.serve.app import create_app
from jegal.serve.queue import Limits

from .conftest import StubProvider


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_a_utf16_transcript_without_a_bom_reads_the_same_in_jegal_spot_and_on_the_page(tmp_path, real_files,
                                                                                       encoding):
    original = (real_files / "sample1.txt").read_text(encoding="utf-8")
    data = original.encode(encoding)
    assert not data.startswith((b"\xff\xfe", b"\xfe\xff"))
    audio = load_audio(real_files / "sample1.wav")
    expected = read_words(real_files / "sample1.txt", audio)

    # jegal spot's path: the transcript found beside the video and read by the perception library.
    beside = tmp_path / "cli"
    beside.mkdir()
    shutil.copy(real_files / "sample1.avi", beside / "sample1.avi")
    (beside / "sample1.txt").write_bytes(data)
    assert read_words(find_transcript(beside / "sample1.avi"), audio) == expected

    # The page: the upload is accepted and saved; the job reads the saved file by the same rules.
    provider = StubProvider(block=True)  # the job waits, so its inputs can be looked at
    app = create_app(None, tmp_path / "work", Limits(max_upload_mb=1.0, max_seconds=10.0, max_transcript_kb=20.0),
                     provider=provider)
    with TestClient(app) as client:
        r = client.post("/api/jobs", files={
            "video": ("sample1.avi", (real_files / "sample1.avi").read_bytes(), "video/x-msvideo"),
            "transcript": ("sample1.txt", data, "text/plain")})
        assert r.status_code == 200, r.text
        job = client.app.state.queue.jobs[r.json()["id"]]
        saved = job.dir / "input" / "transcript.txt"
        assert saved.read_bytes() == data
        assert read_words(saved, audio) == expected
        provider.release.set()
