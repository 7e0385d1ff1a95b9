"""The JEGAL model: encoders, fusion, embedding heads; configs and presets; what a saved model is.

``from jegal.model import JEGAL, JEGALConfig``; ``JEGAL.from_pretrained(path_or_run)`` is the one
loader, ``model.input_spec`` what a model reads. Importing loads no weights.
"""

from jegal.losses.config import LossConfig
from jegal.model.config import (ConfigError, ContentConfig, EmbeddingConfig, GestureConfig, JEGALConfig, SpeechConfig,
                                TextConfig)
from jegal.model.jegal import JEGAL
from jegal.model.pretrained import ModelNotFound, model_identity
from jegal.model.spec import InputSpec
from jegal.model.text import TextBackboneError

__all__ = ["JEGAL", "JEGALConfig", "GestureConfig", "TextConfig", "SpeechConfig", "ContentConfig",
           "EmbeddingConfig", "LossConfig", "ConfigError", "TextBackboneError", "InputSpec", "ModelNotFound",
           "model_identity"]
