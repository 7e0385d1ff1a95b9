"""The one error type of ``jegal prepare``: a bad input, reported and counted, never a crash."""

from __future__ import annotations


class PrepareError(ValueError):
    """An input that cannot be prepared. ``reason`` is a short machine-readable tag
    (``corrupt_video``, ``no_audio``, ``no_person``, ``empty_transcript``, ...) used as
    the key of the run summary; the message names the file and the problem."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
