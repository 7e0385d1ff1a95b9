"""Perception: what a video holds, as a library any application may import.

One module per stage, each usable on its own, in the order a video goes through them:

- :mod:`~jegal.perception.discover`    the inputs: videos, keypoints, audio and transcripts found by name, or a CSV
- :mod:`~jegal.perception.decode`      PyAV decode to 25 fps frames and 16 kHz mono audio
- :mod:`~jegal.perception.importers`   precomputed keypoints (MediaPipe Holistic, OpenPose, PATS)
- :mod:`~jegal.perception.transcripts` WhisperX JSON, TextGrid, reference txt, plain text; the words of an input
- :mod:`~jegal.perception.align`       offline forced alignment with pocketsphinx (+ espeak-ng for new words)
- :mod:`~jegal.perception.asr`         no transcript: offline speech recognition (pocketsphinx, or faster-whisper)
- :mod:`~jegal.perception.people`      scene cuts, seeds (faces, bodies), each person followed by their landmarks
- :mod:`~jegal.perception.pose`        mediapipe pose + hands per person, in our keypoint layout
- :mod:`~jegal.perception.pose_model`  the Tasks pose landmarker's bundle, built from mediapipe's own wheel
- :mod:`~jegal.perception.masking`     face-masked person crops for the rgb front-end
- :mod:`~jegal.perception.track`       people followed through a whole video: chunks, duplicates, linking; the models
- :mod:`~jegal.perception.features`    per-frame GestSync RGB features for the released model
- :mod:`~jegal.perception.reader`      one input through all of these, up to the words and people its clips are cut from

with :mod:`~jegal.perception.options` (the knobs) and :mod:`~jegal.perception.errors` (one
exception type per failure reason). ``jegal prepare`` (shards), ``jegal.use`` (a model on a video)
and ``jegal serve`` all read videos through these modules.

Nothing here loads a model at import time.
"""

from jegal.perception.errors import PrepareError

__all__ = ["PrepareError"]
