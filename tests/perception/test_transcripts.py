import itertools
import json

import numpy as np
import pytest

from jegal.data.transcripts import TranscriptError, read_txt
from jegal.data.words import Word, normalise_word
from jegal.perception.errors import NoWordTier, PrepareError
from jegal.perception.transcripts import (find_transcript, fit_to_media, phone_like, read_plain, read_textgrid,
                                       read_transcript, read_whisperx, read_words)

LONG_TG = '''File type = "ooTextFile"
Object class = "TextGrid"

xmin = 0
xmax = 2.5
tiers? <exists>
size = 2
item []:
    item [1]:
        class = "IntervalTier"
        name = "phones"
        xmin = 0
        xmax = 2.5
        intervals: size = 1
        intervals [1]:
            xmin = 0
            xmax = 2.5
            text = "AH"
    item [2]:
        class = "IntervalTier"
        name = "words"
        xmin = 0
        xmax = 2.5
        intervals: size = 4
        intervals [1]:
            xmin = 0
            xmax = 0.4
            text = ""
        intervals [2]:
            xmin = 0.4
            xmax = 0.92
            text = "Hello,"
        intervals [3]:
            xmin = 0.92
            xmax = 1.3
            text = "sp"
        intervals [4]:
            xmin = 1.3
            xmax = 2.0
            text = "he said ""hi"""
'''

SHORT_TG = '''File type = "ooTextFile"
Object class = "TextGrid"

0
2.5
<exists>
1
"IntervalTier"
"words"
0
2.5
3
0
0.4
""
0.4
0.92
"hello"
0.92
2.0
"world"
'''


def test_textgrid_long_and_short_formats(tmp_path):
    (tmp_path / "long.TextGrid").write_text(LONG_TG)
    (tmp_path / "short.TextGrid").write_text(SHORT_TG)
    words = read_textgrid(tmp_path / "long.TextGrid")
    assert [(w.text, w.start, w.end) for w in words] == [("hello", 10, 23), ('he said hi', 32, 50)]
    assert words[0].display == "Hello,"
    short = read_textgrid(tmp_path / "short.TextGrid")
    assert [(w.text, w.start, w.end) for w in short] == [("hello", 10, 23), ("world", 23, 50)]
    assert [w.text for w in read_textgrid(tmp_path / "long.TextGrid", tier="phones")] == ["ah"]
    with pytest.raises(TranscriptError, match="no tier named"):
        read_textgrid(tmp_path / "long.TextGrid", tier="nope")
    (tmp_path / "bad.TextGrid").write_text('File type = "ooTextFile"\nObject class = "TextGrid"\n0\n')
    with pytest.raises(TranscriptError, match="bad.TextGrid"):
        read_textgrid(tmp_path / "bad.TextGrid")


def test_whisperx_words_without_times_are_interpolated(tmp_path):
    data = {"segments": [
        {"start": 0.0, "end": 2.0, "text": "I have 20 cats", "words": [
            {"word": "I", "start": 0.1, "end": 0.2, "score": 0.9},
            {"word": "have", "start": 0.3, "end": 0.6},
            {"word": "20"},  # WhisperX cannot align digits
            {"word": "cats.", "start": 1.2, "end": 1.6},
        ]},
        {"start": 2.0, "end": 3.0, "words": [{"word": "Bye"}]},
    ]}
    path = tmp_path / "v.json"
    path.write_text(json.dumps(data))
    words = read_whisperx(path)
    assert [w.text for w in words] == ["i", "have", "20", "cats", "bye"]
    assert (words[2].start, words[2].end) == (round(0.6 * 25), round(1.2 * 25))
    assert (words[4].start, words[4].end) == (50, 75)  # the whole segment
    assert words[3].display == "cats."
    path.write_text("{not json")
    with pytest.raises(TranscriptError, match="not valid JSON"):
        read_whisperx(path)
    # A segment that lost its words and has no times either: dropped, with a warning, and
    # nothing else left is an empty transcript.
    path.write_text(json.dumps({"segments": [{"text": "no words"}]}))
    notes = []
    with pytest.raises(TranscriptError, match="no words"):
        read_whisperx(path, notes)
    assert len(notes) == 1 and "dropped its 2 word(s)" in notes[0] and "'no', 'words'" in notes[0]


