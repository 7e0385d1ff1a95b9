"""Perturbations of a keypoint clip (``.kps.npz`` + ``.wav`` + ``.txt``) for the generalisation bench.

Each perturbation changes what a held-out clip looks like without retraining the model, so
``bench/exp_gesture_generalise.py`` can ask whether ``jegal spot``'s per-word decision holds on
data the model and the method were not designed on. All work on keypoints in canvas pixels
(the ``.kps.npz`` layout of :mod:`jegal.data.keypoints`, ``(T, 56, 3)`` x, y, confidence; a
joint that was not seen has confidence 0 and stays untouched). ``sw`` is the clip's shoulder
width in pixels (median over frames with both shoulders).

KINDS:

- ``jitter``: Gaussian noise of sd 0.02 sw on the body joints and 0.03 sw on the hand landmarks,
  added to SynthGest's own (``jegal.synth.motion._observe``: sd ``noise`` * sw, noise drawn per
  speaker from U(0.003, 0.012), hands 1.5x), so the total is about 2.8x the mean speaker's and
  1.9x the noisiest speaker's;
- ``lag`` (random sign per clip), ``lag+6``, ``lag-6``: all keypoints shifted in time by 6 frames
  (+: the gesture comes 6 frames later relative to the speech), the edge frame held;
- ``mirror``: x -> width - x and the person's left/right joints swapped (body pairs and the two
  hands), so a right-handed speaker becomes a left-handed one;
- ``speed`` (0.85x or 1.15x per clip), ``speed0.85``, ``speed1.15``: the whole clip time-warped
  about its middle frame (keypoints, audio and the words' frames alike; kept length), a frame
  interpolated linearly, unseen where either neighbour was; words that leave the clip dropped;
- ``still``: every frame the clip's mean pose (per joint, over the frames where it was seen);
- ``fidget``: 1 or 2 smooth non-semantic movements of one hand per clip at random times: a
  raised-cosine out-and-back of 15-30 frames, peak displacement U(0.4, 0.9) sw in a random
  direction with a sideways loop of a third of that (semantic strokes in SynthGest's test media
  move the wrist 0.43 sw (median) / 0.74 sw (75th pct.) from its median place), applied to the
  hand's 21 landmarks and the body's wrist/finger points, half of it to the elbow.

:func:`perturb_clip` writes the perturbed clip into a folder and returns its ``.kps.npz`` and
which of the original words its transcript keeps (in order).

    python bench/perturb_corpus.py CORPUS OUT_DIR --perturb mirror [--limit N]  # a perturbed media/ copy
"""

from __future__ import annotations

import shutil
import zlib
from pathlib import Path

import numpy as np

KINDS = ("none", "jitter", "lag", "lag+6", "lag-6", "mirror", "speed", "speed0.85", "speed1.15", "still", "fidget")
JITTER_BODY, JITTER_HAND = 0.02, 0.03  # shoulder widths
LAG_FRAMES = 6
SPEEDS = (0.85, 1.15)
FIDGET_AMPLITUDE = (0.4, 0.9)  # shoulder widths
FIDGET_FRAMES = (15, 30)


def clip_rng(seed: int, name: str) -> np.random.Generator:
    """A generator fixed by ``seed`` and the clip's name (the same clip gets the same perturbation)."""
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def shoulder_width(kp: np.ndarray) -> float:
    from jegal.data.keypoints import LEFT_SHOULDER, RIGHT_SHOULDER

    both = (kp[:, LEFT_SHOULDER, 2] > 0) & (kp[:, RIGHT_SHOULDER, 2] > 0)
    if not both.any():
        return 1.0
    return float(np.median(np.linalg.norm(kp[both, LEFT_SHOULDER, :2] - kp[both, RIGHT_SHOULDER, :2], axis=1)))


def mirror_index() -> np.ndarray:
    """(56,) for each joint, the joint it becomes when left and right are swapped."""
    from jegal.data.keypoints import JOINT_INDEX, JOINT_NAMES, LEFT_HAND, RIGHT_HAND

    idx = np.arange(len(JOINT_NAMES))
    for name, j in JOINT_INDEX.items():
        if name.startswith("left_") and j < LEFT_HAND.start:
            k = JOINT_INDEX["right_" + name[5:]]
            idx[j], idx[k] = k, j
    idx[LEFT_HAND], idx[RIGHT_HAND] = np.arange(RIGHT_HAND.start, RIGHT_HAND.stop), np.arange(LEFT_HAND.start,
                                                                                              LEFT_HAND.stop)
    return idx


