import numpy as np
import pytest

from jegal.data.audio import load_audio
from jegal.data.transcripts import TranscriptError
from jegal.prepare.align import align_seconds, align_words, ipa_to_cmu, pronounce


def _reference(path):
    rows = []
    lines = path.read_text().splitlines()
    for line in lines[lines.index("WORD, START, END, SCORE") + 1:]:
        word, start, end, _ = line.rsplit(",", 3)
        rows.append((word.strip(), float(start), float(end)))
    return rows


def test_ipa_to_cmu_on_known_words():
    assert ipa_to_cmu("həlˈoʊ") == ["HH", "AH", "L", "OW"]
    assert ipa_to_cmu("tʃˈɜːtʃ") == ["CH", "ER", "CH"]
    assert ipa_to_cmu("dʒˈʌmp?") == ["JH", "AH", "M", "P"]


def test_out_of_dictionary_word_gets_an_espeak_pronunciation():
    from pocketsphinx import Decoder

    assert Decoder(loglevel="FATAL").lookup_word("deformans") is None  # the case under test
    phones = pronounce("deformans")
    assert phones[0] == "D" and phones[-2:] == ["N", "Z"] and "M" in phones


@pytest.mark.slow
@pytest.mark.parametrize("name", ["sample1", "sample2"])
def test_forced_alignment_lands_within_a_tenth_of_a_second(real_dir, name):
    ref = _reference(real_dir / f"{name}.txt")
    wave = load_audio(real_dir / f"{name}.wav")
    got = align_seconds(wave, [w for w, _, _ in ref], name)
    assert [w for w, _, _ in got] == [w for w, _, _ in ref]
    errors = [abs(a[1] - b[1]) for a, b in zip(got, ref)] + [abs(a[2] - b[2]) for a, b in zip(got, ref)]
    assert np.mean(errors) < 0.1
    words = align_words(wave, [w for w, _, _ in ref], name)
    assert all(0 <= w.start <= w.end < len(wave) / 640 + 1 for w in words)
    assert [w.text for w in words] == [w.strip(",") for w, _, _ in ref]


def test_unalignable_inputs_raise_with_the_file_name(real_dir):
    wave = load_audio(real_dir / "sample1.wav")
    with pytest.raises(TranscriptError, match="cannot be aligned") as err:
        align_words(wave, ["amount", "日本", "numbers"], "x.txt")
    assert "x.txt" in str(err.value) and "日本" in str(err.value)
    with pytest.raises(TranscriptError, match="longer than the media"):
        align_words(wave[:8000], ["word"] * 20, "x.txt")
    with pytest.raises(TranscriptError, match="no words"):
        align_words(wave, ["...", "!"], "x.txt")
