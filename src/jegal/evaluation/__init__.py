"""Evaluation: the paper's three benchmarks (retrieval, gestured-word spotting, active speaker
detection), ablations and baselines.

- :mod:`~jegal.evaluation.metrics`     the metric functions (numpy, hand-checkable)
- :mod:`~jegal.evaluation.benchmarks`  benchmark CSV readers (AVS and SynthGest columns) and clip loading
- :mod:`~jegal.evaluation.embeddings`  embedding a benchmark's clips once, ``.npz`` cache
- :mod:`~jegal.evaluation.protocols`   the protocols, tables, JSON
- :mod:`~jegal.evaluation.cli`         ``jegal eval``
- :mod:`~jegal.evaluation.ablate`      ``jegal ablate``: the paper's ablations and baselines

Nothing here loads a model at import time.
"""
