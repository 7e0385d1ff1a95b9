"""Why an input (a video, keypoints, audio, a transcript) cannot be read: one exception type per reason.

A bad input is reported and counted, never a crash. Each type carries its ``reason``, the
short machine-readable tag (``jegal prepare`` writes it to ``status/<key>.json`` and ``summary.json``); the
message names the file and the problem. The run records ``type(err).reason``, so a reason
never depends on the wording of a message.

The transcript failures are also :class:`~jegal.data.transcripts.TranscriptError` (the
library's transcript readers raise those; :func:`jegal.perception.transcripts.read_words`
turns them into these types), so code that catches transcript problems catches them too.
"""

from __future__ import annotations

from typing import ClassVar

from jegal.data.transcripts import EmptyTranscriptError, TranscriptError

# Recorded for an exception that is not a PrepareError: a bug, reported with its message.
UNEXPECTED = "error"


class PrepareError(ValueError):
    """An input that cannot be prepared. Raise a subclass: its ``reason`` is what the run
    records (the base class is recorded as an unexpected ``error``)."""

    reason: ClassVar[str] = UNEXPECTED


class BadInput(PrepareError):
    """The INPUT argument itself is unusable (no such path, a CSV row without a file, two inputs with one name)."""

    reason = "bad_input"


class MissingFile(PrepareError):
    """A file the CSV names does not exist."""

    reason = "missing_file"


class CorruptVideo(PrepareError):
    """The video cannot be opened or decoded (damaged or truncated file)."""

    reason = "corrupt_video"


class NoVideo(PrepareError):
    """The file has no video stream."""

    reason = "no_video"


class NoAudio(PrepareError):
    """No audio track and no <name>.wav beside the video."""

    reason = "no_audio"


class BadAudio(PrepareError):
    """The <name>.wav cannot be read."""

    reason = "bad_audio"


class NoPerson(PrepareError):
    """No person was found (no face track long enough, or no body in it)."""

    reason = "no_person"


class NoTranscript(PrepareError):
    """No <name>.txt/.json/.TextGrid beside the input (and, with --asr, no word recognised in its audio)."""

    reason = "no_transcript"


class EmptyTranscript(PrepareError, EmptyTranscriptError):
    """The transcript has no words."""

    reason = "empty_transcript"


class BadTranscript(PrepareError, TranscriptError):
    """The transcript cannot be parsed."""

    reason = "bad_transcript"


class NoWordTier(BadTranscript):
    """The TextGrid holds only phone tiers (no tier of words): phones would be read as words."""

    reason = "no_word_tier"


class TranscriptTooLong(PrepareError, TranscriptError):
    """The transcript runs past the end of the media (wrong transcript?)."""

    reason = "transcript_too_long"


class Unalignable(PrepareError, TranscriptError):
    """Forced alignment failed, or a word has no pronunciation."""

    reason = "unalignable"


class BadKeypoints(PrepareError):
    """The .kps.npz cannot be read or mapped onto the keypoint layout."""

    reason = "bad_keypoints"


# The ways one input can fail (BadInput stops the whole run instead: the CLI exits with 2).
ITEM_FAILURES: tuple[type[PrepareError], ...] = (
    MissingFile, CorruptVideo, NoVideo, NoAudio, BadAudio, NoPerson, NoTranscript, EmptyTranscript,
    BadTranscript, NoWordTier, TranscriptTooLong, Unalignable, BadKeypoints)

FAILURE_REASONS: dict[str, str] = {
    **{cls.reason: cls.__doc__ for cls in ITEM_FAILURES},
    UNEXPECTED: "An unexpected error (a bug: please report it with the message).",
}

__all__ = ["FAILURE_REASONS", "ITEM_FAILURES", "UNEXPECTED", "BadAudio", "BadInput", "BadKeypoints", "BadTranscript",
           "CorruptVideo", "EmptyTranscript", "MissingFile", "NoAudio", "NoPerson", "NoTranscript", "NoVideo",
           "NoWordTier",
           "PrepareError", "TranscriptTooLong", "Unalignable"]
