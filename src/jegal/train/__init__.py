"""Training JEGAL: configuration, data streaming, the loop, checkpoints, distributed setup.

``train(config) -> summary`` is the library entry point (``jegal train`` and the ablation
and demo commands call it in-process); see ``docs/train.md``.
"""
