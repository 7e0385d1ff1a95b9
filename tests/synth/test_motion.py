import numpy as np
import pytest

from jegal.data.keypoints import JOINT_INDEX, LEFT_HAND, RIGHT_HAND
from jegal.synth.gestures import COUNT_STROKES, SHAPES, STROKES, shape
from jegal.synth.motion import GestureEvent, _elbow, animate, hand_landmarks
from jegal.synth.speakers import make_speakers


def test_elbow_ik_keeps_bone_lengths_and_clamps_reach():
    rng = np.random.default_rng(0)
    n = 500
    shoulder = rng.uniform(50, 150, (n, 2))
    l1, l2 = 60.0, 55.0
    wrist = shoulder + rng.normal(0, 80, (n, 2))  # some unreachable
    elbow, reached = _elbow(shoulder, wrist, l1, l2, outward=-1.0)
    np.testing.assert_allclose(np.linalg.norm(elbow - shoulder, axis=1), l1, rtol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(reached - elbow, axis=1), l2, rtol=1e-6)
    # Reachable targets are hit exactly; unreachable ones are pulled in along their direction.
    d = np.linalg.norm(wrist - shoulder, axis=1)
    ok = (d < 0.99 * (l1 + l2)) & (d > abs(l1 - l2) + 1)
    np.testing.assert_allclose(reached[ok], wrist[ok], atol=1e-6)
    far = d > l1 + l2
    cos = np.sum((reached - shoulder)[far] * (wrist - shoulder)[far], axis=1) / (
        np.linalg.norm((reached - shoulder)[far], axis=1) * d[far])
    assert np.all(cos > 0.9999)


def _extended(hand: np.ndarray) -> list[bool]:
    """Which of index..pinky point away from the wrist beyond their knuckle (slow reference)."""
    out = []
    for f in range(4):
        mcp, tip = hand[5 + 4 * f], hand[8 + 4 * f]
        out.append(np.linalg.norm(tip - hand[0]) > 1.3 * np.linalg.norm(mcp - hand[0]))
    return out


@pytest.mark.parametrize("n", [1, 2, 3, 4])
@pytest.mark.parametrize("angle,outward", [(0.0, -1.0), (70.0, 1.0), (-40.0, -1.0)])
def test_count_shapes_show_the_number_of_fingers(n, angle, outward):
    hand = hand_landmarks(np.array([[100.0, 100.0]]), shape(f"count{n}")[None], np.array([angle]), outward, 40.0)[0]
    assert _extended(hand) == [i < n for i in range(4)]


def test_fist_folds_and_pinch_touches():
    w = np.array([[0.0, 0.0]])
    fist = hand_landmarks(w, shape("fist")[None], np.zeros(1), 1.0, 1.0)[0]
    assert not any(_extended(fist))
    pinch = hand_landmarks(w, shape("pinch")[None], np.zeros(1), 1.0, 1.0)[0]
    assert np.linalg.norm(pinch[4] - pinch[8]) < 1e-9
    # The thumb sits on the inward side: toward image -x for a hand whose outward is +x.
    open_ = hand_landmarks(w, shape("open")[None], np.zeros(1), 1.0, 1.0)[0]
    assert open_[4, 0] < open_[20, 0]


def test_every_variant_is_a_finite_path():
    u = np.linspace(0, 1, 33)
    strokes = [s for v in STROKES.values() for s in v] + [s for v in COUNT_STROKES.values() for s in v]
    for s in strokes:
        for hs in (s.D, s.N):
            if hs is None:
                continue
            p = hs.path(u)
            assert p.shape == (33, 2) and np.isfinite(p).all()
            assert hs.shape0 in SHAPES and hs.shape1 in SHAPES


def _event(**kw):
    base = dict(kind="semantic", family="big", variant=0, word_index=0, word="big", two_handed=True,
                prep_start=0.4, stroke_start=0.8, stroke_end=1.3, hold_end=1.4, retract_end=1.9, amplitude=1.0,
                offset=(0.0, 0.0))
    base.update(kw)
    return GestureEvent(**base)


