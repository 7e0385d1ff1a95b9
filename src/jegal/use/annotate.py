"""The annotated video of ``jegal spot`` and ``jegal asd``: the source frames with boxes, and a
caption band below them with the transcript running.

:func:`write_annotated_video` lets the command draw on each frame (:class:`Overlay`) and adds
the caption band (:class:`Caption`: a line of words centred on the word being spoken, each word
styled by the command, and a status line); the pictures are decoded and the file encoded by the
one video writer, :func:`jegal.use.media.write_videos` (H.264 + AAC, exactly one picture per
25 fps frame, atomically; a ``.kps.npz`` input's skeletons on a blank canvas).

Boxes are drawn with OpenCV; the caption text with Pillow and the DejaVu Sans font that
matplotlib ships (any Unicode word shows), rendered once per caption state and reused.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from jegal.use.media import MAX_SIDE

# One colour per person (RGB), repeated after eight people.
PALETTE = [(230, 159, 0), (86, 180, 233), (0, 158, 115), (240, 228, 66), (0, 114, 178), (213, 94, 0),
           (204, 121, 167), (160, 160, 160)]
HIGHLIGHT = (255, 214, 0)  # background of the word being spoken
TEXT = (235, 235, 235)
DIM = (150, 150, 150)
BAND = (24, 24, 24)


def person_colour(person: int) -> tuple[int, int, int]:
    return PALETTE[person % len(PALETTE)]


@dataclass(frozen=True)
class Token:
    """One word of the caption line: its text, colour, optional background and underline colours."""

    text: str
    colour: tuple[int, int, int] = TEXT
    background: tuple[int, int, int] | None = None
    underline: tuple[int, int, int] | None = None
    bold: bool = False


@dataclass(frozen=True)
class Caption:
    """The caption band at one frame: ``tokens`` (a line of words), ``centre`` (index of the
    token to centre, usually the word being spoken; None: start at the left) and ``status``
    (a second, smaller line). Equal captions are rendered once."""

    tokens: tuple[Token, ...] = ()
    centre: int | None = None
    status: str = ""


# What a command draws on frame t (an RGB image it may change in place, at ``scale`` x the source's
# pixels) and the caption it wants below it.
Overlay = Callable[[np.ndarray, int, float], None]
CaptionAt = Callable[[int], Caption]


def _fonts(size: int):
    import matplotlib
    from PIL import ImageFont

    ttf = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    try:
        return (ImageFont.truetype(str(ttf / "DejaVuSans.ttf"), size),
                ImageFont.truetype(str(ttf / "DejaVuSans-Bold.ttf"), size),
                ImageFont.truetype(str(ttf / "DejaVuSans.ttf"), max(8, int(size * 0.7))))
    except OSError:  # a matplotlib without its fonts: Pillow's own
        return ImageFont.load_default(size), ImageFont.load_default(size), ImageFont.load_default(int(size * 0.7))


@dataclass
class CaptionBand:
    """Renders :class:`Caption` s into (height, width, 3) uint8 RGB images. The line of words is
    rendered once per (tokens, centre) and cached; the status line (which usually changes every
    frame, e.g. a clock) is drawn on a copy of it."""

    width: int
    height: int
    _cache: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.size = max(10, int(min(self.height * 0.36, self.width / 16)))
        self.font, self.bold, self.small = _fonts(self.size)

    def render(self, caption: Caption) -> np.ndarray:
        from PIL import Image, ImageDraw

        line = self._line(caption.tokens, caption.centre)
        if not caption.status:
            return line
        img = Image.fromarray(line)
        ImageDraw.Draw(img).text((self.size // 2, int(self.height * 0.62)), caption.status, fill=DIM, font=self.small)
        return np.asarray(img, dtype=np.uint8)

    def _line(self, tokens: tuple[Token, ...], centre: int | None) -> np.ndarray:
        """The band with the line of words ``tokens``, token ``centre`` in the middle (cached)."""
        hit = self._cache.get((tokens, centre))
        if hit is not None:
            return hit
        from PIL import Image, ImageDraw

        img = Image.new("RGB", (self.width, self.height), BAND)
        draw = ImageDraw.Draw(img)
        gap = self.size // 2
        widths = [draw.textlength(t.text, font=self.bold if t.bold else self.font) for t in tokens]
        lefts = np.concatenate([[0.0], np.cumsum(np.asarray(widths) + gap)])[:-1] if widths else np.zeros(0)
        shift = gap
        if centre is not None and widths:
            shift = self.width / 2 - (lefts[centre] + widths[centre] / 2)
        y = int(self.height * 0.08)
        for tok, left, w in zip(tokens, lefts, widths):
            x = left + shift
            if x + w < 0 or x > self.width:
                continue
            if tok.background is not None:
                draw.rectangle([x - 3, y - 1, x + w + 3, y + self.size + 3], fill=tok.background)
            draw.text((x, y), tok.text, fill=tok.colour, font=self.bold if tok.bold else self.font)
            if tok.underline is not None:
                uy = y + self.size + 5
                draw.rectangle([x, uy, x + w, uy + max(2, self.size // 8)], fill=tok.underline)
        out = np.asarray(img, dtype=np.uint8)
        if len(self._cache) > 512:
            self._cache.clear()
        self._cache[(tokens, centre)] = out
        return out


def draw_box(img: np.ndarray, box, colour, label: str = "", thickness: int = 2) -> None:
    """A rectangle (x0, y0, x1, y1 pixels of ``img``) with ``label`` on a filled tab above it;
    nothing for a box with NaN."""
    import cv2

    if box is None or not np.all(np.isfinite(box)):
        return
    h, w = img.shape[:2]
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    x0, x1 = max(0, min(w - 1, x0)), max(0, min(w - 1, x1))
    y0, y1 = max(0, min(h - 1, y0)), max(0, min(h - 1, y1))
    cv2.rectangle(img, (x0, y0), (x1, y1), colour, thickness, cv2.LINE_AA)
    if label:
        scale = max(0.4, min(h, w) / 900)
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        ty = y0 if y0 - th - base - 4 < 0 else y0 - th - base - 4
        cv2.rectangle(img, (x0, ty), (min(w - 1, x0 + tw + 6), ty + th + base + 4), colour, -1)
        cv2.putText(img, label, (x0 + 3, ty + th + 2), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA)


def draw_skeleton(img: np.ndarray, pixels: np.ndarray, colour, scale: float = 1.0) -> None:
    """The bones of one frame's keypoints ``(56, 3)`` (x, y in source pixels, confidence) on ``img``."""
    import cv2

    from jegal.data.keypoints import BONES

    pts = pixels[:, :2] * scale
    ok = pixels[:, 2] > 0
    for a, b in BONES:
        if ok[a] and ok[b]:
            cv2.line(img, tuple(int(v) for v in pts[a]), tuple(int(v) for v in pts[b]), colour, 2, cv2.LINE_AA)


