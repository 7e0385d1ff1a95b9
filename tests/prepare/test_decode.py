import numpy as np
import pytest

from jegal.prepare.decode import decode_video, load_media
from jegal.prepare.errors import PrepareError
from jegal.timebase import FPS, SAMPLE_RATE


def _container_seconds(path):
    import av

    with av.open(str(path)) as c:
        return c.duration / 1e6


def test_speaker_raw_resampled_to_25fps_with_16k_audio_and_duration_kept(decoded, real_dir):
    d = decoded["speaker_raw.mp4"]
    seconds = _container_seconds(real_dir / "speaker_raw.mp4")
    assert d.frames.dtype == np.uint8 and d.frames.shape[1:] == (270, 480, 3)
    # The source runs at ~24.85 fps; the fps filter puts frames on the 25 fps grid.
    assert abs(d.num_frames / FPS - seconds) <= 2 / FPS
    assert d.audio is not None and d.audio.dtype == np.float32 and d.audio.ndim == 1
    assert abs(len(d.audio) / SAMPLE_RATE - seconds) < 0.1
    assert abs(d.source_fps - 24.85) < 0.05


def test_ntsc_source_and_44k_audio_are_converted(decoded, real_dir):
    d = decoded["two_speakers_raw.mp4"]
    seconds = _container_seconds(real_dir / "two_speakers_raw.mp4")
    assert abs(d.source_fps - 29.97) < 0.01
    assert abs(d.num_frames / FPS - seconds) <= 2 / FPS
    assert abs(len(d.audio) / SAMPLE_RATE - seconds) < 0.1
    assert max(d.frames.shape[1:3]) == 640 and d.scale == pytest.approx(0.5)


def test_external_wav_wins_and_missing_audio_is_reported(real_dir):
    from jegal.data.audio import load_audio

    media = load_media(real_dir / "sample1.avi", wav=real_dir / "sample1.wav")
    np.testing.assert_array_equal(media.audio, load_audio(real_dir / "sample1.wav"))
    assert media.num_frames == 56
    with pytest.raises(PrepareError) as err:
        load_media(real_dir / "sample1.avi")
    assert err.value.reason == "no_audio" and "sample1.avi" in str(err.value)


def test_corrupt_and_truncated_files_fail_with_reason(real_dir, tmp_path):
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    data = (real_dir / "speaker_raw.mp4").read_bytes()
    cut_mp4 = tmp_path / "cut.mp4"
    cut_mp4.write_bytes(data[: len(data) // 2])
    avi = (real_dir / "sample1.avi").read_bytes()
    cut_avi = tmp_path / "cut.avi"
    cut_avi.write_bytes(avi[: len(avi) // 2])
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    for path in (garbage, cut_mp4, cut_avi, empty):
        with pytest.raises(PrepareError) as err:
            decode_video(path)
        assert err.value.reason == "corrupt_video", path
        assert str(path) in str(err.value)


def test_damaged_packets_fail_instead_of_silently_dropping_video(real_dir, tmp_path):
    data = bytearray((real_dir / "speaker_raw.mp4").read_bytes())
    mid = len(data) // 2
    data[mid:mid + 5000] = np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8).tobytes()
    path = tmp_path / "damaged.mp4"
    path.write_bytes(bytes(data))
    with pytest.raises(PrepareError, match="damaged|truncated") as err:
        decode_video(path)
    assert err.value.reason == "corrupt_video"


def test_audio_far_longer_than_video_means_truncated_video(real_dir, tmp_path):
    avi = (real_dir / "sample1.avi").read_bytes()
    cut = tmp_path / "sample1.avi"
    cut.write_bytes(avi[: int(len(avi) * 0.3)])
    with pytest.raises(PrepareError) as err:
        load_media(cut, wav=real_dir / "sample1.wav")
    assert err.value.reason == "corrupt_video"
