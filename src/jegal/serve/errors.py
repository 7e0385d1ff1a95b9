"""What the page says when something fails: :class:`Refused` (a request turned down before any work) and the
catalogue :data:`ERRORS` (every failure's title and what to do), as :func:`error_info` gives them to the page."""

from __future__ import annotations


class Refused(Exception):
    """A request the server turns down before any work: ``status`` (HTTP), ``reason`` (a key of
    :data:`ERRORS`) and a message for the page."""

    def __init__(self, status: int, reason: str, message: str):
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message


# reason -> (title, what to do). Every failure `jegal prepare` (jegal.perception.errors) and
# jegal.use.video can report has an entry, plus the server's own refusals.
ERRORS: dict[str, tuple[str, str]] = {
    "bad_input": ("This file cannot be used", "Upload a video file (MP4, AVI, MKV, MOV, WebM, ...)."),
    "missing_file": ("A file is missing", "Upload the video again."),
    "corrupt_video": ("The video cannot be read", "The file is damaged or truncated. Export it again (MP4 with "
                      "H.264 plays everywhere) and upload that."),
    "no_video": ("No pictures in this file", "The file holds no video stream (audio only?). Upload a video."),
    "no_audio": ("No sound", "The video has no sound track. Upload its audio as well, or a transcript with "
                 "word times (reference .txt, WhisperX .json or a TextGrid)."),
    "bad_audio": ("The audio cannot be read", "Upload the audio again as WAV, FLAC, MP3 or in the video itself."),
    "no_person": ("No person found", "Nobody could be followed through the video. The speaker's face and upper "
                  "body should be in view, lit, and not too small."),
    "no_transcript": ("No words", "No transcript was given and speech recognition found no words. Upload a "
                      "transcript (plain text is enough when the video has sound)."),
    "no_words_on_people": ("No words while someone is in view", "The words are spoken while nobody is in view; "
                           "check that the transcript belongs to this video."),
    "empty_transcript": ("The transcript is empty", "Upload a transcript with words in it."),
    "bad_transcript": ("The transcript cannot be read", "Use a reference .txt (WORD, START, END, SCORE), a "
                       "WhisperX .json, a Praat TextGrid, or plain text."),
    "no_word_tier": ("The TextGrid has no word tier", "Its tiers hold phones only; export the words tier too."),
    "transcript_too_long": ("The transcript runs past the end of the video",
                            "Is it the transcript of another video?"),
    "unalignable": ("The words cannot be aligned to the speech", "Check that the text is what is said, or give "
                    "a transcript with word times."),
    "bad_keypoints": ("The keypoints cannot be read", "Upload the video instead."),
    "frontend_mismatch": ("This model cannot read this input", "Start the server with a keypoints or rgb model."),
    "error": ("Something went wrong", "An unexpected error (a bug): please report it with the message below."),
    # the server's own
    "too_large": ("The upload is too large", "Upload a shorter or smaller file."),
    "too_long": ("The video is too long", "Cut it shorter and upload the part you want to see."),
    "not_a_video": ("Not a video", "The file's content is not a video this page reads (MP4, AVI, MKV, MOV, WebM, "
                    "MPEG, FLV, WMV)."),
    "not_a_transcript": ("Not a transcript", "A transcript is a text file: reference .txt, WhisperX .json, "
                         "Praat TextGrid, or plain text."),
    "not_audio": ("Not audio", "The audio file's content holds no sound stream."),
    "no_file": ("No video given", "Choose a video file or one of the examples."),
    "unknown_example": ("No such example", "Pick one of the examples listed on the page."),
    "busy": ("You already have a job", "Wait for it to finish; its progress is shown on the page."),
    "queue_full": ("The server is busy", "Too many jobs are waiting; try again in a few minutes."),
    "model_failed": ("The model is not available", "The server could not load or prepare its model; see the "
                     "message and the server's log."),
    "too_slow": ("The upload took too long", "The file did not arrive in time. Try again on a faster connection, "
                 "or upload a smaller file."),
    "too_many_uploads": ("Too many uploads at once", "Wait until your other uploads have arrived, then try again."),
    "server_stopped": ("The server stopped", "The server was stopped or crashed while this job ran, and its files "
                       "are gone. Run the job again."),
    # not about a file
    "unknown_job": ("No such job", "It has ended and was cleaned up, or the server was restarted. Start a new job."),
    "not_found": ("Not found", "This job has no such file."),
    "bad_host": ("Wrong address", "Open the page at the address jegal serve printed when it started."),
    "other_site": ("Request from another site", "Jobs can only be started from the page itself."),
}


def error_info(reason: str, message: str) -> dict:
    """``{"reason", "title", "hint", "message"}`` for the page."""
    title, hint = ERRORS.get(reason, ERRORS["error"])
    return {"reason": reason, "title": title, "hint": hint, "message": message}


__all__ = ["ERRORS", "Refused", "error_info"]
