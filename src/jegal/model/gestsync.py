"""The GestSync RGB branch (the released ``gestsync.pth``): per-frame 1024-d gesture features.

GestSync (Hegde & Zisserman, BMVC 2023) is the frozen feature extractor of the released JEGAL
model. Its RGB branch (:class:`GestSyncRGB`, key names as in the checkpoint) is a 3D-conv backbone
(``net_vid``: conv1..conv5, fc6, each with BatchNorm3d and ReLU) over 25-frame windows of
270 x 480 RGB frames, a sinusoid table of 50 rows, six post-norm ``nn.TransformerEncoderLayer``
and an MLP (``ff_vid``) to 1024: ``forward_vid`` (N, 3, 25, 270, 480) -> (N, 1024, 21).

The reference extractor gives frame t the mean over 21 time steps of ``forward_vid`` on the 25
frames centred on t (edge frames repeated 12 times at both ends): every frame goes through the
backbone 25 times (:func:`sliding_window_features`, kept as the slow reference). The backbone's
only temporal layer is the first (5 frames, no temporal padding): every later layer works frame by
frame, so the backbone output of a window is a slice of the backbone run once over the whole
edge-padded video. :func:`video_features` (and :class:`FeatureStream`, which takes a video in
pieces) runs the backbone once per frame, slices the 21-step windows from it and runs the
Transformer head over all windows in batches: the reference's features, to float rounding, with
about 21x less backbone work. Frames are prepared as the reference prepares them
(:func:`mask_and_resize`).

Source of every architecture fact: ../shared/fixtures/released/README.md (reference code at commit
e1de48f75699a0ff91ee3d246d18107d09b35b2a).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

FRAME_HEIGHT, FRAME_WIDTH = 270, 480  # the reference resizes every frame to 480 wide x 270 high
WINDOW = 25  # frames per window, centred on the output frame
HALF_WINDOW = WINDOW // 2  # 12 repeated edge frames each side
CONV_KERNEL = 5  # frames seen by conv1, the only temporal layer
STEPS = WINDOW - CONV_KERNEL + 1  # 21 backbone time steps per window
FEATURE_DIM = 1024
NO_FACE_ROWS = 111  # no face found: rows 0..110 of the resized frame are painted black
CHIN_MARGIN = 15  # face found: rows 0..(chin + 15) of the original frame are painted black
# the GestSync audio branch: in gestsync.pth, never used for features (checked present, then skipped)
AUDIO_PREFIXES = ("net_aud.", "lstm.", "ff_aud.", "logits_scale.", "fc.")
WEIGHTS_FILE = "gestsync.safetensors"
_TO_FLOAT = (np.arange(256) / 255.0).astype(np.float32)  # uint8 -> the reference's float64 / 255, cast


class _VideoBackbone(nn.Module):
    """``net_vid``: (N, 3, T, 270, 480) in [0, 1] -> (N, 512, T - 4)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv3d(3, 64, (5, 7, 7), stride=(1, 3, 3))
        self.bn1 = nn.BatchNorm3d(64)
        self.pool1 = nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2))
        self.conv2 = nn.Conv3d(64, 128, (1, 5, 5), stride=(1, 2, 2))
        self.bn2 = nn.BatchNorm3d(128)
        self.conv3 = nn.Conv3d(128, 256, (1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))
        self.bn3 = nn.BatchNorm3d(256)
        self.conv4 = nn.Conv3d(256, 256, (1, 3, 3), stride=(1, 1, 2), padding=(0, 1, 1))
        self.bn4 = nn.BatchNorm3d(256)
        self.conv5 = nn.Conv3d(256, 256, (1, 3, 3), stride=1, padding=(0, 1, 1))
        self.bn5 = nn.BatchNorm3d(256)
        self.pool5 = nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2))
        self.fc6 = nn.Conv3d(256, 512, (1, 4, 4))
        self.bn6 = nn.BatchNorm3d(512)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        relu = torch.relu
        x = self.pool1(relu(self.bn1(self.conv1(x))))
        x = relu(self.bn2(self.conv2(x)))
        x = relu(self.bn3(self.conv3(x)))
        x = relu(self.bn4(self.conv4(x)))
        x = self.pool5(relu(self.bn5(self.conv5(x))))
        x = relu(self.bn6(self.fc6(x)))  # (N, 512, T - 4, 1, 1)
        if x.shape[-2:] != (1, 1):
            raise ValueError(f"GestSync frames must be {FRAME_HEIGHT}x{FRAME_WIDTH} (height x width): the backbone "
                             f"ended at {tuple(x.shape[-2:])} instead of 1x1")
        return x[..., 0, 0]


