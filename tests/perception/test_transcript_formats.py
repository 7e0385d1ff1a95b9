"""The transcript kinds people have (issue 24): YouTube's automatic captions (WebVTT with inline word
times and rolling duplicates), WebVTT without word times, SubRip, ELAN; language-tagged names found
beside the video; other kinds refused by name. Files are made from the reference transcripts of the
real samples (../shared/data/real) and read against those samples' audio."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest

from jegal.data.audio import load_audio
from jegal.data.transcripts import TranscriptError, read_txt
from jegal.perception.errors import BadTranscript, NoWordTier
from jegal.perception.transcripts import (choose_eaf_tiers, decode_transcript, find_transcript, read_transcript,
                                       read_words, transcripts_beside, unused_transcripts)
from jegal.timebase import seconds_to_frame


def reference(real_dir, name):
    """``(word, start_s, end_s)`` of a real sample's reference transcript, as written in the file."""
    rows = []
    for line in (real_dir / name).read_text(encoding="utf-8").splitlines()[4:]:
        word, start, end, _ = line.rsplit(",", 3)
        rows.append((word.strip(), float(start), float(end)))
    return rows


def clock(t: float, comma: bool = False) -> str:
    h, rest = divmod(t, 3600)
    m, s = divmod(rest, 60)
    text = f"{int(h):02d}:{int(m):02d}:{s:06.3f}"
    return text.replace(".", ",") if comma else text


def youtube_vtt(rows, per_line=3) -> str:
    """``rows`` written as YouTube writes automatic captions (what ``yt-dlp --write-auto-subs`` saves):
    ``Kind``/``Language`` header; each line of words in a cue of its own whose first line repeats the
    line before and whose second carries inline ``<hh:mm:ss.mmm><c> word</c>`` times after the first
    word; then a 10 ms cue showing the finished line again with a blank line under it."""
    lines = [rows[i:i + per_line] for i in range(0, len(rows), per_line)]
    out = ["WEBVTT", "Kind: captions", "Language: en", ""]
    before = " "
    for k, line in enumerate(lines):
        start = line[0][1]
        end = lines[k + 1][0][1] if k + 1 < len(lines) else line[-1][2]
        timed = line[0][0] + "".join(f"<{clock(s)}><c> {w}</c>" for w, s, _ in line[1:])
        out += [f"{clock(start)} --> {clock(end - 0.01)} align:start position:0%", before, timed, ""]
        before = " ".join(w for w, _, _ in line)
        out += [f"{clock(end - 0.01)} --> {clock(end)} align:start position:0%", before, " ", ""]
    return "\n".join(out) + "\n"


def segments_of(rows, per_segment=3):
    """``(start_s, end_s, text)`` segments of ``per_segment`` reference words each."""
    groups = [rows[i:i + per_segment] for i in range(0, len(rows), per_segment)]
    return [(g[0][1], g[-1][2], " ".join(w for w, _, _ in g)) for g in groups]


def srt_text(segments) -> str:
    return "".join(f"{k}\n{clock(s, True)} --> {clock(e, True)}\n{text}\n\n" for k, (s, e, text) in
                   enumerate(segments, start=1))


def naive_words(vtt: str) -> list[str]:
    """What reading every cue line as text gives (the bug the reader avoids)."""
    words = []
    for line in vtt.splitlines():
        if "-->" in line or line.startswith(("WEBVTT", "Kind:", "Language:")):
            continue
        words += re.sub(r"<[^>]+>", "", line).split()
    return words


@pytest.mark.parametrize("sample", ["sample1", "sample2"])
def test_youtube_auto_captions_give_each_word_once_with_its_own_time(tmp_path, real_dir, sample):
    rows = reference(real_dir, f"{sample}.txt")
    vtt = youtube_vtt(rows)
    assert len(naive_words(vtt)) >= 2 * len(rows) - 3  # the file really repeats every line
    path = tmp_path / f"{sample}.en.vtt"
    path.write_text(vtt, encoding="utf-8")
    got = read_transcript(path)
    assert got.words is not None and got.segments is None
    expected = read_txt(real_dir / f"{sample}.txt")
    assert [w.display for w in got.words] == [w.display for w in expected]
    assert [w.start for w in got.words] == [w.start for w in expected]  # each word's own inline time
    ends = [w.end for w in got.words]
    assert all(a.end <= b.start for a, b in zip(got.words, got.words[1:]))  # no word swallows the next
    assert ends[-1] == seconds_to_frame(rows[-1][2])
    assert any("repeated" in note for note in got.warnings)
    # the whole stage: read against the sample's audio, the same words and starts
    words = read_words(path, load_audio(real_dir / f"{sample}.wav"))
    assert [(w.display, w.start) for w in words] == [(w.display, w.start) for w in expected]


