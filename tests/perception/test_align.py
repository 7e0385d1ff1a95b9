import numpy as np
import pytest

from jegal.data.audio import load_audio
from jegal.data.transcripts import TranscriptError
from jegal.perception.align import align_seconds, align_words, ipa_to_cmu, pronounce
from jegal.perception.errors import Unalignable


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


# -- the kind of shared case 17: a transcript that does not fit its audio ---------------------------
SAMPLE1_WORDS = "amount of numbers inside the hat, mixing the".split()


@pytest.mark.parametrize("stage", ["Decoder", "add_word", "set_align_text", "process_raw", "set_alignment",
                                   "get_alignment"])
def test_every_aligner_failure_is_unalignable_naming_the_file(monkeypatch, stage):
    """pocketsphinx raises RuntimeError from several calls; each is a named reason, never 'error'."""
    import pocketsphinx

    class Failing:
        def __init__(self, *args, **kwargs):
            if stage == "Decoder":
                raise RuntimeError("cannot load acoustic model")

        def lookup_word(self, word):
            return None if stage == "add_word" else "X"

        def add_word(self, *args):
            raise RuntimeError("bad phone")

        def __getattr__(self, name):
            if name == stage:
                def fail(*args, **kwargs):
                    raise RuntimeError(f"{name} failed")
                return fail
            return lambda *args, **kwargs: [] if name == "get_alignment" else None

    monkeypatch.setattr(pocketsphinx, "Decoder", Failing)
    monkeypatch.setattr("jegal.perception.align.pronounce", lambda word: ["AH"])
    with pytest.raises(Unalignable) as err:
        align_words(np.zeros(16000 * 3, np.float32), SAMPLE1_WORDS, "clip.txt")
    assert err.value.reason == "unalignable" and "clip.txt" in str(err.value)


def test_silence_instead_of_speech_is_unalignable():
    with pytest.raises(Unalignable, match="does not fit the 8 words") as err:
        align_words(np.zeros(16000 * 3, np.float32), SAMPLE1_WORDS, "clip.txt")
    assert "clip.txt" in str(err.value) and "Failed to set up" in str(err.value)


@pytest.mark.slow
@pytest.mark.parametrize("audio", ["sample2", "reversed", "noise", "nan"])
def test_wrong_audio_is_unalignable(real_dir, audio):
    wave = load_audio(real_dir / ("sample2.wav" if audio == "sample2" else "sample1.wav"))
    wave = {"sample2": wave, "reversed": wave[::-1].copy(), "nan": np.full_like(wave, np.nan),
            "noise": np.random.default_rng(0).normal(0, 0.1, len(wave)).astype(np.float32)}[audio]
    with pytest.raises(Unalignable) as err:
        align_words(wave, SAMPLE1_WORDS, "clip.txt")
    assert "clip.txt" in str(err.value)


def test_typographic_and_accented_words_find_their_dictionary_entry():
    from pocketsphinx import Decoder

    from jegal.perception.align import _dict_form

    decoder = Decoder(loglevel="FATAL")
    for word, entry in [("don’t", "don't"), ("O’Brien’s", "o'brien's"), ("naïve", "naive"), ("Café", "cafe"),
                        ("it´s", "it's")]:
        assert _dict_form(word) == entry and decoder.lookup_word(entry) is not None, word