def jitter(kp: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    out = kp.copy()
    sw = shoulder_width(kp)
    sd = np.r_[np.full(14, JITTER_BODY), np.full(42, JITTER_HAND)] * sw
    seen = kp[..., 2] > 0
    noise = rng.normal(0, 1, kp[..., :2].shape) * sd[None, :, None]
    out[..., :2] += np.where(seen[..., None], noise, 0.0)
    return out.astype(np.float32)


def lag(kp: np.ndarray, frames: int) -> np.ndarray:
    """kp shifted later by ``frames`` (earlier when negative), the edge frame held."""
    T = len(kp)
    src = np.clip(np.arange(T) - frames, 0, T - 1)
    return kp[src].copy()


def mirror(kp: np.ndarray, width: float) -> np.ndarray:
    out = kp.copy()
    seen = kp[..., 2] > 0
    out[..., 0] = np.where(seen, width - kp[..., 0], 0.0)
    return out[:, mirror_index()].copy()


def warp_times(T: int, rate: float) -> np.ndarray:
    """(T,) source frame (float) of each output frame: time-warped about the middle frame."""
    c = (T - 1) / 2
    return c + rate * (np.arange(T) - c)


def speed_keypoints(kp: np.ndarray, rate: float) -> np.ndarray:
    T = len(kp)
    src = np.clip(warp_times(T, rate), 0, T - 1)
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, T - 1)
    w = (src - lo)[:, None, None]
    out = (1 - w) * kp[lo] + w * kp[hi]
    seen = (kp[lo, :, 2] > 0) & (kp[hi, :, 2] > 0)
    out[~seen] = 0.0
    return out.astype(np.float32)


def speed_audio(wave: np.ndarray, sr: int, T: int, rate: float, fps: int = 25) -> np.ndarray:
    c = (T - 1) / 2 / fps  # the middle frame's time, seconds
    t = np.arange(len(wave)) / sr
    return np.interp(c + rate * (t - c), t, wave).astype(np.float32)


def speed_frame(f: int, T: int, rate: float) -> int:
    """Where word frame ``f`` lands in the warped clip."""
    c = (T - 1) / 2
    return int(round(c + (f - c) / rate))


def still(kp: np.ndarray) -> np.ndarray:
    seen = (kp[..., 2] > 0)[..., None]
    mean = (kp * seen).sum(0) / np.maximum(seen.sum(0), 1)
    return np.repeat(mean[None], len(kp), 0).astype(np.float32)