def _fold(conv: nn.Conv3d, bn: nn.BatchNorm3d) -> tuple[torch.Tensor, torch.Tensor]:
    """Eval-mode BatchNorm folded into the conv before it: (weight, bias) of one conv."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    weight = conv.weight * scale.view(-1, *[1] * (conv.weight.dim() - 1))
    return weight, (conv.bias - bn.running_mean) * scale + bn.bias


class _FrameBackbone:
    """``net_vid`` as the fast path runs it, frozen: the same function, faster on a long video.

    Each BatchNorm is folded into its conv (eval mode), conv1 runs channels-last, every later layer
    (kernel 1 in time) runs as a 2D conv on all time steps at once in channels-last layout, ReLU
    follows the max-pools (they commute) and fc6 is a Linear. Differs from ``net_vid`` by float
    rounding only (about 1e-7 of the output's size). (1, 3, L, 270, 480) -> (L - 4, 512)."""

    def __init__(self, net: _VideoBackbone):
        with torch.no_grad():
            w, b = _fold(net.conv1, net.bn1)
            self.conv1 = (w.contiguous(memory_format=torch.channels_last_3d), b)
            self.convs = []
            for conv, bn in ((net.conv2, net.bn2), (net.conv3, net.bn3), (net.conv4, net.bn4), (net.conv5, net.bn5)):
                w, b = _fold(conv, bn)
                self.convs.append((w[:, :, 0].contiguous(memory_format=torch.channels_last), b,
                                   conv.stride[1:], conv.padding[1:]))
            w, b = _fold(net.fc6, net.bn6)
            self.fc6 = (w.permute(0, 2, 3, 4, 1).reshape(w.shape[0], -1).contiguous(), b)  # (512, 4 * 4 * 256)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        F = torch.nn.functional
        x = x.contiguous(memory_format=torch.channels_last_3d)
        x = F.max_pool3d(F.conv3d(x, *self.conv1, stride=(1, 3, 3)), (1, 3, 3), (1, 2, 2)).relu_()  # (1, 64, L', h, w)
        x = x[0].transpose(0, 1).contiguous(memory_format=torch.channels_last)  # (L', 64, h, w): time as batch
        for weight, bias, stride, padding in self.convs:
            x = F.conv2d(x, weight, bias, stride=stride, padding=padding).relu_()
        x = F.max_pool2d(x, 3, 2).relu_()  # (L', 256, 4, 4)
        if x.shape[-2:] != (4, 4):
            raise ValueError(f"GestSync frames must be {FRAME_HEIGHT}x{FRAME_WIDTH} (height x width)")
        return F.linear(x.permute(0, 2, 3, 1).flatten(1), *self.fc6).relu_()


class _PositionTable(nn.Module):
    """``pos_encoder``: the sinusoid table ``pe`` (1, 50, 512) added without scaling, then dropout."""

    def __init__(self, rows: int = 50, d: int = 512, dropout: float = 0.1):
        super().__init__()
        from jegal.model.layers import sinusoidal_positions

        self.register_buffer("pe", sinusoidal_positions(rows, d, "cpu", torch.float32)[None])
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(x + self.pe[:, :x.shape[1]])


class GestSyncRGB(nn.Module):
    """The RGB branch of the released GestSync model; state-dict keys are the checkpoint's own.

    Built in eval mode with gradients off (a frozen feature extractor); load weights with
    :func:`load_gestsync`."""

    def __init__(self):
        super().__init__()
        self.net_vid = _VideoBackbone()
        self.pos_encoder = _PositionTable()
        layer = nn.TransformerEncoderLayer(512, 8, 2048, 0.1, batch_first=True)
        self.transformer_encoder = nn.TransformerEncoder(layer, 6, enable_nested_tensor=False)
        self.ff_vid = nn.Sequential(nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, FEATURE_DIM))
        self.eval().requires_grad_(False)

    @property
    def device(self) -> torch.device:
        return self.ff_vid[0].weight.device

    def head(self, steps: torch.Tensor) -> torch.Tensor:
        """Backbone steps of N windows (N, 21, 512) -> (N, 21, 512) after positions and Transformer."""
        return self.transformer_encoder(self.pos_encoder(steps))

    def forward_vid(self, video: torch.Tensor) -> torch.Tensor:
        """The reference's ``forward_vid``: windows (N, 3, 25, 270, 480) float in [0, 1], RGB ->
        (N, 1024, 21), channel-first."""
        steps = self.net_vid(video).transpose(1, 2)  # (N, 21, 512)
        return self.ff_vid(self.head(steps)).transpose(1, 2)

    def window_means(self, steps: torch.Tensor) -> torch.Tensor:
        """(N, 21, 512) backbone steps of N windows -> (N, 1024): each window's ``forward_vid`` output
        averaged over its 21 steps. The last Linear of ``ff_vid`` is applied after the mean (the
        mean of a Linear is the Linear of the mean), which saves 21 of its 22 applications."""
        h = self.ff_vid[1](self.ff_vid[0](self.head(steps)))  # (N, 21, 512)
        return self.ff_vid[2](h.mean(1))


