"""``jegal prepare``: real videos and transcripts to training shards.

The stages that read a video (decode, people, pose, transcripts, recognition, features) are the
library :mod:`jegal.perception`; what stays here makes shards:

- :mod:`~jegal.prepare.activity`    gesture-activity score
- :mod:`~jegal.prepare.segment`     person tracks cut into clips with their words, mel and raw audio
- :mod:`~jegal.prepare.pipeline`    the run: workers, status records, manifest, reruns, ``--shard i/N``, summary
- :mod:`~jegal.prepare.cli`         ``jegal prepare``

Nothing here loads a model at import time.
"""
