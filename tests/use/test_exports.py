"""The ELAN and Praat exports of ``jegal spot`` and ``jegal asd`` (jegal.use.exports, issue 24): the
``.eaf`` opens with pympi, links the video and has the tiers per person beside the user's own; the
``.TextGrid`` reads back with praatio with the same words and times as ``spot.json``."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from jegal.use.exports import UNDECIDED, spot_tiers, write_exports
from tests.perception.test_transcript_formats import reference, write_eaf


def open_eaf(path):
    from pympi.Elan import Eaf

    return Eaf(str(path))


def textgrid_tiers(path) -> dict[str, list[tuple[float, float, str]]]:
    from praatio import textgrid

    tg = textgrid.openTextgrid(str(path), includeEmptyIntervals=False)
    return {name: [(e.start, e.end, e.label) for e in tg.getTier(name).entries] for name in tg.tierNames}


def exported_times(words: list[dict], scale: int = 1) -> list[tuple]:
    """spot.json's words as the exports must hold them: the same onsets; each word's end is
    spot.json's, or the next word's onset where the two share a frame (module docstring of
    jegal.use.exports)."""
    out = []
    for k, w in enumerate(words):
        end = w["end_s"] if k + 1 == len(words) else min(w["end_s"], words[k + 1]["start_s"])
        out.append((round(w["start_s"] * scale, 3), round(end * scale, 3), w["word"]))
    return out


@pytest.fixture(scope="module")
def exported(tmp_path_factory, real_dir, random_model):
    """``jegal spot`` then ``jegal asd`` (on the video spot read) of sample1 with the user's ``.eaf``
    beside it: a gesture tier first, the words in a tier not named like words (so ``--tier`` chooses
    it), a second speaker's tier and notes."""
    from jegal.model import JEGAL
    from jegal.use import find_speakers, spot_words

    folder = tmp_path_factory.mktemp("exports")
    for name in ("sample1.avi", "sample1.wav"):
        shutil.copy(real_dir / name, folder / name)
    rows = reference(real_dir, "sample1.txt")
    user = {"gesture phases": [(s, e, ["prep", "stroke", "retraction"][k % 3]) for k, (_, s, e) in enumerate(rows)],
            "speaker A": [(s, e, w) for w, s, e in rows],
            "speaker B": [(rows[0][1], rows[1][2], "mhm")],
            "notes": [(0.0, 0.5, "camera moves")]}
    write_eaf(folder / "sample1.eaf", user)
    model = JEGAL.from_pretrained(random_model, "final", "cpu").load_text_backbone()
    spot = spot_words(folder / "sample1.avi", model, tier="speaker A", out=folder / "spot", annotated=False)
    asd = find_speakers(spot.video, model, out=folder / "asd", annotated=False)
    return SimpleNamespace(folder=folder, user=user, spot=spot, asd=asd)


@pytest.mark.slow  # one jegal spot run on sample1 (people stage), shared by the tests of this module
def test_the_spot_eaf_opens_with_pympi_links_the_video_and_keeps_the_users_tiers(exported):
    doc = exported.spot.doc
    assert doc["outputs"]["eaf"] == "spot.eaf" and doc["outputs"]["textgrid"] == "spot.TextGrid"
    assert Path(doc["transcript"]).name == "sample1.eaf"
    eaf = open_eaf(exported.spot.out / "spot.eaf")
    ours = {"person 0 words", "person 0 gestured", "person 0 speaking"}
    assert set(eaf.get_tier_names()) == set(exported.user) | ours
    for name, rows in exported.user.items():  # the user's annotations, as they were
        assert sorted(eaf.get_annotation_data_for_tier(name)) == \
            sorted((int(round(s * 1000)), int(round(e * 1000)), v) for s, e, v in rows)
    assert eaf.get_parameters_for_tier("person 0 words")["PARTICIPANT"] == "person 0"
    (media,) = eaf.media_descriptors
    assert media["MEDIA_URL"] == (exported.folder / "sample1.avi").resolve().as_uri()
    assert (exported.spot.out / media["RELATIVE_MEDIA_URL"]).resolve() == (exported.folder / "sample1.avi").resolve()
    words = exported_times(doc["words"], 1000)
    assert len(words) == 8
    assert sorted(eaf.get_annotation_data_for_tier("person 0 words")) == words
    (turn,) = eaf.get_annotation_data_for_tier("person 0 speaking")  # no pause over 1 s in 2 s of speech
    assert turn == (words[0][0], words[-1][1], " ".join(w for *_, w in words))
    assert eaf.get_annotation_data_for_tier("person 0 gestured") == [
        (round(w["start_s"] * 1000), round(w["end_s"] * 1000), w["word"]) for w in doc["people"][0]["gestured"]]


@pytest.mark.slow
def test_the_spot_textgrid_reads_back_with_the_same_words_and_times(exported):
    doc = exported.spot.doc
    tiers = textgrid_tiers(exported.spot.out / "spot.TextGrid")
    assert set(tiers) == {"person 0 words", "person 0 gestured", "person 0 speaking"}
    assert tiers["person 0 words"] == [(pytest.approx(s, abs=1e-6), pytest.approx(e, abs=1e-6), w)
                                       for s, e, w in exported_times(doc["words"])]
    assert [w["word"] for w in doc["words"]] == ["amount", "of", "numbers", "inside", "the", "hat,", "mixing", "the"]


