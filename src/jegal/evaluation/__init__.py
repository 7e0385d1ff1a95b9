"""Evaluation: the paper's three benchmarks (retrieval, gestured-word spotting, active speaker
detection), ablations and baselines. The metrics themselves are :mod:`jegal.metrics` (library).

- :mod:`~jegal.evaluation.benchmarks`  loading a benchmark's clips (the CSVs: :mod:`jegal.data.benchmarks`)
- :mod:`~jegal.evaluation.embeddings`  the ``.npz`` embedding cache's key
- :mod:`~jegal.evaluation.protocols`   the protocols, tables, JSON
- :mod:`~jegal.evaluation.gestured`    is this word gestured / which word / where: protocols with their floors
- :mod:`~jegal.evaluation.cli`         ``jegal eval``
- :mod:`~jegal.evaluation.ablate`      ``jegal ablate``: the paper's ablations and baselines

Other applications (``jegal demo``) import the names of :data:`__all__` from here; each is loaded
from its module on first use. Nothing here loads a model at import time.
"""

__all__ = ["Budget", "HEADLINE", "TEXT_CACHE_SIZE", "VARIANTS", "corpus_benchmarks", "corpus_clips", "evaluate_model",
           "evaluate_gestured", "findings", "findings_markdown", "floor_rows", "format_value", "gestured_cell",
           "gestured_markdown", "gestured_table_rows", "headline", "load_clips", "markdown_table", "results_table",
           "reusable_embeddings", "ties_note",
           "train_variant", "with_benchmark_words"]

_MODULES = {"benchmarks": ("load_clips", "with_benchmark_words"),
            "protocols": ("format_value", "markdown_table", "ties_note"),
            "suite": ("Budget", "HEADLINE", "TEXT_CACHE_SIZE", "VARIANTS", "corpus_benchmarks", "corpus_clips",
                      "evaluate_model", "floor_rows", "headline", "results_table", "train_variant"),
            "ablate": ("findings", "findings_markdown"),
            "gestured": ("evaluate_gestured", "gestured_cell", "gestured_markdown", "gestured_table_rows",
                         "reusable_embeddings")}


def __getattr__(name: str):
    # Loaded on first use: the protocols and the suite import the model and the trainer.
    for module, names in _MODULES.items():
        if name in names:
            import importlib

            return getattr(importlib.import_module(f"jegal.evaluation.{module}"), name)
    raise AttributeError(f"module 'jegal.evaluation' has no attribute {name!r}")