def test_webvtt_without_word_times_gives_its_cues_as_segments_to_align(tmp_path, real_dir):
    rows = reference(real_dir, "sample2.txt")
    segments = segments_of(rows)
    # roll-up captions without word times: each cue shows the line before again
    cues, before = [], None
    for s, e, text in segments:
        cues.append(f"{clock(s)} --> {clock(e)}\n" + (f"{before}\n" if before else "") + f"<c>{text}</c>\n\n")
        before = text
    path = tmp_path / "talk.vtt"
    path.write_text("WEBVTT\n\nNOTE made from sample2.txt\n\n" + "".join(cues), encoding="utf-8")
    got = read_transcript(path)
    assert got.words is None
    assert got.segments == [(pytest.approx(s, abs=1e-3), pytest.approx(e, abs=1e-3), t) for s, e, t in segments]


@pytest.mark.slow  # aligns three segments of real speech (about 4 s each on a loaded 2-core machine)
def test_srt_segments_are_aligned_within_their_times(tmp_path, real_dir):
    rows = reference(real_dir, "sample1.txt")
    segments = segments_of(rows)
    path = tmp_path / "talk.srt"
    path.write_text(srt_text(segments), encoding="utf-8")
    assert read_transcript(path).segments == [(pytest.approx(s, abs=1e-3), pytest.approx(e, abs=1e-3), t)
                                              for s, e, t in segments]
    words = read_words(path, load_audio(real_dir / "sample1.wav"))
    assert [w.display for w in words] == [w for w, _, _ in rows]
    for k, (s, e, text) in enumerate(segments):
        inside = words[3 * k:3 * k + len(text.split())]
        assert all(seconds_to_frame(s) <= w.start <= w.end <= seconds_to_frame(e) for w in inside), (inside, s, e)
    # aligned, not spread by length: the words land near the reference times
    error = np.mean([abs(w.start - seconds_to_frame(r[1])) for w, r in zip(words, rows)])
    assert error <= 4.0, error  # frames (25 fps)


def write_eaf(path, tiers: dict[str, list[tuple[float, float, str]]]):
    """An ELAN file (written with pympi) holding ``tiers``: name -> ``(start_s, end_s, value)``."""
    from pympi.Elan import Eaf, to_eaf

    eaf = Eaf(author="a gesture researcher")
    eaf.remove_tier("default")
    for name, rows in tiers.items():
        eaf.add_tier(name)
        for s, e, v in rows:
            eaf.add_annotation(name, int(round(s * 1000)), int(round(e * 1000)), v)
    to_eaf(str(path), eaf)
    return path


def gesture_tier(rows):
    phases = ["prep", "stroke", "hold", "retraction"]
    return [(rows[k][1], rows[k][2], phases[k % 4]) for k in range(len(rows))]


def test_an_eaf_with_a_gesture_tier_before_the_words_tier_reads_the_words(tmp_path, real_dir):
    rows = reference(real_dir, "sample1.txt")
    expected = read_txt(real_dir / "sample1.txt")
    words = [(s, e, w) for w, s, e in rows]
    path = write_eaf(tmp_path / "talk.eaf", {"gesture phases": gesture_tier(rows), "Words@A": words,
                                              "translation": [(rows[0][1], rows[-1][2], "Menge der Zahlen im Hut")]})
    got = read_transcript(path)
    assert [(w.display, w.start, w.end) for w in got.words] == [(w.display, w.start, w.end) for w in expected]
    # not named like words: the only tier that is not gestures, translations or phones; the gesture tier
    # is told by its labels even under a neutral name
    path = write_eaf(tmp_path / "b.eaf", {"G1": gesture_tier(rows), "speaker A": words})
    got = read_transcript(path)
    assert [w.display for w in got.words] == [w.display for w in expected] and "'speaker A'" in got.warnings[0]
    # utterances: segments whose words are aligned inside each one
    utterances = [(s, e, t) for s, e, t in segments_of(rows, 4)]
    path = write_eaf(tmp_path / "c.eaf", {"gestures": gesture_tier(rows), "utterances": utterances})
    assert [t for _, _, t in read_transcript(path).segments] == [t for _, _, t in utterances]


