from jegal.data.benchmarks import detect_task, read_benchmark


def test_avs_csvs_parse_completely(avs_dir):
    spot = read_benchmark(avs_dir / "avs_spot.csv")
    ret = read_benchmark(avs_dir / "avs_ret.csv")
    asd = read_benchmark(avs_dir / "avs_asd.csv")
    assert (spot.task, ret.task, asd.task) == ("spotting", "retrieval", "asd")
    assert [len(b.rows) for b in (spot, ret, asd)] == [500, 500, 500]
    assert not (spot.bad_rows or ret.bad_rows or asd.bad_rows)
    first = spot.rows[0]  # "walk like bass players like take a walk", target the second "walk" [60, 67]
    assert first.target_index == 7 and (first.target.start, first.target.end) == (60, 67)
    assert first.num_frames == 70 and first.stress_label == "1"
    assert {r.stress_label for r in spot.rows} == {"0", "1"}
    assert all(len(r.neg_files) == 5 for r in asd.rows)
    assert asd.rows[0].neg_files[0] == "zA8_hWE9Qrs_241.246000-244.086000/00000"


def test_task_detection():
    assert detect_task(["filename", "target_word_boundary"]) == "spotting"
    assert detect_task(["filename", "neg_files"]) == "asd"
    assert detect_task(["filename", "word_boundaries"]) == "retrieval"
