"""The transcript stage: the given transcript's words, or the words a recogniser found (written
where a user can correct them)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from jegal.atomic import write_text_atomic
from jegal.perception.asr.engines import (FALLBACK_NOTE, RecognitionFailed, engine_for, engine_label, make_recogniser,
                                          source_tag)
from jegal.perception.asr.process import RecogniserProcess
from jegal.perception.asr.provenance import GIVEN, Transcribed, format_transcript, machine_source, machine_transcript_path
from jegal.perception.errors import NoTranscript


class Transcriber:
    """The transcript stage: the given transcript, or recognised words (the recogniser is
    loaded once per process, on the first input that needs it).

    ``beside=True``: the recogniser runs in a process of its own (:class:`RecogniserProcess`),
    so that recognition can run while the caller's threads do other work (``jegal prepare``'s
    reader runs the people stage meanwhile); :meth:`close` ends that process."""

    def __init__(self, mode: str = "auto", model_dir: str | os.PathLike | None = None, threads: int = 1,
                 max_overhang_s: float = 1.0, beside: bool = False):
        self.mode, self.model_dir, self.threads, self.max_overhang_s = mode, model_dir, threads, max_overhang_s
        self.engine = engine_for(mode, model_dir)
        self.beside = beside
        self._recogniser = None
        self._label = None

    @property
    def label(self) -> str | None:
        """The engine and model that recognise (:func:`~jegal.perception.asr.engines.engine_label`), as the
        transcripts record them; None for ``--asr none``. Worked out on first use (a model directory is hashed)."""
        if self._label is None and self.engine is not None:
            self._label = engine_label(self.engine, self.model_dir)
        return self._label

    @property
    def recogniser(self):
        if self._recogniser is None:
            self._recogniser = (RecogniserProcess if self.beside else make_recogniser)(self.engine, self.model_dir,
                                                                                      self.threads)
        return self._recogniser

    def close(self, kill: bool = False) -> None:
        """End the recogniser's process (``kill``: at once, even in the middle of an input)."""
        if isinstance(self._recogniser, RecogniserProcess):
            self._recogniser.close(kill)
        self._recogniser = None

    def words(self, item, audio: np.ndarray, out: str | os.PathLike | None = None,
              warnings: list[str] | None = None) -> Transcribed:
        """The words of ``item`` (a :class:`~jegal.perception.discover.Item`) over ``audio`` (16 kHz mono).

        Order: the transcript beside the input; with ``--asr none`` nothing more
        (:class:`~jegal.perception.errors.NoTranscript`); ``OUT/transcripts/<key>.txt`` from an
        earlier run when it was corrected (no ``Source: asr`` line) or comes from the same
        recogniser; else recognition, written to that file (when ``out`` is given). Raises the
        transcript failures of :func:`jegal.perception.transcripts.read_words`, and
        ``NoTranscript`` when no word was recognised. Notes go to ``warnings``. The same as
        :meth:`known`, then :meth:`recognise` when it found nothing."""
        return self.known(item, audio, out, warnings) or self.recognise(item, audio, out, warnings)

    def known(self, item, audio: np.ndarray, out: str | os.PathLike | None = None,
              warnings: list[str] | None = None) -> Transcribed | None:
        """The words :meth:`words` finds without recognising (the given transcript, or the
        transcript file of an earlier run it may use); None when recognition is needed. Raises
        ``NoTranscript`` when there is no transcript and no recogniser (``--asr none``)."""
        from jegal.perception.transcripts import read_words

        if item.transcript is not None:
            words = read_words(item.transcript, audio, self.max_overhang_s, warnings=warnings,
                               tier=getattr(item, "tier", None))
            return Transcribed(words, machine_source(item.transcript) or GIVEN, Path(item.transcript))
        if self.engine is None:
            raise NoTranscript(f"{item.source}: no transcript (.txt, .json, .TextGrid, .vtt, .srt or .eaf) beside it "
                               "(--asr none; --asr auto recognises the speech instead)")
        path = machine_transcript_path(out, item.key) if out is not None else None
        if path is not None and path.is_file():
            earlier = machine_source(path)
            if earlier is None or earlier == source_tag(self.label):
                words = read_words(path, audio, self.max_overhang_s, warnings=warnings)
                if earlier is not None:
                    _note(warnings, f"{item.source}: no transcript; words of {path} from an earlier run (machine-made)")
                return Transcribed(words, earlier or GIVEN, path)
        return None

    def recognise(self, item, audio: np.ndarray, out: str | os.PathLike | None = None,
                  warnings: list[str] | None = None) -> Transcribed:
        """The words recognised in ``audio``, written to ``OUT/transcripts/<key>.txt`` when
        ``out`` is given (see :meth:`words`). Raises ``NoTranscript`` when no word was recognised."""
        from jegal.perception.transcripts import read_words

        recogniser = self.recogniser
        try:
            found = recogniser.recognise(audio)
        except RecognitionFailed as err:
            raise RecognitionFailed(f"{item.source}: speech recognition failed: {err}") from None
        if not found:
            raise NoTranscript(f"{item.source}: no transcript beside it, and {self.engine} recognised no words "
                               "in its audio (silence or noise?)")
        by = FALLBACK_NOTE if self.mode == "auto" and self.engine == "pocketsphinx" else self.label
        note = f"{item.source}: no transcript; {len(found)} words recognised by {by} (machine-made)"
        path = machine_transcript_path(out, item.key) if out is not None else None
        if path is None:
            from jegal.data.transcripts import words_from_seconds

            _note(warnings, note)
            words = words_from_seconds([(w.display, w.start, w.end) for w in found], f"{item.source} ({self.engine})")
            return Transcribed(words, source_tag(self.label), None)
        write_text_atomic(path, format_transcript(found, self.label, getattr(recogniser, "language", "en")))
        _note(warnings, f"{note}: correct {path} and rerun")
        words = read_words(path, audio, self.max_overhang_s, warnings=warnings)
        return Transcribed(words, source_tag(self.label), path)


def _note(warnings: list[str] | None, text: str) -> None:
    if warnings is not None:
        warnings.append(text)
