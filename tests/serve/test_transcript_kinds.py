"""The page takes the transcript kinds ``jegal spot`` reads (issue 24): YouTube's automatic captions
(``talk.en.vtt``), SubRip, ELAN with the words tier named in the form; kinds jegal does not read are
refused by name; the ``.eaf`` in the download links the user's video by its name, not a server path."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from starlette.testclient import TestClient

from jegal.data.audio import load_audio
from jegal.data.transcripts import read_txt
from jegal.perception.transcripts import read_words
from jegal.serve.app import create_app
from jegal.serve.queue import Limits
from jegal.serve.uploads import transcript_suffix

from .conftest import StubProvider


def youtube_vtt(real_files) -> bytes:
    """sample1's reference words as YouTube's automatic captions (tests/perception/test_transcript_formats.py)."""
    from tests.perception.test_transcript_formats import reference, youtube_vtt as make

    return make(reference(real_files, "sample1.txt")).encode("utf-8")


@contextmanager
def posted(tmp_path, real_files, transcript, data=None):
    """Upload sample1.avi with ``transcript`` (name, bytes); yields (status code, body, the job or
    None) while the job waits (its inputs can be looked at), then lets it go."""
    provider = StubProvider(block=True)
    app = create_app(None, tmp_path / "work", Limits(max_upload_mb=1.0, max_seconds=10.0, max_transcript_kb=20.0),
                     provider=provider)
    with TestClient(app) as client:
        try:
            r = client.post("/api/jobs", data=data or {}, files={
                "video": ("sample1.avi", (real_files / "sample1.avi").read_bytes(), "video/x-msvideo"),
                "transcript": (transcript[0], transcript[1], "text/plain")})
            yield r.status_code, r.json(), client.app.state.queue.jobs[r.json()["id"]] if r.status_code == 200 else None
        finally:
            provider.release.set()


def test_youtube_captions_upload_and_read_as_jegal_spot_reads_them(tmp_path, real_files):
    data = youtube_vtt(real_files)
    with posted(tmp_path, real_files, ("sample1.en.vtt", data)) as (code, body, job):
        assert code == 200, body
        saved = job.dir / "input" / "transcript.vtt"
        assert saved.read_bytes() == data and job.inputs.tier is None
        words = read_words(saved, load_audio(real_files / "sample1.wav"))
    assert [(w.display, w.start) for w in words] == [(w.display, w.start) for w in read_txt(real_files / "sample1.txt")]


def test_the_words_tier_given_in_the_form_reaches_the_job(tmp_path, real_files):
    eaf = (b"<?xml version='1.0' encoding='UTF-8'?>\n<ANNOTATION_DOCUMENT VERSION='3.0'><HEADER/>"
           b"</ANNOTATION_DOCUMENT>")
    with posted(tmp_path, real_files, ("talk.eaf", eaf), data={"tier": "  speaker   A "}) as (code, body, job):
        assert code == 200, body
        assert (job.dir / "input" / "transcript.eaf").is_file() and job.inputs.tier == "speaker A"


@pytest.mark.parametrize("name, data", [("talk.sbv", b"0:00:00.000,0:00:01.000\nhello\n"),
                                        ("talk.docx", b"PK\x03\x04"),
                                        ("captions.ttml", b"<?xml version='1.0'?><tt></tt>")])
def test_kinds_jegal_does_not_read_are_refused_by_name(tmp_path, real_files, name, data):
    with posted(tmp_path, real_files, (name, data)) as (code, body, job):
        assert code == 415 and job is None
        assert body["error"]["reason"] == "not_a_transcript" and name in body["error"]["message"], body


def test_subtitles_and_eaf_are_saved_as_what_they_hold(real_files):
    srt = b"1\n00:00:00,031 --> 00:00:00,642\namount of numbers\n\n"
    assert transcript_suffix(srt, "t") == ".srt" and transcript_suffix(srt, "subs.SRT") == ".srt"
    assert transcript_suffix(youtube_vtt(real_files), "upload") == ".vtt"
    assert transcript_suffix(b"<?xml version='1.0'?><ANNOTATION_DOCUMENT/>", "x") == ".eaf"
