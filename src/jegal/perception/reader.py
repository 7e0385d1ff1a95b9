"""One input read through the perception stages, up to the words and people its clips are cut from.

:class:`VideoReader` takes an :class:`~jegal.perception.discover.Item` (a video, or precomputed
``<name>.kps.npz``, with its audio and transcript) through the stages in the order that fails
cheapest first: files checked (:mod:`~jegal.perception.discover`), keypoints read
(:mod:`~jegal.perception.importers`), audio decoded (:mod:`~jegal.perception.decode`), words read
or aligned (:mod:`~jegal.perception.transcripts`) or, without a transcript, recognised
(:mod:`~jegal.perception.asr`), people followed through the video (:mod:`~jegal.perception.track`)
and per-frame rgb features (:mod:`~jegal.perception.features`, optional). ``jegal prepare``
(:class:`jegal.prepare.pipeline.Preparer`, which cuts and writes the clips) and the commands that
apply a model to a video (:mod:`jegal.use`) read inputs through it.
"""

from __future__ import annotations

import concurrent.futures
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jegal.data.words import Word
from jegal.perception.asr import Transcribed, Transcriber
from jegal.perception.discover import Item
from jegal.perception.errors import NoAudio, NoTranscript
from jegal.perception.options import PrepareOptions
from jegal.perception.track import People, PeopleTracker


@dataclass
class ItemRead:
    """One input read up to its clips (:meth:`VideoReader.read`); frames are 25 fps from its start."""

    audio: np.ndarray  # (N,) float32, 16 kHz mono
    transcript: Transcribed | None  # the words chosen and where they came from; None: no words (require_words off)
    words: list[Word]  # the transcript's words that lie inside the media
    people: People
    features: list[np.ndarray] | None = None  # per person (T_person, F) over its track, with --rgb-features


def _timed(fn, *args):
    """``(fn(*args, notes), seconds, notes)``: a stage run in another thread, with its own notes."""
    t = time.perf_counter()
    notes: list[str] = []
    got = fn(*args, notes)
    return got, time.perf_counter() - t, notes


