"""Each person's track cut into clips, with its words, sound and activity.

A track is cut into near-equal segments of at most ``max_frames`` (:func:`split_segments`);
a segment shorter than ``min_frames`` is left out. Each clip keeps the words lying wholly
inside it (a word cut by a segment or track boundary is left out; a clip without words is
skipped with a warning), the log-mel of its frames, its normalised keypoints, its rgb
crops, and its gesture-activity score (clips below ``min_activity`` are skipped with a
warning). With ``raw_audio`` the clip's 16 kHz waveform comes back too, as int16.
"""

from __future__ import annotations

import math
from itertools import pairwise

import numpy as np

from jegal.data.clip import Clip
from jegal.data.keypoints import normalise
from jegal.data.words import Word
from jegal.perception.discover import Item
from jegal.perception.options import PrepareOptions
from jegal.perception.track import People, join_parts
from jegal.timebase import SAMPLES_PER_FRAME


def split_segments(start: int, end: int, max_frames: int) -> list[tuple[int, int]]:
    """Frames ``[start, end]`` (inclusive) as near-equal inclusive segments of at most ``max_frames``."""
    n = end - start + 1
    parts = max(1, math.ceil(n / max_frames))
    edges = np.linspace(start, end + 1, parts + 1).round().astype(int)
    return [(int(a), int(b) - 1) for a, b in pairwise(edges)]


def clip_waveform(audio: np.ndarray, start: int, end: int) -> np.ndarray:
    """The int16 waveform of frames ``[start, end]``, ``((end - start + 1) * 640,)``, from
    float audio ``(N,)`` in [-1, 1] at 16 kHz; zero-padded where the audio ends early."""
    seg = np.zeros((end - start + 1) * SAMPLES_PER_FRAME, np.float32)
    piece = audio[start * SAMPLES_PER_FRAME:(end + 1) * SAMPLES_PER_FRAME]
    seg[:len(piece)] = piece
    return (np.clip(seg, -1, 1) * 32767).astype(np.int16)


def cut_clips(item: Item, people: People, words: list[Word], audio: np.ndarray, options: PrepareOptions,
              warnings: list[str], features: list[np.ndarray] | None = None
              ) -> tuple[list[Clip], dict[str, np.ndarray]]:
    """The clips of one input (validated, not written) and, with ``options.raw_audio``, the
    int16 waveform per clip id.

    ``features``: per person of ``people``, per-frame features of its whole track ``(T_person, F)``
    (:mod:`jegal.perception.features`), cut with the clips into their ``features``. ``options.mel``
    "reference" stores the released model's log-mel (:func:`jegal.model.released.reference_log_mel`).

    ``words`` are in frames of the whole input and lie inside ``people.num_frames``;
    ``audio`` is 16 kHz mono. Clip ids are ``<name>/<track:05d>``, with ``-<segment:03d>``
    when a track is split. A line per skipped clip is appended to ``warnings``."""
    from jegal.model.spec import log_mel_for
    from jegal.prepare.activity import activity_score

    mel = log_mel_for(options.mel)(audio, num_frames=people.num_frames)  # (4T, 80)
    clips, raw_audio = [], {}
    for track_id, parts in enumerate(people.persons):
        start, kp_raw, faces, rgb_all = join_parts(parts)
        kp = normalise(kp_raw)
        segments = split_segments(start, start + len(kp_raw) - 1, options.max_frames)
        for seg_no, (s, e) in enumerate(segments):
            if e - s + 1 < options.min_frames:
                continue
            clip_id = f"{item.name}/{track_id:05d}" + (f"-{seg_no:03d}" if len(segments) > 1 else "")
            seg_words = [w.shifted(s) for w in words if w.start >= s and w.end <= e]
            if not seg_words:
                warnings.append(f"{clip_id}: no word inside frames {s}-{e}; clip skipped")
                continue
            seg_kp = kp[s - start:e - start + 1]
            score = activity_score(seg_kp)
            if score < options.min_activity:
                warnings.append(f"{clip_id}: activity {score:.3f} below --min-activity {options.min_activity}; "
                                "clip skipped")
                continue
            rgb = None if rgb_all is None else rgb_all[s - start:e - start + 1]
            extra = {"track": track_id, "start_frame": s, "activity": round(score, 4)}
            if options.mel != "jegal":
                extra["mel"] = options.mel
            if item.keypoints is None:
                # Where the person is in the source video (pixels), e.g. to draw who speaks.
                box = np.median(faces[s - start:e - start + 1], axis=0) / people.scale
                extra["face_box"] = [round(float(v), 1) for v in box]
            clip = Clip(clip_id, seg_kp, mel[4 * s:4 * (e + 1)], seg_words,
                        speaker_id=item.speaker_id or f"{item.name}/{track_id:05d}", source=str(item.source),
                        rgb=rgb, features=None if features is None else features[track_id][s - start:e - start + 1],
                        extra=extra)
            clips.append(clip.validate())
            if options.raw_audio:
                raw_audio[clip_id] = clip_waveform(audio, s, e)
    return clips, raw_audio