def test_reference_txt_keeps_punctuation_for_display(real_dir):
    words = read_transcript(real_dir / "sample1.txt").words
    assert words == read_txt(real_dir / "sample1.txt")
    hat = [w for w in words if w.text == "hat"][0]
    assert hat.display == "hat," and (hat.start, hat.end) == (round(1.091 * 25), round(1.294 * 25))


def test_plain_text_empty_and_headerless(tmp_path):
    plain = tmp_path / "a.txt"
    plain.write_text("Merging the two diseases, arthritis deformans and\n")
    tr = read_transcript(plain)
    assert tr.words is None and tr.plain == ["Merging", "the", "two", "diseases,", "arthritis", "deformans", "and"]
    empty = tmp_path / "b.txt"
    empty.write_text("  \n")
    with pytest.raises(TranscriptError, match="empty"):
        read_transcript(empty)
    dots = tmp_path / "c.txt"
    dots.write_text("... -- !!\n")
    with pytest.raises(TranscriptError, match="no words"):
        read_plain(dots)
    half = tmp_path / "d.txt"
    half.write_text("Text: hello\nLang: en\n\n")
    with pytest.raises(TranscriptError, match="no 'WORD, START, END, SCORE'"):
        read_transcript(half)


def test_find_transcript_prefers_txt_then_json_then_textgrid(tmp_path):
    video = tmp_path / "v.mp4"
    assert find_transcript(video) is None
    (tmp_path / "v.TextGrid").write_text(SHORT_TG)
    assert find_transcript(video).name == "v.TextGrid"
    (tmp_path / "v.txt").write_text("hi")
    assert find_transcript(video).name == "v.txt"


def test_fit_to_media_drops_words_outside_and_rejects_long_transcripts():
    words = [Word("a", 0, 5), Word("b", 10, 20), Word("c", 45, 52)]
    kept, warnings = fit_to_media(words, 50, "t.txt")
    assert [w.text for w in kept] == ["a", "b"] and len(warnings) == 1 and "'c'" in warnings[0]
    kept, warnings = fit_to_media(words, 53, "t.txt")
    assert len(kept) == 3 and not warnings
    with pytest.raises(TranscriptError, match="another file"):
        fit_to_media(words + [Word("late", 200, 210)], 50, "t.txt", max_overhang_s=1.0)


# -- the kinds of transcript file people bring ----------------------------------------------------
# sample1's words (the shared case 03 holds these, from a Penn-style forced aligner).
SAMPLE1 = [("amount", 0.031, 0.255), ("of", 0.276, 0.357), ("numbers", 0.377, 0.642), ("inside", 0.683, 0.948),
           ("the", 0.968, 1.07), ("hat", 1.091, 1.294), ("mixing", 1.722, 2.048), ("the", 2.089, 2.15)]
BASELINE = [("amount", 1, 6), ("of", 7, 9), ("numbers", 9, 16), ("inside", 17, 24), ("the", 24, 27), ("hat", 27, 32),
            ("mixing", 43, 51), ("the", 52, 54)]
ARPA = {"amount": "AH0 M AW1 N T", "of": "AH1 V", "numbers": "N AH1 M B ER0 Z", "inside": "IH0 N S AY1 D",
        "the": "DH AH0", "hat": "HH AE1 T", "mixing": "M IH1 K S IH0 NG"}
IPA = {"amount": "ə m aʊ n t", "of": "ʌ v", "numbers": "n ʌ m b ɚ z", "inside": "ɪ n s aɪ d", "the": "ð ə",
       "hat": "h æ t", "mixing": "m ɪ k s ɪ ŋ"}
SAMPA = {"amount": "@ m aU n t", "of": "V v", "numbers": "n V m b @ z", "inside": "I n s aI d", "the": "D @",
         "hat": "h { t", "mixing": "m I k s I N"}
END = 2.24