class VideoReader:
    """One input through the perception stages (:meth:`read`); holds the per-process models
    (mediapipe, the recogniser, the GestSync weights) across inputs. :meth:`close` releases them.
    ``features_device``: where the GestSync features are computed (``"cuda"``: on the GPU,
    :mod:`jegal.perception.features`)."""

    def __init__(self, options: PrepareOptions | None = None, out: str | os.PathLike | None = None,
                 features_device: str = "cpu"):
        self.options = options or PrepareOptions()
        self.tracker = PeopleTracker(self.options)
        # Recognised transcripts are written to out/transcripts/ (not written without ``out``).
        self.out = out
        # With two threads or more (one process doing the work), recognition runs in a process of
        # its own beside the people stage (read); not in a pool worker, which may not have children.
        import multiprocessing as mp

        beside = self.options.threads >= 2 and not mp.current_process().daemon
        self.transcriber = Transcriber(self.options.asr, self.options.asr_model, self.options.threads,
                                       self.options.max_overhang_s, beside=beside)
        self._thread = None
        self.features = None  # per-frame rgb features (--rgb-features), weights loaded on first use
        if self.options.rgb_features:
            from jegal.perception.features import GestSyncFeatures

            self.features = GestSyncFeatures(self.options.gestsync_weights, self.options.threads, features_device)

    def _recognition_thread(self) -> concurrent.futures.ThreadPoolExecutor:
        """The thread that waits for the recogniser's process while the people stage runs."""
        if self._thread is None:
            self._thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="jegal-recognition")
        return self._thread

    def release_recogniser(self) -> None:
        """End the recogniser (its process, or its model in this one) and keep every other model:
        between the jobs of a long-lived reader (``jegal serve``'s worker), so a recogniser is held
        only while a job needs it; the next input that needs one loads it again."""
        self.transcriber.close()

    def close(self) -> None:
        """End the recogniser's process and thread and release the people stage's models."""
        self.tracker.close()
        if self._thread is not None:
            self._thread.shutdown()
            self._thread = None
        self.transcriber.close()

    def read(self, item: Item, warnings: list[str], timings: dict, require_words: bool = True,
             out: str | os.PathLike | None = None, stage: Callable[[str], None] | None = None,
             on_frames: Callable[[int], None] | None = None) -> ItemRead:
        """The stages of one item before its clips, in the order that fails cheapest first: files
        checked, precomputed keypoints read, audio decoded (16 kHz mono), words (the given
        transcript, else recognised and written to ``out/transcripts/<key>.txt``; ``out`` defaults
        to the reader's), people followed through the video (or taken from the keypoints), the
        words fitted to the media, and with ``--rgb-features`` each person's per-frame features
        (:mod:`jegal.perception.features`).

        When the words must be recognised and the transcriber runs its recogniser in a process
        of its own (``Transcriber.beside``: a reader with two threads or more, outside a pool
        worker), recognition runs while the people stage does: on two cores this takes the
        recognition's seconds off the wall time but for what the two stages take from each other.

        Appends notes to ``warnings``; adds seconds per stage to ``timings`` (``audio``,
        ``transcript``, the tracker's ``decode`` / ``detect`` / ``keypoints``, ``features``;
        with recognition beside the people stage, ``transcript`` is the recognition's own seconds
        and ``transcript_wait`` the time its words were waited for after the people stage).
        ``require_words=False``: an input without words (``--asr none`` and no transcript, or
        nothing recognised) is read with ``words == []`` and ``transcript`` None. ``stage`` is
        called with the name of each stage as it starts ("words", "people", "features"), and
        ``on_frames`` with the frames the people stage has done (after each decoded chunk), for
        progress bars.
        Raises a :class:`~jegal.perception.errors.PrepareError` subclass naming the file."""
        from jegal.perception.decode import check_audio_fits, load_audio_for
        from jegal.perception.importers import load_keypoints_npz
        from jegal.perception.transcripts import fit_to_media

        stage = stage or (lambda name: None)
        item.check_files()
        t = time.perf_counter()
        raw_kp = None
        if item.keypoints is not None:
            raw_kp = load_keypoints_npz(item.keypoints, warnings)
            if item.wav is None and item.video is None:
                raise NoAudio(f"{item.keypoints}: no {Path(item.name).name}.wav beside it "
                              "(the speech of the keypoints)")
        audio = load_audio_for(item.video, item.wav, warnings)
        timings["audio"] = time.perf_counter() - t
        stage("words")
        t = time.perf_counter()
        out = self.out if out is None else out
        recognition = None  # recognition running beside the people stage
        try:  # the given transcript, or (--asr) words recognised from the speech: NoTranscript with --asr none
            chosen = self.transcriber.known(item, audio, out, warnings)
            if chosen is None:
                if self.transcriber.beside and raw_kp is None:
                    _ = self.transcriber.recogniser  # its process is started here, so it lives with this thread
                    recognition = self._recognition_thread().submit(_timed, self.transcriber.recognise, item, audio, out)
                else:
                    chosen = self.transcriber.recognise(item, audio, out, warnings)
        except NoTranscript:
            if require_words:
                raise
            chosen = None
        timings["transcript"] = time.perf_counter() - t
        stage("people")
        try:
            if raw_kp is not None:
                people = People.from_keypoints(raw_kp)
            else:
                people = self.tracker.follow(item.video, item.name, timings, warnings, on_frames)
                check_audio_fits(item.video, people.num_frames, audio)
        except BaseException:
            if recognition is not None:  # no words are needed now: stop the recognition, and the next
                self.transcriber.close(kill=True)  # input starts a fresh recogniser
                concurrent.futures.wait([recognition])
            raise
        if recognition is not None:
            t = time.perf_counter()
            try:
                chosen, seconds, notes = recognition.result()
                warnings += notes
            except NoTranscript:
                if require_words:
                    raise
                chosen, seconds = None, 0.0
            # "transcript": the recognition's own seconds, spent while the people stage ran;
            # "transcript_wait": how long the words were waited for after it.
            timings["transcript"] += seconds
            timings["transcript_wait"] = time.perf_counter() - t
        words = []
        if chosen is not None:
            words, notes = fit_to_media(chosen.words, people.num_frames, str(chosen.path or item.source),
                                        self.options.max_overhang_s)
            warnings += notes
        features = None
        if self.features is not None:
            if item.video is None:
                warnings.append(f"{item.name}: no video, so no --rgb-features")
            else:
                stage("features")
                features = self.features.people_features(item.video, people, timings)
        return ItemRead(audio, chosen, words, people, features)