def test_an_eaf_whose_words_tier_cannot_be_chosen_lists_its_tiers_and_tier_chooses(tmp_path, real_dir):
    rows = reference(real_dir, "sample1.txt")
    words = [(s, e, w) for w, s, e in rows]
    path = write_eaf(tmp_path / "talk.eaf", {"speaker A": words, "speaker B": words[:3], "gesture": gesture_tier(rows)})
    with pytest.raises(NoWordTier) as err:
        read_transcript(path)
    message = str(err.value)
    assert str(path) in message and "--tier" in message
    assert "'speaker A' (8 annotations)" in message and "'speaker B' (3 annotations)" in message
    assert "'gesture' (8 annotations)" in message
    assert [w.display for w in read_transcript(path, tier="speaker b").words] == [w for w, _, _ in rows[:3]]
    with pytest.raises(NoWordTier, match="no tier named 'nope'.*'speaker A'"):
        read_transcript(path, tier="nope")
    # --tier through the pipeline's reader, and a tier on a kind without tiers is said, not fatal
    audio = load_audio(real_dir / "sample1.wav")
    assert len(read_words(path, audio, tier="speaker A")) == 8
    notes = []
    read_words(real_dir / "sample1.txt", audio, warnings=notes, tier="words")
    assert any("--tier words ignored" in n for n in notes)


def test_choose_eaf_tiers_merges_one_words_tier_per_speaker():
    tiers = {"words@A": [(0.0, 0.5, "hello")], "gesture@A": [(0.0, 0.5, "stroke")], "words@B": [(0.6, 1.0, "there")]}
    notes = []
    assert choose_eaf_tiers(tiers, "x.eaf", None, notes) == ["words@A", "words@B"]
    assert "merged" in notes[0]


@pytest.mark.parametrize("name, data, kind", [
    ("talk.sbv", b"0:00:00.000,0:00:01.000\nhello there\n", "SubViewer"),
    ("talk.ass", b"[Script Info]\nTitle: x\n", "SubStation"),
    ("talk.docx", b"PK\x03\x04 binary", "Word document"),
    ("notes.xml", b"<?xml version='1.0'?><doc/>", "XML"),
    ("upload", b"<?xml version='1.0'?><tt xmlns='http://www.w3.org/ns/ttml'></tt>", "not an ELAN"),
])
def test_unknown_kinds_are_refused_by_name_never_read_as_plain_text(tmp_path, real_dir, name, data, kind):
    with pytest.raises(TranscriptError, match=re.escape(name)) as err:
        decode_transcript(data, name)
    assert kind in str(err.value) and ".srt" in str(err.value)
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(BadTranscript, match=re.escape(str(path))):  # the pipeline's failure, not an alignment error
        read_words(path, load_audio(real_dir / "sample1.wav"))


def test_damaged_subtitles_and_eaf_are_refused_naming_the_file(tmp_path):
    bad = tmp_path / "talk.eaf"
    bad.write_text("<ANNOTATION_DOCUMENT><broken", encoding="utf-8")
    with pytest.raises(TranscriptError, match=r"talk\.eaf: not a readable ELAN"):
        read_transcript(bad)
    srt = tmp_path / "talk.srt"
    srt.write_text("1\n00:00:01,000 --> nonsense\nhello\n", encoding="utf-8")
    with pytest.raises(TranscriptError, match=r"talk\.srt"):
        read_transcript(srt)


def test_subtitles_and_eaf_are_typed_by_content_under_any_name(real_dir):
    rows = reference(real_dir, "sample1.txt")
    srt = srt_text(segments_of(rows)).encode("utf-8")
    vtt = youtube_vtt(rows).encode("utf-16")
    assert decode_transcript(srt, "upload.txt").suffix == ".srt"
    assert decode_transcript(vtt, "t").suffix == ".vtt"
    assert decode_transcript(b"<?xml version='1.0'?>\n<ANNOTATION_DOCUMENT VERSION='3.0'>", "t").suffix == ".eaf"
    assert decode_transcript(b"hello there", "talk.SRT").suffix == ".srt"  # the name decides when it says


