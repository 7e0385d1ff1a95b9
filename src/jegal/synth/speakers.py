"""SynthGest speakers: body, style and voice, drawn once per speaker from the corpus seed."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from jegal.synth.lexicon import FAMILIES
from jegal.synth.speech import VOICES

# Rest poses in gesture-space units (x outward, y up), see jegal.synth.gestures.
REST_POSES = {"low": (0.2, -0.45), "clasped": (0.05, -0.35), "sides": (0.55, -0.55), "mid": (0.25, -0.1)}


@dataclass
class Speaker:
    speaker_id: str
    # body, in canvas pixels and shoulder widths
    shoulder_width: float  # pixels
    centre_x: float  # shoulder midpoint, pixels
    shoulder_y: float
    torso_length: float  # shoulder-to-hip, in shoulder widths
    hip_width: float  # in shoulder widths
    arm_scale: float  # upper arm 0.8 and forearm 0.72 shoulder widths, times this
    hand_scale: float  # hand length 0.42 shoulder widths, times this
    # style
    right_handed: bool
    amplitude: float
    speed: float
    lag: float  # seconds, gesture stroke centre minus word centre
    gesture_rate: float  # probability a gesturable word is gestured
    beat_rate: float  # probability a stressed, ungestured word gets a beat
    concept_prob: float  # how often the speaker's sentences contain gesturable concepts
    stress_prob: float  # probability a filler word is stressed
    fidget_rate: float  # fidgets per second
    sway: float  # idle torso sway amplitude, shoulder widths
    sway_hz: float
    rest: str
    noise: float  # keypoint jitter, shoulder widths
    miss_rate: float  # dropout runs of a hand per second
    variant_weights: dict = field(default_factory=dict)  # family -> probabilities of its variants
    # voice
    voice: str = "en-us"
    rate_wpm: int = 170
    pitch: int = 50
    colours: tuple = ()  # background, shirt, skin (BGR) for rendering

    def to_json(self) -> dict:
        return asdict(self)


def make_speakers(n: int, seed: int) -> list[Speaker]:
    """``n`` speakers, deterministic in ``seed``; ids ``s000``, ``s001``, ..."""
    out = []
    for i in range(n):
        rng = np.random.default_rng([seed, 7919, i])
        weights = {}
        for fam, (_, n_var) in FAMILIES.items():
            weights[fam] = [round(float(x), 4) for x in rng.dirichlet(np.full(n_var, 1.5))]
        bg = tuple(int(x) for x in rng.integers(150, 250, 3))
        shirt = tuple(int(x) for x in rng.integers(20, 200, 3))
        skin = tuple(int(x) for x in (rng.integers(60, 140), rng.integers(110, 180), rng.integers(150, 230)))
        out.append(Speaker(
            speaker_id=f"s{i:03d}",
            shoulder_width=float(rng.uniform(60, 85)),
            centre_x=float(128 + rng.uniform(-14, 14)),
            shoulder_y=float(96 + rng.uniform(-10, 10)),
            torso_length=float(rng.uniform(1.3, 1.6)),
            hip_width=float(rng.uniform(0.62, 0.8)),
            arm_scale=float(rng.uniform(0.92, 1.08)),
            hand_scale=float(rng.uniform(0.9, 1.1)),
            right_handed=bool(rng.random() < 0.8),
            amplitude=float(rng.uniform(0.7, 1.3)),
            speed=float(rng.uniform(0.75, 1.3)),
            lag=float(rng.uniform(-0.4, 0.4)),
            gesture_rate=float(rng.uniform(0.5, 0.9)),
            beat_rate=float(rng.uniform(0.3, 0.8)),
            concept_prob=float(rng.uniform(0.18, 0.28)),
            stress_prob=float(rng.uniform(0.12, 0.3)),
            fidget_rate=float(rng.uniform(0.05, 0.3)),
            sway=float(rng.uniform(0.01, 0.05)),
            sway_hz=float(rng.uniform(0.1, 0.4)),
            rest=str(list(REST_POSES)[rng.integers(len(REST_POSES))]),
            noise=float(rng.uniform(0.003, 0.012)),
            miss_rate=float(rng.uniform(0.0, 0.12)),
            variant_weights=weights,
            voice=VOICES[rng.integers(len(VOICES))],
            rate_wpm=int(rng.integers(145, 200)),
            pitch=int(rng.integers(30, 70)),
            colours=(bg, shirt, skin),
        ))
    return out
