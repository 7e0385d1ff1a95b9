import numpy as np
import pytest

from jegal.prepare.segment import clip_waveform, split_segments
from jegal.timebase import SAMPLES_PER_FRAME


@pytest.mark.parametrize("start,end,max_frames", [(0, 53, 20), (7, 7, 5), (10, 759, 750), (0, 749, 750), (3, 1000, 97)])
def test_split_segments_cover_the_track_in_near_equal_pieces(start, end, max_frames):
    segments = split_segments(start, end, max_frames)
    frames = [f for s, e in segments for f in range(s, e + 1)]
    assert frames == list(range(start, end + 1))  # contiguous, in order, every frame once
    lengths = [e - s + 1 for s, e in segments]
    assert max(lengths) <= max_frames and max(lengths) - min(lengths) <= 1
    assert len(segments) == -(-(end - start + 1) // max_frames)  # as few as the bound allows


def test_clip_waveform_matches_a_per_sample_reference():
    rng = np.random.default_rng(0)
    audio = (rng.normal(size=10 * SAMPLES_PER_FRAME + 100) * 0.7).astype(np.float32)  # some samples clip
    for s, e in [(0, 0), (2, 5), (8, 12)]:  # the last runs past the audio's end
        got = clip_waveform(audio, s, e)
        want = []
        for i in range(s * SAMPLES_PER_FRAME, (e + 1) * SAMPLES_PER_FRAME):
            x = float(audio[i]) if i < len(audio) else 0.0
            want.append(int(np.float32(min(max(x, -1.0), 1.0)) * np.float32(32767)))
        assert got.dtype == np.int16 and got.tolist() == want
