"""Training JEGAL: configuration, data streaming, the loop, checkpoints, distributed setup.

``train(config) -> summary`` is the library entry point (``jegal train`` and the ablation
and demo commands call it in-process); see ``docs/train.md``.
"""

from jegal.train.config import TrainConfig, TrainConfigError, resolve


def train(config: TrainConfig | dict) -> dict:
    """Train as ``config`` says and return the run summary (see :func:`jegal.train.loop.train`)."""
    from jegal.train.loop import train as _train

    return _train(config)


__all__ = ["TrainConfig", "TrainConfigError", "resolve", "train"]
