"""A user's video as model inputs: people, their keypoints (or rgb crops, or GestSync features), words, windows.

:func:`read_video` is the one entry point every command that applies a model to a video calls
(``jegal spot``, ``jegal asd``, ``jegal embed``, ``jegal search``). It runs the perception
stages a model needs through :meth:`jegal.perception.reader.VideoReader.read` (the reader
``jegal prepare`` cuts its clips from: its people tracker, its transcriber, its per-frame feature
step), and has no detection, tracking, transcript or feature code of its own:

1. the input is found as ``jegal prepare`` finds it (:func:`jegal.perception.discover.discover`):
   a video, or precomputed keypoints ``<name>.kps.npz``; a ``<name>.wav`` beside it is the
   audio, a ``<name>.txt/.json/.TextGrid`` beside it the transcript, unless ``transcript`` is given;
2. audio decoded to 16 kHz mono; words read from the transcript (force-aligned when it is plain
   text) or, without one, recognised offline (``asr``, :mod:`jegal.perception.asr`);
3. every person followed through the video (face tracks, body boxes, keypoints; rgb crops with
   ``rgb_size``), in order of first appearance; for a ``features`` model (the imported released
   model, docs/released.md) each person's 1024-d GestSync features per frame, computed over the
   whole track by :mod:`jegal.perception.features` (``gestsync_weights``), and the released speech
   CNN's log-mel (``mel="reference"``); :func:`model_inputs` says what a model needs;
4. each person's track cut into overlapping windows the model can take
   (:func:`jegal.inference.windows.cut_windows`; results are merged back by
   :func:`jegal.inference.windows.merge_frames`). Each window is a :class:`~jegal.data.clip.Clip`
   (keypoints, log-mel, the words lying wholly inside it, rgb crops or features when asked).

Frames are 25 fps from the start of the video, boxes are pixels of the source video as players
show it (upright, full resolution). Errors are those of ``jegal prepare``
(:mod:`jegal.perception.errors`), each naming the file: :class:`~jegal.perception.errors.CorruptVideo`,
:class:`~jegal.perception.errors.NoPerson`, :class:`~jegal.perception.errors.NoTranscript` (no
transcript and no word recognised), :class:`~jegal.perception.errors.NoAudio`, ... plus
:class:`FrontEndMismatch` (a model whose gesture front end this input cannot feed) and
:class:`NoWordsOnPeople` (words exist, but none is spoken while a person is in view).
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from jegal.data.clip import Clip
from jegal.data.keypoints import LEFT_SHOULDER, RIGHT_SHOULDER
from jegal.data.words import Word
from jegal.perception.coverage import PersonCoverage
from jegal.perception.discover import KPS_SUFFIX
from jegal.perception.errors import BadInput, NoTranscript, PrepareError
from jegal.inference.windows import OVERLAP_FRAMES, WINDOW_FRAMES, cut_windows
from jegal.timebase import FPS, MEL_PER_FRAME

DEFAULT_RGB_SIZE = 112  # crops for an rgb model when the caller names no size (jegal prepare's documented size)
NO_TRANSCRIPT = "none"  # VideoInput.transcript_source when there are no words (require_words=False)
# seconds the people stage takes per 25 fps frame on the 2-core machine (4.6 s for 126 frames, docs/use.md
# "Speed"): progress is estimated with it between the stage's own reports; never a limit
PEOPLE_SECONDS_PER_FRAME = 0.04


class FrontEndMismatch(PrepareError):
    """The model's gesture front end needs an input this video cannot give (e.g. precomputed
    features, or rgb crops from a keypoint file)."""

    reason = "frontend_mismatch"


class NoWordsOnPeople(NoTranscript):
    """Words were found, but none lies inside the track of any person (nobody in view while speaking)."""

    reason = "no_words_on_people"


# -- the inputs -----------------------------------------------------------------------------------
@dataclass
class PersonInput:
    """One person of a video and the model inputs of their track.

    ``clips[k]`` is window k (frames ``start_frame[k] .. start_frame[k] + clips[k].num_frames -
    1`` of the video); its words lie wholly inside it, frames relative to the window (a window
    without words has ``words == []``: good for gesture embeddings, not for content). Arrays over
    the whole video: ``boxes`` (num_frames, 4) the person's upper-body box x0, y0, x1, y1 in
    source pixels, NaN where the person is not seen; ``faces`` (num_frames, 4) likewise the face
    box; ``keypoints`` (num_frames, 56, 3) normalised keypoints (zero where not seen);
    ``pixels`` (num_frames, 56, 3) the keypoints in source pixels (x, y, confidence; confidence
    0 where not seen), for drawing. ``rgb``: face-masked crops (last - first + 1, S, S, 3) uint8
    over the track, or None; ``features``: per-frame features (last - first + 1, F) float32 over the
    track (a ``features`` model's, :mod:`jegal.perception.features`), or None."""

    person: int  # 0-based, order of first appearance
    clips: list[Clip]
    start_frame: list[int]  # per clip, its first frame in the video (25 fps)
    boxes: np.ndarray  # (num_frames, 4)
    faces: np.ndarray | None = None  # (num_frames, 4)
    keypoints: np.ndarray | None = None  # (num_frames, 56, 3) normalised
    pixels: np.ndarray | None = None  # (num_frames, 56, 3) source pixels
    rgb: np.ndarray | None = None  # (last - first + 1, S, S, 3)
    features: np.ndarray | None = None  # (last - first + 1, F)
    first_frame: int = 0  # the track: frames first..last (inclusive) of the video
    last_frame: int = 0
    coverage: PersonCoverage | None = None  # frames in view and with keypoints (None: from ``visible``)

    @property
    def windows(self) -> list[tuple[int, int]]:
        """Inclusive (first, last) frames of each clip in the video."""
        return [(s, s + c.num_frames - 1) for s, c in zip(self.start_frame, self.clips)]

    @property
    def visible(self) -> np.ndarray:
        """(num_frames,) bool: frames where the person is seen."""
        return ~np.isnan(self.boxes[:, 0])

    def track_coverage(self) -> PersonCoverage:
        """The person's :class:`~jegal.perception.coverage.PersonCoverage`: as the people stage gave it,
        or (a person made without it) their frames with a box and with both shoulders found."""
        if self.coverage is not None:
            return self.coverage
        from jegal.perception.coverage import SHOULDERS_SEEN

        track = slice(self.first_frame, self.last_frame + 1)
        kp = self.pixels if self.pixels is not None else self.keypoints
        shoulders = 0 if kp is None else int((kp[track][:, [LEFT_SHOULDER, RIGHT_SHOULDER], 2].min(1)
                                              >= SHOULDERS_SEEN).sum())
        return PersonCoverage(self.person, self.first_frame, self.last_frame, int(self.visible[track].sum()),
                              shoulders)

    def gesture_clip(self, start: int, end: int, clip_id: str | None = None) -> Clip | None:
        """The person's gesture over frames ``start..end`` of the video, cut to their track
        (so it may be shorter), as a clip without words; None when the track does not reach
        into that span. The clip's ``extra["start_frame"]`` says where it begins."""
        s, e = max(start, self.first_frame), min(end, self.last_frame)
        if e < s or self.keypoints is None:
            return None
        T = e - s + 1
        track = slice(s - self.first_frame, e - self.first_frame + 1)
        return Clip(clip_id or f"person{self.person}@{s}", self.keypoints[s:e + 1],
                    np.zeros((MEL_PER_FRAME * T, 80), np.float32), [], speaker_id=f"person{self.person}",
                    rgb=None if self.rgb is None else self.rgb[track],
                    features=None if self.features is None else self.features[track],
                    extra={"person": self.person, "start_frame": s})


@dataclass
class VideoInput:
    """A video read for a model (:func:`read_video`).

    ``words``: the whole video's words, frames at 25 fps from the video start (``display``
    keeps the transcript's spelling). ``mel`` (4 * num_frames, 80) the log-mel of the audio,
    ``audio`` (N,) float32 16 kHz mono. ``size`` is (width, height) of the source as shown."""

    path: Path
    num_frames: int
    fps: float
    size: tuple[int, int]  # source width, height
    words: list[Word]
    transcript_source: str  # "given" | "asr:<engine>" | "none"
    people: list[PersonInput]
    name: str = ""  # the input's name (file name without suffix): clip ids start with it
    mel: np.ndarray | None = None  # (4 * num_frames, 80)
    audio: np.ndarray | None = None  # (N,) 16 kHz
    transcript_path: Path | None = None  # the file the words were read from or written to
    is_video: bool = True  # False: precomputed keypoints (no frames to show)
    window_frames: int = WINDOW_FRAMES  # the windows the people's clips were cut into (frames at 25 fps)
    overlap_frames: int = OVERLAP_FRAMES
    warnings: list[str] = field(default_factory=list)
    timings: dict = field(default_factory=dict)  # seconds per stage

    @property
    def duration(self) -> float:
        """Seconds."""
        return self.num_frames / self.fps

    def coverage(self) -> dict:
        """What the people stage covered (:func:`jegal.perception.coverage.coverage_record`): per person
        the frames in view and with keypoints, and the words spoken while nobody is tracked (not scored)."""
        from jegal.perception.coverage import coverage_record

        return coverage_record([p.track_coverage() for p in self.people], self.words, self.num_frames)

    def content_clip(self, start: int, end: int, words: list[Word] | None = None, clip_id: str | None = None) -> Clip:
        """The speech of frames ``start..end`` (clipped to the video) as a clip: its log-mel and
        ``words`` (default: the video's words lying wholly inside), re-indexed from ``start``;
        keypoints are zero (a content clip's gesture is not used)."""
        s, e = max(0, start), min(self.num_frames - 1, end)
        if e < s:
            raise ValueError(f"{self.path}: empty span {start}..{end} of {self.num_frames} frames")
        if words is None:
            words = [w for w in self.words if w.start >= s and w.end <= e]
        T = e - s + 1
        return Clip(clip_id or f"{self.name}@{s}", np.zeros((T, 56, 3), np.float32),
                    self.mel[MEL_PER_FRAME * s:MEL_PER_FRAME * (e + 1)], [w.shifted(s) for w in words],
                    source=str(self.path), extra={"start_frame": s})


def input_spec(model_or_config, model_dir: str | os.PathLike | None = None):
    """What ``model_or_config`` reads (:class:`jegal.model.spec.InputSpec`): a model's own
    ``input_spec`` (its feature weights from ``model_dir`` when given, else from the folder it was
    loaded from); for a bare config, the spec of that model saved in ``model_dir``."""
    from jegal.model.spec import InputSpec

    if model_dir is None and hasattr(model_or_config, "input_spec"):
        return model_or_config.input_spec
    return InputSpec.from_config(getattr(model_or_config, "config", model_or_config), model_dir)


def gesture_input(model_or_config, video: str | os.PathLike | None = None, rgb_size: int | None = None,
                  model_dir: str | os.PathLike | None = None) -> int | None:
    """The rgb crop size :func:`read_video` must produce for this model (None: no crops).

    ``model_or_config``: a :class:`jegal.model.JEGAL` or its config; what it reads is its
    :func:`input_spec`. A keypoints model needs nothing more; an rgb model gets ``rgb_size``
    (default: the model's own, ``gesture.rgb_size``, the size it was trained on); a ``features``
    model needs no crops but its per-frame GestSync features, whose weights
    :func:`gestsync_weights` finds. Raises :class:`FrontEndMismatch` for a ``features`` model
    without GestSync weights (or that reads features of another width than GestSync's 1024), and
    for an rgb or features model on a ``.kps.npz`` input (keypoints carry no pixels)."""
    spec = input_spec(model_or_config, model_dir)
    frontend = spec.gesture
    where = f"{video}: " if video is not None else ""
    if frontend == "keypoints":
        return None
    pixels = {"rgb": "face-masked person crops", "features": "per-frame GestSync features of the frames"}[frontend]
    if video is not None and str(video).endswith(KPS_SUFFIX):
        raise FrontEndMismatch(f"{where}this model's gesture front end is {frontend!r} ({pixels}), "
                               "but a .kps.npz holds keypoints only; give the video instead")
    if frontend == "features":
        gestsync_weights(model_or_config, model_dir, video)  # raises when the features cannot be computed
        return None
    return int(rgb_size or spec.rgb_size)


def gestsync_weights(model_or_config, model_dir: str | os.PathLike | None = None,
                     video: str | os.PathLike | None = None) -> Path | None:
    """The GestSync RGB weights that compute a ``features`` model's per-frame features from a video
    (``feature_weights`` of its :func:`input_spec`): ``gestsync.safetensors`` in the model's folder
    (``model_dir``, or the one it was loaded from), written there by ``jegal import-released
    --gestsync`` (docs/released.md). None for a keypoints or rgb model. Raises
    :class:`FrontEndMismatch`, saying what to pass, for a ``features`` model without them or whose
    features are not GestSync's (``gesture.feature_dim`` other than 1024)."""
    from jegal.model.gestsync import FEATURE_DIM, WEIGHTS_FILE
    from jegal.model.spec import GESTSYNC

    spec = input_spec(model_or_config, model_dir)
    if spec.gesture != "features":
        return None
    where = f"{video}: " if video is not None else ""
    head = (f"{where}this model's gesture front end is 'features' (precomputed per-frame vectors from a frozen "
            "backbone)")
    if spec.feature_extractor != GESTSYNC:
        raise FrontEndMismatch(f"{head} of {spec.feature_dim} dimensions; from a video jegal computes "
                               f"only GestSync's {FEATURE_DIM}-d features. Use a keypoints or rgb model, or embed the "
                               "precomputed features with jegal eval/embed on shards that hold them")
    if spec.feature_weights is not None:
        return spec.feature_weights
    folder = model_dir if model_dir is not None else getattr(model_or_config, "source_dir", None)
    if folder is None:
        raise FrontEndMismatch(f"{head}; jegal spot and jegal asd compute them from a video with the GestSync weights "
                               "in the model's directory, but this command was given no model directory to read them "
                               "from: use jegal spot / jegal asd, or embed shards made by jegal prepare --rgb-features "
                               "gestsync --gestsync-weights DIR --mel reference")
    raise FrontEndMismatch(f"{head}; they are computed from a video by the GestSync RGB branch, but "
                           f"{Path(folder) / WEIGHTS_FILE} does not exist. Import the model with its GestSync weights "
                           "(jegal import-released --jegal jegal.pth --gestsync gestsync.pth --out DIR) and pass "
                           "--model DIR, or embed precomputed features with jegal eval/embed on shards that hold them")


def model_inputs(model, model_dir: str | os.PathLike | None = None, video: str | os.PathLike | None = None,
                 rgb_size: int | None = None) -> dict:
    """The keyword arguments of :func:`read_video` that make ``model``'s inputs, from its
    :func:`input_spec`: ``rgb_size`` (:func:`gesture_input`), ``gestsync_weights``
    (:func:`gestsync_weights`, for a ``features`` model: from ``model_dir``, default the folder the
    model was loaded from) and ``mel``, the log-mel kind it reads (``"reference"`` for the released
    speech CNN, as ``jegal prepare --mel reference``, else ``"jegal"``) and ``features_device``, where
    the GestSync features are computed: the model's device (``--device cuda``). Raises
    :class:`FrontEndMismatch` as :func:`gesture_input` does."""
    weights = gestsync_weights(model, model_dir, video)
    device = getattr(model, "device", "cpu")  # a model's device; a bare config (no weights) has none
    return {"rgb_size": gesture_input(model, video, rgb_size, model_dir), "gestsync_weights": weights,
            "mel": input_spec(model, model_dir).mel, "features_device": "cpu" if weights is None else str(device)}


def _item(video: Path, transcript):
    from jegal.perception.discover import KPS_SUFFIX, VIDEO_SUFFIXES, discover

    if not video.exists():
        raise BadInput(f"{video}: no such file")
    if not video.is_file():
        raise BadInput(f"{video}: not a file (give one video or .kps.npz)")
    if not (video.suffix.lower() in VIDEO_SUFFIXES or video.name.endswith(KPS_SUFFIX)):
        raise BadInput(f"{video}: not a video ({', '.join(sorted(VIDEO_SUFFIXES))}) or keypoint file ({KPS_SUFFIX})")
    item = discover(video)[0]
    if video.name.endswith(KPS_SUFFIX):
        item.video = None
    else:  # the video itself is what the user asked about; keypoints beside it are not used
        item.keypoints = None
    if transcript is not None:
        item.transcript = Path(transcript)
    return item


def _probe(video: Path) -> tuple[int | None, tuple[int, int] | None]:
    """``(frames, size)`` of a video file, from one open before the people stage: the 25 fps frames
    its header declares (for progress only, never trusted as a count; None when it declares none)
    and the (width, height) of its first picture as players show it (None when it cannot be read:
    the people stage then reports the damage)."""
    import av

    from jegal.perception.decode import declared_seconds, display_rotation, pick_stream

    try:
        with av.open(str(video)) as container:
            stream = pick_stream(container.streams.video)
            if stream is None:
                return None, None
            seconds = declared_seconds(stream, container)
            frames = max(1, int(round(seconds * FPS))) if seconds else None
            frame = next(container.decode(stream))
            w, h = frame.width, frame.height
            return frames, ((h, w) if display_rotation(frame) in (90, 270) else (w, h))
    except (av.error.FFmpegError, OSError, ValueError, StopIteration, RuntimeError):
        return None, None


def _source_size(item, people, probed: tuple[int, int] | None) -> tuple[int, int]:
    """(width, height) of the source as players show it: ``probed`` (:func:`_probe`) for a video;
    for a ``.kps.npz`` as it records, else around its joints. Raises CorruptVideo for a video whose
    first picture could not be read."""
    if item.video is not None:
        if probed is None:
            from jegal.perception.errors import CorruptVideo

            raise CorruptVideo(f"{item.video}: the first picture cannot be decoded")
        return probed
    with np.load(item.keypoints, allow_pickle=False) as z:
        if "width" in z.files and "height" in z.files:
            return int(np.asarray(z["width"]).reshape(-1)[0]), int(np.asarray(z["height"]).reshape(-1)[0])
    pix = np.concatenate([p.raw[..., :2][p.raw[..., 2] > 0] for ps in people.persons for p in ps] or
                         [np.ones((1, 2))])
    return int(np.ceil(pix[:, 0].max())) + 1, int(np.ceil(pix[:, 1].max())) + 1


def _box_from_pixels(pixels: np.ndarray, pad: float = 0.15) -> np.ndarray:
    """(T, 4) boxes around the seen joints of (T, J, 3) keypoints, widened by ``pad`` of their
    size each side; NaN where no joint is seen."""
    seen = pixels[..., 2] > 0  # (T, J)
    x = np.where(seen, pixels[..., 0], np.nan)
    y = np.where(seen, pixels[..., 1], np.nan)
    out = np.full((len(pixels), 4), np.nan, np.float32)
    rows = seen.any(axis=1)
    if rows.any():
        x0, x1 = np.nanmin(x[rows], 1), np.nanmax(x[rows], 1)
        y0, y1 = np.nanmin(y[rows], 1), np.nanmax(y[rows], 1)
        dx, dy = pad * (x1 - x0 + 1), pad * (y1 - y0 + 1)
        out[rows] = np.stack([x0 - dx, y0 - dy, x1 + dx, y1 + dy], axis=1)
    return out


def _person(index: int, parts, people, mel: np.ndarray, words: list[Word], name: str, source: str,
            window_frames: int, overlap_frames: int, from_video: bool, extra: dict,
            features: np.ndarray | None = None) -> PersonInput:
    from jegal.data.keypoints import normalise
    from jegal.perception.coverage import person_coverage
    from jegal.perception.track import join_parts

    T = people.num_frames
    first, raw, _, rgb = join_parts(parts)
    last = first + len(raw) - 1
    kp = np.zeros((T, 56, 3), np.float32)
    kp[first:last + 1] = normalise(raw)
    scale = people.scale or 1.0
    pixels = np.zeros((T, 56, 3), np.float32)
    boxes = np.full((T, 4), np.nan, np.float32)
    faces = np.full((T, 4), np.nan, np.float32)
    for p in parts:
        sl = slice(p.start, p.end + 1)
        pixels[sl] = p.raw
        if from_video:
            boxes[sl] = p.bodies / scale
            faces[sl] = p.faces / scale
    pixels[..., :2] /= scale
    if not from_video:
        boxes = _box_from_pixels(pixels)
    clips, starts = [], []
    for s, e in cut_windows(first, last, window_frames, overlap_frames):
        inside = [w.shifted(s) for w in words if w.start >= s and w.end <= e]
        clip = Clip(f"{name}/{index:05d}@{s:06d}", kp[s:e + 1], mel[MEL_PER_FRAME * s:MEL_PER_FRAME * (e + 1)], inside,
                    speaker_id=f"{name}/{index:05d}", source=source,
                    rgb=None if rgb is None else rgb[s - first:e - first + 1],
                    features=None if features is None else features[s - first:e - first + 1],
                    extra={"person": index, "start_frame": s, **extra})
        clips.append(clip.validate() if inside else clip)
        starts.append(s)
    return PersonInput(index, clips, starts, boxes, faces=faces if from_video else None, keypoints=kp, pixels=pixels,
                       rgb=rgb, features=features, first_frame=first, last_frame=last,
                       coverage=person_coverage(index, parts))


def video_preparer(*, asr: str = "auto", asr_model: str | os.PathLike | None = None, rgb_size: int | None = None,
                   gestsync_weights: str | os.PathLike | None = None, mel: str = "jegal",
                   work_dir: str | os.PathLike | None = None, features_device: str = "cpu"):
    """The :class:`jegal.perception.reader.VideoReader` :func:`read_video` reads with (the arguments are
    read_video's); give it to read_video as ``preparer`` to keep its models (mediapipe, the
    recogniser, the GestSync weights) across videos, and close it after. Pose and feature threads:
    up to 4 of this machine's cores. Raises :class:`jegal.perception.asr.AsrUnavailable` when ``asr``
    cannot run here."""
    from jegal.perception.asr import check_asr
    from jegal.perception.options import PrepareOptions
    from jegal.perception.reader import VideoReader

    check_asr(asr, asr_model)
    threads = max(1, min(4, os.cpu_count() or 1))
    return VideoReader(PrepareOptions(rgb_size=rgb_size, asr=asr, asr_model=asr_model, threads=threads, mel=mel,
                                   rgb_features=None if gestsync_weights is None else "gestsync",
                                   gestsync_weights=None if gestsync_weights is None else str(gestsync_weights)),
                    out=work_dir, features_device=features_device)


def read_video(video: str | os.PathLike, transcript: str | os.PathLike | None = None, *, asr: str = "auto",
               asr_model: str | os.PathLike | None = None, window_frames: int = WINDOW_FRAMES,
               overlap_frames: int = OVERLAP_FRAMES, rgb_size: int | None = None, progress=None,
               work_dir: str | os.PathLike | None = None, require_words: bool = True, preparer=None,
               gestsync_weights: str | os.PathLike | None = None, mel: str = "jegal",
               features_device: str = "cpu", tier: str | None = None) -> VideoInput:
    """Read ``video`` (a video file or a ``.kps.npz``) into per-person model inputs (module docstring).

    ``transcript``: a transcript file (reference txt, WhisperX JSON, TextGrid, WebVTT, SubRip,
    ELAN .eaf, or plain text to be force-aligned: :mod:`jegal.perception.transcripts`; ``tier``: the
    words tier of an .eaf / .TextGrid); default: the one beside the video (another one beside it
    that is not used is said on stderr and in the warnings), else speech recognition as ``asr``
    says (``auto`` | ``pocketsphinx`` | ``faster-whisper`` with ``asr_model`` | ``none``);
    recognised words are written to ``work_dir/transcripts/<name>.txt`` (to correct and give
    back as ``transcript``) when ``work_dir`` is given. ``window_frames`` / ``overlap_frames``:
    the windows (frames at 25 fps). ``rgb_size``: also cut face-masked rgb crops of this many
    pixels (for an rgb model, see :func:`gesture_input`). ``gestsync_weights``: also compute
    every person's 1024-d GestSync features per frame with these weights (a ``features`` model,
    :func:`gestsync_weights`), as ``jegal prepare --rgb-features gestsync`` does (the same code,
    :mod:`jegal.perception.features`), into the clips' ``features``. ``mel``: the log-mel of the
    clips, ``"jegal"`` (:func:`jegal.data.audio.log_mel`) or ``"reference"`` (the released speech
    CNN's, as ``jegal prepare --mel reference``). :func:`model_inputs` gives ``rgb_size``,
    ``gestsync_weights`` and ``mel`` for a model. ``require_words=False``: a video
    without words (``asr="none"`` and no transcript, or nothing recognised) is read with
    ``words == []`` and ``transcript_source == "none"`` instead of failing. ``preparer``: a
    :class:`jegal.perception.reader.VideoReader` to reuse across videos (its mediapipe models, its
    GestSync weights); its options then win over ``asr``, ``asr_model``, ``rgb_size``,
    ``gestsync_weights`` and ``mel``. ``progress(stage, fraction)``: :mod:`jegal.use.progress`'s
    protocol (the people stage reports as its frames are decoded); None: nothing shown.

    Raises :class:`~jegal.perception.errors.BadInput` (no such file, not a video, GestSync weights
    that do not load), ``CorruptVideo``, ``NoVideo``, ``NoAudio``, ``BadAudio``, ``NoPerson``,
    ``NoTranscript``, ``EmptyTranscript``, ``BadTranscript``, ``TranscriptTooLong``,
    ``Unalignable``, ``BadKeypoints`` (all :class:`~jegal.perception.errors.PrepareError`, naming
    the file), :class:`FrontEndMismatch` (GestSync features asked of a ``.kps.npz``) and
    :class:`NoWordsOnPeople` (with ``require_words``)."""
    from jegal.model.spec import log_mel_for
    from jegal.use.progress import Stages

    cut_windows(0, 0, window_frames, overlap_frames)  # bad window settings fail before any work
    path = Path(video)
    item = _item(path, transcript)
    item.tier = tier
    own = preparer is None
    if own:
        preparer = video_preparer(asr=asr, asr_model=asr_model, rgb_size=rgb_size, gestsync_weights=gestsync_weights,
                                  mel=mel, work_dir=work_dir, features_device=features_device)
    from jegal.perception.transcripts import say_unused_transcripts

    warnings: list[str] = say_unused_transcripts(path, item.transcript)
    timings: dict = {}
    # shares of the time on the 2-core machine (docs/use.md, "Speed"): the people stage dominates
    weights = {"words": 1, "people": 16, **({"features": 8} if preparer.features is not None else {}), "windows": 1}
    report = Stages(progress, weights)
    # one open before the people stage: the frames to expect (progress) and the size as players show it
    expected, size = _probe(item.video) if item.video is not None else (None, None)
    ticker = contextlib.ExitStack()  # the people stage reports per decoded chunk (30 s): estimate in between

    def stage(name: str) -> None:
        ticker.close()
        label = {"words": "reading the words", "people": "people: decoding, faces, keypoints",
                 "features": "GestSync features"}.get(name, name)
        report(name, 0.0, label)
        if name == "people" and expected:
            ticker.enter_context(report.ticking("people", PEOPLE_SECONDS_PER_FRAME * expected, label))

    def on_frames(done: int) -> None:
        seen = f"people: {done / FPS:.0f} s of " + (f"the video's {expected / FPS:.0f} s" if expected else "video") + " done"
        report("people", done / expected if expected else 1 - 1 / (1 + done / 250), seen)

    try:
        if preparer.features is not None:
            if item.video is None:
                raise FrontEndMismatch(f"{path}: GestSync features are computed from a video's frames, but a "
                                       ".kps.npz holds keypoints only; give the video instead")
            if not preparer.features.loaded:  # read the weights now: weights that do not load fail before any work
                t = time.perf_counter()
                _ = preparer.features.model
                timings["features_load"] = time.perf_counter() - t
        stage("words")
        with ticker:
            got = preparer.read(item, warnings, timings, require_words=require_words, out=work_dir, stage=stage,
                                on_frames=on_frames)
        report("windows", 0.0, "windows: log-mel, clips")
        t = time.perf_counter()
        num_frames = got.people.num_frames
        mel_kind = preparer.options.mel  # "reference": the released speech CNN's (jegal prepare --mel reference)
        front_end = log_mel_for(mel_kind)
        mel_frames = front_end(got.audio, num_frames=num_frames)  # (4T, 80)
        source = NO_TRANSCRIPT if got.transcript is None else got.transcript.source
        extra = {"transcript_source": source, **({"mel": mel_kind} if mel_kind != "jegal" else {})}
        from_video = item.keypoints is None
        persons = [_person(k, parts, got.people, mel_frames, got.words, item.name, str(item.source), window_frames,
                           overlap_frames, from_video, extra, None if got.features is None else got.features[k])
                   for k, parts in enumerate(got.people.persons)]
        if require_words and not any(c.words for p in persons for c in p.clips):
            raise NoWordsOnPeople(f"{item.source}: {len(got.words)} words, but none is spoken while a person is "
                                  "in view")
        timings["windows"] = time.perf_counter() - t
        report.done(f"read {path.name}")
        return VideoInput(path=path, num_frames=num_frames, fps=float(FPS), size=_source_size(item, got.people, size),
                          words=list(got.words), transcript_source=source, people=persons, name=Path(item.name).name,
                          mel=mel_frames, audio=got.audio,
                          transcript_path=None if got.transcript is None else got.transcript.path,
                          is_video=from_video, window_frames=window_frames, overlap_frames=overlap_frames,
                          warnings=warnings, timings=timings)
    finally:
        if own:
            preparer.close()


__all__ = ["DEFAULT_RGB_SIZE", "FrontEndMismatch", "NoWordsOnPeople", "PersonInput", "VideoInput", "gesture_input",
           "gestsync_weights", "input_spec", "model_inputs", "read_video", "video_preparer"]
