"""Speech for SynthGest: espeak-ng through ctypes (the library bundled by ``espeakng-loader``).

espeak-ng is driven in synchronous mode: a synth callback collects int16 samples at the
synthesizer's rate (22050 Hz). An SSML ``<mark>`` before each word gives its start in
milliseconds (more robust than WORD events, which espeak merges for pairs such as "that
the"; marks of merged words share one time, and the group's span is then split in
proportion to the words' lengths). Word ends are not reported by espeak, so a word spans
its first to last voiced 5 ms block before the next word starts. Stressed words are
spoken with SSML ``<prosody pitch>`` (higher) and their samples are scaled up after
synthesis (louder; espeak's own volume/rate prosody together with marks sometimes drops the
rest of a clause, so loudness is applied here).

espeak-ng keeps global state, so one :class:`Speech` object exists per process.
"""

from __future__ import annotations

import ctypes
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jegal.data.audio import resample
from jegal.timebase import SAMPLE_RATE

ESPEAK_RATE = 22050

# espeak_EVENT_TYPE values (speak_lib.h)
_EVENT_MARK = 3
_EVENT_END = 5
_EVENT_MSG_TERMINATED = 6
# espeak_PARAMETER values
_PARAM_RATE, _PARAM_VOLUME, _PARAM_PITCH, _PARAM_RANGE = 1, 2, 3, 4
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_CHARS_UTF8, _SSML = 1, 0x10
_POS_CHARACTER = 1

# espeak-ng carries state across utterances (the pitch "flutter" table index, the echo
# buffer, breath noise from rand()), so the same text comes out slightly different each
# time. SynthGest must be byte-deterministic, so it speaks only through its own variants:
# copies of espeak's variants with those effects switched off, installed in a private data
# directory beside symlinks to the bundled data.
_VARIANT_BASES = {"jg0": None, "jgf2": "f2", "jgf3": "f3", "jgf4": "f4", "jgf5": "f5", "jgm1": "m1", "jgm3": "m3",
                  "jgm7": "m7"}
_DETERMINISTIC = "\nflutter 0\necho 0 0\nbreath 0 0 0 0 0 0 0 0\nroughness 0\n"
VOICES = ["en-us+jg0", "en+jg0", "en-gb-x-rp+jg0", "en-us+jgf3", "en-us+jgm3", "en+jgf2", "en+jgm1",
          "en-gb-x-rp+jgf4", "en-us+jgm7", "en+jgf5"]

STRESS_GAIN = 1.8


class SpeechError(RuntimeError):
    """espeak-ng could not be loaded or failed on a text."""


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint), ("text_position", ctypes.c_int),
                ("length", ctypes.c_int), ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", _EventId)]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


@dataclass
class Utterance:
    """16 kHz mono speech and each word's ``(start_s, end_s)``."""

    wave: np.ndarray
    times: list[tuple[float, float]]


