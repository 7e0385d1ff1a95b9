"""What the people stage covered: per person the frames in view and the frames with keypoints, and
the words spoken while nobody is tracked (which no person's gesture can be scored against).

A person's **track** is their first to last frame (:func:`jegal.perception.track.join_parts`);
they are **in view** in the frames of its parts (between parts, a detection gap, they are not),
and have **keypoints** where both shoulders are found. A word is **scored** for a person when
its whole span lies inside that person's track, the rule the commands apply when they cut a
person's windows (:func:`jegal.use.video.read_video`) and score words
(:func:`jegal.inference.spotting.spot_person`); a word inside nobody's track is **not scored**,
and the commands list it (``coverage`` in ``spot.json`` / ``asd.json``, a line on the terminal)
instead of dropping it silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from jegal.data.keypoints import LEFT_SHOULDER, RIGHT_SHOULDER
from jegal.timebase import frame_to_seconds

SHOULDERS_SEEN = 0.3  # both shoulders at least this confident: the frame has the person's keypoints
SHOW_WORDS = 6  # the terminal line names at most this many unscored words


@dataclass
class PersonCoverage:
    """One person's track (``first_frame..last_frame``, inclusive, 25 fps), the frames of it in
    view (inside one of its parts) and the frames with keypoints (both shoulders found)."""

    person: int
    first_frame: int
    last_frame: int
    frames_in_view: int
    frames_with_keypoints: int

    @property
    def track_frames(self) -> int:
        return self.last_frame - self.first_frame + 1

    def to_json(self) -> dict:
        return {"person": self.person, "first_frame": self.first_frame, "last_frame": self.last_frame,
                "start_s": round(frame_to_seconds(self.first_frame), 3),
                "end_s": round(frame_to_seconds(self.last_frame + 1), 3), "track_frames": self.track_frames,
                "frames_in_view": self.frames_in_view, "frames_with_keypoints": self.frames_with_keypoints}


def person_coverage(person: int, parts: Sequence) -> PersonCoverage:
    """:class:`PersonCoverage` of one person's parts (:class:`jegal.perception.track.Part`: ``start``
    and ``raw`` (n, 56, 3) keypoints, in order)."""
    first = min(int(p.start) for p in parts)
    last = max(int(p.start) + len(p.raw) - 1 for p in parts)
    in_view = np.zeros(last - first + 1, bool)
    with_kp = np.zeros(last - first + 1, bool)
    for p in parts:
        sl = slice(int(p.start) - first, int(p.start) - first + len(p.raw))
        in_view[sl] = True
        with_kp[sl] |= np.asarray(p.raw)[:, [LEFT_SHOULDER, RIGHT_SHOULDER], 2].min(1) >= SHOULDERS_SEEN
    return PersonCoverage(person, first, last, int(in_view.sum()), int(with_kp.sum()))


def scored_by(words: Sequence, tracks: Sequence[tuple[int, int]]) -> list[list[int]]:
    """Per word (``start``, ``end`` inclusive frames) the persons whose track ``(first, last)`` holds
    its whole span (in the order of ``tracks``); an empty list: nobody's, the word is not scored."""
    return [[k for k, (first, last) in enumerate(tracks) if first <= w.start and w.end <= last] for w in words]


def unscored_words(words: Sequence, tracks: Sequence[tuple[int, int]]) -> list[int]:
    """Indices of the words spoken while nobody is tracked (:func:`scored_by` empty)."""
    return [i for i, who in enumerate(scored_by(words, tracks)) if not who]


def coverage_record(people: Sequence[PersonCoverage], words: Sequence, num_frames: int) -> dict:
    """The ``coverage`` section of ``spot.json`` / ``asd.json``: per person their track, frames in
    view and with keypoints; how many words were scored; every word not scored (index, word as
    written, frames, seconds)."""
    tracks = [(p.first_frame, p.last_frame) for p in people]
    missing = unscored_words(words, tracks)
    tracked = np.zeros(num_frames, bool)
    for first, last in tracks:
        tracked[max(0, first):last + 1] = True
    return {"rule": "a word is scored for a person when its whole span lies inside their track (first to last "
                    "frame); a word inside nobody's track is not scored",
            "num_frames": int(num_frames), "frames_tracked": int(tracked.sum()),
            "people": [p.to_json() for p in people], "words": len(words), "scored_words": len(words) - len(missing),
            "unscored_words": [{"index": i, "word": getattr(words[i], "display", None) or words[i].text,
                                "start_frame": int(words[i].start), "end_frame": int(words[i].end),
                                "start_s": round(frame_to_seconds(words[i].start), 3),
                                "end_s": round(frame_to_seconds(words[i].end + 1), 3)} for i in missing]}


def unscored_line(coverage: dict) -> str:
    """One line for the terminal: how many words are spoken while nobody is tracked, and when."""
    missing, total = coverage["unscored_words"], coverage["words"]
    if not total:
        return "no words to score"
    if not missing:
        return f"all {total} words are spoken while someone is tracked"
    shown = ", ".join(f"{w['start_s']:.1f}-{w['end_s']:.1f} s {w['word']!r}" for w in missing[:SHOW_WORDS])
    more = f", and {len(missing) - SHOW_WORDS} more" if len(missing) > SHOW_WORDS else ""
    verb = "is" if len(missing) == 1 else "are"
    return f"{len(missing)} of {total} words {verb} spoken while nobody is tracked: not scored ({shown}{more})"


def person_line(p: dict) -> str:
    """A person's coverage in a few words: frames in view and with keypoints of their track."""
    return (f"in view {p['frames_in_view']} of the track's {p['track_frames']} frames, keypoints in "
            f"{p['frames_with_keypoints']}")
