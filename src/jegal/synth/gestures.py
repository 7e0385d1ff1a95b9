"""Gesture families as stroke paths, and the hand shapes they use.

Every variant of every family is a *stroke*: for the dominant hand ``D`` and, in
two-handed variants, the non-dominant hand ``N``, a wrist path over the stroke phase
``u`` in [0, 1], a hand shape that may change during the stroke, and an in-plane hand
angle. Coordinates are in shoulder widths relative to the speaker's gesture space centre
(the lower chest): ``x`` points *outward* from the body midline for that hand (so one
two-handed path describes mirrored hands), ``y`` points up.

Hand shapes are 7 numbers: thumb extension, curl of index/middle/ring/pinky (0 straight,
1 folded), finger spread, and pinch (thumb tip drawn onto the index tip).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

SHAPES = {
    "open": (1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0),
    "relaxed": (0.6, 0.3, 0.35, 0.4, 0.45, 0.3, 0.0),
    "flat": (0.3, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
    "fist": (0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0),
    "point": (0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0),
    "pinch_open": (1.0, 0.2, 0.7, 0.8, 0.85, 0.2, 0.0),
    "pinch": (0.5, 0.45, 0.7, 0.8, 0.85, 0.2, 1.0),
    "count1": (0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0),
    "count2": (0.0, 0.0, 0.0, 1.0, 1.0, 0.8, 0.0),
    "count3": (0.0, 0.0, 0.0, 0.0, 1.0, 0.8, 0.0),
    "count4": (0.0, 0.0, 0.0, 0.0, 0.0, 0.8, 0.0),
    "count5": (1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0),
}
SHAPE_DIM = 7


def shape(name: str) -> np.ndarray:
    return np.asarray(SHAPES[name], dtype=np.float64)


Path = Callable[[np.ndarray], np.ndarray]  # u (n,) -> (n, 2)


@dataclass
class HandStroke:
    path: Path
    shape0: str
    shape1: str
    angle0: float  # degrees; 0 = fingers up, positive = tilted outward
    angle1: float


@dataclass
class Stroke:
    """One variant's stroke: the dominant hand and optionally the non-dominant hand."""

    D: HandStroke
    N: HandStroke | None
    duration: float  # seconds at speed 1
    hold: float = 0.1  # seconds the end pose is held before retraction


def _line(a, b, ease: float = 1.0) -> Path:
    a, b = np.asarray(a, float), np.asarray(b, float)

    def f(u):
        w = np.clip(u / ease, 0, 1)
        w = w * w * (3 - 2 * w)
        return a + (b - a) * w[:, None]
    return f


def _arc(a, b, bulge) -> Path:
    a, b = np.asarray(a, float), np.asarray(b, float)

    def f(u):
        w = u * u * (3 - 2 * u)
        return a + (b - a) * w[:, None] + np.outer(np.sin(np.pi * w), bulge)
    return f


def _circle(centre, radius, turns, start_deg=90.0) -> Path:
    c = np.asarray(centre, float)

    def f(u):
        ang = np.deg2rad(start_deg) + 2 * np.pi * turns * u
        return c + radius * np.stack([np.cos(ang), np.sin(ang)], axis=1)
    return f


def _osc(centre, amp, cycles) -> Path:
    c, a = np.asarray(centre, float), np.asarray(amp, float)

    def f(u):
        env = np.sin(np.pi * u) ** 0.5
        return c + np.outer(np.sin(2 * np.pi * cycles * u) * env, a)
    return f


def _taps(point, amp, n) -> Path:
    p, a = np.asarray(point, float), np.asarray(amp, float)

    def f(u):
        return p + np.outer(np.abs(np.sin(np.pi * n * u)), a)
    return f


def _chops(top, depth, n) -> Path:
    """``n`` downward chops: a fast fall then a slower rise back to ``top``."""
    t = np.asarray(top, float)

    def f(u):
        ph = np.mod(n * u, 1.0)
        fall = np.where(ph < 0.4, np.sin(np.pi / 2 * ph / 0.4), np.cos(np.pi / 2 * (ph - 0.4) / 0.6))
        return t + np.outer(fall, (0.0, -depth))
    return f


def _steps(a, b) -> Path:
    """A line with three small bobs: fingers walking."""
    line = _line(a, b)

    def f(u):
        return line(u) + np.outer(np.sin(6 * np.pi * u), (0.0, 0.05))
    return f


def _hs(path, s0, s1=None, a0=0.0, a1=None) -> HandStroke:
    return HandStroke(path, s0, s1 or s0, a0, a0 if a1 is None else a1)


def _two(hs: HandStroke, duration: float, hold: float = 0.1) -> Stroke:
    """A two-handed stroke whose hands mirror each other about the body midline."""
    return Stroke(hs, hs, duration, hold)


