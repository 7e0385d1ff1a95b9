"""Evaluation: the paper's three benchmarks (retrieval, gestured-word spotting, active speaker
detection), ablations and baselines. The metrics themselves are :mod:`jegal.metrics` (library).

- :mod:`~jegal.evaluation.benchmarks`  loading a benchmark's clips (the CSVs: :mod:`jegal.data.benchmarks`)
- :mod:`~jegal.evaluation.embeddings`  the ``.npz`` embedding cache's key
- :mod:`~jegal.evaluation.protocols`   the protocols, tables, JSON
- :mod:`~jegal.evaluation.cli`         ``jegal eval``
- :mod:`~jegal.evaluation.ablate`      ``jegal ablate``: the paper's ablations and baselines

Nothing here loads a model at import time.
"""
