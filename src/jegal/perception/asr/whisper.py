"""The faster-whisper recogniser (the optional extra), with a local CTranslate2 model directory only."""

from __future__ import annotations

import os

import numpy as np

from jegal.data.words import normalise_word
from jegal.perception.asr.engines import AsrUnavailable, RecognisedWord, check_whisper_model


class FasterWhisperRecogniser:
    """faster-whisper with a local CTranslate2 model directory (never a download)."""

    engine = "faster-whisper"

    def __init__(self, model_dir: str | os.PathLike, threads: int = 1) -> None:
        path = check_whisper_model(model_dir)
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the directory holds everything: never reach for the hub
        try:
            from faster_whisper import WhisperModel
        except ImportError as err:
            raise AsrUnavailable(f"--asr faster-whisper: cannot import faster_whisper ({err}); "
                                 "pip install 'jegal[asr]'") from None
        self.model = WhisperModel(str(path), device="cpu", compute_type="int8", cpu_threads=threads,
                                  local_files_only=True)
        self.language = "en"

    def recognise(self, audio: np.ndarray) -> list[RecognisedWord]:
        segments, info = self.model.transcribe(np.asarray(audio, np.float32), word_timestamps=True,
                                               condition_on_previous_text=False)
        self.language = info.language or self.language
        return [RecognisedWord(w.word.strip(), float(w.start), float(w.end), float(w.probability))
                for seg in segments for w in (seg.words or []) if normalise_word(w.word)]
