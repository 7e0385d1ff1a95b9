"""Step 1: decode a video into 25 fps RGB frames and 16 kHz mono audio with PyAV.

The frame rate is converted by FFmpeg's ``fps=25`` filter (frames are dropped or repeated
on the output time grid) and audio by ``AudioResampler(format="flt", layout="mono",
rate=16000)``. Frame counts come from counting decoded frames: container headers lie
(variable frame rate, edited files, truncated downloads).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jegal.prepare.errors import PrepareError
from jegal.timebase import FPS, SAMPLE_RATE

# A file that decodes to less than this share of its declared duration is truncated.
TRUNCATION_FRACTION = 0.9
# Audio may run a little past the video (encoder padding); far past means lost video.
MAX_AUDIO_EXCESS_S = 0.5


@dataclass
class Decoded:
    frames: np.ndarray  # (T, H, W, 3) uint8 RGB at 25 fps
    audio: np.ndarray | None  # (N,) float32 16 kHz mono, None when the file has no audio track
    source_fps: float  # the container's average rate, for the record only
    scale: float = 1.0  # decoded size / original size (frames may be downscaled on decode)

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def duration(self) -> float:
        return self.num_frames / FPS


def _open(path: Path):
    import av

    try:
        return av.open(str(path))
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as err:
        raise PrepareError("corrupt_video", f"{path}: cannot open as a video ({err})") from None


def decode_video(path: str | os.PathLike, max_side: int | None = None, with_audio: bool = True) -> Decoded:
    """Decode every frame of ``path`` at 25 fps (and its audio track at 16 kHz mono).

    ``max_side`` downscales frames so that the longer side is at most that many pixels
    (detection and pose do not need full HD; the decode filter does it cheaply).
    Raises :class:`PrepareError` (``corrupt_video``, ``no_video``) on unusable input.
    """
    import av

    path = Path(path)
    container = _open(path)
    try:
        if not container.streams.video:
            raise PrepareError("no_video", f"{path}: has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        src_fps = float(stream.average_rate or stream.guessed_rate or FPS)
        width, height = stream.codec_context.width, stream.codec_context.height
        scale = 1.0
        if max_side and max(width, height) > max_side:
            scale = max_side / max(width, height)
        out_w, out_h = (int(round(width * scale / 2)) * 2, int(round(height * scale / 2)) * 2) if scale < 1 else (width, height)
        graph = av.filter.Graph()
        src = graph.add_buffer(template=stream)
        chain = [src, graph.add("fps", f"fps={FPS}")]
        if scale < 1:
            chain.append(graph.add("scale", f"{out_w}:{out_h}"))
        chain.append(graph.add("format", "pix_fmts=rgb24"))
        chain.append(graph.add("buffersink"))
        for a, b in zip(chain, chain[1:]):
            a.link_to(b)
        graph.configure()
        frames = []

        def drain():
            while True:
                try:
                    frames.append(graph.pull().to_ndarray())
                except (av.error.BlockingIOError, av.error.EOFError):
                    return

        try:
            for frame in container.decode(stream):
                graph.push(frame)
                drain()
            graph.push(None)
            drain()
        except av.error.FFmpegError as err:
            if not frames:
                raise PrepareError("corrupt_video", f"{path}: cannot decode video ({err})") from None
            raise PrepareError("corrupt_video", f"{path}: video stream is damaged after {len(frames)} frames ({err})") from None
        if not frames:
            raise PrepareError("corrupt_video", f"{path}: no video frame could be decoded")
        expected = _declared_seconds(stream, container)
        got = len(frames) / FPS
        if expected is not None and got < TRUNCATION_FRACTION * expected - 0.2:
            raise PrepareError("corrupt_video", f"{path}: truncated: decoded {got:.2f} s of video but the file "
                               f"declares {expected:.2f} s")
        audio = None
        if with_audio and container.streams.audio:
            audio = _decode_audio_stream(path, container)
    finally:
        container.close()
    return Decoded(np.stack(frames), audio, src_fps, scale)


def _declared_seconds(stream, container) -> float | None:
    """The duration the file claims (stream, else container), to spot a truncated file.
    Headers are only trusted this far: frame counts always come from decoding. AVI's
    header frame count survives truncation (its index does not), so it counts there."""
    claims = []
    if stream.duration is not None and stream.time_base is not None:
        claims.append(float(stream.duration * stream.time_base))
    elif container.duration is not None:
        claims.append(container.duration / 1_000_000)
    if "avi" in (container.format.name or "") and stream.frames and stream.average_rate:
        claims.append(stream.frames / float(stream.average_rate))
    return max(claims) if claims else None


def _decode_audio_stream(path: Path, container) -> np.ndarray | None:
    import av

    container.seek(0)
    stream = container.streams.audio[0]
    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    chunks = []
    try:
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1))
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1))
    except av.error.FFmpegError as err:
        raise PrepareError("corrupt_video", f"{path}: audio stream is damaged ({err})") from None
    if not chunks:
        return None
    wave = np.concatenate(chunks).astype(np.float32)
    return wave if len(wave) else None


def load_media(path: str | os.PathLike, wav: str | os.PathLike | None = None, max_side: int | None = None) -> Decoded:
    """Decode ``path``; an external ``wav`` replaces the container's audio track.

    Raises ``PrepareError("no_audio")`` when neither gives audio.
    """
    from jegal.data.audio import AudioError, load_audio

    decoded = decode_video(path, max_side=max_side, with_audio=wav is None)
    if wav is not None:
        try:
            decoded.audio = load_audio(wav)
        except AudioError as err:
            raise PrepareError("bad_audio", str(err)) from None
    if decoded.audio is None:
        raise PrepareError("no_audio", f"{path}: no audio track and no {Path(path).with_suffix('.wav').name} beside it")
    audio_s = len(decoded.audio) / SAMPLE_RATE
    if audio_s > MAX_AUDIO_EXCESS_S + (1 + (1 - TRUNCATION_FRACTION)) * decoded.duration:
        raise PrepareError("corrupt_video", f"{path}: video lasts {decoded.duration:.2f} s but its audio "
                           f"{audio_s:.2f} s; truncated video?")
    return decoded
