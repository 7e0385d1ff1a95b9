"""Failure reasons come from exception types, never from the wording of a message."""

import json

import pytest

from jegal.data.transcripts import TranscriptError
from jegal.perception import errors
from jegal.perception.discover import Item
from jegal.perception.errors import (
    FAILURE_REASONS,
    ITEM_FAILURES,
    UNEXPECTED,
    BadTranscript,
    EmptyTranscript,
    PrepareError,
    TranscriptTooLong,
    Unalignable,
)
from jegal.prepare.pipeline import ItemResult, Preparer, process_item, run_prepare
from jegal.perception.transcripts import read_words

# Words that the old message matching keyed on; a message may say anything now.
MISLEADING = "transcript is empty, no words, longer than the media"


def test_every_failure_reason_has_one_type():
    reasons = [cls.reason for cls in ITEM_FAILURES]
    assert len(set(reasons)) == len(reasons) and UNEXPECTED not in reasons
    assert set(FAILURE_REASONS) == set(reasons) | {UNEXPECTED}
    assert all(FAILURE_REASONS[r] for r in FAILURE_REASONS)
    for cls in ITEM_FAILURES:
        assert issubclass(cls, PrepareError) and cls(MISLEADING).reason == cls.reason
    # Every PrepareError subclass the module defines is an item failure, or the run-level BadInput.
    defined = {v for v in vars(errors).values() if isinstance(v, type) and issubclass(v, PrepareError)}
    assert defined == set(ITEM_FAILURES) | {PrepareError, errors.BadInput}
    for cls in (EmptyTranscript, BadTranscript, TranscriptTooLong, Unalignable):
        assert issubclass(cls, TranscriptError)


class _Raising(Preparer):
    def __init__(self, err):
        super().__init__()
        self.err = err

    def prepare(self, item):
        raise self.err


@pytest.mark.parametrize("cls", ITEM_FAILURES)
def test_the_run_records_the_reason_of_the_raised_type(cls, tmp_path):
    item = Item("in/x", video=tmp_path / "x.mp4")
    result = process_item(_Raising(cls(MISLEADING)), item, tmp_path)
    assert (result.status, result.reason, result.message) == ("failed", cls.reason, MISLEADING)
    status = json.loads((tmp_path / "status" / "in__x.json").read_text())
    assert (status["status"], status["reason"], status["message"]) == ("failed", cls.reason, MISLEADING)


def test_an_unexpected_exception_is_recorded_by_name_and_the_run_goes_on(tmp_path, monkeypatch):
    inp = tmp_path / "in"
    inp.mkdir()
    for name in ("a", "boom", "c"):
        (inp / f"{name}.kps.npz").write_bytes(b"")

    def prepare(self, item):
        if item.name == "boom":
            raise KeyError("no such joint")
        return [], {}, ItemResult(item.name, "done")

    monkeypatch.setattr(Preparer, "prepare", prepare)
    summary = run_prepare(inp, tmp_path / "out", workers=1, progress=False)
    assert (summary["done"], summary["failed"]) == (2, 1)
    [failure] = summary["failures"]
    assert failure["input"] == "boom" and failure["reason"] == UNEXPECTED
    assert failure["message"] == f"{inp / 'boom.kps.npz'}: KeyError: 'no such joint'"
    status = json.loads((tmp_path / "out" / "status" / "boom.json").read_text())
    assert status["reason"] == UNEXPECTED and "Traceback" not in status["message"]


def test_transcript_reasons_do_not_depend_on_file_names_or_wording(tmp_path, real_dir):
    from jegal.data.audio import load_audio

    audio = load_audio(real_dir / "sample1.wav")
    # Folder names holding the words the old message matching looked for.
    folder = tmp_path / "empty - no words - longer than the media"
    folder.mkdir()
    broken = folder / "a.json"
    broken.write_text("{not json")
    with pytest.raises(BadTranscript, match="not valid JSON"):
        read_words(broken, audio)
    unalignable = folder / "b.txt"
    unalignable.write_text("amount of 日本\n")
    with pytest.raises(Unalignable, match="cannot be aligned"):
        read_words(unalignable, audio)
    headed = folder / "c.txt"
    headed.write_text("Text: -\nLang: en\n\nWORD, START, END, SCORE\n... , 0.1, 0.2, 1.0\n")
    with pytest.raises(EmptyTranscript, match="no words"):
        read_words(headed, audio)
    crowded = folder / "d.txt"
    crowded.write_text("word " * 40)
    with pytest.raises(TranscriptTooLong, match="cannot be spoken"):
        read_words(crowded, audio[:16000])
    timed = folder / "e.txt"
    timed.write_text((real_dir / "sample1.txt").read_text() + "later, 30.0, 30.5, 0.9\n")
    with pytest.raises(TranscriptTooLong, match="another file"):
        read_words(timed, audio)
    assert [w.display for w in read_words(real_dir / "sample1.txt", audio)][5] == "hat,"