def _tile(labels: list[tuple[str, float, float]], pause: str) -> list[tuple[float, float, str]]:
    """Intervals covering 0..END: the labels, with ``pause`` intervals in the gaps."""
    out, t = [], 0.0
    for text, s, e in labels:
        if s > t:
            out.append((t, s, pause))
        out.append((s, e, text))
        t = e
    if t < END:
        out.append((t, END, pause))
    return out


def _phones(phoneset: dict, upper: bool = True) -> list[tuple[str, float, float]]:
    rows = []
    for word, s, e in SAMPLE1:
        ph = phoneset[word].split()
        step = (e - s) / len(ph)
        rows += [(p if upper else p.lower(), s + k * step, s + (k + 1) * step) for k, p in enumerate(ph)]
    return rows


def write_textgrid(path, tiers: list[tuple[str, list]], fmt: str = "short", encoding: str = "utf-8",
                   pause: str = "sp") -> None:
    """A Praat TextGrid text file as Praat (long / short format) and aligners write it."""
    tiers = [(name, _tile(rows, pause)) for name, rows in tiers]
    if fmt == "short":
        lines = ['File type = "ooTextFile short"', '"TextGrid"', "", "0", str(END), "<exists>", str(len(tiers))]
        for name, items in tiers:
            lines += ['"IntervalTier"', f'"{name}"', "0", str(END), str(len(items))]
            for s, e, t in items:
                lines += [repr(s), repr(e), '"' + t.replace('"', '""') + '"']
    else:
        lines = ['File type = "ooTextFile"', 'Object class = "TextGrid"', "", "xmin = 0 ", f"xmax = {END} ",
                 "tiers? <exists> ", f"size = {len(tiers)} ", "item []: "]
        for k, (name, items) in enumerate(tiers, start=1):
            lines += [f"    item [{k}]:", '        class = "IntervalTier" ', f'        name = "{name}" ',
                      "        xmin = 0 ", f"        xmax = {END} ", f"        intervals: size = {len(items)} "]
            for j, (s, e, t) in enumerate(items, start=1):
                lines += [f"        intervals [{j}]:", f"            xmin = {s!r} ", f"            xmax = {e!r} ",
                          '            text = "' + t.replace('"', '""') + '" ']
    text = "\n".join(lines) + "\n"
    if encoding == "utf-16-be-bom":  # what Praat writes for a file that is not ASCII
        data = b"\xfe\xff" + text.encode("utf-16-be")
    elif encoding == "utf-16-le-bom":  # Windows "Unicode"
        data = b"\xff\xfe" + text.encode("utf-16-le")
    elif encoding == "crlf-utf-8":
        data = text.replace("\n", "\r\n").encode("utf-8")
    else:
        data = text.encode(encoding)
    path.write_bytes(data)


ENCODINGS = ["utf-8", "utf-8-sig", "utf-16-be-bom", "utf-16-le-bom", "utf-16-le", "cp1252", "latin-1", "crlf-utf-8"]
WORD_TIER_NAMES = ["words", "word", "Word", "WORDS", "Words", "ORT", "ORT-MAU", "orthography", "speaker1 - words",
                   "text", "transcription"]


@pytest.mark.parametrize("name", WORD_TIER_NAMES)
@pytest.mark.parametrize("phones_first", [True, False])
def test_textgrid_word_tier_found_in_every_format_encoding_and_name(tmp_path, name, phones_first):
    """The kind of shared case 03: a forced aligner's TextGrid, a phone tier beside the word tier."""
    words = [(w.upper(), s, e) for w, s, e in SAMPLE1]
    for k, (fmt, enc) in enumerate(itertools.product(["short", "long"], ENCODINGS)):
        ipa = k % 2 == 0 and enc not in ("cp1252", "latin-1")  # IPA needs a Unicode encoding
        phones = ("phones", _phones(IPA, upper=False)) if ipa else ("phone", _phones(ARPA, upper=k % 3 > 0))
        tiers = [phones, (name, words)] if phones_first else [(name, words), phones]
        path = tmp_path / f"v{k}.TextGrid"
        write_textgrid(path, tiers, fmt, enc, pause=["sp", "", "sil", "<eps>", "SIL", "<p:>", "pau"][k % 7])
        notes = []
        got = read_textgrid(path, warnings=notes)
        assert [(w.text, w.start, w.end) for w in got] == BASELINE, (fmt, enc)
        assert not notes, notes