def fidget(kp: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    from jegal.data.keypoints import JOINT_INDEX, LEFT_HAND, RIGHT_HAND

    out = kp.copy()
    T, sw = len(kp), shoulder_width(kp)
    for _ in range(int(rng.integers(1, 3))):
        side = ("left", "right")[int(rng.integers(2))]
        D = int(rng.integers(FIDGET_FRAMES[0], FIDGET_FRAMES[1] + 1))
        t0 = int(rng.integers(-D // 3, T - 2 * D // 3))  # may spill over an edge, as SynthGest's do
        u = (np.arange(T) - t0) / D
        inside = (u >= 0) & (u <= 1)
        bump = np.where(inside, 0.5 - 0.5 * np.cos(2 * np.pi * np.clip(u, 0, 1)), 0.0)  # 0 -> 1 -> 0
        loop = np.where(inside, np.sin(2 * np.pi * np.clip(u, 0, 1)), 0.0)
        ang = rng.uniform(0, 2 * np.pi)
        d = np.array([np.cos(ang), np.sin(ang)])
        n = np.array([-d[1], d[0]])
        amp = rng.uniform(*FIDGET_AMPLITUDE) * sw
        disp = amp * (bump[:, None] * d[None] + loop[:, None] * n[None] / 3)  # (T, 2)
        hand = LEFT_HAND if side == "left" else RIGHT_HAND
        joints = [(j, 1.0) for j in range(hand.start, hand.stop)]
        joints += [(JOINT_INDEX[f"{side}_{p}"], 1.0) for p in ("wrist", "pinky", "index", "thumb")]
        joints += [(JOINT_INDEX[f"{side}_elbow"], 0.5)]
        for j, k in joints:
            seen = kp[:, j, 2] > 0
            out[seen, j, :2] += k * disp[seen]
    return out.astype(np.float32)


def perturb_keypoints(kind: str, kp: np.ndarray, width: float, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """(perturbed keypoints, speed rate (1.0 unless a ``speed`` kind))."""
    if kind == "none":
        return kp.copy(), 1.0
    if kind == "jitter":
        return jitter(kp, rng), 1.0
    if kind.startswith("lag"):
        frames = {"lag+6": LAG_FRAMES, "lag-6": -LAG_FRAMES}.get(kind)
        if frames is None:
            frames = LAG_FRAMES * (1 if rng.random() < 0.5 else -1)
        return lag(kp, frames), 1.0
    if kind == "mirror":
        return mirror(kp, width), 1.0
    if kind.startswith("speed"):
        rate = float(kind[5:]) if kind != "speed" else SPEEDS[int(rng.integers(2))]
        return speed_keypoints(kp, rate), rate
    if kind == "still":
        return still(kp), 1.0
    if kind == "fidget":
        return fidget(kp, rng), 1.0
    raise ValueError(f"unknown perturbation {kind!r}; one of {', '.join(KINDS)}")


def perturb_clip(kind: str, kps_path: Path, out_dir: Path, seed: int = 0, name: str | None = None):
    """Write ``kps_path``'s clip perturbed by ``kind`` into ``out_dir`` (its ``.kps.npz``, ``.wav``
    and ``.txt``). Returns ``(new .kps.npz path, kept)``: ``kept`` the indices of the original
    transcript's words that the new transcript holds, in its order."""
    from jegal.data.transcripts import format_txt, read_txt
    from jegal.data.words import Word

    kps_path = Path(kps_path)
    stem = kps_path.name[: -len(".kps.npz")]
    base = kps_path.with_name(stem)
    name = name or f"{kps_path.parent.name}/{stem}"
    rng = clip_rng(seed, f"{kind}:{name}")
    data = dict(np.load(kps_path, allow_pickle=False))
    kp = data["keypoints"].astype(np.float32)
    T = len(kp)
    data["keypoints"], rate = perturb_keypoints(kind, kp, float(data.get("width", 256)), rng)
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"{stem}.kps.npz"
    np.savez(out, **data)
    words = read_txt(base.with_suffix(".txt"))
    kept = list(range(len(words)))
    if rate == 1.0:
        shutil.copyfile(base.with_suffix(".txt"), out_dir / f"{stem}.txt")
        if base.with_suffix(".wav").exists():
            shutil.copyfile(base.with_suffix(".wav"), out_dir / f"{stem}.wav")
        return out, kept
    import soundfile as sf

    new, kept = [], []
    for i, w in enumerate(words):
        s, e = speed_frame(w.start, T, rate), speed_frame(w.end, T, rate)
        if s >= 0 and e <= T - 1:
            new.append(Word(w.text, s, max(s, e), w.display))
            kept.append(i)
    (out_dir / f"{stem}.txt").write_text(format_txt(new), encoding="utf-8")
    if base.with_suffix(".wav").exists():
        wave, sr = sf.read(base.with_suffix(".wav"), dtype="float32")
        sf.write(out_dir / f"{stem}.wav", np.clip(speed_audio(wave, sr, T, rate), -1, 1), sr, subtype="PCM_16")
    return out, kept


def media_files(corpus: Path) -> list[Path]:
    return sorted(Path(corpus).glob("media/*/*.kps.npz"))


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus")
    ap.add_argument("out")
    ap.add_argument("--perturb", required=True, choices=KINDS)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    files = media_files(Path(args.corpus))
    for p in files[: args.limit or None]:
        perturb_clip(args.perturb, p, Path(args.out) / "media" / p.parent.name, args.seed)
    print(f"wrote {min(len(files), args.limit or len(files))} clips under {args.out}/media")


if __name__ == "__main__":
    main()
