"""The training objective's configuration: :class:`LossConfig`, saved with a model's weights as the
``loss`` section of its ``config.json`` (so a model knows which of its spaces were trained).

It lives with the losses it configures; :mod:`jegal.model.config` holds it as one section of
:class:`jegal.model.config.JEGALConfig`, and the JSON keys (``loss.beta``, ...) are the same.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from jegal.config import ConfigError

# loss.objective -> the (beta, spot_weight) it implies (and detect_weight 0), None where they are free
OBJECTIVE_WEIGHTS: dict[str, tuple[float, float] | None] = {"jegal": None, "clip": (1.0, 0.0), "sync": (0.0, 0.0)}


@dataclass
class LossConfig:
    # What the model is trained for (saved with the weights, so the model knows which of its spaces
    # are trained: JEGAL.embed): "jegal" (the paper's objective, with beta and spot_weight below),
    # "clip" (the clip-level CLIP baseline: the global InfoNCE alone; sets beta=1, spot_weight=0) or
    # "sync" (the sync-style baseline, jegal.losses.sync: no clip-level term; sets beta=0, spot_weight=0)
    objective: str = "jegal"
    beta: float = 0.5  # total = beta * global + (1 - beta) * coupling
    window: int = 10  # frames each side of a word in which its gesture may lead or lag
    gamma: float = 10.0  # sharpness of the windowed attention pooling softmax(gamma * g.c)
    logit_scale_init: float = 1 / 0.07
    logit_scale_max: float = 100.0
    # Word discrimination (docs/model.md, "Word discrimination"): a per-frame softmax over
    # the words of the (gathered) batch, each clip's own words the targets; not in the paper (0 = off).
    spot_weight: float = 0.0
    spot_temperature: float = 0.07  # that softmax's temperature: the spotting protocol's 0.07
    # Detection contrast (docs/model.md, "Detection contrast"; issue 21): each word against the batch's
    # other motion at the same frames, jegal.losses.coupling.detection_contrast_loss (0 = off)
    detect_weight: float = 0.0
    detect_temperature: float = 0.07

    def validated(self) -> "LossConfig":
        """A checked copy, with the weights a baseline objective implies (``clip``: beta=1,
        spot_weight=0; ``sync``: beta=0, spot_weight=0; both detect_weight=0) filled in; ``self`` is left as it is.
        Raises :class:`jegal.config.ConfigError` naming the offending ``loss.`` key."""
        if self.objective not in OBJECTIVE_WEIGHTS:
            raise ConfigError(f"loss.objective must be one of {sorted(OBJECTIVE_WEIGHTS)}, got {self.objective!r}")
        if not 0.0 <= self.beta <= 1.0:
            raise ConfigError(f"loss.beta must lie in [0, 1], got {self.beta}")
        if self.spot_weight < 0 or self.spot_temperature <= 0:
            raise ConfigError("loss.spot_weight must be >= 0 and loss.spot_temperature > 0")
        if self.detect_weight < 0 or self.detect_temperature <= 0:
            raise ConfigError("loss.detect_weight must be >= 0 and loss.detect_temperature > 0")
        if self.window < 0:
            raise ConfigError(f"loss.window must be >= 0, got {self.window}")
        weights = OBJECTIVE_WEIGHTS[self.objective]
        if weights is None:
            return dataclasses.replace(self)
        # a baseline has no weights to choose: the saved config says what it trained
        return dataclasses.replace(self, beta=weights[0], spot_weight=weights[1], detect_weight=0.0)


__all__ = ["LossConfig", "OBJECTIVE_WEIGHTS"]
