"""A corpus of broken inputs through ``jegal prepare``: truncations at random offsets (of a real
video, of generated videos, of keypoint files, audio and transcripts), zero-length files,
wrong extensions, transcripts longer than the media, empty tiers, NaN keypoints.

Whatever the damage: the run finishes, every input is counted in ``summary.json`` with a
named reason (never ``error``, the reason of a bug), and no partial shard is left behind:
every ``*.tar`` is listed whole in ``manifest.json`` and no temporary file remains.

The fast corpus uses small generated inputs and a few truncations of ``sample1.avi``; the
slow one truncates the real videos at many more offsets.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from jegal.data.shards import ShardError, read_clips
from jegal.perception.errors import FAILURE_REASONS, UNEXPECTED
from jegal.perception.options import PrepareOptions
from jegal.prepare.pipeline import run_prepare

from tests.perception.test_transcripts import ARPA, SAMPLE1, _phones, write_textgrid
from tests.perception.wild import stripes, synthetic_keypoints, write_video

T = 60  # frames of the generated keypoint inputs (2.4 s)
WORDS = [("amount", 0.2, 0.5), ("of", 0.6, 0.8), ("numbers", 0.9, 1.3), ("inside", 1.4, 1.8), ("the", 1.9, 2.1)]
REFERENCE = "Text: amount of numbers inside the\nLang: en\n\nWORD, START, END, SCORE\n" + "".join(
    f"{w}, {s}, {e}, 0.9\n" for w, s, e in WORDS)
DONE = "done"


def _wav(path: Path, seconds: float = T / 25, seed: int = 0) -> None:
    import soundfile as sf

    rng = np.random.default_rng(seed)
    sf.write(str(path), (rng.standard_normal(int(seconds * 16000)) * 0.05).astype(np.float32), 16000)


def _kps(path: Path, kp: np.ndarray | None = None, **extra) -> None:
    np.savez(path, keypoints=synthetic_keypoints(T) if kp is None else kp, fps=25, **extra)


def _cuts(rng, data: bytes, n: int) -> list[int]:
    """``n`` distinct random offsets strictly inside ``data``."""
    return sorted({int(c) for c in rng.integers(1, len(data) - 1, n)})


def build_corpus(inp: Path, rng, real: Path | None, video_cuts: int) -> dict[str, set[str]]:
    """Broken inputs under ``inp``; returns item name -> the outcomes allowed for it
    (``"done"`` or failure reasons)."""
    inp.mkdir(parents=True)
    expect: dict[str, set[str]] = {}
    any_failure = set(FAILURE_REASONS) - {UNEXPECTED}
    transcript_failures = {"bad_transcript", "empty_transcript", "transcript_too_long", "no_word_tier"}

    def kps_item(name: str, transcript: str | bytes | None = REFERENCE, suffix: str = ".txt", kp=None, wav=True):
        _kps(inp / f"{name}.kps.npz", kp)
        if wav:
            _wav(inp / f"{name}.wav")
        if transcript is not None:
            path = inp / f"{name}{suffix}"
            path.write_bytes(transcript if isinstance(transcript, bytes) else transcript.encode("utf-8"))

    # -- good controls: the corpus must not fail everything -------------------------------------
    kps_item("ok_reference")
    expect["ok_reference"] = {DONE}
    upper = [(w.upper(), s, e) for w, s, e in SAMPLE1]
    write_textgrid(inp / "ok_textgrid.TextGrid", [("phone", _phones(ARPA)), ("word", upper)], "long", "utf-16-be-bom")
    kps_item("ok_textgrid", None)
    expect["ok_textgrid"] = {DONE}

    # -- transcripts ------------------------------------------------------------------------------
    kps_item("tr_empty", "")
    expect["tr_empty"] = {"empty_transcript"}
    kps_item("tr_blank", "  \n\n \t\n")
    expect["tr_blank"] = {"empty_transcript"}
    kps_item("tr_punct_only", "... -- !! ?\n")
    expect["tr_punct_only"] = {"empty_transcript"}
    kps_item("tr_header_only", "Text: x\nLang: en\n\nWORD, START, END, SCORE\n")
    expect["tr_header_only"] = {"empty_transcript"}
    kps_item("tr_longer_than_media", REFERENCE + "later, 6.0, 6.4, 0.9\n")
    expect["tr_longer_than_media"] = {"transcript_too_long"}
    kps_item("tr_all_after_media", "WORD, START, END, SCORE\nlate, 9.0, 9.5, 0.9\n")
    expect["tr_all_after_media"] = {"transcript_too_long"}
    kps_item("tr_plain_too_many_words", " ".join(["word"] * 40))
    expect["tr_plain_too_many_words"] = {"transcript_too_long"}
    kps_item("tr_plain_wrong_words", "merging the two diseases arthritis deformans and")  # noise audio
    expect["tr_plain_wrong_words"] = {"unalignable"}
    kps_item("tr_nan_times", "WORD, START, END, SCORE\nhat, nan, 1.0, 0.9\n")
    expect["tr_nan_times"] = {"bad_transcript"}
    kps_item("tr_binary", bytes(range(256)) * 8)
    expect["tr_binary"] = {"bad_transcript"}
    kps_item("tr_utf16_no_bom", REFERENCE.replace("amount", "amoünt").encode("utf-16-le"))
    expect["tr_utf16_no_bom"] = {DONE}
    kps_item("tr_json_broken", "{\"segments\": [", ".json")
    expect["tr_json_broken"] = {"bad_transcript"}
    kps_item("tr_json_lost_words", json.dumps({"segments": [{"text": "hello there"}]}), ".json")
    expect["tr_json_lost_words"] = {"empty_transcript"}
    kps_item("tr_json_segment_text", json.dumps({"segments": [{"start": 0.2, "end": 2.0, "text": "hello there"}]}),
             ".json")
    expect["tr_json_segment_text"] = {DONE}
    kps_item("tr_json_not_whisper", json.dumps({"foo": 1}), ".json")
    expect["tr_json_not_whisper"] = {"bad_transcript"}
    for k, (tiers, reason) in enumerate([
        ([("words", []), ("phones", [])], "empty_transcript"),  # empty tiers
        ([("words", [])], "empty_transcript"),
        ([("phone", _phones(ARPA))], "no_word_tier"),
        ([("tier1", _phones(ARPA)), ("tier2", _phones(ARPA))], "no_word_tier"),
    ]):
        write_textgrid(inp / f"tg_{k}.TextGrid", tiers, "short")
        kps_item(f"tg_{k}", None)
        expect[f"tg_{k}"] = {reason}
    kps_item("tg_no_tiers", 'File type = "ooTextFile"\nObject class = "TextGrid"\n\n0\n2.4\n<absent>\n', ".TextGrid")
    expect["tg_no_tiers"] = {"empty_transcript"}
    kps_item("tg_binary", b"ooBinaryFile\x08TextGrid" + bytes(300), ".TextGrid")
    expect["tg_binary"] = {"bad_transcript"}
    # Truncations of each timed format at random offsets: parsed up to the damage or refused.
    tg = inp / "tmp.TextGrid"
    write_textgrid(tg, [("words", [(w, s, e) for w, s, e in WORDS])], "long")
    formats = {".txt": REFERENCE.encode("utf-16"), ".TextGrid": tg.read_bytes(),
               ".json": json.dumps({"segments": [{"start": 0.1, "end": 2.2, "words": [
                   {"word": w, "start": s, "end": e} for w, s, e in WORDS]}]}).encode()}
    tg.unlink()
    for suffix, data in formats.items():
        for cut in _cuts(rng, data, 5):
            name = f"trcut{suffix.replace('.', '_')}_{cut}"
            kps_item(name, data[:cut], suffix)
            expect[name] = {DONE} | transcript_failures
    kps_item("tr_missing")  # no transcript beside it
    (inp / "tr_missing.txt").unlink()
    expect["tr_missing"] = {"no_transcript"}

    # -- keypoints --------------------------------------------------------------------------------
    kps_item("kp_all_nan", kp=np.full((T, 56, 3), np.nan, np.float32))
    expect["kp_all_nan"] = {"bad_keypoints"}
    some_nan = synthetic_keypoints(T)
    some_nan[::3] = np.nan
    kps_item("kp_some_nan", kp=some_nan)
    expect["kp_some_nan"] = {DONE}
    zeros = synthetic_keypoints(T)
    zeros[:, 14:] = 0.0  # hands as zeros with confidence 0.95 left in place
    kps_item("kp_zero_hands", kp=zeros)
    expect["kp_zero_hands"] = {DONE}
    kps_item("kp_all_zero", kp=np.zeros((T, 56, 3), np.float32))
    expect["kp_all_zero"] = {"bad_keypoints"}
    kps_item("kp_wrong_shape", kp=np.zeros((T, 17, 3), np.float32))
    expect["kp_wrong_shape"] = {"bad_keypoints"}
    kps_item("kp_one_frame", kp=synthetic_keypoints(T)[:1])
    expect["kp_one_frame"] = {"transcript_too_long"}  # the words run past a 0.04 s "video"
    (inp / "kp_zero_length.kps.npz").write_bytes(b"")
    _wav(inp / "kp_zero_length.wav")
    (inp / "kp_zero_length.txt").write_text(REFERENCE)
    expect["kp_zero_length"] = {"bad_keypoints"}
    good = inp / "tmp.npz"
    _kps(good)
    npz = good.read_bytes()
    good.unlink()
    for cut in _cuts(rng, npz, 5):
        name = f"kpcut_{cut}"
        (inp / f"{name}.kps.npz").write_bytes(npz[:cut])
        _wav(inp / f"{name}.wav")
        (inp / f"{name}.txt").write_text(REFERENCE)
        expect[name] = {"bad_keypoints"}
    kps_item("kp_no_audio", wav=False)
    expect["kp_no_audio"] = {"no_audio"}

    # -- audio ------------------------------------------------------------------------------------
    kps_item("wav_zero_length")
    (inp / "wav_zero_length.wav").write_bytes(b"")
    expect["wav_zero_length"] = {"bad_audio"}
    wav = inp / "tmp.wav"
    _wav(wav)
    data = wav.read_bytes()
    wav.unlink()
    for cut in _cuts(rng, data, 4):
        name = f"wavcut_{cut}"
        kps_item(name)
        (inp / f"{name}.wav").write_bytes(data[:cut])
        # A wav cut after its header is a shorter wav: the words beyond it go.
        expect[name] = {DONE, "bad_audio", "transcript_too_long", "empty_transcript"}
    kps_item("wav_is_text")
    (inp / "wav_is_text.wav").write_text("RIFF? no, just text\n")
    expect["wav_is_text"] = {"bad_audio"}

    # -- containers: zero-length, wrong extensions, truncated -------------------------------------
    def video_item(name: str, data: bytes | None, suffix: str = ".mp4", transcript: str | None = REFERENCE,
                   wav: bool = False):
        if data is not None:
            (inp / f"{name}{suffix}").write_bytes(data)
        if transcript is not None:
            (inp / f"{name}.txt").write_text(transcript)
        if wav:
            _wav(inp / f"{name}.wav")

    video_item("vid_zero_length", b"")
    expect["vid_zero_length"] = {"corrupt_video"}
    video_item("vid_zero_length_with_wav", b"", wav=True)
    expect["vid_zero_length_with_wav"] = {"corrupt_video"}
    video_item("vid_text_as_mp4", b"this is not a video\n" * 50)
    expect["vid_text_as_mp4"] = {"corrupt_video"}
    video_item("vid_npz_as_mkv", npz, ".mkv", wav=True)  # a zip archive named .mkv
    expect["vid_npz_as_mkv"] = {"corrupt_video"}
    wav = inp / "tmp.wav"
    _wav(wav)
    video_item("vid_wav_as_mp4", wav.read_bytes())  # sound only, named like a video
    wav.unlink()
    expect["vid_wav_as_mp4"] = {"no_video"}
    gen = inp / "tmp.mp4"
    write_video(gen, [stripes(i) for i in range(50)], audio=[(True, 440)])
    video_item("vid_no_person", gen.read_bytes())
    expect["vid_no_person"] = {"no_person"}
    write_video(gen, [stripes(i) for i in range(50)])
    video_item("vid_no_audio", gen.read_bytes())
    expect["vid_no_audio"] = {"no_audio"}
    gen.unlink()
    # mp4 keeps its index at the end (a cut loses it); Matroska streams (a cut keeps what came before).
    for suffix in (".mp4", ".mkv"):
        gen = inp / f"tmp{suffix}"
        write_video(gen, [stripes(i) for i in range(75)], audio=[(True, 440)])
        data = gen.read_bytes()
        gen.unlink()
        for cut in _cuts(rng, data, 4):
            name = f"vidcut_gen{suffix.replace('.', '_')}_{cut}"
            video_item(name, data[:cut], suffix)
            expect[name] = {"corrupt_video", "no_video", "no_audio", "no_person", "transcript_too_long",
                            "empty_transcript"}
    if real is not None and video_cuts:
        for video, suffix in (("sample1", ".avi"), ("speaker_raw", ".mp4")):
            data = (real / f"{video}{suffix}").read_bytes()
            for cut in _cuts(rng, data, video_cuts if video == "sample1" else max(1, video_cuts // 3)):
                name = f"vidcut_{video}_{cut}"
                text = (real / "sample1.txt").read_text() if video == "sample1" else REFERENCE
                video_item(name, data[:cut], suffix, text, wav=False)
                if video == "sample1":
                    shutil.copy(real / "sample1.wav", inp / f"{name}.wav")
                # A cut in the index or the last frames can leave a usable video.
                expect[name] = {DONE} | any_failure
    return expect


def run_corpus(root: Path, seed: int, video_cuts: int, real: Path | None) -> tuple[dict, dict[str, set[str]], Path]:
    inp, out = root / "in", root / "out"
    expect = build_corpus(inp, np.random.default_rng(seed), real, video_cuts)
    # No speech recognition for the input without a transcript: its reason stays no_transcript.
    summary = run_prepare(inp, out, PrepareOptions(max_side=320, asr="none"), progress=False)
    return summary, expect, out


def check_corpus(summary: dict, expect: dict[str, set[str]], out: Path) -> Counter:
    """The corpus's promises; returns the count of each outcome (for the record)."""
    assert summary["items"] == len(expect)
    assert summary["done"] + summary["failed"] == len(expect) and summary["skipped"] == 0
    on_disk = json.loads((out / "summary.json").read_text())
    assert {k: on_disk[k] for k in ("items", "done", "failed")} == {k: summary[k] for k in ("items", "done", "failed")}
    outcome = {}
    for name in expect:
        status = json.loads((out / "status" / f"{name}.json").read_text())
        outcome[name] = DONE if status["status"] == "done" else status["reason"]
        if status["status"] == "failed":
            assert status["reason"] in FAILURE_REASONS and status["message"], name
    failures = {f["input"]: f for f in summary["failures"]}
    assert set(failures) == {n for n, o in outcome.items() if o != DONE}
    assert all(f["reason"] == outcome[n] for n, f in failures.items())
    # Never a bug's reason, and each input's outcome is one it may have.
    wrong = {n: (o, sorted(expect[n])) for n, o in outcome.items() if o not in expect[n]}
    assert not wrong, wrong
    unexpected = [f"{n}: {f['message']}" for n, f in failures.items() if f["reason"] == UNEXPECTED]
    assert not unexpected, unexpected
    # No partial shard: every tar is in the manifest, whole; nothing temporary is left.
    manifest = json.loads((out / "manifest.json").read_text())
    listed = {e["name"]: e for e in manifest["shards"]}
    tars = {p.name for p in out.glob("*.tar")}
    assert tars == set(listed)
    for name, entry in listed.items():
        ids = [c.clip_id for c in read_clips(out / name)]
        assert ids == entry["clip_ids"] and len(ids) == entry["num_clips"] > 0
    leftovers = [p for p in out.rglob("*") if p.name.startswith(".") or ".tmp" in p.name]
    assert not leftovers, leftovers
    assert set(tars) == {f"{n}.tar" for n, o in outcome.items() if o == DONE and
                         json.loads((out / "status" / f"{n}.json").read_text())["shard"]}
    counts = Counter(outcome.values())
    print("bad-input corpus outcomes:", dict(sorted(counts.items())), file=sys.stderr)
    return counts


