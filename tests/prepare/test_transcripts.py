import json

import pytest

from jegal.data.transcripts import TranscriptError, read_txt
from jegal.data.words import Word
from jegal.prepare.transcripts import (find_transcript, fit_to_media, read_plain, read_textgrid, read_transcript,
                                       read_whisperx)

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
    path.write_text(json.dumps({"segments": [{"text": "no words"}]}))
    with pytest.raises(TranscriptError, match="no 'words'"):
        read_whisperx(path)


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