@pytest.mark.parametrize("phoneset, names", [
    (ARPA, ["phone"]), (ARPA, ["phones", "segments"]), (IPA, ["phones"]), (SAMPA, ["MAU"]),
    (ARPA, ["tier1"]),  # named like nothing: the labels show it holds phones
    (IPA, ["Tier 1", "Tier 2"]), (SAMPA, ["annotation"]),
])
def test_textgrid_of_phones_only_is_refused(tmp_path, phoneset, names):
    path = tmp_path / "p.TextGrid"
    write_textgrid(path, [(n, _phones(phoneset)) for n in names])
    with pytest.raises(NoWordTier, match="hold phones") as err:
        read_textgrid(path)
    assert err.value.reason == "no_word_tier" and "p.TextGrid" in str(err.value)
    with pytest.raises(NoWordTier):  # the pipeline's stage keeps the reason
        read_words(path, np.zeros(16000 * 3, np.float32))


def test_textgrid_tier_choice_by_content_and_speakers(tmp_path):
    words = [(w, s, e) for w, s, e in SAMPLE1]
    # No tier named like words: the first tier that is not phones, said in a warning.
    path = tmp_path / "a.TextGrid"
    write_textgrid(path, [("MAU", _phones(SAMPA)), ("Mary", words)], "long")
    notes = []
    assert [(w.text, w.start, w.end) for w in read_textgrid(path, warnings=notes)] == BASELINE
    assert len(notes) == 1 and "'Mary'" in notes[0]
    # MFA, two speakers: "<speaker> - words" tiers merged in time order.
    path = tmp_path / "b.TextGrid"
    write_textgrid(path, [("spk1 - words", words[:4]), ("spk1 - phones", _phones(ARPA)[:18]),
                          ("spk2 - words", words[4:]), ("spk2 - phones", _phones(ARPA)[18:])])
    notes = []
    assert [(w.text, w.start, w.end) for w in read_textgrid(path, warnings=notes)] == BASELINE
    assert "merged" in notes[0]
    # A word tier that holds nothing but pauses: an empty transcript, not phones read as words.
    path = tmp_path / "c.TextGrid"
    write_textgrid(path, [("phones", _phones(ARPA)), ("words", [])])
    with pytest.raises(TranscriptError, match="no words"):
        read_textgrid(path)
    with pytest.raises(PrepareError) as err:
        read_words(path, np.zeros(16000 * 3, np.float32))
    assert err.value.reason == "empty_transcript"
    path = tmp_path / "d.TextGrid"
    write_textgrid(path, [("a", []), ("b", [])])
    with pytest.raises(TranscriptError, match="empty or pauses only"):
        read_textgrid(path)


def test_phone_like_does_not_take_short_words_for_phones():
    assert phone_like("AH0 M AW1 N T AH1 V".split()) and phone_like("ə m aʊ n t ʌ v".split())
    assert not phone_like("amount of numbers inside the hat".split())
    assert not phone_like(["I", "am", "a", "man"])  # short words, too few to judge by length
    assert not phone_like("uh so I am at it as of".split() + ["now"])
    assert not phone_like([])


