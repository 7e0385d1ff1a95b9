"""``jegal prepare``: real videos and transcripts to training shards.

One module per stage, each usable on its own, in the order an input goes through them:

- :mod:`~jegal.prepare.discover`    the inputs: videos, keypoints, audio and transcripts found by name, or a CSV
- :mod:`~jegal.prepare.decode`      PyAV decode to 25 fps frames and 16 kHz mono audio
- :mod:`~jegal.prepare.importers`   precomputed keypoints (MediaPipe Holistic, OpenPose, PATS)
- :mod:`~jegal.prepare.transcripts` WhisperX JSON, TextGrid, reference txt, plain text; the words of an input
- :mod:`~jegal.prepare.align`       offline forced alignment with pocketsphinx (+ espeak-ng for new words)
- :mod:`~jegal.prepare.asr`         no transcript: offline speech recognition (pocketsphinx, or faster-whisper)
- :mod:`~jegal.prepare.people`      face detection, person tracking, scene cuts, body boxes (one chunk of frames)
- :mod:`~jegal.prepare.pose`        mediapipe pose + hands per person, in our keypoint layout
- :mod:`~jegal.prepare.masking`     face-masked person crops for the rgb front-end
- :mod:`~jegal.prepare.track`       people followed through a whole video: chunks, duplicates, linking; the models
- :mod:`~jegal.prepare.activity`    gesture-activity score
- :mod:`~jegal.prepare.segment`     person tracks cut into clips with their words, mel and raw audio
- :mod:`~jegal.prepare.pipeline`    the run: workers, status records, manifest, reruns, ``--shard i/N``, summary

with :mod:`~jegal.prepare.options` (the knobs) and :mod:`~jegal.prepare.errors` (one
exception type per failure reason).

Nothing here loads a model at import time.
"""

from jegal.prepare.errors import PrepareError

__all__ = ["PrepareError"]