def test_bad_input_corpus(tmp_path, real_dir):
    summary, expect, out = run_corpus(tmp_path, seed=12, video_cuts=3, real=real_dir)
    counts = check_corpus(summary, expect, out)
    assert counts[DONE] >= 5 and len(counts) >= 10  # the good controls pass; the reasons are told apart


def test_truncated_shards_are_refused_by_name(tmp_path):
    """A shard cut short (a copy interrupted, a full disk) is refused by the reader, naming it."""
    inp = tmp_path / "in"
    inp.mkdir()
    _kps(inp / "a.kps.npz")
    _wav(inp / "a.wav")
    (inp / "a.txt").write_text(REFERENCE)
    run_prepare(inp, tmp_path / "out", PrepareOptions(raw_audio=True), progress=False)
    data = (tmp_path / "out" / "a.tar").read_bytes()
    rng = np.random.default_rng(3)
    refused = 0
    for cut in _cuts(rng, data, 8) + [512, len(data) - 1024]:
        bad = tmp_path / f"cut{cut}.tar"
        bad.write_bytes(data[:cut])
        try:
            clips = list(read_clips(bad))
        except ShardError as err:
            assert bad.name in str(err)
            refused += 1
        else:  # a cut in the tar's closing padding loses nothing
            assert [c.clip_id for c in clips] == ["a/00000"]
    assert refused >= 8


@pytest.mark.slow
def test_bad_input_corpus_many_real_video_truncations(tmp_path, real_dir):
    summary, expect, out = run_corpus(tmp_path, seed=2024, video_cuts=12, real=real_dir)
    check_corpus(summary, expect, out)