def test_binary_and_odd_textgrids_fail_with_a_clear_message(tmp_path):
    path = tmp_path / "b.TextGrid"
    path.write_bytes(b"ooBinaryFile\x08TextGrid" + bytes(range(256)))
    with pytest.raises(TranscriptError, match="binary Praat TextGrid"):
        read_textgrid(path)
    path.write_text('"Praat chronological TextGrid text file"\n0 2.24   ! Time domain.\n')
    with pytest.raises(TranscriptError, match="chronological"):
        read_textgrid(path)
    write_textgrid(path, [("words", [(w, s, e) for w, s, e in SAMPLE1])])
    data = path.read_bytes()
    for cut in (40, len(data) // 2, len(data) - 9):
        path.write_bytes(data[:cut])
        with pytest.raises(TranscriptError, match="b.TextGrid"):
            read_textgrid(path)


CURLY = ("Text: don’t the it’s diseases, naïve deformans O’Brien’s\nLang: en\n\nWORD, START, END, SCORE\n"
         "don’t, 0.01, 0.28, 0.900\nthe, 0.3, 0.38, 0.900\nit’s, 0.421, 0.561, 0.900\n"
         "diseases,, 0.621, 1.082, 0.900\nnaïve, 1.423, 1.784, 0.900\ndeformans, 1.804, 2.385, 0.900\n"
         "O’Brien’s, 2.566, 2.646, 0.900\n")
CURLY_WORDS = ["don't", "the", "it's", "diseases", "naïve", "deformans", "o'brien's"]
APOSTROPHES = ["'", "\u2019", "\u2018", "\u02bc", "\u00b4", "`", "\u2032", "\uff07"]


@pytest.mark.parametrize("apostrophe", APOSTROPHES)
def test_typographic_apostrophes_fold_in_every_format_and_encoding(tmp_path, apostrophe):
    """The kind of shared case 16: ’ and its look-alikes written by editors and ASR tools."""
    text = CURLY.replace("’", apostrophe)
    for k, enc in enumerate(["utf-8", "utf-8-sig", "utf-16", "utf-16-be", "cp1252"]):
        try:
            data = text.encode(enc)
        except UnicodeEncodeError:
            continue  # this apostrophe has no cp1252 byte
        path = tmp_path / f"t{k}.txt"
        path.write_bytes(data)
        words = read_transcript(path).words
        assert [w.text for w in words] == CURLY_WORDS, (apostrophe, enc)
        assert words[0].display == f"don{apostrophe}t"  # what the file said, for display
    rows = [line.rsplit(",", 3)[0] for line in CURLY.splitlines()[4:]]
    plain = tmp_path / "plain.txt"
    plain.write_bytes(" ".join(rows).replace("’", apostrophe).encode("utf-16"))
    assert [normalise_word(w) for w in read_transcript(plain).plain] == CURLY_WORDS
    js = tmp_path / "w.json"
    timed = [{"word": w.replace("’", apostrophe), "start": 0.1 * i, "end": 0.1 * i + 0.05} for i, w in enumerate(rows)]
    js.write_text(json.dumps({"segments": [{"start": 0, "end": 3, "words": timed}]}), encoding="utf-8")
    assert [w.text for w in read_whisperx(js)] == CURLY_WORDS
    tg = tmp_path / "w.TextGrid"
    write_textgrid(tg, [("words", [(w.replace("’", apostrophe), 0.1 * i, 0.1 * i + 0.05)
                                   for i, w in enumerate(rows)])], encoding="utf-16-be-bom")
    assert [w.text for w in read_textgrid(tg)] == CURLY_WORDS


def test_whisper_segments_that_lost_their_words_are_placed_or_dropped_with_a_warning(tmp_path):
    path = tmp_path / "w.json"
    data = {"segments": [
        {"start": 0.0, "end": 1.0, "text": " Amount of numbers", "words": [
            {"word": "Amount", "start": 0.03, "end": 0.25}, {"word": "of", "start": 0.28, "end": 0.36},
            {"word": "numbers", "start": 0.38, "end": 0.64}]},
        {"start": 1.0, "end": 2.0, "text": " inside the hat,", "words": []},  # alignment lost the words
        {"start": 2.0, "end": 2.4, "text": " mixing the"},  # Whisper without word timestamps
        {"text": " and more"},  # no times at all: cannot be placed
        {"start": 2.4, "end": 2.5, "words": [{"word": "later", "start": float("nan")}]},
    ]}
    path.write_text(json.dumps(data))
    notes = []
    words = read_whisperx(path, notes)
    assert [w.text for w in words] == ["amount", "of", "numbers", "inside", "the", "hat", "mixing", "the", "later"]
    inside, the, hat = words[3:6]
    assert inside.start == 25 and hat.end == 50 and inside.end <= the.start <= the.end <= hat.start
    assert len(inside.display) > len(the.display) and inside.end - inside.start > the.end - the.start  # by length
    assert (words[6].start, words[7].end) == (50, 60)
    assert (words[8].start, words[8].end) == (60, round(2.5 * 25))  # a NaN time counts as no time
    assert len(notes) == 3
    assert "segment 1" in notes[0] and "placed its 3 word(s) evenly" in notes[0]
    assert "segment 2" in notes[1] and "placed its 2 word(s)" in notes[1]
    assert "segment 3" in notes[2] and "dropped its 2 word(s)" in notes[2] and "'and', 'more'" in notes[2]
    # Without a list, the reader still says so (a Python warning), never silently.
    with pytest.warns(UserWarning) as caught:
        read_whisperx(path)
    assert [str(w.message) for w in caught] == notes
    # The same through the pipeline's stage: the notes reach the item's warnings.
    notes = []
    read_words(path, np.zeros(16000 * 3, np.float32), warnings=notes)
    assert len(notes) == 3
    # A bare list of words, and WhisperX's flat word_segments alone.
    flat = [{"word": w, "start": s, "end": e} for w, s, e in SAMPLE1]
    path.write_text(json.dumps(flat))
    assert [(w.text, w.start, w.end) for w in read_whisperx(path)] == BASELINE
    path.write_text(json.dumps({"word_segments": flat}))
    assert [(w.text, w.start, w.end) for w in read_whisperx(path)] == BASELINE
    # Untimed words between no timed neighbours and no segment times: dropped, with a warning.
    path.write_text(json.dumps({"segments": [{"words": [{"word": "20"}, {"word": "cats", "start": 1, "end": 1.2}]}]}))
    notes = []
    assert [w.text for w in read_whisperx(path, notes)] == ["cats"]
    assert "dropped 1 word(s)" in notes[0] and "'20'" in notes[0]


# -- one decoder: bytes + name -> text and format, for files and uploads alike ---------------------------
def test_decode_transcript_types_by_name_then_content_in_any_encoding(real_dir):
    from jegal.perception.transcripts import decode_transcript

    table = (real_dir / "sample1.txt").read_text(encoding="utf-8")
    whisperx = json.dumps({"segments": [{"start": 0.0, "end": 0.5, "words": [{"word": "hi", "start": 0.0, "end": 0.5}]}]})
    for encoding in ("utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32"):
        for text, by_content in ((table, ".txt"), (whisperx, ".json"), (LONG_TG, ".TextGrid")):
            for name in ("t", "upload.txt", "../x.avi"):
                decoded = decode_transcript(text.encode(encoding), name)
                assert decoded.text == text and decoded.suffix == by_content, (encoding, name)
    # A name that says JSON or TextGrid decides, so a damaged file is reported as what it claims to be.
    assert decode_transcript(b"hello there", "words.json").suffix == ".json"
    assert decode_transcript(b"hello there", "words.TEXTGRID").suffix == ".TextGrid"
    assert decode_transcript(b"[music] hello there", "t").suffix == ".txt"  # starts like JSON, is not
    assert decode_transcript("caf\xe9".encode("cp1252"), "t") == ("caf\xe9", ".txt", "cp1252")


def test_decode_transcript_refuses_binary_data_naming_the_file(real_dir):
    from jegal.perception.transcripts import decode_transcript

    for data in ((real_dir / "sample1.avi").read_bytes()[:2000], b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
                 b"ooBinaryFile\x08TextGrid" + bytes(40)):
        with pytest.raises(TranscriptError, match="clip.txt"):
            decode_transcript(data, "clip.txt")


def test_a_txt_file_holding_whisperx_json_is_read_as_whisperx(tmp_path):
    path = tmp_path / "talk.txt"
    path.write_text(json.dumps({"segments": [{"words": [{"word": "hello", "start": 0.2, "end": 0.6}]}]}))
    assert [(w.text, w.start, w.end) for w in read_transcript(path).words] == [("hello", 5, 15)]