class Speech:
    """The process-wide espeak-ng synthesizer. Use :func:`get_speech`."""

    def __init__(self) -> None:
        try:
            import espeakng_loader
        except ImportError as err:
            raise SpeechError("SynthGest speech needs the espeakng-loader package "
                              "(pip install espeakng-loader)") from err
        lib_path = espeakng_loader.get_library_path()
        try:
            self.lib = ctypes.CDLL(lib_path)
        except OSError as err:
            raise SpeechError(f"{lib_path}: cannot load libespeak-ng ({err})") from err
        data_parent = str(_private_data_dir(Path(espeakng_loader.get_data_path())).parent).encode()
        rate = self.lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data_parent, 0)
        if rate <= 0:
            raise SpeechError(f"espeak_Initialize failed with data at {data_parent.decode()}")
        self.rate = int(rate)
        self._chunks: list[np.ndarray] = []
        self._word_ms: list[int] = []
        self._callback = _CALLBACK(self._on_audio)  # keep a reference: ctypes would free it
        self.lib.espeak_SetSynthCallback(self._callback)
        self.lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self.lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
                                          ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        self._lock = threading.Lock()

    def _on_audio(self, wav, n, events) -> int:
        if n > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        i = 0
        while True:
            ev = events[i]
            if ev.type == 0:  # list terminated
                break
            if ev.type == _EVENT_MARK:
                self._word_ms.append(int(ev.audio_position))
            i += 1
        return 0

    def _run(self, words, stressed, voice, rate_wpm, pitch, pitch_range, prosody: bool):
        parts = []
        for i, (w, s) in enumerate(zip(words, stressed)):
            w = f'<prosody pitch="+40%">{w}</prosody>' if s and prosody else w
            parts.append(f'<mark name="{i}"/>{w}')
        ssml = "<speak>" + " ".join(parts) + "</speak>"
        text = ssml.encode("utf-8") + b"\0"
        with self._lock:
            self._chunks, self._word_ms = [], []
            if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise SpeechError(f"espeak-ng has no voice {voice!r}")
            for param, value in ((_PARAM_RATE, rate_wpm), (_PARAM_PITCH, pitch), (_PARAM_RANGE, pitch_range),
                                 (_PARAM_VOLUME, 100)):
                self.lib.espeak_SetParameter(param, int(value), 0)
            err = self.lib.espeak_Synth(text, len(text), 0, _POS_CHARACTER, 0, _CHARS_UTF8 | _SSML, None, None)
            if err != 0:
                raise SpeechError(f"espeak_Synth failed ({err}) on {' '.join(words)!r}")
            self.lib.espeak_Synchronize()
            chunks, word_ms = self._chunks, self._word_ms
        if len(word_ms) != len(words):
            raise SpeechError(f"espeak reported {len(word_ms)} word marks for {len(words)} words "
                              f"in {' '.join(words)!r}")
        return chunks, word_ms

    def synthesize(self, words: list[str], stressed: list[bool] | None = None, voice: str = VOICES[0],
                   rate_wpm: int = 170, pitch: int = 50, pitch_range: int = 50) -> Utterance:
        """Speak ``words`` (plain lower-case words, no punctuation) and time each one.

        Raises :class:`SpeechError` when espeak does not report one mark per word.
        """
        stressed = stressed or [False] * len(words)
        try:
            chunks, word_ms = self._run(words, stressed, voice, rate_wpm, pitch, pitch_range, prosody=True)
        except SpeechError:
            # Rarely espeak drops the rest of a long clause when marks and prosody tags mix;
            # the loudness cue still comes from the post-synthesis gain.
            chunks, word_ms = self._run(words, stressed, voice, rate_wpm, pitch, pitch_range, prosody=False)
        raw = (np.concatenate(chunks) if chunks else np.zeros(0, np.int16)).astype(np.float32) / 32768.0
        starts = np.asarray(word_ms, dtype=np.float64) / 1000.0
        times = _word_spans(raw, self.rate, starts, words)
        raw = _apply_stress(raw, self.rate, times, stressed)
        wave = resample(raw, self.rate, SAMPLE_RATE)
        return Utterance(np.clip(wave, -1.0, 1.0).astype(np.float32), times)


def _word_spans(wave: np.ndarray, sr: int, starts: np.ndarray, words: list[str]) -> list[tuple[float, float]]:
    """Each word (or group of words espeak merged) spans its first to last voiced 5 ms
    block before the next start; merged groups are split by the words' lengths."""
    block = sr // 200
    n = len(wave) // block
    energy = (wave[: n * block].reshape(n, block) ** 2).mean(axis=1)
    thresh = max(1e-6, 0.01 * float(np.percentile(energy, 95)) if n else 1e-6)
    voiced = energy > thresh
    total = len(wave) / sr
    group_starts = sorted(set(starts.tolist()))
    times = []
    for g, s in enumerate(group_starts):
        nxt = group_starts[g + 1] if g + 1 < len(group_starts) else total
        b0, b1 = int(s * 200), min(n, int(nxt * 200))
        idx = np.flatnonzero(voiced[b0:b1])
        if len(idx):
            # espeak reports a word where its phonemes begin, which can be leading silence.
            s, end = (b0 + idx[0]) / 200, (b0 + idx[-1] + 1) / 200
        else:
            end = min(nxt, s + 0.05)
        end = max(end, s + 0.02)
        members = [i for i, st in enumerate(starts) if st == group_starts[g]]
        weights = np.cumsum([0] + [len(words[i]) + 1 for i in members], dtype=np.float64)
        bounds = s + (end - s) * weights / weights[-1]
        for k in range(len(members)):
            times.append((float(bounds[k]), float(bounds[k + 1] if k + 1 < len(members) else end)))
    return times


