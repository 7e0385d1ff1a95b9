import numpy as np
import pytest

from jegal.data.shards import list_shards
from jegal.data.benchmarks import BenchmarkError, read_benchmark
from jegal.evaluation.benchmarks import load_clips
from jegal.inference.embed import Embeddings
from jegal.evaluation.protocols import evaluate_benchmark, markdown_table, summary_row, ties_note

from .conftest import FakeModel, clip_id


def _run(bench_path, data, model, **kw):
    bench = read_benchmark(bench_path)
    clips = load_clips(data, bench.clip_ids())
    return evaluate_benchmark(model, bench, clips, **kw)


def test_retrieval_missing_clip_is_a_failed_query_and_a_candidate_above(tiny_bench, fake_model):
    r = _run(tiny_bench["ret"], tiny_bench["data"], fake_model)
    m = r["metrics"]
    assert m["rows"] == 9 and m["evaluated"] == 8 and m["candidates"] == 9 and m["ties"] == "pessimistic"
    assert list(r["problems"]) == [clip_id(8)]
    # clips 0-7 are perfect, but the missing clip 8 counts above each of them: rank 2; clip 8 itself ranks 9
    for direction in ("content_to_gesture", "gesture_to_content"):
        assert m[direction]["R@5"] == pytest.approx(8 / 9)
        assert m[direction]["median_rank"] == 2
        assert m[direction]["mean_rank"] == pytest.approx((8 * 2 + 9) / 9)


def test_spotting_counts_misses_and_missing_clips(tiny_bench, fake_model):
    r = _run(tiny_bench["spot"], tiny_bench["data"], fake_model)
    m = r["metrics"]
    assert (m["rows"], m["evaluated"], m["correct"]) == (9, 8, 7)  # clip 3 gestured too late, clip 8 missing
    assert m["accuracy"] == pytest.approx(7 / 9)
    assert m["accuracy_evaluated"] == pytest.approx(7 / 8)
    assert m["by_stress"]["0"] == {"n": 5, "correct": 4, "accuracy": 0.8}
    assert m["by_stress"]["1"] == {"n": 4, "correct": 3, "accuracy": 0.75}
    row3 = next(p for p in m["per_row"] if p["filename"] == clip_id(3))
    assert row3["frame"] == 25 and not row3["in_window"]


def test_asd_missing_candidates_are_errors_never_a_smaller_set(tiny_bench, fake_model):
    m = _run(tiny_bench["asd"], tiny_bench["data"], fake_model)["metrics"]
    # negatives of row k are k+1..k+5 (mod 9); clip 8 is missing
    assert m["P=2"]["correct"] == 7 and m["P=2"]["errors"]["missing_clip"] == 2
    assert m["P=4"]["correct"] == 5 and m["P=4"]["errors"]["missing_clip"] == 4
    assert m["P=6"]["correct"] == 3 and m["P=6"]["errors"]["missing_clip"] == 6
    assert m["P=6"]["accuracy"] == pytest.approx(3 / 9)


def test_embeddings_are_cached_as_npz(tiny_bench, fake_model, tmp_path):
    cache = tmp_path / "cache"
    a = _run(tiny_bench["spot"], tiny_bench["data"], fake_model, cache_dir=cache, model_id="fake")
    calls = fake_model.calls
    b = _run(tiny_bench["spot"], tiny_bench["data"], fake_model, cache_dir=cache, model_id="fake")
    assert fake_model.calls == calls and b["embeddings"]["cached"] and not a["embeddings"]["cached"]
    assert a["metrics"]["accuracy"] == b["metrics"]["accuracy"]
    files = list(cache.glob("*.npz"))
    assert len(files) == 1
    with np.load(files[0], allow_pickle=False) as z:
        assert "gesture_frames" in z and "content_words" in z
    _run(tiny_bench["spot"], tiny_bench["data"], fake_model, cache_dir=cache, model_id="fake", modalities="t")
    assert fake_model.calls > calls  # another modality is another cache entry


def test_embeddings_roundtrip(tmp_path):
    rng = np.random.default_rng(0)
    e = Embeddings(["a", "b"], rng.normal(size=(2, 4)).astype(np.float32),
                   [rng.normal(size=(3, 4)).astype(np.float32), rng.normal(size=(5, 4)).astype(np.float32)],
                   ["a"], rng.normal(size=(1, 4)).astype(np.float32), [rng.normal(size=(2, 4)).astype(np.float32)])
    f = Embeddings.load(e.save(tmp_path / "e.npz"))
    assert f.gesture_ids == ["a", "b"] and f.content_ids == ["a"]
    np.testing.assert_array_equal(f.gesture("b")[1], e.gesture_frames[1])
    np.testing.assert_array_equal(f.content("a")[0], e.content_clip[0])