def frames_to_tensor(frames: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 frames (T, 270, 480, 3) RGB -> float32 (3, T, 270, 480) in [0, 1]: the reference's
    division by 255 in float64 then cast to float32 (a 256-entry table: the same values, bit for bit).
    Raises ValueError for another shape or dtype."""
    if isinstance(frames, torch.Tensor):
        frames = frames.cpu().numpy()
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[1:] != (FRAME_HEIGHT, FRAME_WIDTH, 3):
        raise ValueError(f"GestSync frames must be uint8 (T, {FRAME_HEIGHT}, {FRAME_WIDTH}, 3) (mask_and_resize "
                         f"makes them), got {frames.dtype} {frames.shape}")
    return torch.from_numpy(_TO_FLOAT[frames]).permute(3, 0, 1, 2)


def sliding_window_features(model: GestSyncRGB, frames: np.ndarray, batch: int = 4) -> torch.Tensor:
    """The reference's procedure (slow: every frame through the backbone 25 times): frames uint8
    (T, 270, 480, 3), already masked and resized -> (T, 1024) float32.

    The video is padded with its first frame 12 times before and its last 12 times after; output
    frame t is the mean over 21 steps of ``forward_vid`` on padded frames t..t+24; ``batch`` windows
    per call (the reference uses 48 on a GPU; the result does not depend on it)."""
    video = frames_to_tensor(frames)  # (3, T, H, W)
    T = video.shape[1]
    index = torch.arange(-HALF_WINDOW, T + HALF_WINDOW).clamp(0, T - 1)
    padded = video[:, index]  # (3, T + 24, H, W)
    out = []
    with torch.no_grad():
        for s in range(0, T, batch):
            windows = torch.stack([padded[:, t:t + WINDOW] for t in range(s, min(T, s + batch))])
            out.append(model.forward_vid(windows.to(model.device)).mean(2).cpu())
    return torch.cat(out)


class FeatureStream:
    """The fast path over a video given in pieces (:meth:`push`, then :meth:`finish`): the backbone
    runs once per frame (plus 4 edge steps), the Transformer head once per output frame.

    Backbone step c (c = -2 .. T + 1) sees frames clamp(c - 2 .. c + 2, 0, T - 1): the reference's
    edge padding, whose steps beyond -2 and T + 1 equal those two. Output frame t reads steps
    clamp(t - 10 .. t + 10, -2, T + 1). Memory: ``chunk`` frames of backbone activations at a
    time, 2 KB a frame of backbone output for the whole video.

    ``folded`` False runs the backbone as ``net_vid`` itself (unfolded BatchNorm, 3D convs), to
    measure what the algorithm alone saves; the default folds it (:class:`_FrameBackbone`)."""

    def __init__(self, model: GestSyncRGB, chunk: int = 32, window_batch: int = 128, folded: bool = True):
        self.model, self.chunk, self.window_batch = model, chunk, window_batch
        self.backbone = _FrameBackbone(model.net_vid) if folded else (lambda x: model.net_vid(x)[0].T)
        self.tail: torch.Tensor | None = None  # the last 4 frames seen, (3, 4, H, W)
        self.steps: list[torch.Tensor] = []  # (n, 512) backbone steps so far
        self.frames = 0

    def _backbone(self, video: torch.Tensor) -> None:
        """Backbone steps of (3, L, H, W), L >= 5, in chunks with a 4-frame overlap."""
        L = video.shape[1]
        with torch.no_grad():
            for s in range(0, L - CONV_KERNEL + 1, self.chunk):
                piece = video[:, s:min(L, s + self.chunk + CONV_KERNEL - 1)]
                self.steps.append(self.backbone(piece[None].to(self.model.device)).cpu())

    def push(self, frames: np.ndarray) -> None:
        """The next uint8 frames (n, 270, 480, 3) of the video (already masked and resized)."""
        if len(frames) == 0:
            return
        video = frames_to_tensor(frames)
        if self.tail is None:
            video = torch.cat([video[:, :1].expand(-1, CONV_KERNEL - 1, -1, -1), video], 1)
        else:
            video = torch.cat([self.tail, video], 1)
        self.frames += len(frames)
        if video.shape[1] >= CONV_KERNEL:
            self._backbone(video)
        self.tail = video[:, -(CONV_KERNEL - 1):].clone()

    def finish(self) -> torch.Tensor:
        """-> (T, 1024) float32 features of every frame pushed. Raises ValueError for no frames."""
        if self.tail is None:
            raise ValueError("no frames were pushed")
        self._backbone(torch.cat([self.tail, self.tail[:, -1:].expand(-1, CONV_KERNEL - 1, -1, -1)], 1))
        steps = torch.cat(self.steps)  # (T + 4, 512): step c at row c + 2
        T = self.frames
        index = (torch.arange(T)[:, None] + torch.arange(STEPS)[None, :] - STEPS // 2).clamp(-2, T + 1) + 2  # (T, 21)
        out = []
        with torch.no_grad():
            for s in range(0, T, self.window_batch):
                windows = steps[index[s:s + self.window_batch]].to(self.model.device)  # (n, 21, 512)
                out.append(self.model.window_means(windows).cpu())
        return torch.cat(out)


def video_features(model: GestSyncRGB, frames: np.ndarray, chunk: int = 32, window_batch: int = 128) -> torch.Tensor:
    """The fast path: uint8 frames (T, 270, 480, 3), already masked and resized -> (T, 1024) float32,
    the reference's per-frame features (:func:`sliding_window_features`) to float rounding.
    ``chunk``: backbone steps per call; ``window_batch``: windows per call of the Transformer head
    (memory only, never the numbers). Raises ValueError for frames of another shape or dtype."""
    stream = FeatureStream(model, chunk, window_batch)
    for s in range(0, len(frames), 64):  # a bounded float copy of the video at a time
        stream.push(frames[s:s + 64])
    return stream.finish()


def mask_and_resize(frame: np.ndarray, chin_y: float | None, margin: float = CHIN_MARGIN) -> np.ndarray:
    """One frame as the reference extractor prepares it: uint8 (H, W, 3) RGB -> (270, 480, 3).

    ``chin_y``: the lowest face point in this frame's pixels (the reference: the largest y of the
    36 face-oval landmarks of MediaPipe face mesh, truncated to int), or None when no face was found.
    Face: rows 0 .. chin_y + ``margin`` (15 pixels of the original video) painted black across the
    whole width, then a bilinear resize (OpenCV) to 480 x 270. No face: the resize, then rows 0..110
    painted black. The caller's frame is not changed."""
    import cv2

    if chin_y is not None:
        frame = frame.copy()
        frame[:max(0, int(chin_y) + int(round(margin)) + 1)] = 0
    out = cv2.resize(frame, (FRAME_WIDTH, FRAME_HEIGHT), interpolation=cv2.INTER_LINEAR)
    if chin_y is None:
        out[:NO_FACE_ROWS] = 0
    return out


