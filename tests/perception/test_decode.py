import numpy as np
import pytest

from jegal.perception.decode import decode_video, display_rotation, iter_video, load_audio_for, load_media
from jegal.perception.errors import PrepareError
from jegal.timebase import FPS, SAMPLE_RATE

from .wild import dominant_hz, read_stripes, stripes, write_video


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


# -- containers as phones, editors and screen recorders write them --------------------------------

@pytest.mark.parametrize("angle", [0, 90, 180, 270, -90])
def test_display_rotation_is_applied_so_frames_come_out_upright(tmp_path, angle):
    """The kind of shared case 06: pixels stored sideways, a display matrix says how to turn them."""
    upright = [np.ascontiguousarray(np.pad(stripes(i, 48, 72), ((0, 0), (0, 16), (0, 0)))) for i in range(12)]
    for img in upright:
        img[:8, -16:] = (255, 0, 0)  # a red mark in the top right corner shows the orientation
    k = (angle // 90) % 4
    stored = [np.ascontiguousarray(np.rot90(img, -k)) for img in upright]  # what the camera wrote
    path = tmp_path / f"r{angle}.mp4"
    write_video(path, stored, rotation=angle if angle else None)
    info = {}
    frames = np.concatenate(list(iter_video(path, info=info)))
    assert info["rotation"] == angle % 360
    assert frames.shape[1:3] == upright[0].shape[:2]
    assert [read_stripes(f[:, :48]) for f in frames] == list(range(12))
    assert (frames[:, 2:6, -12:-4, 0] > 200).all() and (frames[:, 2:6, -12:-4, 2] < 60).all()
    # Downscaling bounds the displayed long side.
    small = np.concatenate(list(iter_video(path, max_side=36)))
    assert max(small.shape[1:3]) == 36
    assert (small.shape[1] > small.shape[2]) == (upright[0].shape[0] > upright[0].shape[1])


def test_display_rotation_of_a_frame():
    class F:
        def __init__(self, r):
            self.rotation = r

    assert [display_rotation(F(r)) for r in (0, 90, -90, 180, -180, 270, 89.6, None)] == [0, 90, 270, 180, 180, 270,
                                                                                             90, 0]


def test_variable_frame_rate_is_resampled_to_25fps_by_timestamps(tmp_path):
    # A phone's screen recording: bursts at 60 fps, stretches at 10 fps.
    pts, t = [], 0.0
    for i in range(60):
        pts.append(int(round(t)))
        t += 1000 / 60 if (i // 15) % 2 == 0 else 100
    path = tmp_path / "vfr.mp4"
    write_video(path, [stripes(i) for i in range(60)], pts, audio=[(True, 440)])
    d = decode_video(path)
    duration = (pts[-1] + 40) / 1000
    assert abs(d.num_frames - duration * FPS) <= 1  # not 60: frames follow time, not count
    assert abs(len(d.audio) / SAMPLE_RATE - d.num_frames / FPS) < 0.1  # in step with the audio
    shown = [read_stripes(f) for f in d.frames]
    assert shown == sorted(shown)
    for k, i in enumerate(shown):
        # Output frame k (at 40 k ms) shows the input frame current then, to within half a frame.
        assert pts[i] <= 40 * k + 21, (k, i)
        assert i == len(pts) - 1 or pts[i + 1] >= 40 * k - 21, (k, i)


@pytest.mark.parametrize("suffix", [".mkv", ".mp4"])
def test_the_default_of_several_audio_streams_is_used_and_named(tmp_path, suffix):
    frames = [stripes(i) for i in range(25)]
    path = tmp_path / f"two{suffix}"
    write_video(path, frames, audio=[(False, 300), (True, 1000)])  # commentary first, the default second
    notes = []
    audio = load_audio_for(path, None, notes)
    assert abs(dominant_hz(audio) - 1000) < 5
    assert len(notes) == 1 and "2 audio streams; used #2 (default" in notes[0] and str(path) in notes[0]
    # No stream flagged default: the first one, and still said.
    path = tmp_path / f"none{suffix}"
    write_video(path, frames, audio=[(False, 300), (False, 1000)])
    notes = []
    assert abs(dominant_hz(load_audio_for(path, None, notes)) - 300) < 5
    assert "used #1" in notes[0]
    # One stream: nothing to say.
    path = tmp_path / f"one{suffix}"
    write_video(path, frames, audio=[(True, 500)])
    notes = []
    assert abs(dominant_hz(load_audio_for(path, None, notes)) - 500) < 5 and notes == []


def test_decoder_failures_are_named_reasons(tmp_path):
    frames = [stripes(i) for i in range(30)]
    path = tmp_path / "ok.mp4"
    write_video(path, frames, audio=[(True, 500)])
    data = path.read_bytes()
    rng = np.random.default_rng(0)
    for k, cut in enumerate(sorted(rng.integers(1, len(data), 12))):
        bad = tmp_path / f"cut{k}.mp4"
        bad.write_bytes(data[:cut])
        try:
            decode_video(bad)
        except PrepareError as err:
            assert err.reason in ("corrupt_video", "no_video") and str(bad) in str(err)
    audio_only = tmp_path / "audio.mp4"
    import av

    with av.open(str(audio_only), "w") as c:
        a = c.add_stream("aac", rate=16000)
        a.layout = "mono"
        fr = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="flt", layout="mono")
        fr.sample_rate = 16000
        for p in list(a.encode(fr)) + list(a.encode()):
            c.mux(p)
    with pytest.raises(PrepareError) as err:
        decode_video(audio_only)
    assert err.value.reason == "no_video"
    wav = tmp_path / "x.wav"
    wav.write_bytes(b"RIFF\x00\x00")
    with pytest.raises(PrepareError) as err:
        load_audio_for(path, wav)
    assert err.value.reason == "bad_audio"


def _raw_h264(path, frames):
    import av

    if "libx264" not in av.codecs_available:
        pytest.skip("PyAV's FFmpeg has no libx264 encoder")
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w", format="h264") as c:
        v = c.add_stream("libx264", rate=25)
        v.width, v.height, v.pix_fmt = w, h, "yuv420p"
        for i, img in enumerate(frames):
            f = av.VideoFrame.from_ndarray(img, format="rgb24")
            f.pts = i
            for p in v.encode(f):
                c.mux(p)
        for p in v.encode():
            c.mux(p)


def test_raw_stream_without_timestamps_and_a_size_change_mid_stream(tmp_path):
    """A camera's raw .h264 dump: no container, so no timestamps; the second half at another size."""
    _raw_h264(tmp_path / "a.h264", [stripes(i, 64, 48) for i in range(10)])
    _raw_h264(tmp_path / "b.h264", [stripes(i, 96, 72) for i in range(10, 20)])
    path = tmp_path / "ab.h264"
    path.write_bytes((tmp_path / "a.h264").read_bytes() + (tmp_path / "b.h264").read_bytes())
    d = decode_video(path, with_audio=False)
    assert d.frames.shape == (20, 48, 64, 3)  # every frame, all at the first frame's size
    assert [read_stripes(f) for f in d.frames] == list(range(20))
