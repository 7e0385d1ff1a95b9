"""The JEGAL model: encoders, fusion, embedding heads; configs and presets.

``from jegal.model import JEGAL, JEGALConfig``. Importing loads no weights.
"""

from jegal.model.config import (ConfigError, ContentConfig, EmbeddingConfig, GestureConfig, JEGALConfig, LossConfig,
                                SpeechConfig, TextConfig)
from jegal.model.jegal import JEGAL
from jegal.model.text import TextBackboneError

__all__ = ["JEGAL", "JEGALConfig", "GestureConfig", "TextConfig", "SpeechConfig", "ContentConfig",
           "EmbeddingConfig", "LossConfig", "ConfigError", "TextBackboneError"]
