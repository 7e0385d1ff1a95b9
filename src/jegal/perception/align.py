"""Offline forced alignment of a plain transcript to 16 kHz speech with pocketsphinx.

The wheel's en-us acoustic model and CMU dictionary do the work: ``set_align_text`` builds
a grammar that accepts exactly the given word sequence, decoding it gives word segments,
and ``set_alignment`` refines them to phone level. Words missing from the dictionary get
a pronunciation from espeak-ng (bundled by ``espeakng-loader``): its IPA output is mapped
onto the dictionary's phone set. Half a second of faint noise is padded on both sides
because pocketsphinx otherwise tends to swallow a last word that ends with the audio;
if words are still missing, the decode is retried with wider beams before giving up.

Mean error on the real samples against their reference word times: see
``tests/perception/test_align.py`` (about 0.06 s).

Every way the aligner can fail (pocketsphinx refusing the grammar, "Failed to set up
sub-word alignment" when the audio does not fit the words, espeak-ng not loading) is an
:class:`~jegal.perception.errors.Unalignable` naming the transcript, never an unexpected error.
"""

from __future__ import annotations

import ctypes
import re
import sys
import threading
import unicodedata
from pathlib import Path

import numpy as np

from jegal.data.transcripts import words_from_seconds
from jegal.data.words import Word, normalise_word
from jegal.perception.errors import EmptyTranscript, TranscriptTooLong, Unalignable
from jegal.timebase import SAMPLE_RATE, seconds_to_frame

PAD_S = 0.5
# IPA (espeak-ng, en-us) -> CMU phones; longest match first.
_IPA = {
    "aɪ": "AY", "aʊ": "AW", "eɪ": "EY", "oʊ": "OW", "əʊ": "OW", "ɔɪ": "OY", "tʃ": "CH", "dʒ": "JH",
    "iː": "IY", "uː": "UW", "ɑː": "AA", "ɔː": "AO", "ɜː": "ER", "ɪə": "IH R", "eə": "EH R", "ʊə": "UH R",
    "i": "IY", "ɪ": "IH", "ᵻ": "IH", "e": "EH", "ɛ": "EH", "æ": "AE", "a": "AE", "ɑ": "AA", "ɒ": "AA",
    "ɔ": "AO", "u": "UW", "ʊ": "UH", "ʌ": "AH", "ə": "AH", "ɐ": "AH", "ɚ": "ER", "ɜ": "ER", "o": "OW",
    "p": "P", "b": "B", "t": "T", "d": "D", "k": "K", "g": "G", "ɡ": "G", "f": "F", "v": "V", "θ": "TH",
    "ð": "DH", "s": "S", "z": "Z", "ʃ": "SH", "ʒ": "ZH", "h": "HH", "m": "M", "n": "N", "ŋ": "NG",
    "l": "L", "ɹ": "R", "r": "R", "w": "W", "j": "Y", "ɾ": "T", "ʔ": "T", "x": "K", "ç": "HH",
}
_IPA_KEYS = sorted(_IPA, key=len, reverse=True)
_IGNORE = set("ˈˌː̩ -_.'ˑ̃")
_ESPEAK = None
_ESPEAK_LOCK = threading.Lock()


class _Espeak:
    def __init__(self) -> None:
        import espeakng_loader

        self.lib = ctypes.CDLL(espeakng_loader.get_library_path())
        data_parent = str(Path(espeakng_loader.get_data_path()).parent).encode()
        # libespeak-ng is process-global: if SynthGest's synthesizer already initialised it
        # (with its own data folder, a superset of the bundled one), initialising again would
        # pull its voice variants from under it.
        synth = sys.modules.get("jegal.synth.speech")
        ready = synth is not None and getattr(synth, "_SPEECH", None) is not None
        # AUDIO_OUTPUT_SYNCHRONOUS (2): no sound device; phonemes only.
        if not ready and self.lib.espeak_Initialize(2, 0, data_parent, 0) <= 0:
            raise Unalignable(f"espeak-ng failed to initialise with data at {data_parent.decode()}")
        self.lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self.lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        self.lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_char_p), ctypes.c_int, ctypes.c_int]

    def ipa(self, word: str) -> str:
        self.lib.espeak_SetVoiceByName(b"en-us")
        text = ctypes.c_char_p(word.encode())
        # textmode 1 = UTF-8, phonememode 2 = IPA
        return (self.lib.espeak_TextToPhonemes(ctypes.byref(text), 1, 2) or b"").decode("utf-8", "replace")


def ipa_to_cmu(ipa: str) -> list[str]:
    """CMU phones of an IPA string (stress and length marks dropped, unknown symbols skipped)."""
    phones, i = [], 0
    while i < len(ipa):
        if ipa[i] in _IGNORE:
            i += 1
            continue
        key = next((k for k in _IPA_KEYS if ipa.startswith(k, i)), None)
        if key is None:
            i += 1
            continue
        phones += _IPA[key].split()
        i += len(key)
    return phones