def test_damaged_shard_is_reported(tiny_bench):
    shards = list_shards(tiny_bench["data"])
    data = shards[1].read_bytes()
    shards[1].write_bytes(data[: len(data) // 3])
    bench = read_benchmark(tiny_bench["ret"])
    clips = load_clips(tiny_bench["data"], bench.clip_ids())
    assert clip_id(8) in clips.problems
    damaged = [cid for cid, why in clips.problems.items() if "damaged" in why or "corrupt" in why]
    assert damaged, clips.problems
    assert len(clips.clips) + len(clips.problems) == 9


def test_unparsable_rows_count_as_errors(tiny_bench, fake_model):
    text = tiny_bench["spot"].read_text().splitlines()
    text[2] = text[2].replace("[['w1a'", "[['w1a' oops")
    tiny_bench["spot"].write_text("\n".join(text) + "\n")
    bench = read_benchmark(tiny_bench["spot"])
    assert len(bench.bad_rows) == 1 and bench.bad_rows[0]["filename"] == clip_id(1)
    m = evaluate_benchmark(fake_model, bench, load_clips(tiny_bench["data"], bench.clip_ids()))["metrics"]
    assert m["rows"] == 9 and m["correct"] == 6


def test_benchmark_errors_name_the_file(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("filename,phrase\na,b\n")
    with pytest.raises(BenchmarkError, match="x.csv.*word_boundaries"):
        read_benchmark(p)
    with pytest.raises(BenchmarkError, match="no such"):
        read_benchmark(tmp_path / "nope.csv")


def test_tables_show_percentages_and_ranks(tiny_bench, fake_model):
    r = _run(tiny_bench["ret"], tiny_bench["data"], fake_model)
    row = summary_row(r)
    table = markdown_table([("fake", row)])
    assert "| fake | 88.9 |" in table and "| 2.0 |" in table


def test_gesture_embeddings_are_reused_across_tasks(tiny_bench, fake_model):
    spot = read_benchmark(tiny_bench["spot"])
    ret = read_benchmark(tiny_bench["ret"])
    clips = load_clips(tiny_bench["data"], spot.clip_ids())
    _, emb = evaluate_benchmark(fake_model, spot, clips, return_embeddings=True)
    fresh = evaluate_benchmark(FakeModel(), ret, clips)
    counting = FakeModel()
    reused = evaluate_benchmark(counting, ret, clips, reuse=emb)
    assert reused["embeddings"]["gesture_reused"] == 8
    assert counting.calls == 1  # content only
    assert reused["metrics"] == fresh["metrics"]


def test_undecodable_and_invalid_clips_are_reported(tmp_path):
    import io
    import json
    import tarfile

    from jegal.data.shards import clip_key, encode_clip

    from .conftest import make_clip

    good, broken, invalid = make_clip(0), make_clip(1), make_clip(2)
    invalid.words[0] = type(invalid.words[0])("w2a", 2, 99)  # past the clip's 40 frames
    path = tmp_path / "s.tar"
    with tarfile.open(path, "w") as tar:
        for clip, drop in ((good, None), (broken, "mel.npy"), (invalid, None)):
            for suffix, data in encode_clip(clip).items():
                if suffix == drop:
                    continue
                info = tarfile.TarInfo(f"{clip_key(clip.clip_id)}.{suffix}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    got = load_clips(path, [clip_id(k) for k in range(3)])
    assert list(got.clips) == [clip_id(0)]
    assert got.problems[clip_id(1)].startswith("unreadable") and "mel.npy" in got.problems[clip_id(1)]
    assert got.problems[clip_id(2)].startswith("invalid") and "outside" in got.problems[clip_id(2)]
    assert json.dumps(got.problems)


def test_speaker_diagnostics_by_hand():
    from jegal.evaluation.protocols import speaker_diagnostics

    s = np.array([[0.9, 0.7, 0.1],
                  [0.5, 0.8, 0.3],
                  [0.2, 0.0, 0.6]])
    d = speaker_diagnostics(s, ["a", "a", "b"])
    assert d["own"] == pytest.approx((0.9 + 0.8 + 0.6) / 3)
    assert d["same_speaker"] == pytest.approx((0.7 + 0.5) / 2)
    assert d["other_speakers"] == pytest.approx((0.1 + 0.3 + 0.2 + 0.0) / 4)
    assert speaker_diagnostics(s, ["a", "a", "a"]) is None
    assert speaker_diagnostics(s, ["a", "", "b"])["other_speakers"] == pytest.approx((0.1 + 0.2) / 2)
    assert speaker_diagnostics(s, ["a", "", ""]) is None


def test_retrieval_reports_speaker_diagnostics(tiny_bench, fake_model):
    m = _run(tiny_bench["ret"], tiny_bench["data"], fake_model)["metrics"]
    d = m["speaker_diagnostics"]  # every clip has its own speaker in the tiny benchmark
    assert d["own"] == 1.0 and d["same_speaker"] is None and d["other_speakers"] == 0.0 and d["speakers"] == 8


def test_ties_note_names_the_rule_of_each_row_kind():
    note = ties_note("expected")
    assert "model rows: pessimistic" in note and "clip-length floor" in note and "floor" in note.split("; ")[1]
    assert "expected, expected rank under random tie-breaking" in note
    assert "floor" not in ties_note()