def write_annotated_video(path: str | os.PathLike, video, overlay: Overlay, caption: CaptionAt, *,
                          max_side: int = MAX_SIDE, with_audio: bool = True, progress=None, crf: int = 23) -> Path:
    """Write ``path`` (``.mp4``): every frame of ``video`` (a :class:`jegal.use.video.VideoInput`)
    with ``overlay(img, t, scale)`` drawn on it and the band of ``caption(t)`` below it, through
    the one video writer (:func:`jegal.use.media.write_videos`: exactly ``video.num_frames``
    frames at 25 fps, H.264 + the audio as AAC, atomically). ``progress(stage, fraction)``: as
    frames go by. Raises :class:`jegal.perception.errors.CorruptVideo` when the source cannot be
    decoded again."""
    from jegal.use.media import VideoTarget, write_videos

    target = VideoTarget(Path(path), overlay, caption, with_audio=with_audio, crf=crf)
    return write_videos(video, [target], max_side=max_side, progress=progress)[0]


__all__ = ["Caption", "CaptionBand", "MAX_SIDE", "Overlay", "PALETTE", "Token", "draw_box", "draw_skeleton",
           "person_colour", "write_annotated_video", "add_annotated_video"]


SYNTHETIC_NOTE = "model: synthetic speakers only"  # on every frame's status line (what the model knows)


def add_annotated_video(out: Path, video, overlay: Overlay, caption: CaptionAt, outputs: dict, timings: dict,
                        progress=None, also: list | None = None, source=None, model: dict | None = None) -> None:
    """``out/annotated.mp4`` by :func:`jegal.use.media.write_videos`, recorded the way every
    command's document lists its files: ``outputs["video"]`` and ``timings["annotated_video"]``
    (seconds). ``also``: more :class:`jegal.use.media.VideoTarget` s written in the same decode
    (the page's plain video), from ``source`` when given (another file's pictures). ``model``:
    the document's model section (:func:`jegal.model.card.model_record`); a model trained on
    synthetic data alone says so on every frame's status line (:data:`SYNTHETIC_NOTE`)."""
    import dataclasses
    import time

    from jegal.use.media import VideoTarget, write_videos

    if model and model.get("synthetic"):
        inner = caption

        def caption(t):  # noqa: F811 - the same caption with the model's caveat
            c = inner(t)
            return dataclasses.replace(c, status=f"{c.status}   {SYNTHETIC_NOTE}")

    t = time.perf_counter()
    targets = [VideoTarget(out / "annotated.mp4", overlay, caption)] + list(also or [])
    if source is None:
        write_videos(video, targets, progress=progress)
    else:  # the page's pictures come from another file (a SynthGest drawing): two decodes
        write_videos(video, targets[:1], progress=progress)
        write_videos(video, targets[1:], source=source)
    outputs["video"] = "annotated.mp4"
    timings["annotated_video"] = time.perf_counter() - t
