"""Generators of inputs as people have them, for the tests of the kinds of odd input: videos
with a display rotation, several audio streams or a variable frame rate, keypoints in the
many conventions for "not found"."""

from __future__ import annotations

import fractions

import numpy as np

from jegal.data.keypoints import JOINT_INDEX, LEFT_HAND, NUM_JOINTS, RIGHT_HAND, RIGHT_WRIST

BITS = 6  # a frame's index is written as this many horizontal black/white bands


def stripes(index: int, width: int = 64, height: int = 48) -> np.ndarray:
    """An RGB frame whose horizontal bands spell ``index`` in binary (robust to lossy coding)."""
    img = np.zeros((height, width, 3), np.uint8)
    band = height // BITS
    for b in range(BITS):
        if index >> b & 1:
            img[b * band:(b + 1) * band] = 255
    return img


def read_stripes(frame: np.ndarray) -> int:
    band = frame.shape[0] // BITS
    return sum(1 << b for b in range(BITS) if frame[b * band:(b + 1) * band].mean() > 127)


def write_video(path, frames: list[np.ndarray], pts_ms: list[int] | None = None, rotation: int | None = None,
                audio: list[tuple[bool, float]] = (), codec: str = "mpeg4", seconds: float | None = None) -> None:
    """Encode RGB ``frames`` (at ``pts_ms`` milliseconds, default 25 fps) with PyAV.

    ``rotation`` writes a display matrix (what phones write: the pixels stay sideways);
    ``audio`` adds one stream per ``(default, tone_hz)``, flagged default or not."""
    import av

    pts_ms = pts_ms if pts_ms is not None else [40 * i for i in range(len(frames))]
    h, w = frames[0].shape[:2]
    tb = fractions.Fraction(1, 1000)
    with av.open(str(path), "w") as c:
        v = c.add_stream(codec, rate=25)
        v.width, v.height, v.pix_fmt = w, h, "yuv420p"
        v.time_base = tb
        v.codec_context.time_base = tb
        if codec == "mpeg4":
            v.codec_context.qmax = 4  # near-lossless: the tests compare pixels
        if rotation is not None:
            v.set_display_rotation(rotation)
        streams = []
        for default, hz in audio:
            a = c.add_stream("aac", rate=16000)
            a.layout = "mono"
            a.disposition = av.stream.Disposition.default if default else av.stream.Disposition(0)
            streams.append((a, hz))
        for img, pts in zip(frames, pts_ms):
            f = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
            f.pts, f.time_base = pts, tb
            for p in v.encode(f):
                c.mux(p)
        for p in v.encode():
            c.mux(p)
        duration = seconds if seconds is not None else pts_ms[-1] / 1000 + 0.04
        for a, hz in streams:
            n = int(duration * 16000)
            wave = (0.3 * np.sin(2 * np.pi * hz * np.arange(n) / 16000)).astype(np.float32)[None]
            for s in range(0, n, 1024):
                fr = av.AudioFrame.from_ndarray(np.ascontiguousarray(wave[:, s:s + 1024]), format="flt", layout="mono")
                fr.sample_rate, fr.pts = 16000, s
                for p in a.encode(fr):
                    c.mux(p)
            for p in a.encode():
                c.mux(p)


def write_speech_video(path, wav, num_frames: int | None = None) -> None:
    """A black 64x64 H.264 video at 25 fps (nobody in view) with the recording ``wav`` as its
    AAC sound track; ``num_frames`` defaults to the recording's length."""
    import av
    import soundfile as sf

    wave, sr = sf.read(str(wav), dtype="float32")
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=25)
        v.width = v.height = 64
        v.pix_fmt = "yuv420p"
        a = out.add_stream("aac", rate=sr, layout="mono")
        for t in range(num_frames if num_frames is not None else int(len(wave) / sr * 25)):
            frame = av.VideoFrame.from_ndarray(np.zeros((64, 64, 3), np.uint8), format="rgb24")
            frame.pts = t
            out.mux(v.encode(frame))
        out.mux(v.encode())
        af = av.AudioFrame.from_ndarray(wave[None], format="flt", layout="mono")
        af.sample_rate, af.pts = sr, 0
        out.mux(a.encode(af))
        out.mux(a.encode())


def dominant_hz(wave: np.ndarray, rate: int = 16000) -> float:
    spec = np.abs(np.fft.rfft(wave[:rate]))
    return float(np.argmax(spec) * rate / min(len(wave), rate))


def synthetic_keypoints(T: int = 60, width: float = 640, height: float = 480, seed: int = 0) -> np.ndarray:
    """``(T, 56, 3)`` pixel keypoints of a gesturing upper body (our layout), every joint seen."""
    rng = np.random.default_rng(seed)
    kp = np.zeros((T, NUM_JOINTS, 3), np.float32)
    t = np.arange(T) / 25
    base = {"left_shoulder": (0.6, 0.45), "right_shoulder": (0.4, 0.45), "left_elbow": (0.65, 0.65),
            "right_elbow": (0.35, 0.65), "left_wrist": (0.6, 0.8), "right_wrist": (0.4, 0.8),
            "left_hip": (0.58, 0.95), "right_hip": (0.42, 0.95)}
    for name, (x, y) in base.items():
        kp[:, JOINT_INDEX[name], 0] = x * width
        kp[:, JOINT_INDEX[name], 1] = y * height
    for side, sign in (("left", 1), ("right", -1)):
        wrist = JOINT_INDEX[f"{side}_wrist"]
        kp[:, wrist, 0] += sign * 30 * np.sin(2 * np.pi * 1.3 * t)
        kp[:, wrist, 1] -= 40 * np.abs(np.sin(2 * np.pi * 0.9 * t))
        for finger in ("pinky", "index", "thumb"):
            kp[:, JOINT_INDEX[f"{side}_{finger}"], :2] = kp[:, wrist, :2] + rng.normal(0, 8, 2)
        hand = LEFT_HAND if side == "left" else RIGHT_HAND
        kp[:, hand, :2] = kp[:, wrist, None, :2] + rng.normal(0, 12, (21, 2)).astype(np.float32)
    kp[..., :2] += rng.normal(0, 0.5, kp[..., :2].shape).astype(np.float32)
    kp[..., 2] = 0.95
    return kp


def moving_hand_keypoints(rng: np.random.Generator, T: int) -> np.ndarray:
    """Raw keypoints of a person whose right hand moves: shoulders at (100, 100) and (60, 100)."""
    kp = np.zeros((T, 56, 3), np.float32)
    kp[:, JOINT_INDEX["left_shoulder"]] = [100, 100, 1]
    kp[:, JOINT_INDEX["right_shoulder"]] = [60, 100, 1]
    kp[:, RIGHT_WRIST] = np.stack([50 + 10 * np.sin(np.arange(T) / 3), np.full(T, 150), np.ones(T)], 1)
    kp[:, RIGHT_HAND] = kp[:, RIGHT_WRIST][:, None] + rng.normal(size=(T, 21, 3)) * [3, 3, 0]
    kp[:, LEFT_HAND, 2] = 0
    return kp
