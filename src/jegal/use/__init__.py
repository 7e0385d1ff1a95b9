"""Applying a trained model to a user's own data: ``jegal spot``, ``jegal asd``, ``jegal embed``, ``jegal search``.

The application layer between a video on disk and the library's inference functions
(:mod:`jegal.inference`). One module per concern, in the order a video goes through them:

- :mod:`~jegal.use.video`     a video (or ``.kps.npz``) as per-person model inputs, read through
  :mod:`jegal.perception` (decode, people, keypoints or rgb crops, transcript or offline ASR) and
  cut into the overlapping windows of :mod:`jegal.inference.windows` (:func:`~jegal.use.video.read_video`)
- :mod:`~jegal.use.common`    what every command shares: ``--model`` (a model or a training run
  directory), ``--device``, the output directory, error reporting
- :mod:`~jegal.use.spot`      ``jegal spot``: which words each person gestured (maps, words, video)
- :mod:`~jegal.use.asd`       ``jegal asd``: who is speaking, from gestures alone, per transcript segment
- :mod:`~jegal.use.annotate`  what the annotated video of both shows (boxes, running transcript)
- :mod:`~jegal.use.media`     the one H.264 + AAC writer (one decode for every video a task writes)
- :mod:`~jegal.use.progress`  the one progress protocol, ``progress(stage, fraction)``
- :mod:`~jegal.use.default_model` the model the page trains when it has none (a SynthGest recipe)
- :mod:`~jegal.use.exports`   the ELAN ``.eaf`` and Praat ``.TextGrid`` that ``jegal spot`` / ``asd`` write
- :mod:`~jegal.use.embed`     ``jegal embed``: gesture and content embeddings of videos or shards
- :mod:`~jegal.use.search`    ``jegal search``: a FAISS gallery of gesture clips, queried by text, audio or video

**One function per task**, which the command line and the page (:mod:`jegal.serve`) both call:
:func:`spot_words` (``jegal spot``), :func:`find_speakers` (``jegal asd``),
:func:`write_embeddings` (``jegal embed``); each takes a loaded model (:meth:`jegal.model.JEGAL.from_pretrained`) and one progress callback
``progress(stage, fraction)`` (:mod:`~jegal.use.progress`: the command line shows it as a bar
(:class:`ProgressBar`), the page as its progress). :func:`write_videos` is the one writer of
H.264 + AAC videos. The names in ``__all__`` are what other applications may import.

Nothing here loads a model or imports torch at import time; ``docs/use.md`` documents the
commands and their outputs.
"""

from jegal.use.asd import SpeakersResult, find_speakers
from jegal.use.common import BadFlag, add_model_arguments, check_device, content_modalities, expected_errors
from jegal.use.default_model import DEFAULT_MODEL_STAMP, Recipe, last_step, synth_example, train_default
from jegal.use.embed import write_embeddings
from jegal.use.exports import relink_media
from jegal.use.annotate import person_colour
from jegal.use.media import VideoTarget, write_videos
from jegal.use.progress import Progress, ProgressBar, Stages, quiet
from jegal.use.spot import SpotResult, spot_words
from jegal.use.video import FrontEndMismatch, NoWordsOnPeople, VideoInput, model_inputs, read_video, video_preparer

__all__ = ["BadFlag", "DEFAULT_MODEL_STAMP", "FrontEndMismatch", "NoWordsOnPeople", "Progress", "ProgressBar",
           "Recipe", "SpeakersResult", "SpotResult", "Stages", "VideoInput", "VideoTarget", "add_model_arguments",
           "check_device", "content_modalities", "expected_errors", "find_speakers", "last_step", "model_inputs",
           "person_colour", "quiet", "read_video", "relink_media", "spot_words", "synth_example", "train_default",
           "video_preparer", "write_embeddings", "write_videos"]
