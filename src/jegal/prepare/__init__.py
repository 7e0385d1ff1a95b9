"""``jegal prepare``: real videos and transcripts to training shards.

One module per step, each usable on its own:

- :mod:`~jegal.prepare.decode`      PyAV decode to 25 fps frames and 16 kHz mono audio
- :mod:`~jegal.prepare.people`      face detection, person tracking, scene cuts, body boxes
- :mod:`~jegal.prepare.pose`        mediapipe pose + hands per person, in our keypoint layout
- :mod:`~jegal.prepare.importers`   precomputed keypoints (MediaPipe Holistic, OpenPose, PATS)
- :mod:`~jegal.prepare.masking`     face-masked person crops for the rgb front-end
- :mod:`~jegal.prepare.transcripts` WhisperX JSON, TextGrid, reference txt, plain text
- :mod:`~jegal.prepare.align`       offline forced alignment with pocketsphinx (+ espeak-ng for new words)
- :mod:`~jegal.prepare.activity`    gesture-activity score
- :mod:`~jegal.prepare.pipeline`    the chain, sharding, idempotent reruns, the summary

Nothing here loads a model at import time.
"""

from jegal.prepare.errors import PrepareError

__all__ = ["PrepareError"]
