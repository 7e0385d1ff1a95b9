"""The faster-whisper recogniser (the ``jegal[asr]`` extra): the bundled ``tiny.en`` model by default
(:mod:`~jegal.perception.asr.models`, its files checked by SHA-256 before loading), another bundled
model by name, or a local CTranslate2 model directory. Never a download.

Long audio: faster-whisper's Silero voice activity detector (its ONNX file ships inside the
faster-whisper wheel) finds the speech; :func:`speech_clips` joins it into stretches of the media of
at most 30 s (one Whisper window), each decoded on its own; every word time comes back in seconds of
the whole input (``tests/perception/test_asr_whisper.py`` checks this on a concatenation).
"""

from __future__ import annotations

import os

import numpy as np

from jegal.data.words import normalise_word
from jegal.perception.asr.engines import AsrUnavailable, RecognisedWord, engine_label, whisper_model
from jegal.timebase import SAMPLE_RATE


class FasterWhisperRecogniser:
    """faster-whisper on the CPU (int8), with the model ``--asr-model`` names (see :func:`whisper_model`).

    ``label``: the engine and model as transcripts record them (:func:`engine_label`). Raises
    :class:`AsrUnavailable` when the extra is missing or a bundled file's SHA-256 is not the pinned one."""

    engine = "faster-whisper"

    def __init__(self, model_dir: str | os.PathLike | None = None, threads: int = 1) -> None:
        from jegal.perception.asr.models import BundledModel, read_verified

        model = whisper_model(model_dir)
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # everything is local: never reach for the hub
        try:
            from faster_whisper import WhisperModel
        except ImportError as err:
            raise AsrUnavailable(f"--asr faster-whisper: cannot import faster_whisper ({err}); "
                                 "pip install 'jegal[asr]'") from None
        self.label = engine_label(self.engine, model_dir)
        if isinstance(model, BundledModel):
            # The verified bytes themselves are loaded, so what runs is what was checked.
            self.model = WhisperModel(model.name, device="cpu", compute_type="int8", cpu_threads=threads,
                                      local_files_only=True, files=read_verified(model))
            self.english_only = model.english_only
        else:
            self.model = WhisperModel(str(model), device="cpu", compute_type="int8", cpu_threads=threads,
                                      local_files_only=True)
            self.english_only = not self.model.model.is_multilingual
        self.language = "en"

    def recognise(self, audio: np.ndarray) -> list[RecognisedWord]:
        """The words spoken in ``audio`` (16 kHz mono float), times in seconds from its start (media
        time), in order; [] when the voice detector finds no speech. The audio is decoded in the
        stretches :func:`speech_clips` finds, each on its own (no text carried from one to the next)."""
        audio = np.asarray(audio, np.float32)
        clips = speech_clips(audio)
        if not clips:
            return []
        segments, info = self.model.transcribe(audio, word_timestamps=True, vad_filter=False,
                                               clip_timestamps=[t for clip in clips for t in clip],
                                               language="en" if self.english_only else None,
                                               condition_on_previous_text=False)
        duration = len(audio) / SAMPLE_RATE
        words = [RecognisedWord(w.word.strip(), min(float(w.start), duration), min(float(w.end), duration),
                                float(w.probability))
                 for seg in segments for w in (seg.words or []) if normalise_word(w.word)]
        self.language = info.language or self.language
        return words

    def align(self, audio: np.ndarray, words: list[str]) -> list[tuple[str, float, float]]:
        """``(display, start_s, end_s)`` of each of ``words`` spoken in ``audio`` (16 kHz mono, at most
        30 s: one Whisper window), by Whisper's forced alignment: the given text is decoded against the
        audio and the cross-attention heads named in the model's ``alignment_heads`` are followed with
        dynamic time warping (CTranslate2's ``Whisper.align``, as faster-whisper's word timestamps use
        it); 20 ms steps. Each word is tokenised alone so that times map back to the given words
        (punctuation stays on its word). Raises ``ValueError`` for audio over 30 s or no word."""
        from faster_whisper.audio import pad_or_trim
        from faster_whisper.tokenizer import Tokenizer

        if len(audio) > 30 * SAMPLE_RATE:
            raise ValueError(f"Whisper aligns at most 30 s at once, not {len(audio) / SAMPLE_RATE:.1f} s")
        if not words:
            raise ValueError("no word to align")
        model = self.model
        tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task="transcribe",
                              language=None if self.english_only else self.language)
        pieces = [tokenizer.encode(" " + w.strip()) for w in words]
        features = model.feature_extractor(np.asarray(audio, np.float32))
        num_frames = features.shape[-1] - 1  # the extractor adds one frame past the end
        encoded = model.encode(pad_or_trim(features))
        [result] = model.model.align(encoded, tokenizer.sot_sequence, [[t for p in pieces for t in p]], num_frames,
                                     median_filter_width=7)
        text_index, time_index = np.array(result.alignments).T
        jumps = np.diff(text_index, prepend=-1).astype(bool)  # where DTW steps to the next token
        token_times = time_index[jumps] / model.tokens_per_second
        first = np.concatenate([[0], np.cumsum([len(p) for p in pieces])])
        # A word starts when its first token does and ends when the next word's first token starts.
        ends = np.append(token_times, num_frames / 100.0)[np.minimum(first[1:], len(token_times))]
        starts = token_times[np.minimum(first[:-1], len(token_times) - 1)]
        return [(w, float(s), float(max(s, e))) for w, s, e in zip(words, starts, ends)]


MAX_CLIP_S = 30.0  # one Whisper window


def speech_clips(audio: np.ndarray, max_s: float = MAX_CLIP_S) -> list[tuple[float, float]]:
    """The stretches of ``audio`` (16 kHz mono) to decode, ``(start_s, end_s)`` in media time: the
    speech faster-whisper's Silero detector finds (padded by 0.4 s, pauses under 2 s bridged: its
    defaults), joined while a stretch stays within ``max_s`` (so most are decoded in one window
    and none is cut away from the silence around it: the stretches are real spans of the media,
    not speech glued together, so a word is never placed across two distant places)."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    found = get_speech_timestamps(np.asarray(audio, np.float32), VadOptions())
    clips: list[list[float]] = []
    for region in found:
        start, end = region["start"] / SAMPLE_RATE, region["end"] / SAMPLE_RATE
        if clips and end - clips[-1][0] <= max_s:
            clips[-1][1] = end
        else:
            clips.append([start, end])
    return [(round(s, 3), round(e, 3)) for s, e in clips]
