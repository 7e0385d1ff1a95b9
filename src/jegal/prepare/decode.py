"""Step 1: decode a video into 25 fps RGB frames and 16 kHz mono audio with PyAV.

The frame rate is converted by FFmpeg's ``fps=25`` filter (frames are dropped or repeated
on the output time grid) and audio by ``AudioResampler(format="flt", layout="mono",
rate=16000)``. Frame counts come from counting decoded frames: container headers lie
(variable frame rate, edited files, truncated downloads).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jegal.prepare.errors import BadAudio, CorruptVideo, NoAudio, NoVideo
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
        raise CorruptVideo(f"{path}: cannot open as a video ({err})") from None


def iter_video(path: str | os.PathLike, max_side: int | None = None, chunk_frames: int = 750,
               info: dict | None = None) -> Iterator[np.ndarray]:
    """Decode ``path`` at 25 fps in chunks of at most ``chunk_frames`` frames, ``(n, H, W, 3)``
    uint8 RGB each, so memory stays bounded however long the video is.

    ``max_side`` downscales frames so that the longer side is at most that many pixels
    (detection and pose do not need full HD; the decode filter does it cheaply). ``info``,
    if given, receives ``source_fps``, ``scale`` and, at the end, ``num_frames``.
    Raises :class:`~jegal.prepare.errors.CorruptVideo` or :class:`~jegal.prepare.errors.NoVideo` on unusable input,
    possibly after some chunks were yielded (a file damaged half-way).
    """
    import av

    path = Path(path)
    info = {} if info is None else info
    container = _open(path)
    try:
        if not container.streams.video:
            raise NoVideo(f"{path}: has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        info["source_fps"] = float(stream.average_rate or stream.guessed_rate or FPS)
        width, height = stream.codec_context.width, stream.codec_context.height
        scale = 1.0
        if max_side and max(width, height) > max_side:
            scale = max_side / max(width, height)
        info["scale"] = scale
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
        pending: list[np.ndarray] = []
        total = 0

        def drain():
            while True:
                try:
                    pending.append(graph.pull().to_ndarray())
                except (av.error.BlockingIOError, av.error.EOFError):
                    return

        try:
            for frame in container.decode(stream):
                graph.push(frame)
                drain()
                if len(pending) >= chunk_frames:
                    chunk, pending[:] = np.stack(pending[:chunk_frames]), pending[chunk_frames:]
                    total += len(chunk)
                    yield chunk
            graph.push(None)
            drain()
        except av.error.FFmpegError as err:
            done = total + len(pending)
            if not done:
                raise CorruptVideo(f"{path}: cannot decode video ({err})") from None
            raise CorruptVideo(f"{path}: video stream is damaged after {done} frames ({err})") from None
        while pending:
            chunk, pending[:] = np.stack(pending[:chunk_frames]), pending[chunk_frames:]
            total += len(chunk)
            yield chunk
        if not total:
            raise CorruptVideo(f"{path}: no video frame could be decoded")
        info["num_frames"] = total
        expected = _declared_seconds(stream, container)
        got = total / FPS
        if expected is not None and got < TRUNCATION_FRACTION * expected - 0.2:
            raise CorruptVideo(f"{path}: truncated: decoded {got:.2f} s of video but the file "
                               f"declares {expected:.2f} s")
    finally:
        container.close()


def decode_audio(path: str | os.PathLike) -> np.ndarray | None:
    """The first audio track of a media file as 16 kHz mono float32, None if it has none."""
    path = Path(path)
    container = _open(path)
    try:
        if not container.streams.audio:
            return None
        return _decode_audio_stream(path, container)
    finally:
        container.close()


def decode_video(path: str | os.PathLike, max_side: int | None = None, with_audio: bool = True) -> Decoded:
    """Every frame of ``path`` at 25 fps in memory (and its audio at 16 kHz mono); for short
    videos. Long ones go through :func:`iter_video`."""
    info: dict = {}
    frames = np.concatenate(list(iter_video(path, max_side, chunk_frames=1 << 30, info=info)))
    audio = decode_audio(path) if with_audio else None
    return Decoded(frames, audio, info["source_fps"], info["scale"])


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
        raise CorruptVideo(f"{path}: audio stream is damaged ({err})") from None
    if not chunks:
        return None
    wave = np.concatenate(chunks).astype(np.float32)
    return wave if len(wave) else None


def load_audio_for(path: str | os.PathLike | None, wav: str | os.PathLike | None = None) -> np.ndarray:
    """The audio of a video: ``wav`` when given (it wins), else the container's track.
    Raises :class:`~jegal.prepare.errors.NoAudio` / :class:`~jegal.prepare.errors.BadAudio`."""
    from jegal.data.audio import AudioError, load_audio

    if wav is not None:
        try:
            return load_audio(wav)
        except AudioError as err:
            raise BadAudio(str(err)) from None
    audio = decode_audio(path) if path is not None else None
    if audio is None:
        raise NoAudio(f"{path}: no audio track and no {Path(path).with_suffix('.wav').name} beside it")
    return audio


def check_audio_fits(path, num_frames: int, audio: np.ndarray) -> None:
    """Audio far longer than the decoded video means video was lost (a truncated file)."""
    audio_s, video_s = len(audio) / SAMPLE_RATE, num_frames / FPS
    if audio_s > MAX_AUDIO_EXCESS_S + (1 + (1 - TRUNCATION_FRACTION)) * video_s:
        raise CorruptVideo(f"{path}: video lasts {video_s:.2f} s but its audio "
                           f"{audio_s:.2f} s; truncated video?")


def load_media(path: str | os.PathLike, wav: str | os.PathLike | None = None, max_side: int | None = None) -> Decoded:
    """Decode ``path`` whole; an external ``wav`` replaces the container's audio track.

    Raises :class:`~jegal.prepare.errors.NoAudio` when neither gives audio, ``CorruptVideo`` when the
    audio runs far past the video (lost video)."""
    audio = load_audio_for(path, wav)
    decoded = decode_video(path, max_side=max_side, with_audio=False)
    decoded.audio = audio
    check_audio_fits(path, decoded.num_frames, audio)
    return decoded