def _apply_stress(wave: np.ndarray, sr: int, times, stressed) -> np.ndarray:
    """Scale stressed words up with 10 ms ramps so the loudness cue survives any voice."""
    if not any(stressed):
        return wave
    gain = np.ones(len(wave), dtype=np.float32)
    ramp = int(0.01 * sr)
    for (s, e), st in zip(times, stressed):
        if not st:
            continue
        a, b = int(s * sr), min(len(wave), int(e * sr))
        if b <= a:
            continue
        g = np.full(b - a, STRESS_GAIN, dtype=np.float32)
        r = min(ramp, (b - a) // 2)
        if r > 0:
            g[:r] = np.linspace(1.0, STRESS_GAIN, r)
            g[-r:] = np.linspace(STRESS_GAIN, 1.0, r)
        gain[a:b] = np.maximum(gain[a:b], g)
    return wave * gain


def _private_data_dir(bundled: Path) -> Path:
    """An espeak-ng-data directory of symlinks to ``bundled`` plus SynthGest's variants,
    built once per bundled version under the user cache (or the temp folder where the cache
    is not writable), atomically (:func:`jegal.atomic.atomic_path`)."""
    import hashlib
    import os
    import tempfile

    key = hashlib.sha1((str(bundled.resolve()) + _DETERMINISTIC + repr(_VARIANT_BASES)).encode()).hexdigest()[:12]
    roots = [Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "jegal", Path(tempfile.gettempdir())]
    errors = []
    for root in roots:
        try:
            return _build_data_dir(bundled, root / f"espeak-{key}")
        except OSError as err:
            errors.append(f"{root}: {err}")
    raise SpeechError("cannot build the SynthGest espeak voice folder (" + "; ".join(errors) + ")")


def _build_data_dir(bundled: Path, cache: Path) -> Path:
    import shutil

    from jegal.atomic import atomic_path

    target = cache / "espeak-ng-data"
    if (target / "voices" / "!v" / "jg0").exists():
        return target
    # Synth worker processes start together and may all build it: the first finished wins,
    # and a folder espeak already uses is never swapped under it.
    with atomic_path(cache, replace=False) as build:
        data = build / "espeak-ng-data"
        variants = data / "voices" / "!v"
        variants.mkdir(parents=True)

        def link(src: Path, dst: Path) -> None:
            try:
                dst.symlink_to(src, target_is_directory=src.is_dir())
            except OSError:
                (shutil.copytree if src.is_dir() else shutil.copy2)(src, dst)

        for entry in bundled.iterdir():
            if entry.name != "voices":
                link(entry, data / entry.name)
        for entry in (bundled / "voices").iterdir():
            if entry.name != "!v":
                link(entry, data / "voices" / entry.name)
        for name, base in _VARIANT_BASES.items():
            text = (bundled / "voices" / "!v" / base).read_text() if base else "language variant\n"
            (variants / name).write_text(text.replace("name ", f"name {name}-", 1) + _DETERMINISTIC)
    if not (target / "voices" / "!v" / "jg0").exists():  # kept: a folder this code did not build
        raise OSError(f"{cache} exists without the SynthGest voices; remove it")
    return target


_SPEECH: Speech | None = None


def get_speech() -> Speech:
    """The process's synthesizer, initialised on first use (never at import)."""
    global _SPEECH
    if _SPEECH is None:
        _SPEECH = Speech()
    return _SPEECH
