"""Audio loading and the log-mel front end (docs/design.md section 2), without torchaudio or librosa.

80 mel bins (Slaney scale and normalisation, as librosa's default), n_fft 512, a 320-sample
Hann window, hop 160, natural log with a floor: 100 mel frames a second, exactly 4 per
25 fps video frame. Frame ``k`` is centred on sample ``160 k``; a clip of ``T`` video
frames has ``4 T`` mel frames.
"""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np

from jegal.timebase import MEL_BINS, MEL_HOP, MEL_N_FFT, MEL_PER_FRAME, MEL_WINDOW, SAMPLE_RATE

LOG_FLOOR = 1e-5


class AudioError(ValueError):
    """Audio that cannot be used; the message names the file and the problem."""


def _hz_to_mel(f):
    f = np.asarray(f, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep, f / f_sp)


def _mel_to_hz(m):
    m = np.asarray(m, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


@lru_cache(maxsize=4)
def mel_filterbank(sr: int = SAMPLE_RATE, n_fft: int = MEL_N_FFT, n_mels: int = MEL_BINS) -> np.ndarray:
    """Slaney-style triangular filters, ``(n_mels, n_fft // 2 + 1)``, area-normalised."""
    fft_freqs = np.linspace(0, sr / 2, n_fft // 2 + 1)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(sr / 2), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels]))[:, None]
    return weights.astype(np.float32)


def log_mel(wave: np.ndarray, num_frames: int | None = None) -> np.ndarray:
    """Log-mel of 16 kHz mono audio, ``(num_mel_frames, 80)`` float32.

    With ``num_frames`` (video frames) the result has exactly ``4 * num_frames`` rows:
    cropped, or padded with the log floor where the audio is shorter.
    """
    import torch

    mel, n_mel = mel_spectrogram(wave, num_frames, power=2)
    return fit_mel_frames(torch.log(mel.clamp_min(LOG_FLOOR)).T.numpy(), n_mel, LOG_FLOOR)


def mel_spectrogram(wave: np.ndarray, num_frames: int | None = None, power: int = 2):
    """The 80-band mel projection of ``|STFT| ** power`` of 16 kHz mono ``wave`` (N,): a torch tensor
    ``(80, frames)`` and the number of mel frames wanted (``4 * num_frames``, or one per hop). The
    STFT of docs/design.md section 2 (n_fft 512, Hann window 320, hop 160, centred, reflect padding); shared
    by :func:`log_mel` and the released model's front end (:func:`jegal.model.released.reference_log_mel`).
    Raises :class:`AudioError` for audio that is not mono."""
    import torch

    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim != 1:
        raise AudioError(f"log_mel expects mono audio of shape (N,), got {wave.shape}")
    n_mel = len(wave) // MEL_HOP if num_frames is None else MEL_PER_FRAME * num_frames
    x = torch.from_numpy(wave)
    if len(x) < MEL_N_FFT:
        x = torch.nn.functional.pad(x, (0, MEL_N_FFT - len(x)))
    window = torch.hann_window(MEL_WINDOW)
    spec = torch.stft(x, MEL_N_FFT, hop_length=MEL_HOP, win_length=MEL_WINDOW, window=window,
                      center=True, pad_mode="reflect", return_complex=True)
    return torch.from_numpy(mel_filterbank()) @ spec.abs().pow(power), n_mel  # (80, frames)


def fit_mel_frames(out: np.ndarray, n_mel: int, floor: float) -> np.ndarray:
    """``out`` (frames, 80) cut to ``n_mel`` rows, or padded with ``log(floor)`` (silence)."""
    if len(out) >= n_mel:
        return np.ascontiguousarray(out[:n_mel])
    pad = np.full((n_mel - len(out), MEL_BINS), np.log(floor), dtype=np.float32)
    return np.concatenate([out, pad])


def load_audio(path: str | os.PathLike) -> np.ndarray:
    """Read an audio file as 16 kHz mono float32, resampling with soxr if needed."""
    import soundfile as sf

    try:
        wave, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as err:
        raise AudioError(f"{path}: cannot read audio ({err})") from err
    wave = wave.mean(axis=1)
    if len(wave) == 0:
        raise AudioError(f"{path}: audio is empty")
    return resample(wave, sr)


def resample(wave: np.ndarray, sr: int, target: int = SAMPLE_RATE) -> np.ndarray:
    if sr == target:
        return np.ascontiguousarray(wave, dtype=np.float32)
    import soxr

    return soxr.resample(wave, sr, target).astype(np.float32)
