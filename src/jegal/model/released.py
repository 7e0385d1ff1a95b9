"""The released JEGAL heads, computed exactly, and the map from the released checkpoint to our model.

The paper's authors released ``jegal.pth`` (gesture, text, speech, fusion and alignment heads of
"Understanding Co-speech Gestures in-the-wild", ICCV 2025, arXiv 2503.22668; reference code at
commit e1de48f75699a0ff91ee3d246d18107d09b35b2a). A model config whose sections say
``architecture: "released"`` (the ``released`` preset) builds these modules inside our
:class:`jegal.model.JEGAL`:

- gesture (``gesture.architecture``): an input MLP on 1024-d per-frame features (Linear, torch
  LayerNorm, ReLU, Linear), a fixed sinusoid table of 500 rows *added* (no scaling), six pre-norm
  Transformer layers whose norms are :class:`UnbiasedLayerNorm`, one more such norm, a Linear;
- text (``text.architecture``): three such layers at the backbone's width (768, XLM-R base), no
  positions and no input projection, then a Linear to d/2;
- speech (``speech.architecture``): :class:`ReleasedSpeechEncoder`, a 6-conv CNN over the
  log-mel with time stride 4, then a Linear to d/2;
- content (``content.architecture``): concatenation with **speech first**, Linear, ReLU, Linear;
- embedding (``embedding.architecture``): alignment heads Linear, ReLU, Linear and no global heads:
  the reference's inference has one space, its clip vectors are the normalised mean of the frame /
  word embeddings (``JEGAL.readout`` is "local").

The Transformer layers are the house's :class:`~jegal.model.layers.TransformerBlock` (pre-norm,
fused attention, query/key/value in one Linear) with the reference's norm and ReLU swapped in
(:func:`released_stack`): they compute what the reference's layers compute, to float rounding.

Deliberate differences from the reference's numbers (docs/released.md): a word's text feature is
the mean of its own subwords only (the reference's last word also pools the end token and the
padding), and speech word features average frames indexed from the clip's own start (the
reference subtracts the first word's start frame). Both are docs/design.md sections 2 and 10.

The key mapping (:func:`jegal_key_map`), reading (:func:`read_checkpoint`)
and conversion (:func:`convert_state`) of a released state dict live here, in one place; the
``jegal import-released`` command (:mod:`jegal.released.cli`) drives them.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from jegal.model.layers import TransformerStack, sinusoidal_positions
from jegal.timebase import FPS, MEL_BINS, MEL_PER_FRAME, frame_to_seconds

RELEASED_MAX_FRAMES = 500  # rows of the released gesture position table (20 s at 25 fps)
NORM_EPS = 1e-6  # the reference's custom LayerNorm: added to the unbiased std
LOG_MEL_EPS = 1e-20  # the reference's log-mel: log(mel + 1e-20)


class ReleasedCheckpointError(ValueError):
    """A released checkpoint that cannot be read or does not fit the model; the message names the
    file and every offending key."""


# -- modules -----------------------------------------------------------------------------------
class UnbiasedLayerNorm(nn.Module):
    """The reference's LayerNorm: ``weight * (x - mean) / (std + eps) + bias`` over the last axis,
    ``std`` the *unbiased* standard deviation (divide by n - 1) and ``eps`` (1e-6) added to the std,
    outside any square root. Its ``a_2`` / ``b_2`` are our ``weight`` / ``bias``. x (..., d)."""

    def __init__(self, d: int, eps: float = NORM_EPS):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))
        self.bias = nn.Parameter(torch.zeros(d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(-1, keepdim=True)
        std = x.std(-1, keepdim=True)
        return self.weight * (x - mean) / (std + self.eps) + self.bias


def released_stack(d: int, layers: int, heads: int, ffn: int, dropout: float) -> TransformerStack:
    """The reference's encoder (``layers`` pre-norm layers and a final norm, no positions) as the
    house's :class:`~jegal.model.layers.TransformerStack` with :class:`UnbiasedLayerNorm` norms and a
    ReLU feed-forward. Keys-only masking as the reference: ``forward(x (B, L, d), mask (B, L) bool)``;
    every position, padded or not, gets an output row."""
    stack = TransformerStack(d, layers, heads, ffn, dropout, positions=False)
    for block in stack.blocks:
        block.norm1, block.norm2 = UnbiasedLayerNorm(d), UnbiasedLayerNorm(d)
        block.ff[1] = nn.ReLU()
    stack.norm = UnbiasedLayerNorm(d)
    return stack


class ReleasedFeatureFrontend(nn.Module):
    """(B, T, 1024) per-frame GestSync features -> Linear, LayerNorm (torch's), ReLU, Linear -> plus
    the fixed sinusoid table (``pe`` (1, 500, d), loaded from the checkpoint as the reference does) ->
    dropout -> (B, T, d). Raises ValueError for T > 500 (the table's length)."""

    def __init__(self, feature_dim: int, d: int, dropout: float, max_frames: int = RELEASED_MAX_FRAMES):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(feature_dim, d), nn.LayerNorm(d), nn.ReLU(), nn.Linear(d, d))
        self.register_buffer("pe", sinusoidal_positions(max_frames, d, "cpu", torch.float32)[None])
        self.drop = nn.Dropout(dropout)

    def forward(self, batch: dict) -> torch.Tensor:
        if "features" not in batch:
            raise KeyError("the released gesture head needs batch['features']: 1024-d GestSync features per frame "
                           "(jegal prepare --rgb-features gestsync, docs/released.md)")
        x = batch["features"].float()  # (B, T, F)
        T = x.shape[1]
        if T > self.pe.shape[1]:
            raise ValueError(f"the released gesture head takes at most {self.pe.shape[1]} frames "
                             f"({frame_to_seconds(self.pe.shape[1]):.0f} s at {FPS} fps), got {T}: cut the clip shorter")
        return self.drop(self.mlp(x) + self.pe[:, :T])


# (conv index in ``cnn``, out channels, kernel, stride, padding); a BatchNorm2d and a ReLU follow
# every conv but the last. Frequency 80 -> 40 -> 20 -> 7 -> 3 -> 1, time / 4.
SPEECH_CNN = ((0, 32, 5, 1, 2), (3, 64, 3, 2, 1), (6, 128, 3, 2, 1), (9, 256, 3, (1, 3), 1), (12, 256, 3, (1, 3), 1),
              (15, 256, 1, (1, 3), 0))


class ReleasedSpeechEncoder(nn.Module):
    """The reference's speech CNN over the log-mel, then a Linear: mel (B, 4T, 80) -> (B, T, d_out).

    Each block is Conv2d, BatchNorm2d (eps 1e-5), ReLU (time as height, mel bins as width); the last
    1x1 conv has neither. The input is the reference's log-mel (:func:`reference_log_mel`:
    magnitude, not power, and no rescaling). Padding mel frames of a batch are zeroed before every
    conv at that conv's time resolution, so each clip's frames equal a single unpadded clip's (the
    convs' own zero padding) and padding adds nothing; padding frames of the output are zero."""

    def __init__(self, d_out: int):
        super().__init__()
        layers: list[nn.Module] = []
        cin = 1
        for i, (index, cout, k, stride, pad) in enumerate(SPEECH_CNN):
            layers.append(nn.Conv2d(cin, cout, k, stride=stride, padding=pad))
            if i < len(SPEECH_CNN) - 1:
                layers += [nn.BatchNorm2d(cout), nn.ReLU()]
            cin = cout
        self.cnn = nn.Sequential(*layers)
        self.out = nn.Linear(cin, d_out)

    def forward(self, mel: torch.Tensor, frame_mask: torch.Tensor) -> torch.Tensor:
        """mel (B, 4T, 80) the reference's log-mel, frame_mask (B, T) -> (B, T, d_out), zero on padding.
        Raises ValueError when the mel does not have 4T frames of 80 bins."""
        B, T = frame_mask.shape
        if mel.shape[1:] != (MEL_PER_FRAME * T, MEL_BINS):
            raise ValueError(f"mel is {tuple(mel.shape[1:])}; {T} video frames need ({MEL_PER_FRAME * T}, {MEL_BINS})")
        lengths = frame_mask.sum(1) * MEL_PER_FRAME  # (B,) real mel frames
        x, res = mel.float()[:, None], 1  # (B, 1, 4T, 80); res: mel frames per time step
        for layer in self.cnn:
            if isinstance(layer, nn.Conv2d):
                keep = torch.arange(x.shape[2], device=x.device)[None, :] * res < lengths[:, None]  # (B, L)
                x = layer(x * keep[:, None, :, None])
                res *= layer.stride[0]
            else:
                x = layer(x)
        x = x.squeeze(-1).transpose(1, 2)  # (B, T, 256)
        return self.out(x) * frame_mask[..., None]


def align_head(d: int) -> nn.Sequential:
    """The reference's alignment head: Linear(d, d), ReLU, Linear(d, d)."""
    return nn.Sequential(nn.Linear(d, d), nn.ReLU(), nn.Linear(d, d))


def reference_log_mel(wave: np.ndarray, num_frames: int | None = None) -> np.ndarray:
    """The log-mel the released speech CNN was trained on, ``(4 * num_frames, 80)`` float32.

    16 kHz mono ``wave`` (N,) float in [-1, 1]; natural log of the 80-band mel projection
    (librosa's default Slaney filter bank, 0 to 8 kHz) of the STFT **magnitude** (n_fft 512,
    Hann window 320, hop 160, centred, reflect padding) plus 1e-20; 100 frames a second, the last
    STFT frame dropped. Our own front end (:func:`jegal.data.audio.log_mel`) uses the power and a
    floor of 1e-5: a released model must be fed this one. Padded with the log of 1e-20 (silence)
    where the audio is shorter than ``num_frames`` video frames."""
    from jegal.data.audio import fit_mel_frames, mel_spectrogram

    mel, n_mel = mel_spectrogram(wave, num_frames, power=1)
    return fit_mel_frames(torch.log(mel + LOG_MEL_EPS).T.numpy(), n_mel, LOG_MEL_EPS)


# -- the checkpoint ----------------------------------------------------------------------------
def _linear(m: dict, released: str, ours: str, rows: slice | None = None) -> None:
    m[f"{released}.weight"] = (f"{ours}.weight", rows)
    m[f"{released}.bias"] = (f"{ours}.bias", rows)


def _stack(m: dict, released: str, ours: str, layers: int, d: int) -> None:
    """The reference's encoder (``released``.layers.i / .norm) onto a :func:`released_stack` (``ours``)."""
    for i in range(layers):
        r, o = f"{released}.layers.{i}", f"{ours}.blocks.{i}"
        for j in range(3):  # query, key, value: rows [j d, (j + 1) d) of the fused projection
            _linear(m, f"{r}.self_attn.linears.{j}", f"{o}.qkv", slice(j * d, (j + 1) * d))
        _linear(m, f"{r}.self_attn.linears.3", f"{o}.out")
        _linear(m, f"{r}.feed_forward.w_1", f"{o}.ff.0")
        _linear(m, f"{r}.feed_forward.w_2", f"{o}.ff.3")
        for j, norm in ((0, "norm1"), (1, "norm2")):
            m[f"{r}.sublayer.{j}.norm.a_2"] = (f"{o}.{norm}.weight", None)
            m[f"{r}.sublayer.{j}.norm.b_2"] = (f"{o}.{norm}.bias", None)
    m[f"{released}.norm.a_2"] = (f"{ours}.norm.weight", None)
    m[f"{released}.norm.b_2"] = (f"{ours}.norm.bias", None)


def jegal_key_map(config) -> dict[str, tuple[str, slice | None]]:
    """released ``jegal.pth`` key -> (our state-dict key, rows of it or None for the whole tensor),
    for a model built from ``config`` (a :class:`~jegal.model.config.JEGALConfig` whose sections are
    all ``architecture: "released"``, with text). Query, key and value of each attention layer are
    three Linears in the reference and one fused Linear here: three released keys fill row blocks of
    one of ours."""
    g, t = config.gesture, config.text
    m: dict[str, tuple[str, slice | None]] = {}
    for i in (0, 1, 3):  # Linear, LayerNorm, (ReLU), Linear
        _linear(m, f"proj_ip_rgb.{i}", f"gesture.frontend.mlp.{i}")
    m["position_rgb.pe"] = ("gesture.frontend.pe", None)
    _stack(m, "encoder_rgb", "gesture.head", g.layers, g.d_model)
    _linear(m, "proj_op_rgb", "gesture.out")
    _stack(m, "encoder_text", "text.head", t.layers, t.backbone_dim)
    _linear(m, "proj_op_text", "text.out")
    for i, (index, *_rest) in enumerate(SPEECH_CNN):
        _linear(m, f"cnn.{index}", f"speech.cnn.{index}")
        if i < len(SPEECH_CNN) - 1:
            bn = index + 1
            _linear(m, f"cnn.{bn}", f"speech.cnn.{bn}")
            for buf in ("running_mean", "running_var", "num_batches_tracked"):
                m[f"cnn.{bn}.{buf}"] = (f"speech.cnn.{bn}.{buf}", None)
    _linear(m, "proj_op_audio", "speech.out")
    for released, ours in (("proj_op_fusion_content", "fusion.mlp"), ("proj_op_align_gesture", "gesture_align"),
                           ("proj_op_align_content", "content_align")):
        for i in (0, 2):
            _linear(m, f"{released}.{i}", f"{ours}.{i}")
    return m


def read_checkpoint(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The state dict of a released checkpoint file, with every ``module.`` removed from its keys
    (the prefix ``nn.DataParallel`` adds; the reference removes it wherever it occurs).

    Read with ``torch.load(path, map_location="cpu", weights_only=True)``; the file's
    ``"state_dict"`` entry is used when present (other top-level entries are ignored, as the
    reference does), else the file must itself be a state dict. Raises
    :class:`ReleasedCheckpointError` naming the file when it is missing, unreadable, refused by
    ``weights_only`` (with what to do: the file is never unpickled in full here) or not a state
    dict of tensors, and when two keys collide once the prefix is removed."""
    path = Path(path)
    if not path.is_file():
        raise ReleasedCheckpointError(f"{path}: no such file")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise ReleasedCheckpointError(
            f"{path}: torch.load(weights_only=True) refused the file: it holds Python objects besides tensors "
            f"({str(e).splitlines()[0] if str(e) else type(e).__name__}). It is never unpickled in full here. If you "
            "trust its source, convert it once in a separate Python: sd = torch.load(PATH, weights_only=False)"
            "['state_dict']; torch.save({'state_dict': {k: v for k, v in sd.items()}}, 'clean.pth'), "
            "then import clean.pth") from e
    except (OSError, RuntimeError, EOFError, ValueError) as e:
        raise ReleasedCheckpointError(f"{path}: not a readable torch checkpoint ({type(e).__name__}: {e})") from e
    state = obj.get("state_dict", obj) if isinstance(obj, dict) else obj
    if not isinstance(state, dict) or not state:
        raise ReleasedCheckpointError(f"{path}: expected a dict with a 'state_dict' entry (or a state dict), "
                                      f"got {type(state).__name__}")
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise ReleasedCheckpointError(f"{path}: state dict entry {key!r} is a {type(value).__name__}, "
                                          "not a tensor")
        clean = key.replace("module.", "")
        if clean in out:
            raise ReleasedCheckpointError(f"{path}: keys {key!r} and another one are both {clean!r} "
                                          "once 'module.' is removed")
        out[clean] = value
    return out


@dataclass
class Conversion:
    """What :func:`convert_state` did: ``state`` (our key -> tensor), the released keys used and those
    skipped on purpose, and our keys the checkpoint does not hold (kept at the module's values)."""

    state: dict[str, torch.Tensor]
    consumed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


def convert_state(released: dict[str, torch.Tensor], key_map: dict[str, tuple[str, slice | None]],
                  target: dict[str, torch.Tensor], source: str, skip_prefixes: tuple[str, ...] = (),
                  keep_prefixes: tuple[str, ...] = ()) -> Conversion:
    """Our state dict from a released one.

    ``key_map``: released key -> (our key, rows or None) (:func:`jegal_key_map`; for GestSync the
    identity). ``target``: our module's state dict (shapes, dtypes and the values of keys the
    checkpoint does not hold). ``skip_prefixes``: released keys consumed knowingly without use (the
    GestSync audio branch). ``keep_prefixes``: our keys the checkpoint cannot hold (training-only
    parameters such as the loss's logit scales), kept as in ``target``.

    Raises :class:`ReleasedCheckpointError` naming ``source`` and, one per line, every missing key,
    every unexpected key and every key whose shape differs from the expected one, and every key of
    ours that nothing fills. Values take the dtypes of our tensors."""
    problems = []
    for key in key_map:
        if key not in released:
            problems.append(f"missing key {key}")
    for key, value in released.items():
        if key.startswith(skip_prefixes):
            continue
        if key not in key_map:
            problems.append(f"unexpected key {key} {tuple(value.shape)}")
            continue
        ours, rows = key_map[key]
        if ours not in target:
            problems.append(f"key {key}: our model has no {ours}")
            continue
        want = tuple(target[ours].shape)
        if rows is not None:
            want = (rows.stop - rows.start,) + want[1:]
        if tuple(value.shape) != want:
            problems.append(f"misshaped key {key}: {tuple(value.shape)}, expected {want}")
    filled = {ours for ours, _ in key_map.values()}
    for key in target:
        if key not in filled and not key.startswith(keep_prefixes):
            problems.append(f"our key {key} is filled by nothing in the released layout")
    if problems:
        raise ReleasedCheckpointError(f"{source}: does not fit the released layout ({len(problems)} problem(s)):\n  "
                                      + "\n  ".join(problems))
    state = {k: v.clone() for k, v in target.items()}
    conv = Conversion(state)
    for key, (ours, rows) in key_map.items():
        value = released[key]
        value = value.to(state[ours].dtype)
        if rows is None:
            state[ours] = value.clone()
        else:
            state[ours][rows] = value
        conv.consumed.append(key)
    conv.skipped = sorted(k for k in released if k.startswith(skip_prefixes))
    conv.kept = sorted(k for k in target if k not in filled)
    return conv


__all__ = ["RELEASED_MAX_FRAMES", "ReleasedCheckpointError", "UnbiasedLayerNorm", "released_stack",
           "ReleasedFeatureFrontend", "ReleasedSpeechEncoder", "align_head", "reference_log_mel", "jegal_key_map",
           "read_checkpoint", "Conversion", "convert_state"]