def load_gestsync(path: str | os.PathLike, device: str | torch.device = "cpu") -> GestSyncRGB:
    """The RGB branch from ``path``: an imported model directory holding ``gestsync.safetensors``
    (``jegal import-released --gestsync``), such a ``.safetensors`` file, or the released
    ``gestsync.pth`` itself (read as :func:`convert_gestsync` does). Raises FileNotFoundError for a
    missing file and :class:`~jegal.model.released.ReleasedCheckpointError` for one that does not fit."""
    from jegal.model.released import ReleasedCheckpointError, read_checkpoint

    path = Path(path)
    if path.is_dir():
        path = path / WEIGHTS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no GestSync weights (an imported model directory with {WEIGHTS_FILE}, "
                                "a .safetensors file or the released gestsync.pth)")
    model = GestSyncRGB()
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(path))
        missing, unexpected = model.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise ReleasedCheckpointError(f"{path}: not GestSync RGB weights: missing {missing[:5]}, "
                                          f"unexpected {unexpected[:5]}")
    else:
        model.load_state_dict(convert_gestsync(read_checkpoint(path), str(path)).state)
    return model.to(device)


def convert_gestsync(released: dict[str, torch.Tensor], source: str):
    """The RGB branch's state dict from a released GestSync state dict (``module.`` already removed):
    a :class:`~jegal.model.released.Conversion` whose ``skipped`` are the audio branch's keys.
    Raises :class:`~jegal.model.released.ReleasedCheckpointError` naming every missing, unexpected or
    misshaped key, and when the audio branch is absent (then the file is not GestSync's)."""
    from jegal.model.released import ReleasedCheckpointError, convert_state

    absent = [p for p in AUDIO_PREFIXES if not any(k.startswith(p) for k in released)]
    if absent:
        raise ReleasedCheckpointError(f"{source}: no GestSync audio branch (no key starting with {absent}): "
                                      "is this gestsync.pth? (the audio branch is skipped, but a GestSync "
                                      "checkpoint has it)")
    target = GestSyncRGB().state_dict()
    return convert_state(released, {k: (k, None) for k in target}, target, source, skip_prefixes=AUDIO_PREFIXES)


__all__ = ["GestSyncRGB", "FeatureStream", "video_features", "sliding_window_features", "frames_to_tensor",
           "mask_and_resize", "load_gestsync", "convert_gestsync", "FEATURE_DIM", "WEIGHTS_FILE", "AUDIO_PREFIXES"]
