import numpy as np
import pytest

from jegal.data.audio import AudioError, load_audio, log_mel, mel_filterbank, _hz_to_mel, _mel_to_hz
from jegal.timebase import MEL_BINS, SAMPLE_RATE


def test_four_mel_frames_per_video_frame(real_dir):
    wave = load_audio(real_dir / "sample1.wav")
    T = len(wave) // 640
    assert log_mel(wave, T).shape == (4 * T, MEL_BINS)
    assert log_mel(wave).shape == (len(wave) // 160, MEL_BINS)
    # asking for more frames than the audio holds pads with the floor instead of failing
    longer = log_mel(wave, T + 10)
    assert longer.shape == (4 * (T + 10), MEL_BINS) and np.all(longer[-8:] == longer.min())


@pytest.mark.parametrize("freq", [300.0, 1000.0, 3500.0])
def test_pure_tone_lands_in_the_mel_bin_centred_on_it(freq):
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    mel = log_mel(np.sin(2 * np.pi * freq * t).astype(np.float32))
    centres = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(SAMPLE_RATE / 2), MEL_BINS + 2))[1:-1]
    peak = np.bincount(mel[5:-5].argmax(axis=1)).argmax()
    assert abs(peak - np.abs(centres - freq).argmin()) <= 1


def test_mel_scale_round_trips_and_filters_are_triangles():
    f = np.array([0.0, 200.0, 999.0, 1000.0, 4000.0, 8000.0])
    np.testing.assert_allclose(_mel_to_hz(_hz_to_mel(f)), f, rtol=1e-9, atol=1e-9)
    fb = mel_filterbank()
    assert fb.shape == (MEL_BINS, 257) and (fb >= 0).all()
    for row in fb:  # each filter rises then falls: one contiguous non-zero run
        nz = np.flatnonzero(row)
        assert len(nz) and np.all(np.diff(nz) == 1)


def test_unreadable_audio_names_the_file(tmp_path):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF....WAVEfmt garbage")
    with pytest.raises(AudioError, match="broken.wav"):
        load_audio(bad)
