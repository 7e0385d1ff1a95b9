"""Who is speaking: match the speech/text of a stretch of time against the gestures of
every visible person (the ASD protocol, for one query)."""

from __future__ import annotations

import numpy as np

from jegal.data.batch import collate_clips
from jegal.data.clip import Clip


def who_is_speaking(model, content: Clip, people: list[Clip], modalities: str = "ta") -> dict:
    """Score each person's gesture clip against ``content`` (a clip whose mel and words
    are the speech; its own gesture is not used). People clips should cover the same time.

    Returns ``scores`` (P,) cosine of the clip vectors, ``speaker`` (index of the best, or
    -1 when the best is tied, so a tie is never reported as an answer) and ``ids``."""
    if not people:
        raise ValueError("who_is_speaking: no candidate people")
    c = model.embed(collate_clips([content]), modalities=modalities, parts="c")["content_clip"][0]
    g = model.embed(collate_clips(people), parts="g")["gesture_clip"]  # (P, d)
    scores = (g.float() @ c.float()).cpu().numpy()
    best = int(np.argmax(scores))
    tied = int(np.sum(scores == scores[best])) > 1
    return {"scores": scores.tolist(), "speaker": -1 if tied else best, "ids": [p.clip_id for p in people]}