def test_a_language_tagged_transcript_beside_the_video_is_found(tmp_path, real_dir):
    from jegal.perception.discover import discover

    video = tmp_path / "talk.mp4"
    shutil.copy(real_dir / "speaker_raw.mp4", video)
    assert find_transcript(video) is None
    (tmp_path / "talk.de.vtt").write_text("WEBVTT\n", encoding="utf-8")
    (tmp_path / "talk.en.vtt").write_text("WEBVTT\n", encoding="utf-8")
    (tmp_path / "talk.final.mp4.txt").write_text("not a transcript of talk", encoding="utf-8")
    (tmp_path / "other.en.vtt").write_text("WEBVTT\n", encoding="utf-8")
    assert find_transcript(video).name == "talk.en.vtt"  # English first
    assert [p.name for p in transcripts_beside(video)] == ["talk.en.vtt", "talk.de.vtt"]
    assert discover(video)[0].transcript.name == "talk.en.vtt"
    (folder,) = discover(tmp_path, tier="words")  # a folder's listing is read once, for every video
    assert folder.tier == "words" and folder.transcript.name == "talk.en.vtt"
    dotted = tmp_path / "my.talk.mp4"
    shutil.copy(video, dotted)
    (tmp_path / "my.talk.en-US.srt").write_text("1\n00:00:00,000 --> 00:00:01,000\nhi\n", encoding="utf-8")
    assert find_transcript(dotted).name == "my.talk.en-US.srt"
    assert {it.name: it.transcript.name for it in discover(tmp_path)} == {"talk": "talk.en.vtt",
                                                                         "my.talk": "my.talk.en-US.srt"}
    (tmp_path / "talk.srt").write_text("1\n00:00:00,000 --> 00:00:01,000\nhi\n", encoding="utf-8")
    assert find_transcript(video).name == "talk.srt"  # an untagged name wins
    lines = unused_transcripts(video, find_transcript(video))
    assert [line.split(":")[0] for line in lines] == [str(tmp_path / "talk.en.vtt"), str(tmp_path / "talk.de.vtt")]
    assert all("not used" in line for line in lines)


def test_a_transcript_beside_the_video_that_is_not_used_is_said_on_the_terminal(tmp_path, capsys):
    from jegal.perception.transcripts import say_unused_transcripts

    video = tmp_path / "talk.mp4"
    video.write_bytes(b"")
    for name in ("talk.txt", "talk.en.vtt"):
        (tmp_path / name).write_text("hello", encoding="utf-8")
    given = tmp_path / "elsewhere.srt"
    lines = say_unused_transcripts(video, given)  # --transcript named another file: both beside are unused
    err = capsys.readouterr().err.splitlines()
    assert err == [f"jegal: {line}" for line in lines] and len(lines) == 2
    assert str(tmp_path / "talk.txt") in err[0] and "using elsewhere.srt" in err[0]
    assert say_unused_transcripts(video, tmp_path / "talk.txt") == [lines[1].replace("elsewhere.srt", "talk.txt")]


def test_an_eaf_words_tier_subdividing_an_utterance_tier_reads_each_word_once_in_order(tmp_path, real_dir):
    """ELAN's usual layout: an utterance tier and a words tier of symbolic subdivisions (words without
    times of their own), both named like words; a gesture tier beside them."""
    from pympi.Elan import Eaf, to_eaf

    rows = reference(real_dir, "sample1.txt")
    utterances = segments_of(rows, 4)
    eaf = Eaf(author="a gesture researcher")
    eaf.remove_tier("default")
    eaf.add_tier("gesture")
    for s, e, phase in gesture_tier(rows):
        eaf.add_annotation("gesture", int(s * 1000), int(e * 1000), phase)
    eaf.add_tier("utterance")
    eaf.add_linguistic_type("word-lt", constraints="Symbolic_Subdivision", timealignable=False)
    eaf.add_tier("words", ling="word-lt", parent="utterance")
    for s, e, text in utterances:
        eaf.add_annotation("utterance", int(s * 1000), int(e * 1000), text)
        for word in text.split():  # "hat," before "mixing": the file's order, not the alphabet's
            eaf.add_ref_annotation("words", "utterance", int((s + e) * 500), word)
    path = tmp_path / "talk.eaf"
    to_eaf(str(path), eaf)
    got = read_transcript(path)
    assert got.segments == [(pytest.approx(s, abs=1e-3), pytest.approx(e, abs=1e-3), t) for s, e, t in utterances]
