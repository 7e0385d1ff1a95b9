"""jegal.csvcells: text that would start a spreadsheet formula is neutralised in every CSV the project
writes (OWASP's rule); numbers stay numbers."""

from __future__ import annotations

import csv
import io

import pytest

from jegal.csvcells import safe_cell, safe_row, unsafe_cell

HOSTILE = ["=1+1", "@SUM(A1)", "+cmd|' /C calc'!A0", "-2+3", "\tx", "\rx", "=HYPERLINK(\"http://x\")"]


@pytest.mark.parametrize("text", HOSTILE)
def test_a_cell_that_would_start_a_formula_becomes_text_and_reads_back(text):
    assert safe_cell(text) == "'" + text
    assert unsafe_cell(safe_cell(text)) == text


@pytest.mark.parametrize("value", [-0.5, 3, 0.0, "-0.5", "+1", "1e-3", "-7", "hello", "", "it's", "'quoted", None])
def test_numbers_and_plain_text_are_written_as_they_are(value):
    assert safe_cell(value) == value
    if isinstance(value, str):
        assert unsafe_cell(value) == value


def read(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def _person(words):
    return [{"person": 0, "words": [{"index": k, "word": w, "start_frame": 0, "end_frame": 3, "start_s": 0.0,
                                     "end_s": 0.12, "gesture_score": s, "p_value": 0.5, "controls": 20,
                                     "gestured": False, "gestured_by_score": False, "speaker": None, "best_frame": 1,
                                     "best_s": 0.04, "probability": 0.1, "in_window": True, "above_threshold": False,
                                     "localised": False} for k, (w, s) in enumerate(words)]}]


def test_words_csv_writes_a_formula_word_as_text_and_a_negative_score_as_a_number():
    from jegal.use.spot import CSV_COLUMNS, words_csv

    rows = read(words_csv(_person([("=1+1", -0.5), ("@SUM(A1)", 0.25), ("ball", 1.0)])))
    word, score = CSV_COLUMNS.index("word"), CSV_COLUMNS.index("gesture_score")
    assert [r[word] for r in rows[1:]] == ["'=1+1", "'@SUM(A1)", "ball"]
    assert rows[1][score] == "-0.5" and float(rows[1][score]) == -0.5


def test_asd_csv_writes_a_segments_text_as_text():
    from jegal.use.asd import CSV_FIXED, segments_csv

    seg = {"index": 0, "start_frame": 0, "end_frame": 9, "start_s": 0.0, "end_s": 0.36, "speaker": None,
           "decision": "undecided", "reason": "-nobody", "margin": -0.25, "text": "=1+1 and more",
           "scores": {"0": -0.5}, "visible": {"0": 1.0}}  # a segment as asd.json records it
    (header, row) = read(segments_csv([seg], 1))
    assert row[CSV_FIXED.index("text")] == "'=1+1 and more" and row[CSV_FIXED.index("reason")] == "'-nobody"
    assert row[CSV_FIXED.index("margin")] == "-0.25" and row[header.index("score_person0")] == "-0.5"


def test_safe_row_keeps_the_row_shape():
    assert safe_row(["=a", 1, -2.5, "b"]) == ["'=a", 1, -2.5, "b"]


def test_a_gestured_words_table_keeps_a_formula_word_as_text_and_reads_it_back(tmp_path):
    from jegal.data.gestured_words import GesturedWord, read_gestured_words, write_gestured_words

    rows = [GesturedWord(filename="clip_a", split="test", speaker_id="s1", word_index=k, word=w, start=2 * k,
                         end=2 * k + 1, gestured=k == 0, stroke=None, stress=None)
            for k, w in enumerate(["=1+1", "-dash", "ball"])]
    path = write_gestured_words(tmp_path / "gestured_words.csv", rows)
    cells = read(path.read_text())
    assert [r[cells[0].index("word")] for r in cells[1:]] == ["'=1+1", "'-dash", "ball"]
    assert [r.word for r in read_gestured_words(path).rows] == ["=1+1", "-dash", "ball"]
