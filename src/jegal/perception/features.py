"""1024-d GestSync features for every frame of every person (``jegal prepare --rgb-features gestsync``).

The released gesture head (``jegal import-released``, docs/released.md) reads the per-frame
features of the GestSync RGB branch, computed as the reference extractor computes them
(:mod:`jegal.model.gestsync`): each frame face-masked (black above the chin plus 15 pixels of the
source video) and resized to 480 x 270, the features of frame t from the 25 frames centred on it,
edge frames repeated. They are computed the fast way (the backbone once per frame) over each
person's whole track, then cut with the clips (:func:`jegal.prepare.segment.cut_clips` stores them
as the clips' ``features``), so a clip's first and last frames see the real frames around it; a
track's own ends repeat its edge frames as the reference does at a clip's ends.

Where this differs from the reference extractor (which saw one speaker per clip video):

- the view: a frame no wider than 16:9 is resized whole, as the reference does; a wider frame
  (several people side by side) gives each person a full-height 16:9 window centred on the median
  of their body boxes, so the person is framed as in the reference's clips;
- the face: the bottom of the tracked face box stands in for the lowest face-oval landmark of
  MediaPipe face mesh; frames of a track where the face was not found (between linked parts) get
  the reference's no-face band (rows 0..110 of the resized frame);
- the video is decoded a second time for this step, at most :data:`DECODE_MAX_SIDE` pixels on the
  longer side (the reference resized from the source resolution), in chunks of
  :data:`DECODE_CHUNK` frames (memory stays bounded).

On a device (``device="cuda"``, what ``--device cuda`` gives a released model's commands) the
GestSync branch runs there: each person's frames of a decoded chunk go through the backbone as one
batch (:data:`DEVICE_CHUNK` frames), the Transformer head takes :data:`DEVICE_WINDOWS` windows a
call, and only the 512-d backbone steps (2 KB a frame) and the features come back to the host, so
device memory is bounded by the chunk, not by the video's length. Masking and resizing stay on the
CPU. cuDNN's convolutions may use TF32 on Ampere and newer GPUs (torch's default), so the features
differ from the CPU's by about 1e-3 relative (the reference ran float16 autocast).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from jegal.perception.errors import BadInput, CorruptVideo
from jegal.perception.options import PrepareOptions

RGB_FEATURES = ("gestsync",)  # the --rgb-features choices
DECODE_MAX_SIDE = 1280
DECODE_CHUNK = 64
DEVICE_CHUNK = DECODE_CHUNK  # backbone frames per call on a device: one call per person and decoded chunk
DEVICE_WINDOWS = 512  # windows per call of the Transformer head on a device
ASPECT = 16 / 9  # the reference's 480 x 270


def check_rgb_features(options: PrepareOptions) -> None:
    """Raise :class:`~jegal.perception.errors.BadInput` before any input is prepared when
    ``--rgb-features`` is unknown or its weights cannot be loaded (loads them once to check)."""
    if options.rgb_features is None:
        return
    if options.rgb_features not in RGB_FEATURES:
        raise BadInput(f"--rgb-features {options.rgb_features!r}: expected one of {list(RGB_FEATURES)}")
    if not options.gestsync_weights:
        raise BadInput("--rgb-features gestsync needs --gestsync-weights: a model directory written by "
                       "`jegal import-released --gestsync gestsync.pth`, its gestsync.safetensors, or gestsync.pth")
    _load(options.gestsync_weights)


def _load(weights: str | os.PathLike, device: str = "cpu"):
    from jegal.model.gestsync import load_gestsync
    from jegal.model.released import ReleasedCheckpointError

    try:
        return load_gestsync(weights, device)
    except (FileNotFoundError, ReleasedCheckpointError) as e:
        raise BadInput(f"--gestsync-weights {weights}: {e}") from e


def person_window(width: int, height: int, centre_x: float) -> tuple[int, int]:
    """Columns [x0, x1) of the view of a person whose body is centred at ``centre_x`` (pixels) in a
    ``width`` x ``height`` frame: the whole width up to 16:9, else a full-height 16:9 window
    around the person, inside the frame."""
    w = int(round(height * ASPECT))
    if w >= width:
        return 0, width
    x0 = int(round(centre_x - w / 2))
    x0 = min(max(0, x0), width - w)
    return x0, x0 + w


class GestSyncFeatures:
    """Per-person GestSync features of a video; the weights are loaded on first use (onto ``device``)
    and kept for the worker's life. ``threads``: torch CPU threads while computing."""

    def __init__(self, weights: str | os.PathLike, threads: int = 1, device: str = "cpu"):
        self.weights = weights
        self.threads = threads
        self.device = str(device)
        self._model = None

    @property
    def loaded(self) -> bool:
        """Whether the weights have been read (on the first use of :attr:`model`)."""
        return self._model is not None

    @property
    def model(self):
        """The :class:`~jegal.model.gestsync.GestSyncRGB` branch, read on first use. Raises
        :class:`~jegal.perception.errors.BadInput` naming the weights when they cannot be loaded."""
        if self._model is None:
            self._model = _load(self.weights, self.device)
        return self._model

    def stream(self):
        """A :class:`~jegal.model.gestsync.FeatureStream` over :attr:`model`, batched for its device."""
        from jegal.model.gestsync import FeatureStream

        if self.device == "cpu":
            return FeatureStream(self.model)
        return FeatureStream(self.model, chunk=DEVICE_CHUNK, window_batch=DEVICE_WINDOWS)

    def people_features(self, video: str | Path, people, timings: dict | None = None) -> list[np.ndarray]:
        """Per person of ``people`` (:class:`~jegal.perception.track.People` from the tracking pass), the
        features of every frame of its track, ``(T_person, 1024)`` float32, frame 0 = its first part's
        start (as :func:`~jegal.perception.track.join_parts`). Adds the seconds spent to ``timings``
        under ``features``. Raises the decode errors of :func:`jegal.perception.decode.iter_video`."""
        import time

        import torch

        from jegal.model.gestsync import mask_and_resize
        from jegal.perception.decode import iter_video

        t0 = time.perf_counter()
        threads = torch.get_num_threads()
        torch.set_num_threads(max(1, self.threads))
        try:
            info: dict = {}
            tracks = []
            for parts in people.persons:
                bodies = np.concatenate([p.bodies for p in parts])
                tracks.append({"start": parts[0].start, "end": parts[-1].end, "parts": parts,
                               "centre": float(np.median((bodies[:, 0] + bodies[:, 2]) / 2)),
                               "stream": self.stream()})
            offset = 0
            for chunk in iter_video(video, max_side=DECODE_MAX_SIDE, chunk_frames=DECODE_CHUNK, info=info):
                ratio = info.get("scale", 1.0) / (people.scale or 1.0)  # this decode's pixels per tracking pixel
                margin = 15 * info.get("scale", 1.0)  # 15 source pixels
                H, W = chunk.shape[1:3]
                for tr in tracks:
                    lo, hi = max(tr["start"], offset), min(tr["end"], offset + len(chunk) - 1)
                    if hi < lo:
                        continue
                    x0, x1 = person_window(W, H, tr["centre"] * ratio)
                    out = []
                    for f in range(lo, hi + 1):
                        chin = _chin(tr["parts"], f)
                        out.append(mask_and_resize(chunk[f - offset, :, x0:x1], None if chin is None else chin * ratio,
                                                   margin))
                    tr["stream"].push(np.stack(out))
                offset += len(chunk)
            if offset < people.num_frames:
                raise CorruptVideo(f"{video}: decoding it again for its features gave {offset} frames, "
                                   f"tracking saw {people.num_frames}")
            return [tr["stream"].finish().numpy() for tr in tracks]
        finally:
            torch.set_num_threads(threads)
            if timings is not None:
                timings["features"] = timings.get("features", 0.0) + time.perf_counter() - t0


def _chin(parts, frame: int) -> float | None:
    """The bottom of the face box at ``frame`` (tracking pixels), None between a person's parts."""
    for p in parts:
        if p.start <= frame <= p.end:
            return float(p.faces[frame - p.start, 3])
    return None