@pytest.mark.slow
def test_the_asd_exports_have_words_and_speaking_turns_per_person(exported):
    doc = exported.asd.doc
    assert doc["outputs"]["eaf"] == "asd.eaf" and doc["outputs"]["textgrid"] == "asd.TextGrid"
    eaf = open_eaf(exported.asd.out / "asd.eaf")
    assert {"person 0 words", "person 0 speaking"} | set(exported.user) == set(eaf.get_tier_names())
    spoken = [s for s in doc["segments"] if s["speaker"] == 0]
    assert spoken  # one person in view: every segment is theirs
    turns = eaf.get_annotation_data_for_tier("person 0 speaking")
    assert [v for *_, v in turns] == [s["text"] for s in spoken]
    tiers = textgrid_tiers(exported.asd.out / "asd.TextGrid")
    assert [w for *_, w in tiers["person 0 words"]] == [exported.spot.video.words[i].display
                                                         for s in spoken for i in s["words"]]


def person(n, words, gestured=()):
    """A person of spot.json: ``words`` as (index, word, start frame, end frame, speaker)."""
    records = [{"index": i, "word": w, "start_frame": s, "end_frame": e, "speaker": sp, "gesture_score": 0.5 + i / 10,
                "best_frame": s + 1, "best_s": round((s + 1) / 25, 3)} for i, w, s, e, sp in words]
    return {"person": n, "words": records, "gestured": [r for r in records if r["index"] in gestured]}


def test_spot_tiers_split_words_by_speaker_and_say_score_and_best_frame():
    words = [(0, "so", 0, 9, 0), (1, "we", 10, 19, 1), (2, "built", 15, 30, 1), (3, "it", 80, 90, None)]
    people = [person(0, words, gestured={0}), person(1, words, gestured={2})]
    records = [{"index": i, "word": w, "start_frame": s, "end_frame": e, "speaker": sp} for i, w, s, e, sp in words]
    tiers = {t.name: t for t in spot_tiers(people, records)}
    assert set(tiers) == {f"person {n} {k}" for n in (0, 1) for k in ("words", "gestured", "speaking")} | {UNDECIDED}
    assert tiers["person 0 words"].intervals == [(0.0, 0.4, "so")]
    assert tiers["person 1 words"].intervals == [(0.4, 0.8, "we"), (0.6, 1.24, "built")]
    assert tiers["person 1 gestured"].intervals == [(0.6, 1.24, "built (score 0.70, best frame 16, 0.64 s)")]
    assert tiers["person 1 speaking"].intervals == [(0.4, 1.24, "we built")]
    assert tiers[UNDECIDED].intervals == [(3.2, 3.64, "it")]
    assert tiers["person 1 words"].person == 1 and tiers[UNDECIDED].person is None


def test_write_exports_trims_overlaps_and_round_trips_through_praatio_and_pympi(tmp_path):
    words = [(0, "so", 0, 9, 0), (1, "we", 10, 19, 0), (2, "built", 15, 30, 0)]  # "built" starts inside "we"
    records = [{"index": i, "word": w, "start_frame": s, "end_frame": e, "speaker": sp} for i, w, s, e, sp in words]
    video = SimpleNamespace(path=tmp_path / "clip.kps.npz", duration=2.0, transcript_path=None, is_video=False)
    names = write_exports(tmp_path, video, spot_tiers([person(0, words)], records), "spot")
    assert names == {"eaf": "spot.eaf", "textgrid": "spot.TextGrid"}
    expected = [(0.0, 0.4, "so"), (0.4, 0.6, "we"), (0.6, 1.24, "built")]  # "we" ends where "built" starts
    got = textgrid_tiers(tmp_path / "spot.TextGrid")["person 0 words"]
    assert got == [(pytest.approx(s), pytest.approx(e), w) for s, e, w in expected]
    eaf = open_eaf(tmp_path / "spot.eaf")
    assert eaf.media_descriptors == []  # keypoints only: no media to link
    assert eaf.get_annotation_data_for_tier("person 0 words") == [(int(s * 1000), int(round(e * 1000)), w)
                                                                  for s, e, w in expected]
    assert not list(tmp_path.glob(".*tmp*"))  # written whole, nothing left behind


def test_relink_media_points_the_servers_link_at_the_users_file_name_and_keeps_the_users_own(tmp_path):
    from pympi.Elan import Eaf, to_eaf

    from jegal.use.exports import relink_media

    job = tmp_path / "jobs" / "abc"
    (job / "input").mkdir(parents=True)
    mine = Eaf(author="user")
    mine.add_linked_file("file:///home/me/talk.mp4", "./talk.mp4", "video/mp4")
    to_eaf(str(job / "input" / "transcript.eaf"), mine)
    out = job / "outputs"
    video = SimpleNamespace(path=job / "input" / "video.avi", duration=1.0, is_video=True,
                            transcript_path=job / "input" / "transcript.eaf")
    words = [(0, "so", 0, 9, 0)]
    records = [{"index": 0, "word": "so", "start_frame": 0, "end_frame": 9, "speaker": 0}]
    for folder in (out, out / "asd"):
        write_exports(folder, video, spot_tiers([person(0, words)], records), "spot")
        assert (job / "input" / "video.avi").as_uri() in (folder / "spot.eaf").read_text()
        relink_media(folder / "spot.eaf", out, job, "My talk.avi")
    for eaf_path, up in ((out / "spot.eaf", "../"), (out / "asd" / "spot.eaf", "../../")):
        links = {(m["MEDIA_URL"], m["RELATIVE_MEDIA_URL"]) for m in open_eaf(eaf_path).media_descriptors}
        assert links == {("file:///home/me/talk.mp4", "./talk.mp4"), ("file:///My%20talk.avi", f"{up}My%20talk.avi")}
        assert str(job) not in eaf_path.read_text()  # no server path in the download
        assert "person 0 words" in open_eaf(eaf_path).get_tier_names()