def test_motion_is_smooth_and_strokes_move_the_hands():
    spk = make_speakers(1, 3)[0]
    rng = np.random.default_rng(1)
    ev = _event()
    clean, observed = animate(rng, spk, [ev], 75)
    sw = spk.shoulder_width
    wrists = clean[:, [JOINT_INDEX["left_wrist"], JOINT_INDEX["right_wrist"]], :2]
    vel = np.diff(wrists, axis=0)
    # No jumps: per-frame moves stay small, and acceleration is bounded (min-jerk joins).
    assert np.abs(vel).max() < 0.25 * sw
    assert np.abs(np.diff(vel, axis=0)).max() < 0.08 * sw
    speed = np.linalg.norm(vel, axis=-1).max(axis=1)
    stroke = speed[20:32].mean()
    idle = speed[55:].mean()
    assert stroke > 5 * idle
    # "big" spreads the hands apart during the stroke.
    gap = np.abs(wrists[:, 0, 0] - wrists[:, 1, 0])
    assert gap[33] > gap[20] + 0.6 * sw


def test_observed_keypoints_have_jitter_and_missing_hands_are_zero():
    spk = make_speakers(1, 3)[0]
    spk.miss_rate = 2.0  # many dropouts
    clean, observed = animate(np.random.default_rng(2), spk, [], 75)
    assert not np.allclose(clean[:, :14, :2], observed[:, :14, :2])
    for sl in (LEFT_HAND, RIGHT_HAND):
        missing = observed[:, sl, 2].max(axis=1) == 0
        assert missing.any() and not missing.all()
        assert np.all(observed[missing][:, sl] == 0)


def test_families_stay_distinguishable_across_speakers():
    """Family identity survives speaker style, variants and estimator noise: a linear probe on
    the stroke windows of training speakers classifies unseen speakers' gestures far above chance."""
    from jegal.data.keypoints import LEFT_WRIST, RIGHT_WRIST, normalise
    from jegal.synth.gestures import stroke_for
    from jegal.synth.lexicon import FAMILIES

    speakers = make_speakers(6, 4)
    fams = list(FAMILIES)
    rng = np.random.default_rng(0)
    X, y, who = [], [], []
    for si, spk in enumerate(speakers):
        spk.right_handed = True  # no mirroring needed in the probe
        for fi, fam in enumerate(fams):
            for _ in range(4):
                words = FAMILIES[fam][0]
                word = words[rng.integers(len(words))]
                w = np.asarray(spk.variant_weights[fam])
                v = int(rng.choice(len(w), p=w / w.sum()))
                st = stroke_for(fam, v, word)
                dur = st.duration / spk.speed
                ev = _event(family=fam, variant=v, word=word, two_handed=st.N is not None, prep_start=0.6,
                            stroke_start=1.0, stroke_end=1.0 + dur, hold_end=1.0 + dur + st.hold,
                            retract_end=1.5 + dur + st.hold, amplitude=spk.amplitude,
                            offset=tuple(rng.normal(0, 0.04, 2)))
                _, observed = animate(rng, spk, [ev], 75)
                kp = normalise(observed)
                frames = np.linspace(25, int(25 * (1.0 + dur)), 6).round().astype(int)
                win = kp[frames]  # (6, 56, 3)
                hands = [win[:, sl, :2] - win[:, sl.start : sl.start + 1, :2] for sl in (LEFT_HAND, RIGHT_HAND)]
                wrists = win[:, [LEFT_WRIST, RIGHT_WRIST], :2].ravel()
                X.append(np.concatenate([wrists] + [0.5 * h.ravel() for h in hands]))
                y.append(fi)
                who.append(si)
    X, y, who = np.asarray(X), np.asarray(y), np.asarray(who)
    train, test = who < 4, who >= 4
    mu, sd = X[train].mean(0), X[train].std(0) + 1e-3
    Xn = (X - mu) / sd
    onehot = np.eye(len(fams))[y]
    W = np.linalg.solve(Xn[train].T @ Xn[train] + 10 * np.eye(X.shape[1]), Xn[train].T @ onehot[train])
    acc = float((np.argmax(Xn[test] @ W, axis=1) == y[test]).mean())
    assert acc > 0.6, acc  # chance is 1/25
