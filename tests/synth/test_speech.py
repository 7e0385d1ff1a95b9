import numpy as np
import pytest

from jegal.synth.speech import STRESS_GAIN, get_speech
from jegal.timebase import SAMPLE_RATE


def _rms(wave, a, b):
    seg = wave[int(a * SAMPLE_RATE) : int(b * SAMPLE_RATE)]
    return float(np.sqrt(np.mean(seg ** 2))) if len(seg) else 0.0


@pytest.mark.parametrize("voice", ["en-us+jg0", "en-gb-x-rp+jgf4"])
def test_word_spans_match_speech_energy(voice):
    words = "my brother walked to the market, and then the big dog stopped at the old bridge".replace(",", "").split()
    utt = get_speech().synthesize(words, voice=voice, rate_wpm=170)
    total = len(utt.wave) / SAMPLE_RATE
    assert len(utt.times) == len(words)
    starts = [s for s, _ in utt.times]
    assert starts == sorted(starts)
    for s, e in utt.times:
        assert 0 <= s < e <= total + 1e-6
    inside = np.zeros(len(utt.wave), bool)
    for s, e in utt.times:
        inside[int(s * SAMPLE_RATE) : int(e * SAMPLE_RATE)] = True
    e_in = float(np.mean(utt.wave[inside] ** 2))
    e_out = float(np.mean(utt.wave[~inside] ** 2)) if (~inside).any() else 0.0
    assert e_in > 20 * e_out, (e_in, e_out)
    # Every word carries speech.
    for s, e in utt.times:
        assert _rms(utt.wave, s, e) > 0.01


def test_merged_words_still_get_their_own_spans():
    # espeak merges "the big" into one word event; every word must still be timed.
    words = "so that the big dog went up".split()
    utt = get_speech().synthesize(words)
    assert len(utt.times) == len(words)
    for (s0, e0), (s1, _) in zip(utt.times, utt.times[1:]):
        assert e0 <= s1 + 1e-9 and s0 < e0


def test_stressed_words_are_louder_and_timed():
    words = "we saw a huge house near the river".split()
    plain = get_speech().synthesize(words, [False] * len(words), voice="en-us+jg0")
    stress = [w == "huge" for w in words]
    loud = get_speech().synthesize(words, stress, voice="en-us+jg0")
    i = words.index("huge")
    r_plain = _rms(plain.wave, *plain.times[i])
    r_loud = _rms(loud.wave, *loud.times[i])
    assert r_loud > 1.3 * r_plain
    assert r_loud < 1.2 * STRESS_GAIN * r_plain * 1.5
    # The neighbours are not boosted.
    j = words.index("house")
    assert _rms(loud.wave, *loud.times[j]) < 1.25 * _rms(plain.wave, *plain.times[j])


def test_unknown_voice_is_an_error():
    from jegal.synth.speech import SpeechError

    with pytest.raises(SpeechError, match="no voice"):
        get_speech().synthesize(["hello"], voice="xx-nonexistent")
