import csv

import pytest

from jegal.data.transcripts import TranscriptError, decode_text, format_txt, parse_word_boundaries, read_txt
from jegal.data.words import Word, fold_punctuation, normalise_word


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


# -- text encodings and typographic punctuation ---------------------------------------------------
REFERENCE = ("Text: don’t — naïve\nLang: en\n\nWORD, START, END, SCORE\n"
             "don’t, 0.01, 0.28, 0.900\nnaïve, 0.3, 0.38, 0.900\nwell–known, 0.4, 0.6, 0.9\n")


@pytest.mark.parametrize("encoding, bom", [
    ("utf-8", b""), ("utf-8", b"\xef\xbb\xbf"), ("utf-16-le", b"\xff\xfe"), ("utf-16-be", b"\xfe\xff"),
    ("utf-32-le", b"\xff\xfe\x00\x00"), ("utf-32-be", b"\x00\x00\xfe\xff"), ("utf-16-le", b""), ("utf-16-be", b""),
    ("cp1252", b""),
])
@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_reference_txt_in_every_encoding_editors_write(tmp_path, encoding, bom, newline):
    path = tmp_path / "t.txt"
    path.write_bytes(bom + REFERENCE.replace("\n", newline).encode(encoding))
    words = read_txt(path)
    assert [w.text for w in words] == ["don't", "naïve", "well-known"]
    assert [(w.start, w.end) for w in words] == [(0, 7), (8, 10), (10, 15)]
    assert words[0].display == "don’t"  # the file's own spelling kept for display


def test_latin1_fallback_and_binary_data(tmp_path):
    assert decode_text("naïve café".encode("latin-1")) == ("naïve café", "cp1252")
    assert decode_text(b"caf\xe9 \x81")[0] == "café \x81"  # no cp1252 character for 0x81: Latin-1
    assert decode_text("x".encode("utf-8"))[1] == "utf-8"
    with pytest.raises(TranscriptError, match="binary data"):
        decode_text(bytes(range(256)) * 4, "v.txt")
    with pytest.raises(TranscriptError, match="byte-order mark"):
        decode_text(b"\xff\xfe" + b"\x00\xd8", "v.txt")  # a lone surrogate after a UTF-16 LE mark
    path = tmp_path / "v.txt"
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(500))  # an mp4 renamed .txt
    with pytest.raises(TranscriptError, match="v.txt: binary data"):
        read_txt(path)


@pytest.mark.parametrize("variant, expected", [
    ("don’t", "don't"), ("don‘t", "don't"), ("donʼt", "don't"), ("don´t", "don't"), ("don`t", "don't"),
    ("don′t", "don't"), ("don＇t", "don't"), ("’tis", "tis"), ("O’Brien’s", "o'brien's"),
    ("rock’n’roll", "rock'n'roll"),
    ("“Hello”", "hello"), ("«bonjour»", "bonjour"), ("„so“", "so"),
    ("well–known", "well-known"), ("well—known", "well-known"), ("well‐known", "well-known"),
    ("well−known", "well-known"),
    ("—", ""), ("–", ""), ("naïve", "naïve"), ("nai\u0308ve", "naïve"), ("Café", "café"), ("l’été", "l'été"),
    ("hat,", "hat"), ("zero\u200bwidth", "zerowidth"), ("\ufeffhello", "hello"), ("ﬁne", "fine"),
])
def test_typographic_variants_fold_to_one_spelling_and_letters_stay(variant, expected):
    assert normalise_word(variant) == expected
    assert normalise_word(fold_punctuation(variant)) == expected


def test_txt_without_score_column_and_bad_times(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("WORD, START, END\nhat,, 1.091, 1.294\n")
    assert read_txt(path) == [Word("hat", 27, 32, "hat,")]
    for bad in ("nan", "inf"):
        path.write_text(f"WORD, START, END, SCORE\nhat, {bad}, 1.0, 0.5\n")
        with pytest.raises(TranscriptError, match="no usable time"):
            read_txt(path)
