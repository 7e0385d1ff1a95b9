"""The one writer of videos for people to watch: H.264 + AAC mp4, one picture per 25 fps frame the model saw.

:func:`write_videos` decodes a video's pictures once (:func:`jegal.perception.decode.iter_video`, the
decoder the people stage uses, so picture t is the model's frame t), scaled to at most
``max_side`` pixels, and encodes them into every :class:`VideoTarget` at once: each target may draw
on its copy of the picture (an :data:`~jegal.use.annotate.Overlay`), add a caption band below it
(:class:`~jegal.use.annotate.Caption`), and put the moov atom first (``faststart``, for browsers
that play while downloading). Every file has exactly ``video.num_frames`` pictures at 25 fps
(H.264, yuv420p, sides rounded up to even; the last picture repeated if the decoder gives fewer)
and the audio of ``video.audio`` (16 kHz mono AAC, cut or padded to the video's duration); each is
written atomically (:mod:`jegal.atomic`). A ``.kps.npz`` input has no pictures: each person's
skeleton is drawn on a blank canvas of the keypoints' size instead.

``jegal spot`` and ``jegal asd`` write their ``annotated.mp4`` with it, and the page writes its plain
video in the same pass as ``annotated.mp4`` (one decode for both).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jegal.timebase import FPS, SAMPLE_RATE, SAMPLES_PER_FRAME

MAX_SIDE = 640  # the decode size of jegal prepare (PrepareOptions.max_side): boxes scale the same way


@dataclass
class VideoTarget:
    """One video file :func:`write_videos` writes: ``path`` (``.mp4``); ``overlay(img, t, scale)``
    draws on frame t's picture (RGB, ``scale`` x the source's pixels) or None; ``caption(t)`` the
    :class:`~jegal.use.annotate.Caption` of the band below it, or None (no band); ``faststart``:
    the moov atom first; ``with_audio``: mux ``video.audio``; ``crf``: x264 quality."""

    path: Path
    overlay: object = None
    caption: object = None
    faststart: bool = False
    with_audio: bool = True
    crf: int = 23


def _even(n: int) -> int:
    return n + (n % 2)


def pictures(video, source: str | os.PathLike | None = None, max_side: int = MAX_SIDE) -> Iterator[tuple[np.ndarray, float]]:
    """``(RGB picture, scale to the source's pixels)`` for each of ``video.num_frames`` frames: of
    ``source`` (default the video itself), decoded at 25 fps; a ``.kps.npz`` video without
    ``source`` gives its skeletons on a blank canvas. The last picture is repeated when the
    decoder gives fewer. Raises :class:`~jegal.perception.errors.CorruptVideo` when no picture decodes."""
    if source is None and not video.is_video:
        from jegal.use.annotate import draw_skeleton, person_colour

        w, h = video.size
        scale = min(1.0, max_side / max(w, h))
        blank = np.full((int(round(h * scale)), int(round(w * scale)), 3), 40, np.uint8)
        for t in range(video.num_frames):
            img = blank.copy()
            for p in video.people:
                draw_skeleton(img, p.pixels[t], person_colour(p.person), scale)
            yield img, scale
        return
    from jegal.perception.decode import iter_video
    from jegal.perception.errors import CorruptVideo

    path = video.path if source is None else source
    info: dict = {}
    last, count = None, 0
    for chunk in iter_video(path, max_side=max_side, chunk_frames=50, info=info):
        for frame in chunk:
            if count == video.num_frames:
                return
            last, count = frame, count + 1
            yield frame, float(info.get("scale", 1.0))
    if last is None:
        raise CorruptVideo(f"{path}: no picture could be decoded")
    while count < video.num_frames:
        count += 1
        yield last, float(info.get("scale", 1.0))


class _Encoder:
    """One open target: its container, video and audio streams, and its caption band."""

    def __init__(self, tmp: Path, target: VideoTarget, video, shape: tuple[int, int]):
        import av

        from jegal.use.annotate import CaptionBand

        self.target, self.video = target, video
        h, w = shape
        self.band = CaptionBand(_even(w), _even(max(44, h // 5))) if target.caption is not None else None
        self.out = av.open(str(tmp), "w", options={"movflags": "+faststart"} if target.faststart else {})
        # every stream is added before the first packet is muxed (the header is written then)
        self.stream = self.out.add_stream("libx264", rate=FPS)
        self.stream.width = _even(w)
        self.stream.height = _even(h) + (self.band.height if self.band is not None else 0)
        self.stream.pix_fmt, self.stream.options = "yuv420p", {"preset": "veryfast", "crf": str(target.crf)}
        self.audio = (self.out.add_stream("aac", rate=SAMPLE_RATE, layout="mono")
                      if target.with_audio and video.audio is not None else None)
        self.canvas = np.zeros((self.stream.height, self.stream.width, 3), np.uint8)

    def add(self, picture: np.ndarray, t: int, scale: float) -> None:
        import av

        if self.target.overlay is not None:
            picture = np.ascontiguousarray(picture).copy()
            self.target.overlay(picture, t, scale)
        self.canvas[:picture.shape[0], :picture.shape[1]] = picture
        if self.band is not None:
            self.canvas[self.stream.height - self.band.height:] = self.band.render(self.target.caption(t))
        frame = av.VideoFrame.from_ndarray(self.canvas, format="rgb24")
        frame.pts = t
        self.out.mux(self.stream.encode(frame))

    def finish(self) -> None:
        import av

        self.out.mux(self.stream.encode())
        if self.audio is not None:
            n = self.video.num_frames * SAMPLES_PER_FRAME
            wave = np.zeros(n, np.float32)
            piece = np.asarray(self.video.audio[:n], np.float32)
            wave[:len(piece)] = np.clip(piece, -1, 1)
            for k in range(0, n, SAMPLE_RATE):
                af = av.AudioFrame.from_ndarray(wave[None, k:k + SAMPLE_RATE], format="flt", layout="mono")
                af.sample_rate, af.pts = SAMPLE_RATE, k
                self.out.mux(self.audio.encode(af))
            self.out.mux(self.audio.encode())
        self.close()

    def close(self) -> None:
        if self.out is not None:
            self.out.close()
            self.out = None


def write_videos(video, targets: list[VideoTarget], *, source: str | os.PathLike | None = None,
                 max_side: int = MAX_SIDE, progress=None) -> list[Path]:
    """Write every target (module docstring) from one decode of ``video``'s pictures (a
    :class:`jegal.use.video.VideoInput`; ``source``: another file's pictures, e.g. the rendered
    drawing of a SynthGest ``.kps.npz``). ``progress(stage, fraction)`` is told as frames go by.
    Returns the targets' paths. Raises :class:`~jegal.perception.errors.CorruptVideo` when the
    pictures cannot be decoded (again)."""
    from jegal.atomic import atomic_path

    if not targets:
        return []
    names = " and ".join(Path(t.path).name for t in targets)
    with contextlib.ExitStack() as stack:
        tmps = [stack.enter_context(atomic_path(Path(t.path))) for t in targets]
        encoders: list[_Encoder] = []
        for t, (picture, scale) in enumerate(pictures(video, source, max_side)):
            if not encoders:
                encoders = [_Encoder(tmp, target, video, picture.shape[:2]) for tmp, target in zip(tmps, targets)]
                for enc in encoders:  # closed on an error too, before the temporary files are removed
                    stack.callback(enc.close)
            for enc in encoders:
                enc.add(picture, t, scale)
            if progress is not None and (t % 25 == 24 or t + 1 == video.num_frames):
                progress(f"writing {names}: {(t + 1) / FPS:.0f} s of {video.num_frames / FPS:.0f} s",
                         (t + 1) / max(1, video.num_frames))
        for enc in encoders:
            enc.finish()
    return [Path(t.path) for t in targets]


__all__ = ["MAX_SIDE", "VideoTarget", "pictures", "write_videos"]
