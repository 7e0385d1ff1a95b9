"""What a model reads, as data: :class:`InputSpec`, the one place that says which gesture input, which
preprocessing, which log-mel and which feature extractor a model's inputs are made with.

Every caller that turns a video, a recording or a shard into a model's inputs reads
``model.input_spec`` (:attr:`jegal.model.JEGAL.input_spec`) instead of looking at the config itself;
:func:`log_mel_for` is the one map from a mel kind to the function that computes it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

MEL_KINDS = ("jegal", "reference")  # our log-mel (jegal.data.audio.log_mel) | the released speech CNN's
# how each gesture front end's input is made from a video (jegal.perception)
GESTURE_PREPROCESSING = {
    "keypoints": "upper-body and hand landmarks per frame, normalised (origin between the shoulders, unit "
                 "shoulder width), with per-joint confidence",
    "rgb": "face-masked square person crops, uint8 RGB",
    "features": "per-frame feature vectors of a frozen backbone over the person's track",
}
GESTSYNC = "gestsync"  # the one feature extractor jegal runs on a video (jegal.model.gestsync)


@dataclass(frozen=True)
class InputSpec:
    """A model's inputs.

    - ``gesture``: its gesture front end, "keypoints", "rgb" or "features";
    - ``preprocessing``: how that input is made from a video (:data:`GESTURE_PREPROCESSING`);
    - ``mel``: the log-mel its speech encoder reads, "jegal" (:func:`jegal.data.audio.log_mel`) or
      "reference" (the released speech CNN's, :func:`jegal.model.released.reference_log_mel`);
    - ``rgb_size``: side in pixels of the person crops of an rgb model (None for the others);
    - ``feature_dim``: width of the per-frame features of a ``features`` model (None for the others);
    - ``feature_extractor``: "gestsync" when those features are GestSync's 1024-d ones, which jegal
      computes from a video (None otherwise: they must come precomputed, in shards);
    - ``feature_weights``: the extractor's weights saved with the model (``gestsync.safetensors`` in
      its directory, written by ``jegal import-released --gestsync``), or None where there are none.
    """

    gesture: str
    preprocessing: str
    mel: str
    rgb_size: int | None = None
    feature_dim: int | None = None
    feature_extractor: str | None = None
    feature_weights: Path | None = None

    @classmethod
    def from_config(cls, config, model_dir: str | os.PathLike | None = None) -> "InputSpec":
        """The spec of a model built from ``config`` (a :class:`jegal.model.config.JEGALConfig`) whose
        files lie in ``model_dir`` (None: a model not saved or not loaded from disk, which has no
        feature extractor weights)."""
        from jegal.model.gestsync import FEATURE_DIM, WEIGHTS_FILE

        g = config.gesture
        mel = "reference" if config.speech.architecture == "released" else "jegal"
        if g.frontend != "features":
            return cls(g.frontend, GESTURE_PREPROCESSING[g.frontend], mel,
                       rgb_size=int(g.rgb_size) if g.frontend == "rgb" else None)
        extractor = GESTSYNC if g.feature_dim == FEATURE_DIM else None
        weights = None
        if extractor is not None and model_dir is not None and (Path(model_dir) / WEIGHTS_FILE).is_file():
            weights = Path(model_dir) / WEIGHTS_FILE
        return cls("features", GESTURE_PREPROCESSING["features"], mel, feature_dim=int(g.feature_dim),
                   feature_extractor=extractor, feature_weights=weights)

    def log_mel(self, wave: np.ndarray, num_frames: int | None = None) -> np.ndarray:
        """The log-mel this model reads of 16 kHz mono ``wave`` (N,) in [-1, 1]: ``(4 * num_frames, 80)``
        float32 (:func:`log_mel_for` of :attr:`mel`)."""
        return log_mel_for(self.mel)(wave, num_frames)


def log_mel_for(kind: str) -> Callable[..., np.ndarray]:
    """The function that computes the log-mel of ``kind`` (:data:`MEL_KINDS`): ``f(wave, num_frames)``
    -> ``(4 * num_frames, 80)`` float32. Raises ValueError for another kind."""
    if kind == "jegal":
        from jegal.data.audio import log_mel

        return log_mel
    if kind == "reference":
        from jegal.model.released import reference_log_mel

        return reference_log_mel
    raise ValueError(f"mel kind must be one of {MEL_KINDS}, got {kind!r}")


__all__ = ["GESTSYNC", "GESTURE_PREPROCESSING", "InputSpec", "MEL_KINDS", "log_mel_for"]