def pronounce(word: str) -> list[str]:
    """A CMU pronunciation of an out-of-dictionary word from espeak-ng; [] if none."""
    global _ESPEAK
    with _ESPEAK_LOCK:
        try:
            if _ESPEAK is None:
                _ESPEAK = _Espeak()
            return ipa_to_cmu(_ESPEAK.ipa(word))
        except Unalignable:
            raise
        except (OSError, ImportError, AttributeError, ValueError) as err:
            raise Unalignable(f"espeak-ng is not usable to pronounce {word!r} ({type(err).__name__}: {err})") from None


def _dict_form(word: str) -> str:
    """The dictionary spelling: lower case, apostrophes kept (typographic ones folded), accents
    taken off letters ("naïve" -> "naive", as the CMU dictionary spells it), other punctuation
    and hyphens split off."""
    bare = "".join(c for c in unicodedata.normalize("NFKD", normalise_word(word)) if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9']", "", bare.replace("-", ""))


def align_seconds(wave: np.ndarray, words: list[str], source: str = "transcript") -> list[tuple[str, float, float]]:
    """``(display, start_s, end_s)`` of each word of ``words`` spoken in ``wave`` (16 kHz mono).

    Words that are pure punctuation are skipped. Raises :class:`~jegal.perception.errors.Unalignable`
    for a word that has no pronunciation or when the audio cannot be aligned to the whole word
    sequence, :class:`~jegal.perception.errors.TranscriptTooLong` when the audio is far too short
    for the words, ``EmptyTranscript`` when there is no word (all three are ``TranscriptError``).
    """
    from pocketsphinx import Decoder

    display = [w for w in words if normalise_word(w)]
    if not display:
        raise EmptyTranscript(f"{source}: transcript has no words")
    if len(wave) / SAMPLE_RATE < 0.2 * len(display):
        raise TranscriptTooLong(f"{source}: {len(display)} words cannot be spoken in {len(wave) / SAMPLE_RATE:.2f} s "
                                "of audio; transcript longer than the media?")
    tokens = []
    for w in display:
        tok = _dict_form(w)
        if not tok:
            raise Unalignable(f"{source}: word {w!r} cannot be aligned (no letters to pronounce)")
        tokens.append(tok)
    wave = np.nan_to_num(np.asarray(wave, np.float32), nan=0.0, posinf=1.0, neginf=-1.0)
    seconds, failure = None, "the decoder found another word sequence"
    for attempt, beams in enumerate([{}, {"beam": 1e-80, "wbeam": 1e-60, "pbeam": 1e-80}]):
        try:
            decoder = Decoder(samprate=SAMPLE_RATE, loglevel="FATAL", **beams)
            for tok, w in zip(tokens, display):
                if decoder.lookup_word(tok) is None:
                    phones = pronounce(tok)
                    if not phones:
                        raise Unalignable(f"{source}: word {w!r} is not in the dictionary and has no pronunciation")
                    decoder.add_word(tok, " ".join(phones), True)
        except Unalignable:
            raise
        except (RuntimeError, ValueError, KeyError) as err:
            raise Unalignable(f"{source}: the aligner cannot be set up for these words ({type(err).__name__}: "
                              f"{err})") from None
        pad_s = PAD_S * (attempt + 1)
        rng = np.random.default_rng(0)
        pad = (rng.standard_normal(int(pad_s * SAMPLE_RATE)) * 1e-4).astype(np.float32)
        pcm = (np.clip(np.concatenate([pad, wave, pad]), -1, 1) * 32767).astype("<i2").tobytes()
        try:
            decoder.set_align_text(" ".join(tokens))
            decoder.start_utt()
            decoder.process_raw(pcm, full_utt=True)
            decoder.end_utt()
            # Raises "Failed to set up sub-word alignment" when the audio does not fit the words.
            decoder.set_alignment()
            decoder.start_utt()
            decoder.process_raw(pcm, full_utt=True)
            decoder.end_utt()
            found = [(re.sub(r"\(\d+\)$", "", e.name), e.start / 100 - pad_s, (e.start + e.duration) / 100 - pad_s)
                     for e in decoder.get_alignment()]
        except (RuntimeError, ValueError) as err:
            failure = f"{type(err).__name__}: {err}"
            continue
        found = [f for f in found if f[0] not in ("<s>", "</s>", "<sil>", "sil", "(NULL)", "[NOISE]")]
        if [f[0] for f in found] == tokens:
            seconds = found
            break
    if seconds is None:
        raise Unalignable(f"{source}: forced alignment failed: the audio does not fit the {len(tokens)} words "
                          f"(wrong transcript or wrong audio?; the aligner said: {failure})")
    duration = len(wave) / SAMPLE_RATE
    # pocketsphinx ends are exclusive 10 ms frames; keep times inside the real audio.
    return [(w, min(max(s, 0.0), duration), min(max(e - 0.01, 0.0), duration)) for w, (_, s, e) in zip(display, seconds)]


def align_words(wave: np.ndarray, words: list[str], source: str = "transcript") -> list[Word]:
    """Word boundaries (25 fps frames) of ``words`` spoken in ``wave``; see :func:`align_seconds`."""
    return [Word.from_display(w, seconds_to_frame(s), max(seconds_to_frame(s), seconds_to_frame(e)))
            for w, s, e in align_seconds(wave, words, source)]


_WHISPER = None
_WHISPER_LOCK = threading.Lock()


def _whisper():
    """The default Whisper recogniser (loaded once per process), or None without the ``jegal[asr]`` extra."""
    global _WHISPER
    from jegal.perception.asr.engines import AsrUnavailable, make_recogniser, whisper_available

    with _WHISPER_LOCK:
        if _WHISPER is None:
            _WHISPER = False  # tried once per process: not installed or not loadable -> pocketsphinx
            if whisper_available():
                try:
                    _WHISPER = make_recogniser("faster-whisper")
                except AsrUnavailable as err:  # a damaged package: said once, then pocketsphinx aligns
                    import logging

                    logging.getLogger(__name__).warning("Whisper cannot align segments here (%s); pocketsphinx does", err)
        return _WHISPER or None


def align_segments(audio: np.ndarray, segments: list[tuple[float, float, str]], source: str = "transcript",
                   margin_s: float = 0.25, engine: str = "auto") -> list[Word]:
    """Word boundaries (25 fps frames, from the start of ``audio``) of timed text segments
    (subtitles: ``.srt``/``.vtt`` cues, ELAN annotations), each segment's words aligned inside it.

    ``audio``: float32 mono at 16 kHz (:data:`~jegal.timebase.SAMPLE_RATE`), the whole media.
    ``segments``: ``(start_s, end_s, text)`` in seconds of media time, in any order; the text is
    split on white space; segments without words are skipped. Each segment is aligned on its own
    stretch of audio widened by ``margin_s`` on both sides (subtitle times are often a little
    late or early), and every word's times are then clamped into ``[start_s, end_s]``, so a word
    never leaves its segment. Returns the words of all segments in time order.

    The aligner (``engine``): with ``auto``, Whisper (:meth:`FasterWhisperRecogniser.align
    <jegal.perception.asr.whisper.FasterWhisperRecogniser.align>`) for segments up to 30 s when the
    ``jegal[asr]`` extra is installed, else pocketsphinx (:func:`align_seconds`); ``pocketsphinx``:
    always pocketsphinx. Why: on short cues pocketsphinx often finds no alignment at all (a cue
    that starts or ends inside a word; 3 of the 6 cues of ``bench/bench_asr.py`` failed) while
    Whisper always places the words, at about the same start error (docs/prepare.md).

    Raises :class:`~jegal.perception.errors.Unalignable` naming ``source`` (the file) and the
    segment (number and times) when a segment has a bad time (negative, end before start, past
    the audio's end) or its words cannot be aligned to its audio; ``EmptyTranscript`` when no
    segment has a word; ``TranscriptTooLong`` when a segment is far too short for its words.
    """
    wave = np.asarray(audio, np.float32)
    duration = len(wave) / SAMPLE_RATE
    timed = []
    for i, (start, end, text) in enumerate(segments):  # every segment checked before any is aligned
        start, end, tokens = float(start), float(end), [w for w in str(text).split() if normalise_word(w)]
        where = f"{source}: segment {i + 1} ({start:.3f}-{end:.3f} s)"
        if not (np.isfinite(start) and np.isfinite(end)) or start < 0 or end <= start:
            raise Unalignable(f"{where}: not a time span (start must be >= 0 and before its end)")
        if start >= duration and tokens:
            raise Unalignable(f"{where}: starts after the audio ends ({duration:.3f} s); wrong file?")
        if tokens:
            timed.append((start, min(end, duration), tokens, where))
    starts, ends, displays = [], [], []
    for start, end, tokens, where in sorted(timed, key=lambda t: t[:2]):
        lo, hi = max(0.0, start - margin_s), min(duration, end + margin_s)
        piece = wave[int(round(lo * SAMPLE_RATE)):int(round(hi * SAMPLE_RATE))]
        whisper = _whisper() if engine != "pocketsphinx" and hi - lo <= 30 else None
        found = whisper.align(piece, tokens) if whisper is not None else align_seconds(piece, tokens, where)
        times = np.clip(np.array([(s, e) for _, s, e in found], np.float64) + lo, start, end)
        starts.append(times[:, 0])
        ends.append(times[:, 1])
        displays += [w for w, _, _ in found]
    if not displays:
        raise EmptyTranscript(f"{source}: no segment has words")
    return words_from_seconds(zip(displays, np.concatenate(starts), np.concatenate(ends)), source)
