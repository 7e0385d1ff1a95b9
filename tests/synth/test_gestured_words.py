"""SynthGest writes benchmarks/gestured_words.csv: every word of every clip, both splits."""

import json

from jegal.data.gestured_words import read_gestured_words, rows_from_ground_truth
from jegal.data.shards import read_clips


def test_the_corpus_writes_gestured_words_for_every_clip_and_word(small_corpus):
    out, summary = small_corpus
    gw = read_gestured_words(out / "benchmarks" / "gestured_words.csv")
    truth = [json.loads(line) for line in (out / "ground_truth.jsonl").read_text().splitlines()]
    assert [r.__class__(**{**r.__dict__, "line": 0}) for r in gw.rows] == rows_from_ground_truth(truth)
    for split, folder, n in (("test", "test", summary["counts"]["test_clips"]),
                             ("train", "train", summary["counts"]["train_clips"])):
        clips = {c.clip_id: c for c in read_clips(out / folder)}
        rows = gw.clips(split)
        assert set(rows) == set(clips) and len(rows) == n  # test/ includes the extra spotting clips
        for cid, clip in clips.items():
            assert [(r.word_index, r.text, r.start, r.end) for r in rows[cid]] == [
                (i, w.text, w.start, w.end) for i, w in enumerate(clip.words)]
            assert all(r.speaker_id == clip.speaker_id for r in rows[cid])
            semantic = {g[0] for g in clip.extra["gestures"]}  # the shards' [word_index, family, stroke...]
            assert {r.word_index for r in rows[cid] if r.gestured} == semantic
            assert {r.word_index for r in rows[cid] if r.stress} == set(clip.extra["stressed"])
            for r in rows[cid]:
                assert r.stroke is None or 0 <= r.stroke[0] <= r.stroke[1] < clip.num_frames
    spot_targets = {line.split(",")[3] for line in (out / "benchmarks" / "spot.csv").read_text().splitlines()[1:]}
    assert spot_targets <= set(gw.clips("test"))
    assert sum(r.gestured for r in gw.rows) == summary["counts"]["semantic_gestures"]
