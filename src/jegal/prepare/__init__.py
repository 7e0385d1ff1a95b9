"""``jegal prepare``: real videos and transcripts to training shards.

The stages that read a video (decode, people, pose, transcripts, recognition, features) are the
library :mod:`jegal.perception`; what stays here makes shards:

- :mod:`~jegal.prepare.activity`    gesture-activity score
- :mod:`~jegal.prepare.segment`     person tracks cut into clips with their words, mel and raw audio
- :mod:`~jegal.prepare.pipeline`    the run: workers, status records, manifest, reruns, ``--shard i/N``, summary
- :mod:`~jegal.prepare.cli`         ``jegal prepare``

Other applications import :func:`~jegal.prepare.pipeline.run_prepare` and
:class:`~jegal.prepare.pipeline.Preparer` from here (loaded on first use). Nothing here loads a model
at import time.
"""

__all__ = ["Preparer", "run_prepare"]


def __getattr__(name: str):
    # The exported names are loaded on first use: the pipeline imports the perception stages.
    if name in __all__:
        from jegal.prepare import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'jegal.prepare' has no attribute {name!r}")