def _count_strokes(n: int) -> list[Stroke]:
    s = f"count{n}"
    return [
        Stroke(_hs(_line((0.3, 0.25), (0.45, 0.62), ease=0.6), "relaxed", s, 20, 0), None, 0.55, 0.25),
        Stroke(_hs(lambda u: np.asarray((0.25, 0.45)) + np.outer(np.abs(np.sin(2 * np.pi * u)), (0.03, 0.13)),
                   s, s, 5, 5), None, 0.6, 0.1),
    ]


# family -> list of variants; "count" is keyed by number in COUNT_STROKES.
STROKES: dict[str, list[Stroke]] = {
    "big": [
        _two(_hs(_line((0.15, 0.1), (0.85, 0.12)), "open", None, 40, 70), 0.5),
        _two(_hs(_arc((0.15, 0.05), (0.8, 0.1), (0.0, 0.45)), "open", None, 20, 60), 0.55),
        Stroke(_hs(_line((0.15, 0.2), (0.7, 0.85)), "open", None, 30, 45),
               _hs(_line((0.15, 0.0), (0.6, -0.3)), "open", None, 90, 120), 0.5),
    ],
    "small": [
        Stroke(_hs(_line((0.32, 0.25), (0.12, 0.42)), "pinch_open", "pinch", 10, -20), None, 0.45, 0.2),
        _two(_hs(_line((0.45, 0.2), (0.08, 0.22)), "flat", None, -10, -5), 0.45, 0.15),
    ],
    "up": [
        Stroke(_hs(_line((0.3, -0.2), (0.35, 0.9)), "relaxed", "open", 60, 0), None, 0.5),
        _two(_hs(_line((0.3, -0.2), (0.3, 0.6)), "open", None, 70, 60), 0.5),
    ],
    "down": [
        Stroke(_hs(_line((0.3, 0.6), (0.3, -0.35)), "flat", None, 80, 90), None, 0.45),
        _two(_hs(_line((0.25, 0.3), (0.25, -0.3)), "flat", None, 90, 90), 0.45),
    ],
    "self": [
        Stroke(_hs(_taps((-0.05, 0.55), (0.16, 0.04), 2), "open", None, -60, -60), None, 0.6),
        Stroke(_hs(_line((0.35, 0.3), (0.08, 0.5)), "point", None, -110, -140), None, 0.45, 0.2),
    ],
    "you": [
        Stroke(_hs(_line((0.5, 0.25), (0.3, 0.5), ease=0.6), "relaxed", "point", 10, -25), None, 0.45, 0.2),
        Stroke(_hs(_line((0.15, 0.1), (0.55, 0.3)), "relaxed", "open", 50, 70), None, 0.45, 0.2),
    ],
    "negation": [
        Stroke(_hs(_osc((0.35, 0.45), (0.22, 0.0), 2), "open", None, 0, 5), None, 0.7),
        Stroke(_hs(_line((-0.15, 0.15), (0.75, 0.1)), "flat", None, 90, 90),
               _hs(_line((-0.1, 0.2), (0.75, 0.12)), "flat", None, 90, 90), 0.5),
        Stroke(_hs(_osc((0.35, 0.65), (0.05, 0.0), 2.5), "point", None, 0, 0), None, 0.6),
    ],
    "circle": [
        Stroke(_hs(_circle((0.35, 0.35), 0.28, 1.25), "point", None, 0, 20), None, 0.75),
        _two(_hs(_circle((0.25, 0.3), 0.18, 1.5), "relaxed", None, 45, 45), 0.75),
    ],
    "give": [
        Stroke(_hs(_line((0.1, 0.4), (0.65, 0.15)), "relaxed", "open", 50, 80), None, 0.5),
        _two(_hs(_line((0.1, 0.35), (0.55, 0.1)), "relaxed", "open", 60, 85), 0.5),
    ],
    "take": [
        Stroke(_hs(_line((0.75, 0.45), (0.15, 0.35)), "open", "fist", 60, 10), None, 0.5),
        _two(_hs(_line((0.7, 0.4), (0.1, 0.3)), "open", "fist", 70, 0), 0.5),
    ],
    "stop": [
        Stroke(_hs(_line((0.25, 0.3), (0.3, 0.7), ease=0.3), "flat", "open", 20, 0), None, 0.5, 0.35),
        _two(_hs(_line((0.25, 0.3), (0.35, 0.6), ease=0.3), "flat", "open", 20, 0), 0.5, 0.35),
    ],
    "together": [
        _two(_hs(_line((0.7, 0.2), (0.03, 0.25)), "open", "fist", -40, -70), 0.55, 0.15),
        _two(_hs(_line((0.6, 0.35), (0.05, 0.35)), "point", None, -70, -90), 0.5, 0.15),
    ],
    "separate": [
        Stroke(_hs(_chops((0.2, 0.65), 0.6, 2), "flat", None, 0, 0), None, 0.6),
        Stroke(_hs(_line((0.45, 0.8), (0.45, -0.05), ease=0.6), "flat", None, 0, 10), None, 0.4),
    ],
    "away": [
        Stroke(_hs(_line((0.3, 0.4), (1.05, 0.6)), "relaxed", "point", 40, 90), None, 0.5, 0.25),
        Stroke(_hs(_line((0.2, 0.3), (0.9, 0.5), ease=0.6), "relaxed", "open", 40, 75), None, 0.45, 0.1),
    ],
    "think": [
        Stroke(_hs(_line((0.3, 0.8), (0.32, 1.45)), "relaxed", "point", 0, -10), None, 0.5, 0.3),
        Stroke(_hs(_circle((0.35, 1.3), 0.08, 1.5), "open", None, -20, -20), None, 0.65),
    ],
    "fast": [
        Stroke(_hs(_line((0.05, 0.45), (0.85, 0.55), ease=0.4), "relaxed", "open", 0, 70), None, 0.35),
        Stroke(_hs(_line((0.6, 0.5), (-0.2, 0.4), ease=0.4), "relaxed", "flat", 60, -60), None, 0.35),
    ],
    "here": [
        _two(_hs(_taps((0.2, 0.1), (0.0, -0.2), 2), "flat", None, 90, 90), 0.6),
        Stroke(_hs(_line((0.25, 0.3), (0.25, -0.1)), "point", None, 150, 180), None, 0.45, 0.2),
    ],
    "wave": [
        Stroke(_hs(_osc((0.5, 1.25), (0.12, 0.0), 2.5), "open", None, 0, 0), None, 0.8),
        Stroke(_hs(_line((0.45, 1.15), (0.48, 1.2)), "open", None, -25, 25), None, 0.6),
    ],
    "high": [
        Stroke(_hs(_line((0.4, 0.95), (0.45, 1.3), ease=0.6), "flat", None, 80, 90), None, 0.5, 0.3),
        Stroke(_hs(_line((0.35, 0.9), (0.35, 1.4), ease=0.6), "relaxed", "point", 10, 0), None, 0.5, 0.25),
    ],
    "low": [
        Stroke(_hs(_line((0.35, 0.05), (0.45, -0.4)), "flat", None, 90, 95), None, 0.55, 0.25),
        _two(_hs(_line((0.3, -0.05), (0.4, -0.45)), "flat", None, 90, 90), 0.55, 0.2),
    ],
    "walk": [
        Stroke(_hs(_steps((0.1, 0.2), (0.75, 0.25)), "count2", None, 180, 170), None, 0.75),
        Stroke(_hs(_steps((0.75, 0.25), (0.0, 0.2)), "count2", None, 180, 190), None, 0.75),
    ],
    "love": [
        Stroke(_hs(_line((0.35, 0.3), (-0.05, 0.6)), "open", None, -40, -70),
               _hs(_line((0.35, 0.3), (0.05, 0.55)), "open", None, -40, -70), 0.55, 0.3),
        Stroke(_hs(_line((0.35, 0.25), (0.0, 0.6)), "relaxed", "fist", -20, -40), None, 0.5, 0.3),
    ],
    "question": [
        _two(_hs(_line((0.3, -0.05), (0.6, 0.15), ease=0.6), "relaxed", "open", 60, 85), 0.5, 0.3),
        Stroke(_hs(_line((0.35, 0.0), (0.6, 0.25)), "relaxed", "open", 20, 90), None, 0.5, 0.2),
    ],
    "eat": [
        Stroke(_hs(_line((0.3, 0.55), (0.1, 1.2)), "pinch_open", "pinch", 0, -20), None, 0.55, 0.2),
        Stroke(_hs(_line((0.3, 0.6), (0.15, 1.15)), "relaxed", None, 0, -60), None, 0.55, 0.2),
    ],
}
COUNT_STROKES = {n: _count_strokes(n) for n in range(1, 6)}

# Non-semantic movements: a beat (small fast down-stroke on a stressed word) and fidgets
# (self-adaptors placed at random times, not tied to any word).
BEAT = Stroke(_hs(_line((0.22, 0.2), (0.24, 0.02), ease=0.7), "relaxed", None, 30, 35), None, 0.2, 0.0)
FIDGETS = [
    Stroke(_hs(_osc((0.02, -0.15), (0.04, 0.02), 3), "relaxed", None, -60, -60),
           _hs(_osc((0.02, -0.15), (0.03, 0.0), 2), "relaxed", None, -60, -60), 0.9),
    Stroke(_hs(_osc((-0.2, -0.2), (0.05, 0.03), 2), "relaxed", None, -80, -80), None, 0.8),
    Stroke(_hs(_line((0.05, 0.85), (0.1, 0.9)), "relaxed", None, -30, -40), None, 0.6, 0.2),
]


def stroke_for(family: str, variant: int, word: str) -> Stroke:
    """The stroke of ``family``'s ``variant`` for ``word`` (the count family depends on it)."""
    if family == "count":
        from jegal.synth.lexicon import COUNT_VALUE

        return COUNT_STROKES[COUNT_VALUE[word]][variant]
    return STROKES[family][variant]
