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


# -- timed segments (subtitles, ELAN annotations): words aligned inside each ---------------------------

def _inside(words, segments):
    """Each word within the 25 fps frames of its own segment (segments in time order, words in order)."""
    from jegal.timebase import seconds_to_frame

    counts = [len([t for t in text.split() if t.strip(",.")]) for _, _, text in segments]
    bounds = np.repeat([[seconds_to_frame(s), seconds_to_frame(e)] for s, e, _ in segments], counts, axis=0)
    assert len(words) == len(bounds)
    return all(lo <= w.start <= w.end <= hi for w, (lo, hi) in zip(words, bounds))


@pytest.mark.slow  # Whisper: loading it, then two segments
def test_segments_words_stay_inside_their_segment_and_land_near_the_reference(real_dir):
    from jegal.perception.align import align_segments

    ref = _reference(real_dir / "sample2.txt")
    wave = load_audio(real_dir / "sample2.wav")
    cut = (ref[2][2] + ref[3][1]) / 2  # between "two" and "diseases,"
    # given out of order; the second cue's end lies past the audio (clamped to it)
    segments = [(cut, 9.0, " ".join(w for w, _, _ in ref[3:])), (0.0, cut, " ".join(w for w, _, _ in ref[:3]))]
    words = align_segments(wave, segments, "talk.srt")
    assert [w.display for w in words] == [w for w, _, _ in ref]
    assert _inside(words, sorted(segments))
    # measured (bench/bench_asr.py, Whisper): 64 ms starts, 131 ms ends (Whisper ends run into pauses)
    assert np.mean([abs(w.start / 25 - s) for w, (_, s, _) in zip(words, ref)]) < 0.1
    assert np.mean([abs(w.end / 25 - e) for w, (_, _, e) in zip(words, ref)]) < 0.2


def test_words_an_aligner_places_outside_their_cue_are_kept_inside_it(monkeypatch):
    """The clamping, against the obvious reference, with a stand-in aligner that places every word
    over the whole stretch it is given (the cue widened by the margin)."""
    import jegal.perception.align as align

    class Spread:
        def align(self, piece, words):
            span = len(piece) / 16000
            return [(w, -0.5 + i * span / len(words), span + 0.5) for i, w in enumerate(words)]

    monkeypatch.setattr(align, "_whisper", lambda: Spread())
    wave = np.zeros(5 * 16000, np.float32)
    cues = [(0.1, 1.0, "one two"), (1.0, 2.0, "three"), (4.5, 5.5, "four five six")]
    words = align.align_segments(wave, cues, "talk.vtt", margin_s=0.25)
    assert _inside(words, cues)
    expected = []  # the reference: each word's times + the stretch's start, clipped into the cue (end at 5 s)
    for start, end, text in cues:
        end = min(end, 5.0)
        lo, hi = max(0.0, start - 0.25), min(5.0, end + 0.25)
        toks = text.split()
        for i, w in enumerate(toks):
            s_, e_ = lo - 0.5 + i * (hi - lo) / len(toks), hi + 0.5
            expected.append((w, round(min(max(s_, start), end) * 25), round(min(max(e_, start), end) * 25)))
    assert [(w.display, w.start, w.end) for w in words] == expected


def test_bad_segments_are_unalignable_naming_the_file_and_the_segment(real_dir):
    from jegal.perception.align import align_segments
    from jegal.perception.errors import EmptyTranscript

    wave = load_audio(real_dir / "sample1.wav")
    with pytest.raises(Unalignable, match=r"talk.srt: segment 2 \(1.500-1.000 s\): not a time span"):
        align_segments(wave, [(0.0, 1.0, "amount of"), (1.5, 1.0, "numbers")], "talk.srt")
    with pytest.raises(Unalignable, match=r"talk.srt: segment 1 \(5.000-6.000 s\): starts after the audio ends"):
        align_segments(wave, [(5.0, 6.0, "hello")], "talk.srt")
    with pytest.raises(EmptyTranscript, match="talk.srt: no segment has words"):
        align_segments(wave, [(0.0, 1.0, " ... "), (1.0, 2.0, "")], "talk.srt")


@pytest.mark.slow  # pocketsphinx tries twice before it gives up (about 3 s), Whisper aligns
def test_a_segment_pocketsphinx_cannot_align_is_aligned_by_whisper_or_named(real_dir):
    from jegal.perception.align import align_segments
    from jegal.perception.asr.engines import whisper_available

    ref = _reference(real_dir / "sample1.txt")
    wave = load_audio(real_dir / "sample1.wav")
    cut = (ref[3][2] + ref[4][1]) / 2  # the second cue ends with the audio, in its last word
    segments = [(0.0, cut, " ".join(w for w, _, _ in ref[:4])), (cut, 2.17, " ".join(w for w, _, _ in ref[4:]))]
    # numbered as given: that cue is the file's first
    with pytest.raises(Unalignable, match=r"talk.srt: segment 1 \(0.958-2.170 s\): forced alignment failed"):
        align_segments(wave, segments[1:] + segments[:1], "talk.srt", engine="pocketsphinx")
    if whisper_available():
        words = align_segments(wave, segments, "talk.srt")
        assert [w.display for w in words] == [w for w, _, _ in ref] and _inside(words, segments)
        assert np.mean([abs(w.start / 25 - s) for w, (_, s, _) in zip(words, ref)]) < 0.1
