"""Decode a video into 25 fps RGB frames and 16 kHz mono audio with PyAV.

The frame rate is converted by FFmpeg's ``fps=25`` filter, which places frames on the
output time grid by their timestamps (frames are dropped or repeated), so variable frame
rate video (phones, screen recordings) comes out at an even 25 fps in step with its audio;
audio goes through ``AudioResampler(format="flt", layout="mono", rate=16000)``. Frame counts
come from counting decoded frames: container headers lie (variable frame rate, edited
files, truncated downloads).

Containers as people have them:

- a display rotation (the display matrix phones write, 90/180/270 degrees) is applied, so
  frames come out upright, as players show them;
- of several video streams the default one is used (never an attached cover picture); of
  several audio streams the one flagged default (else the first), and which one is said
  (:func:`load_audio_for` adds a line to ``warnings``);
- frames whose size changes mid-stream are scaled to the first frame's size;
- frames without timestamps (raw ``.h264`` elementary streams) are timed by their index at
  the stream's nominal rate.

Every failure of the decoder is a :class:`~jegal.perception.errors.CorruptVideo` (or
``NoVideo``) naming the file, never an unexpected error.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jegal.perception.errors import BadAudio, CorruptVideo, NoAudio, NoVideo
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
    except (av.error.FFmpegError, OSError, UnicodeDecodeError, ValueError) as err:
        raise CorruptVideo(f"{path}: cannot open as a video ({err})") from None


def _flag(stream, name: str) -> bool:
    try:
        return bool(int(stream.disposition) & int(getattr(type(stream.disposition), name)))
    except (AttributeError, TypeError, ValueError):
        return False


def pick_stream(streams):
    """The stream to use of several of one kind: the first flagged default that is not an
    attached picture (cover art), else the first that is not one; None if there is none."""
    usable = [st for st in streams if not _flag(st, "attached_pic")]
    return next((st for st in usable if _flag(st, "default")), usable[0] if usable else None)


def describe_stream(stream) -> str:
    """``"#2 (default, language eng, 'Commentary')"``: a stream as a user can find it again."""
    notes = ["default"] if _flag(stream, "default") else []
    lang = (stream.metadata or {}).get("language") or getattr(stream, "language", None)
    if lang and lang != "und":
        notes.append(f"language {lang}")
    title = (stream.metadata or {}).get("title") or (stream.metadata or {}).get("handler_name")
    if title:
        notes.append(repr(title))
    return f"#{stream.index}" + (f" ({', '.join(notes)})" if notes else "")


def display_rotation(frame) -> int:
    """The counter-clockwise rotation (0, 90, 180 or 270 degrees) that shows ``frame``
    upright, from its display matrix (what phones write instead of rotating the pixels)."""
    try:
        angle = float(getattr(frame, "rotation", 0) or 0)
    except (TypeError, ValueError):
        return 0
    return int(round(angle / 90)) % 4 * 90


# FFmpeg filters that turn a frame by a display rotation (counter-clockwise degrees) upright.
_ROTATE_FILTERS = {0: [], 90: [("transpose", "cclock")], 180: [("hflip", None), ("vflip", None)],
                   270: [("transpose", "clock")]}


def _build_graph(stream, first_frame, max_side: int | None, info: dict):
    """The filter graph for ``stream``: 25 fps by timestamps, downscale, upright, RGB."""
    import av

    width, height = first_frame.width, first_frame.height
    if not width or not height:
        raise ValueError(f"frame size {width}x{height}")
    rotation = display_rotation(first_frame)
    scale = 1.0
    if max_side and max(width, height) > max_side:
        scale = max_side / max(width, height)
    out_w, out_h = (width, height)
    if scale < 1:
        out_w, out_h = int(round(width * scale / 2)) * 2, int(round(height * scale / 2)) * 2
    info["scale"], info["rotation"] = scale, rotation
    graph = av.filter.Graph()
    chain = [graph.add_buffer(template=stream), graph.add("fps", f"fps={FPS}"),
             # Always to one size: a stream whose frame size changes still stacks.
             graph.add("scale", f"{out_w}:{out_h}")]
    for name, arg in _ROTATE_FILTERS[rotation]:
        chain.append(graph.add(name, arg))
    chain += [graph.add("format", "pix_fmts=rgb24"), graph.add("buffersink")]
    for a, b in zip(chain, chain[1:]):
        a.link_to(b)
    graph.configure()
    return graph


def iter_video(path: str | os.PathLike, max_side: int | None = None, chunk_frames: int = 750,
               info: dict | None = None) -> Iterator[np.ndarray]:
    """Decode ``path`` at 25 fps in chunks of at most ``chunk_frames`` frames, ``(n, H, W, 3)``
    uint8 RGB each, so memory stays bounded however long the video is.

    ``max_side`` downscales frames so that the longer side is at most that many pixels
    (detection and pose do not need full HD; the decode filter does it cheaply). Frames come
    out upright (a display rotation is applied) and the same size throughout. ``info``, if
    given, receives ``source_fps``, ``scale`` (of the stored, unrotated size), ``rotation``
    (degrees counter-clockwise applied), ``stream`` and, at the end, ``num_frames``. Each frame is
    written once into its chunk's array as it leaves the filter graph (no list of frames stacked
    into a second copy), so a chunk costs its own size and one frame more.
    Raises :class:`~jegal.perception.errors.CorruptVideo` or :class:`~jegal.perception.errors.NoVideo` on unusable input,
    possibly after some chunks were yielded (a file damaged half-way).
    """
    import av

    path = Path(path)
    info = {} if info is None else info
    container = _open(path)
    try:
        stream = pick_stream(container.streams.video)
        if stream is None:
            cover = " (only a cover picture)" if container.streams.video else ""
            raise NoVideo(f"{path}: has no video stream{cover}")
        stream.thread_type = "AUTO"
        try:
            info["source_fps"] = float(stream.average_rate or stream.guessed_rate or FPS)
        except (ZeroDivisionError, TypeError, ValueError):
            info["source_fps"] = float(FPS)
        info["stream"] = describe_stream(stream)
        info.setdefault("scale", 1.0)
        graph = None
        # Frames go straight into the chunk being filled, allocated at its first frame for the frames
        # the header declares are left (at most a chunk, and 1500 frames: a header may lie) and grown
        # by doubling when the stream holds more; full chunks wait in ``ready`` only while one filter
        # push yields more frames than a chunk holds.
        ready: list[np.ndarray] = []
        buf: list = [None, 0, 0]  # the chunk being filled, frames in it, frames in the chunks before
        total = 0
        declared = declared_seconds(stream, container)
        declared = int(declared * FPS) + 2 if declared else None

        def drain():
            while True:
                try:
                    picture = graph.pull().to_ndarray()
                except (av.error.BlockingIOError, av.error.EOFError):
                    return
                if buf[0] is None:
                    size = min(chunk_frames, 1500, 250 if declared is None else max(16, declared - buf[2]))
                    buf[0], buf[1] = np.empty((size,) + picture.shape, picture.dtype), 0
                elif buf[1] == len(buf[0]):
                    grown = np.empty((min(chunk_frames, 2 * len(buf[0])),) + buf[0].shape[1:], buf[0].dtype)
                    grown[:buf[1]] = buf[0]
                    buf[0] = grown
                buf[0][buf[1]] = picture  # a frame of another shape: ValueError, a damaged file
                buf[1] += 1
                if buf[1] == chunk_frames:
                    ready.append(buf[0])
                    buf[0], buf[1], buf[2] = None, 0, buf[2] + chunk_frames

        # Frames without a timestamp (raw .h264 / .265 elementary streams, some broken files)
        # are timed by their index at the nominal rate, so the fps filter does not drop them.
        rate = info["source_fps"] if info["source_fps"] > 0 else float(FPS)
        ticks = 1.0 / (rate * float(stream.time_base)) if stream.time_base else None
        count = 0
        try:
            for frame in container.decode(stream):
                if frame.pts is None and ticks is not None:
                    frame.pts = int(round(count * ticks))
                count += 1
                if graph is None:
                    graph = _build_graph(stream, frame, max_side, info)
                graph.push(frame)
                drain()
                while ready:
                    chunk = ready.pop(0)
                    total += len(chunk)
                    yield chunk
                    del chunk  # the consumer's only, while the next is decoded
            if graph is not None:
                graph.push(None)
                drain()
        except (av.error.FFmpegError, ValueError, RuntimeError, OverflowError, ZeroDivisionError) as err:
            # The decoder, the filter graph or a frame of another shape: a damaged file, never a bug to report.
            done = total + chunk_frames * len(ready) + buf[1]
            if not done:
                raise CorruptVideo(f"{path}: cannot decode video ({type(err).__name__}: {err})") from None
            raise CorruptVideo(f"{path}: video stream is damaged after {done} frames ({err})") from None
        if buf[1]:
            ready.append(buf[0][:buf[1]])
            buf[0] = None
        while ready:
            chunk = ready.pop(0)
            total += len(chunk)
            yield chunk
            del chunk
        if not total:
            raise CorruptVideo(f"{path}: no video frame could be decoded")
        info["num_frames"] = total
        expected = declared_seconds(stream, container)
        got = total / FPS
        if expected is not None and got < TRUNCATION_FRACTION * expected - 0.2:
            raise CorruptVideo(f"{path}: truncated: decoded {got:.2f} s of video but the file "
                               f"declares {expected:.2f} s")
    finally:
        container.close()


def decode_audio(path: str | os.PathLike, info: dict | None = None) -> np.ndarray | None:
    """The audio of a media file as 16 kHz mono float32, None if it has none.

    Of several audio streams the one flagged default is used, else the first
    (:func:`pick_stream`); ``info``, if given, receives ``audio_stream`` (which one, as
    :func:`describe_stream` writes it) and ``audio_streams`` (how many there are)."""
    path = Path(path)
    container = _open(path)
    try:
        stream = pick_stream(container.streams.audio)
        if stream is None:
            return None
        if info is not None:
            info["audio_stream"], info["audio_streams"] = describe_stream(stream), len(container.streams.audio)
        return _decode_audio_stream(path, container, stream)
    finally:
        container.close()


def decode_video(path: str | os.PathLike, max_side: int | None = None, with_audio: bool = True) -> Decoded:
    """Every frame of ``path`` at 25 fps in memory (and its audio at 16 kHz mono); for short
    videos. Long ones go through :func:`iter_video`."""
    info: dict = {}
    frames = np.concatenate(list(iter_video(path, max_side, chunk_frames=1 << 30, info=info)))
    audio = decode_audio(path) if with_audio else None
    return Decoded(frames, audio, info["source_fps"], info["scale"])


def declared_seconds(stream, container) -> float | None:
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


def _decode_audio_stream(path: Path, container, stream) -> np.ndarray | None:
    import av

    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    chunks = []
    try:
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1))
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1))
    except (av.error.FFmpegError, ValueError, RuntimeError) as err:
        raise CorruptVideo(f"{path}: audio stream is damaged ({type(err).__name__}: {err})") from None
    if not chunks:
        return None
    wave = np.concatenate(chunks).astype(np.float32)
    return wave if len(wave) else None


def load_audio_for(path: str | os.PathLike | None, wav: str | os.PathLike | None = None,
                   warnings: list[str] | None = None) -> np.ndarray:
    """The audio of a video: ``wav`` when given (it wins), else the container's track (the
    default one of several; which one is then appended to ``warnings``).
    Raises :class:`~jegal.perception.errors.NoAudio` / :class:`~jegal.perception.errors.BadAudio`."""
    from jegal.data.audio import AudioError, load_audio

    if wav is not None:
        try:
            audio = load_audio(wav)
        except AudioError as err:
            raise BadAudio(str(err)) from None
        except (OSError, ValueError, RuntimeError, EOFError) as err:  # the reader's own failures on a damaged file
            raise BadAudio(f"{wav}: cannot read audio ({type(err).__name__}: {err})") from None
        if not len(audio):
            raise BadAudio(f"{wav}: holds no audio samples")
        return audio
    info: dict = {}
    audio = decode_audio(path, info) if path is not None else None
    if audio is None:
        raise NoAudio(f"{path}: no audio track and no {Path(path).with_suffix('.wav').name} beside it")
    if info.get("audio_streams", 1) > 1 and warnings is not None:
        warnings.append(f"{path}: {info['audio_streams']} audio streams; used {info['audio_stream']}")
    return audio


def check_audio_fits(path, num_frames: int, audio: np.ndarray) -> None:
    """Audio far longer than the decoded video means video was lost (a truncated file)."""
    audio_s, video_s = len(audio) / SAMPLE_RATE, num_frames / FPS
    if audio_s > MAX_AUDIO_EXCESS_S + (1 + (1 - TRUNCATION_FRACTION)) * video_s:
        raise CorruptVideo(f"{path}: video lasts {video_s:.2f} s but its audio "
                           f"{audio_s:.2f} s; truncated video?")


def load_media(path: str | os.PathLike, wav: str | os.PathLike | None = None, max_side: int | None = None) -> Decoded:
    """Decode ``path`` whole; an external ``wav`` replaces the container's audio track.

    Raises :class:`~jegal.perception.errors.NoAudio` when neither gives audio, ``CorruptVideo`` when the
    audio runs far past the video (lost video)."""
    audio = load_audio_for(path, wav)
    decoded = decode_video(path, max_side=max_side, with_audio=False)
    decoded.audio = audio
    check_audio_fits(path, decoded.num_frames, audio)
    return decoded
