"""The pocketsphinx recogniser: the en-us models inside the ``pocketsphinx`` wheel, offline."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from jegal.data.words import normalise_word
from jegal.perception.asr.engines import RecognisedWord
from jegal.timebase import SAMPLE_RATE

# Longer audio is decoded in pieces cut at the quietest 10 ms within the last CUT_WINDOW_S of
# each piece: pocketsphinx's search memory grows with the utterance, and a quiet cut rarely
# splits a word.
CHUNK_S = 30.0
CUT_WINDOW_S = 10.0


def quiet_cuts(audio: np.ndarray, chunk_s: float = CHUNK_S, window_s: float = CUT_WINDOW_S) -> list[tuple[int, int]]:
    """``[(start, end)]`` sample ranges of at most ``chunk_s`` covering ``audio``, each cut at
    the quietest 10 ms within its last ``window_s``."""
    n, limit, hop = len(audio), int(chunk_s * SAMPLE_RATE), SAMPLE_RATE // 100
    spans, start = [], 0
    while n - start > limit:
        lo = start + limit - int(window_s * SAMPLE_RATE)
        frames = audio[lo:start + limit][: (limit - (lo - start)) // hop * hop].reshape(-1, hop)
        cut = lo + int(np.argmin((frames.astype(np.float64) ** 2).mean(axis=1))) * hop + hop // 2
        spans.append((start, cut))
        start = cut
    spans.append((start, n))
    return spans


def _pcm16(audio: np.ndarray) -> bytes:
    return (np.clip(np.asarray(audio, np.float32), -1, 1) * 32767).astype("<i2").tobytes()


class PocketsphinxRecogniser:
    """Continuous recognition with the models inside the ``pocketsphinx`` wheel (en-us)."""

    engine = "pocketsphinx"
    language = "en"

    def __init__(self) -> None:
        from pocketsphinx import Decoder, get_model_path

        model = Path(get_model_path()) / "en-us"
        self.decoder = Decoder(hmm=str(model / "en-us"), lm=str(model / "en-us.lm.bin"),
                               dict=str(model / "cmudict-en-us.dict"), samprate=SAMPLE_RATE, loglevel="FATAL")

    def recognise(self, audio: np.ndarray) -> list[RecognisedWord]:
        """The words spoken in ``audio`` (16 kHz mono float), in order."""
        d = self.decoder
        words = []
        for a, b in quiet_cuts(audio):
            # Cepstral mean normalisation carries over between utterances: start each piece
            # from the model's prior so the words do not depend on what was decoded before.
            d.reinit_feat()
            d.start_utt()
            d.process_raw(_pcm16(audio[a:b]), full_utt=True)
            d.end_utt()
            if d.hyp() is None:
                continue
            d.get_prob()  # computes the lattice posteriors: each segment's prob becomes its confidence
            offset, frate = a / SAMPLE_RATE, 100.0
            for seg in d.seg():
                name = re.sub(r"\(\d+\)$", "", seg.word)
                if not normalise_word(name) or name[:1] in "<[":  # <s>, </s>, <sil>, [NOISE] ...
                    continue
                words.append(RecognisedWord(name, offset + seg.start_frame / frate,
                                            offset + (seg.end_frame + 1) / frate,
                                            min(1.0, max(0.0, float(seg.prob)))))
        return words
