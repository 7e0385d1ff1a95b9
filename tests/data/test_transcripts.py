import csv

import pytest

from jegal.data.transcripts import TranscriptError, format_txt, parse_word_boundaries, read_txt
from jegal.data.words import Word, normalise_word


def test_reference_txt_keeps_punctuation_for_display(real_dir):
    words = read_txt(real_dir / "sample1.txt")
    hat = next(w for w in words if w.text == "hat")
    assert hat.display == "hat,"
    # "hat, 1.08, 1.28" in seconds -> frames round(t * 25)
    rows = [l for l in (real_dir / "sample1.txt").read_text().splitlines() if l.startswith("hat,")]
    start_s, end_s = (float(x) for x in rows[0].rsplit(",", 3)[1:3])
    assert (hat.start, hat.end) == (round(start_s * 25), round(end_s * 25))
    assert all(w.text == normalise_word(w.display) for w in words)


def test_txt_round_trip(tmp_path):
    words = [Word.from_display("Hello,", 0, 5), Word.from_display("world!", 6, 12), Word.from_display("don't", 13, 20)]
    path = tmp_path / "t.txt"
    path.write_text(format_txt(words))
    assert read_txt(path) == words


@pytest.mark.parametrize("text, problem", [
    ("Text: a\nLang: en\n\n", "header"),
    ("Text: a\nLang: en\n\nWORD, START, END, SCORE\n", "no words"),
    ("Text: a\nLang: en\n\nWORD, START, END, SCORE\nhat, x, 1.0, 0.5\n", "not numbers"),
    ("Text: a\nLang: en\n\nWORD, START, END, SCORE\nhat, 2.0, 1.0, 0.5\n", "before it starts"),
])
def test_bad_txt_names_file_and_problem(tmp_path, text, problem):
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(TranscriptError, match=problem) as err:
        read_txt(path)
    assert "bad.txt" in str(err.value)


def test_avs_word_boundaries_parse_every_row(avs_dir):
    for name in ("avs_spot.csv", "avs_ret.csv", "avs_asd.csv"):
        with open(avs_dir / name, newline="") as f:
            for row in csv.DictReader(f):
                words = parse_word_boundaries(row["word_boundaries"], f"{name}:{row['filename']}")
                assert words and all(w.start <= w.end for w in words)
    target = parse_word_boundaries("['walk', 60, 67]")
    assert target == [Word("walk", 60, 67)]


def test_word_boundaries_refuse_code():
    with pytest.raises(TranscriptError):
        parse_word_boundaries("__import__('os').system('true')")
