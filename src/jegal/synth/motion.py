"""SynthGest motion: gesture events placed on words, and the keypoint trajectories they cause.

Time runs on the clip's clock in seconds; trajectories are sampled at 25 fps on an
extended timeline (1.2 s each side of the clip) so gestures whose preparation or
retraction spills over the clip edge look like a cut from a longer recording.

Each hand follows its rest pose (with idle sway and drift) until an event takes it: a
minimum-jerk *preparation* from wherever the hand is to the stroke's first pose, the
*stroke* along the family's path, a *hold*, and a minimum-jerk *retraction* to rest. A
later event starts its preparation from wherever the previous one left the hand, so
close gestures co-articulate instead of jumping.

Output keypoints are in canvas pixels (``CANVAS`` x ``CANVAS``, y down) in the layout of
:mod:`jegal.data.keypoints`; the *observed* array adds estimator-like jitter and hand
dropouts (all 21 landmarks and confidences zero, as mediapipe reports a missing hand).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from jegal.data.keypoints import JOINT_INDEX, LEFT_HAND, NUM_JOINTS, RIGHT_HAND
from jegal.synth.gestures import BEAT, FIDGETS, HandStroke, Stroke, shape, stroke_for
from jegal.synth.lexicon import family_of
from jegal.synth.speakers import REST_POSES, Speaker
from jegal.timebase import FPS

CANVAS = 256
PAD_S = 1.2
PREP_S = (0.25, 0.45)
RETRACT_S = (0.35, 0.6)
HAND_LENGTH = 0.42  # wrist to middle fingertip, shoulder widths
UPPER_ARM, FOREARM = 0.8, 0.72  # shoulder widths
GESTURE_SPACE_DROP = 0.95  # gesture space centre below the shoulder midpoint, shoulder widths


@dataclass
class GestureEvent:
    kind: str  # "semantic", "beat" or "fidget"
    family: str  # gesture family, "beat", or "fidget"
    variant: int
    word_index: int  # index into the synthesized words, -1 for fidgets
    word: str
    two_handed: bool
    prep_start: float
    stroke_start: float
    stroke_end: float
    hold_end: float
    retract_end: float
    amplitude: float
    offset: tuple  # (dx, dy) of the whole stroke, shoulder widths

    def to_json(self) -> dict:
        d = asdict(self)
        for k in ("prep_start", "stroke_start", "stroke_end", "hold_end", "retract_end", "amplitude"):
            d[k] = round(d[k], 4)
        d["offset"] = [round(float(x), 4) for x in self.offset]
        return d


def _stroke_of(ev: GestureEvent) -> Stroke:
    if ev.kind == "beat":
        return BEAT
    if ev.kind == "fidget":
        return FIDGETS[ev.variant]
    return stroke_for(ev.family, ev.variant, ev.word)


def _overlaps(ev: GestureEvent, taken: list[GestureEvent], margin: float) -> bool:
    """Whether ``ev`` collides with any taken event (both hands count: one body, one
    gesture at a time keeps the ground truth unambiguous)."""
    return any(ev.prep_start < o.hold_end + margin and o.prep_start < ev.hold_end + margin for o in taken)


def plan_events(rng: np.random.Generator, spk: Speaker, words: list[str], times: list[tuple[float, float]],
                stressed: list[bool], force_word: int | None = None) -> list[GestureEvent]:
    """Decide which words are gestured and when.

    Gesturable words are gestured with the speaker's ``gesture_rate`` (``force_word``, an
    index, always is unless it collides with an earlier gesture); a stroke is centred on
    its word's centre plus the speaker's lag (with a little per-gesture jitter). Strokes
    never overlap: a gesture that would collide with an earlier one is dropped. Beats fall
    on stressed words that are not gestured, fidgets at random free times.
    """
    events: list[GestureEvent] = []
    speed = spk.speed

    def make(kind, family, variant, wi, word, stroke: Stroke, centre, amp):
        dur = stroke.duration / speed * rng.uniform(0.85, 1.15)
        ss = centre - dur / 2
        se = ss + dur
        prep = rng.uniform(*PREP_S) / speed
        hold = stroke.hold * rng.uniform(0.6, 1.4)
        ret = rng.uniform(*RETRACT_S) / speed
        off = tuple(rng.normal(0, 0.04, 2)) if kind != "beat" else (0.0, 0.0)
        return GestureEvent(kind, family, variant, wi, word, stroke.N is not None, ss - prep, ss, se, se + hold,
                            se + hold + ret, amp, off)

    for i, (w, (s, e)) in enumerate(zip(words, times)):
        fam = family_of(w)
        if fam is None:
            continue
        if i != force_word and rng.random() >= spk.gesture_rate:
            continue
        weights = np.asarray(spk.variant_weights[fam], dtype=np.float64)
        variant = int(rng.choice(len(weights), p=weights / weights.sum()))
        stroke = stroke_for(fam, variant, w)
        centre = (s + e) / 2 + spk.lag + rng.normal(0, 0.05)
        ev = make("semantic", fam, variant, i, w, stroke, centre, spk.amplitude * rng.uniform(0.85, 1.15))
        if not _overlaps(ev, events, 0.05):
            events.append(ev)
    for i, (w, (s, e)) in enumerate(zip(words, times)):
        if not stressed[i] or any(ev.word_index == i for ev in events) or rng.random() >= spk.beat_rate:
            continue
        # Beats lock to the stressed syllable more tightly than semantic strokes do.
        centre = s + 0.08 + 0.3 * spk.lag + rng.normal(0, 0.03)
        ev = make("beat", "beat", 0, i, w, BEAT, centre, spk.amplitude * rng.uniform(0.7, 1.3))
        if not _overlaps(ev, events, 0.0):
            events.append(ev)
    end = (times[-1][1] if times else 0.0) + PAD_S
    n_fidget = rng.poisson(spk.fidget_rate * (end + PAD_S))
    for _ in range(n_fidget):
        variant = int(rng.integers(len(FIDGETS)))
        ev = make("fidget", "fidget", variant, -1, "", FIDGETS[variant], rng.uniform(-PAD_S, end), 1.0)
        if not _overlaps(ev, events, 0.1):
            events.append(ev)
    events.sort(key=lambda ev: ev.prep_start)
    return events


def _minjerk(w: np.ndarray) -> np.ndarray:
    w = np.clip(w, 0.0, 1.0)
    return w ** 3 * (10 - 15 * w + 6 * w * w)


def _hand_tracks(rng, spk: Speaker, events: list[GestureEvent], t: np.ndarray, dominant: bool):
    """Wrist position (n, 2) in gesture-space units (x outward, y up), shape (n, 7), angle (n,)."""
    n = len(t)
    rest = np.asarray(REST_POSES[spk.rest], dtype=np.float64)
    # Idle drift at rest: smoothed noise, a few hundredths of a shoulder width.
    drift = np.cumsum(rng.normal(0, 0.004, (n, 2)), axis=0)
    drift -= np.linspace(drift[0], drift[-1], n)
    rest_pos = rest + drift
    rest_shape = shape("relaxed")
    pos, shp, ang = rest_pos.copy(), np.tile(rest_shape, (n, 1)), np.full(n, 20.0 if spk.rest != "clasped" else -40.0)
    rest_ang = ang.copy()
    for ev in events:
        stroke = _stroke_of(ev)
        hs: HandStroke | None = stroke.D if dominant else stroke.N
        if hs is None:
            continue
        off = np.asarray(ev.offset)
        # Amplitude scales the path about its start, so the gesture's place is kept.
        p0 = hs.path(np.zeros(1))[0]

        def path(u, hs=hs, p0=p0, ev=ev, off=off):
            return p0 + off + ev.amplitude * (hs.path(u) - p0)

        s0, s1 = shape(hs.shape0), shape(hs.shape1)
        prep = (t >= ev.prep_start) & (t < ev.stroke_start)
        strk = (t >= ev.stroke_start) & (t <= ev.stroke_end)
        hold = (t > ev.stroke_end) & (t <= ev.hold_end)
        ret = (t > ev.hold_end) & (t < ev.retract_end)
        start_i = int(np.searchsorted(t, ev.prep_start))
        if start_i >= n:
            continue
        from_pos, from_shp, from_ang = pos[start_i].copy(), shp[start_i].copy(), ang[start_i]
        first, last = path(np.zeros(1))[0], path(np.ones(1))[0]
        w = _minjerk((t[prep] - ev.prep_start) / max(1e-6, ev.stroke_start - ev.prep_start))
        pos[prep] = from_pos + np.outer(w, first - from_pos)
        shp[prep] = from_shp + np.outer(w, s0 - from_shp)
        ang[prep] = from_ang + w * (hs.angle0 - from_ang)
        u = (t[strk] - ev.stroke_start) / max(1e-6, ev.stroke_end - ev.stroke_start)
        pos[strk] = path(u)
        su = np.clip(u * 1.5, 0, 1)[:, None]
        shp[strk] = s0 + su * (s1 - s0)
        ang[strk] = hs.angle0 + np.clip(u, 0, 1) * (hs.angle1 - hs.angle0)
        pos[hold], shp[hold], ang[hold] = last, s1, hs.angle1
        w = _minjerk((t[ret] - ev.hold_end) / max(1e-6, ev.retract_end - ev.hold_end))[:, None]
        pos[ret] = last + w * (rest_pos[ret] - last)
        shp[ret] = s1 + w * (rest_shape - s1)
        ang[ret] = hs.angle1 + w[:, 0] * (rest_ang[ret] - hs.angle1)
    return pos, shp, ang


# Hand model: landmark positions in a hand frame (a: across the palm toward the thumb,
# b: along the fingers), unit = hand length.
_MCP = {"index": (0.12, 0.42), "middle": (0.02, 0.45), "ring": (-0.08, 0.42), "pinky": (-0.17, 0.37)}
_SEG = {"index": (0.22, 0.13, 0.1), "middle": (0.25, 0.15, 0.1), "ring": (0.23, 0.14, 0.1), "pinky": (0.17, 0.1, 0.09)}
_SPREAD = {"index": 10.0, "middle": 0.0, "ring": -8.0, "pinky": -18.0}
_FINGERS = ["index", "middle", "ring", "pinky"]


def hand_landmarks(wrist: np.ndarray, shp: np.ndarray, angle_deg: np.ndarray, outward: float,
                   size: float) -> np.ndarray:
    """21 mediapipe-order hand landmarks in pixels, ``(n, 21, 2)``.

    ``wrist`` (n, 2) pixels, ``shp`` (n, 7), ``angle_deg`` (n,) in-plane angle (0 = fingers
    up, positive = outward), ``outward`` the image x sign of the hand's outward side,
    ``size`` the hand length in pixels. Curled fingers are drawn foreshortened, folding
    back over the palm as a front camera sees a fist.
    """
    n = len(wrist)
    local = np.zeros((n, 21, 2))
    thumb_ext = shp[:, 0]
    # Thumb: cmc, mcp fixed on the palm; ip and tip swing from across the palm (tucked)
    # to out to the side (extended).
    local[:, 1] = (0.12, 0.1)
    local[:, 2] = (0.22, 0.22)
    th = np.deg2rad(100 - 65 * thumb_ext)  # angle from the finger axis toward the thumb side
    seg = np.stack([np.sin(th), np.cos(th)], axis=1)
    local[:, 3] = local[:, 2] + 0.17 * seg * (0.6 + 0.4 * thumb_ext)[:, None]
    local[:, 4] = local[:, 3] + 0.14 * seg * (0.6 + 0.4 * thumb_ext)[:, None]
    spread = shp[:, 5]
    for f, name in enumerate(_FINGERS):
        base = 5 + 4 * f
        curl = shp[:, 1 + f]
        mcp = np.asarray(_MCP[name])
        local[:, base] = mcp
        sp = np.deg2rad(_SPREAD[name] * spread)
        direction = np.stack([-np.sin(sp), np.cos(sp)], axis=1)  # thumb side is +a, index fans toward it
        direction[:, 0] *= -1
        p = np.tile(mcp, (n, 1))
        bend = 0.0
        for k, length in enumerate(_SEG[name]):
            bend = bend + curl * np.deg2rad(80 if k == 0 else 90)
            along = np.cos(bend) * length
            p = p + direction * along[:, None]
            local[:, base + 1 + k] = p
    # Pinch draws the thumb tip onto the index tip.
    pinch = shp[:, 6][:, None]
    local[:, 4] = local[:, 4] + pinch * (local[:, 8] - local[:, 4])
    local[:, 3] = local[:, 3] + 0.6 * pinch * (local[:, 7] - local[:, 3])
    a_rad = np.deg2rad(angle_deg)
    # Image directions of the hand axes: b (fingers) and a (toward the thumb = inward).
    b_dir = np.stack([outward * np.sin(a_rad), -np.cos(a_rad)], axis=1)
    a_dir = np.stack([-outward * np.cos(a_rad), -np.sin(a_rad)], axis=1)
    img = wrist[:, None, :] + size * (local[..., :1] * a_dir[:, None, :] + local[..., 1:] * b_dir[:, None, :])
    return img


def _elbow(shoulder: np.ndarray, wrist: np.ndarray, l1: float, l2: float, outward: float):
    """Two-link inverse kinematics; returns (elbow, reachable wrist), both (n, 2).
    The elbow takes the solution that bends outward and down."""
    d_vec = wrist - shoulder
    d = np.linalg.norm(d_vec, axis=1, keepdims=True)
    d_safe = np.clip(d, abs(l1 - l2) + 1e-3, (l1 + l2) * 0.995)
    unit = d_vec / np.maximum(d, 1e-6)
    wrist = shoulder + unit * d_safe
    a = (l1 ** 2 - l2 ** 2 + d_safe ** 2) / (2 * d_safe)
    h = np.sqrt(np.maximum(l1 ** 2 - a ** 2, 0.0))
    base = shoulder + unit * a
    perp = np.concatenate([-unit[:, 1:], unit[:, :1]], axis=1)
    e1, e2 = base + h * perp, base - h * perp
    score = lambda e: outward * (e[:, 0] - shoulder[:, 0]) + 0.5 * (e[:, 1] - shoulder[:, 1])  # noqa: E731
    pick = (score(e1) >= score(e2))[:, None]
    return np.where(pick, e1, e2), wrist


def animate(rng: np.random.Generator, spk: Speaker, events: list[GestureEvent], num_frames: int):
    """Clean and observed keypoints for frames ``0..num_frames-1``, each ``(T, 56, 3)``
    in canvas pixels, and the observed hand-presence mask ``(T, 2)`` (left, right)."""
    pad = int(round(PAD_S * FPS))
    n = num_frames + 2 * pad
    t = (np.arange(n) - pad) / FPS
    sw = spk.shoulder_width
    # Torso sway: two slow sinusoids plus a slight roll.
    ph = rng.uniform(0, 2 * np.pi, 3)
    sway = spk.sway * sw * np.stack([np.sin(2 * np.pi * spk.sway_hz * t + ph[0]),
                                     0.4 * np.sin(2 * np.pi * spk.sway_hz * 1.7 * t + ph[1])], axis=1)
    roll = 0.03 * np.sin(2 * np.pi * spk.sway_hz * 0.8 * t + ph[2])
    mid = np.array([spk.centre_x, spk.shoulder_y]) + sway  # (n, 2)
    across = np.stack([np.cos(roll), np.sin(roll)], axis=1)  # person's left is image +x
    down = np.stack([-np.sin(roll), np.cos(roll)], axis=1)
    kp = np.zeros((n, NUM_JOINTS, 2))
    J = JOINT_INDEX
    centre = mid + GESTURE_SPACE_DROP * sw * down
    for side, outward in (("left", 1.0), ("right", -1.0)):
        shoulder = mid + outward * 0.5 * sw * across
        kp[:, J[f"{side}_shoulder"]] = shoulder
        kp[:, J[f"{side}_hip"]] = mid + outward * 0.5 * spk.hip_width * sw * across + spk.torso_length * sw * down
        dominant = (side == "right") == spk.right_handed
        pos, shp, ang = _hand_tracks(rng, spk, events, t, dominant)
        wrist = centre + sw * (outward * pos[:, :1] * across - pos[:, 1:] * down)
        elbow, wrist = _elbow(shoulder, wrist, UPPER_ARM * spk.arm_scale * sw, FOREARM * spk.arm_scale * sw, outward)
        hand = hand_landmarks(wrist, shp, ang + np.rad2deg(roll) * outward, outward, HAND_LENGTH * spk.hand_scale * sw)
        kp[:, J[f"{side}_elbow"]] = elbow
        kp[:, J[f"{side}_wrist"]] = wrist
        kp[:, J[f"{side}_pinky"]] = hand[:, 17]
        kp[:, J[f"{side}_index"]] = hand[:, 5]
        kp[:, J[f"{side}_thumb"]] = hand[:, 2]  # the thumb base, as jegal.perception.importers maps it
        kp[:, LEFT_HAND if side == "left" else RIGHT_HAND] = hand
    kp = kp[pad : pad + num_frames]
    clean = np.concatenate([kp, np.ones((num_frames, NUM_JOINTS, 1))], axis=2)
    observed = _observe(rng, spk, clean)
    return clean.astype(np.float32), observed.astype(np.float32)


def _observe(rng: np.random.Generator, spk: Speaker, clean: np.ndarray) -> np.ndarray:
    """Estimator-like output: jitter, confidences, and missing hands (dropout runs, motion
    blur on fast hands, hands leaving the canvas)."""
    T = len(clean)
    sw = spk.shoulder_width
    obs = clean.copy()
    obs[:, :14, :2] += rng.normal(0, spk.noise * sw, (T, 14, 2))
    obs[:, 14:, :2] += rng.normal(0, 1.5 * spk.noise * sw, (T, 42, 2))
    obs[:, :14, 2] = rng.uniform(0.85, 1.0, (T, 14))
    obs[:, [JOINT_INDEX["left_hip"], JOINT_INDEX["right_hip"]], 2] = rng.uniform(0.5, 0.9, (T, 2))
    obs[:, 14:, 2] = 1.0
    for h, sl in enumerate((LEFT_HAND, RIGHT_HAND)):
        missing = np.zeros(T, dtype=bool)
        for _ in range(rng.poisson(spk.miss_rate * T / FPS)):
            a = int(rng.integers(0, T))
            missing[a : a + int(rng.integers(2, 13))] = True
        wrist = clean[:, sl.start, :2]
        speed = np.r_[0.0, np.linalg.norm(np.diff(wrist, axis=0), axis=1)] / sw
        missing |= (speed > 0.12) & (rng.random(T) < 0.3)
        missing |= ((clean[:, sl, :2] < 0) | (clean[:, sl, :2] >= CANVAS)).any(axis=(1, 2))
        obs[missing, sl] = 0.0
    return obs
