"""Applying a trained model to a user's own data: ``jegal spot``, ``jegal asd``, ``jegal embed``, ``jegal search``.

The application layer between a video on disk and the library's inference functions
(:mod:`jegal.inference`). One module per concern, in the order a video goes through them:

- :mod:`~jegal.use.video`     a video (or ``.kps.npz``) as per-person model inputs: the prepare
  stages (decode, people, keypoints or rgb crops, transcript or offline ASR) and overlapping
  windows, plus the merge of per-window results (:func:`~jegal.use.video.read_video`)
- :mod:`~jegal.use.common`    what every command shares: ``--model`` (a model or a training run
  directory), ``--device``, the output directory, error reporting
- :mod:`~jegal.use.spot`      ``jegal spot``: which words each person gestured (maps, words, video)
- :mod:`~jegal.use.asd`       ``jegal asd``: who is speaking, from gestures alone, per transcript segment
- :mod:`~jegal.use.annotate`  the annotated video both write (boxes, running transcript, audio)
- :mod:`~jegal.use.embed`     ``jegal embed``: gesture and content embeddings of videos or shards
- :mod:`~jegal.use.search`    ``jegal search``: a FAISS gallery of gesture clips, queried by text, audio or video

Nothing here loads a model or imports torch at import time; ``docs/use.md`` documents the
commands and their outputs.
"""
