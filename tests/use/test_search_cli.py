"""``jegal search``: a gallery of the SynthGest test clips, queried by their own text, speech and video.

What is asserted, for the session's trained model (``use_model``):

- a query made from a test clip's text, recording or video is that clip's own content vector
  (text: exactly; speech: the recording is the audio the clip's log-mel came from; video: its AAC
  sound track), and the search ranks every gallery clip as the retrieval protocol's cosines do;
- own-clip retrieval more often than chance (k / N for "in the top k", one-sided binomial test),
  on a gallery of the clips the model was trained on (600 clips of 8 speakers), queried by their
  text, their recording and a video with that recording as its sound track. The 300-step model
  has learned those pairs but does not yet reach beyond them, so a gallery of unseen clips would
  test nothing (measured with this fixture, own clip in the top 10: unseen speakers' test clips,
  text 0.118 against chance 0.108; new sentences of the training speakers, text 0.18 against
  0.17; the 600 training clips, text 0.20 and speech 0.19 against 0.017; the first 100 of them
  only 0.16 and 0.16, so the queries are all of them, or every 6th for the slower video queries).
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from jegal.cli import main
from jegal.data.shards import read_clip_list

from ..perception.wild import write_speech_video

K = 10
N_VIDEO_QUERIES = 12


@pytest.fixture(scope="module")
def index(use_corpus, use_model, tmp_path_factory):
    out = tmp_path_factory.mktemp("search") / "index"
    assert main(["search", "build", str(use_corpus / "test"), "--model", str(use_model), "--index", str(out),
                 "--quiet"]) == 0
    return out


@pytest.fixture(scope="module")
def searcher(index):
    from jegal.use.search import Searcher

    return Searcher(index)


@pytest.fixture(scope="module")
def retrieval_clips(use_corpus):
    """The test clips of the retrieval benchmark (natural clips, one per row), in order."""
    from jegal.data.benchmarks import read_benchmark

    wanted = set(read_benchmark(use_corpus / "benchmarks" / "ret.csv").clip_ids())
    clips, _ = read_clip_list(use_corpus / "test")
    return [c for c in clips if c.clip_id in wanted]


def own_rank_hits(hits: list[list[dict]], clips) -> np.ndarray:
    """(Q,) bool: whether each query's own clip is among its hits."""
    return np.array([c.clip_id in [h["clip_id"] for h in row] for row, c in zip(hits, clips)])


def assert_above_chance(found: np.ndarray, k: int, n: int, what: str) -> None:
    from scipy.stats import binomtest

    chance = k / n
    p = binomtest(int(found.sum()), len(found), chance, alternative="greater").pvalue
    assert p < 1e-3, f"{what}: own clip in the top {k} for {found.sum()} of {len(found)} queries, chance {chance:.3f}"


def test_build_reports_the_gallery_and_remembers_the_model(index, use_corpus, use_model, searcher):
    from jegal.model.pretrained import model_identity

    clips, _ = read_clip_list(use_corpus / "test")
    g = searcher.gallery
    assert len(g) == len(clips) and g.kind == "exact" and g.ids == [c.clip_id for c in clips]
    assert g.info["model_id"] == model_identity(use_model) and g.info["modalities"] == "ta"
    assert g.item(0) == {"clip_id": clips[0].clip_id, "source": "synthgest", "start": 0.0, "end": 3.0, "person": None,
                         "speaker": clips[0].speaker_id, "start_frame": 0, "end_frame": clips[0].num_frames - 1}


def own_vectors(searcher, clips, modalities):
    """(Q, d) content clip vectors of ``clips`` with ``modalities``, straight from the model (the
    retrieval protocol's vectors)."""
    from jegal.inference import embed_clips

    emb = embed_clips(searcher.model, [], clips, modalities)
    return np.stack([emb.content(c.clip_id)[0] for c in clips])


def gallery_vectors(searcher, use_corpus):
    """(N, d) gesture clip vectors of the gallery's clips, in its order, straight from the model."""
    from jegal.inference import embed_clips

    clips, _ = read_clip_list(use_corpus / "test")
    emb = embed_clips(searcher.model, clips, [])
    return np.stack([emb.gesture(cid)[0] for cid in searcher.gallery.ids])


def cosines(a, b):
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def test_text_queries_are_the_clips_own_words_and_rank_as_retrieval_does(searcher, retrieval_clips, use_corpus):
    from jegal.use.search import text_clip

    queries = [text_clip(" ".join(w.display for w in c.words), f"q{i}") for i, c in enumerate(retrieval_clips)]
    q = searcher.vectors(queries, "t")
    np.testing.assert_allclose(q, own_vectors(searcher, retrieval_clips, "t"), atol=1e-5)  # spans do not matter to t
    n = len(searcher.gallery)
    hits = searcher.gallery.hits(q, k=n)
    found = [[h["clip_id"] for h in row].index(c.clip_id) + 1 for row, c in zip(hits, retrieval_clips)]
    sims = q @ gallery_vectors(searcher, use_corpus).T  # (Q, N): the retrieval protocol's cosines
    own = np.array([searcher.gallery.ids.index(c.clip_id) for c in retrieval_clips])
    expected = 1 + (sims > sims[np.arange(len(own)), own][:, None] + 1e-6).sum(1)
    assert found == expected.tolist()
    assert all(row[0]["score"] >= row[-1]["score"] for row in hits)


def test_audio_and_video_queries_are_the_clips_own_speech(searcher, retrieval_clips, use_corpus, tmp_path):
    from jegal.use.search import speech_clip

    clips = retrieval_clips[:N_VIDEO_QUERIES]
    audio, video = [], []
    for i, c in enumerate(clips):
        base = use_corpus / "media" / c.clip_id
        clip, source = speech_clip(f"{base}.wav", clip_id=f"a{i}")  # words: the transcript beside it
        assert source == "given" and [w.text for w in clip.words] == [w.text for w in c.words]
        assert max(max(abs(a.start - b.start), abs(a.end - b.end)) for a, b in zip(clip.words, c.words)) <= 1
        audio.append(clip)
        path = tmp_path / f"talk{i}.mp4"
        write_speech_video(path, f"{base}.wav", c.num_frames)
        shutil.copy(f"{base}.txt", tmp_path / f"talk{i}.txt")  # its transcript, beside it
        video.append(speech_clip(path, clip_id=f"v{i}")[0])
    assert video[0].num_frames in range(clips[0].num_frames, clips[0].num_frames + 3)  # AAC pads a little
    # the recording gives the clip's own speech vector (the shard stores the log-mel as float16)
    a = cosines(searcher.vectors(audio, "a"), own_vectors(searcher, clips, "a"))
    va = cosines(searcher.vectors(video, "a"), own_vectors(searcher, clips, "a"))  # through AAC
    vta = cosines(searcher.vectors(video, "ta"), own_vectors(searcher, clips, "ta"))
    assert a.min() > 0.995 and va.min() > 0.98 and vta.min() > 0.98, (a, va, vta)


@pytest.fixture(scope="module")
def trained_searcher(use_corpus, use_model, tmp_path_factory):
    """A searcher over a gallery of the clips ``use_model`` was trained on."""
    from jegal.use.search import Searcher

    out = tmp_path_factory.mktemp("search") / "train_index"
    assert main(["search", "build", str(use_corpus / "train"), "--model", str(use_model), "--index", str(out),
                 "--quiet"]) == 0
    return Searcher(out)


@pytest.mark.slow
@pytest.mark.parametrize("kind,every", [("text", 1), ("audio", 1), ("video", 6)])
def test_queries_find_their_own_clip_more_often_than_chance(kind, every, trained_searcher, use_corpus, tmp_path):
    """Every training clip queried by its text and by its recording; every 6th by a video."""
    from jegal.use.search import speech_clip, text_clip

    clips = [c for c in read_clip_list(use_corpus / "train")[0] if c.words][::every]
    made = []
    for i, c in enumerate(clips):
        base = use_corpus / "media" / c.clip_id
        if kind == "text":
            made.append(text_clip(" ".join(w.display for w in c.words), f"q{i}"))
        elif kind == "audio":
            made.append(speech_clip(f"{base}.wav", clip_id=f"q{i}")[0])
        else:
            write_speech_video(tmp_path / f"q{i}.mp4", f"{base}.wav", c.num_frames)
            shutil.copy(f"{base}.txt", tmp_path / f"q{i}.txt")
            made.append(speech_clip(tmp_path / f"q{i}.mp4", clip_id=f"q{i}")[0])
    hits = trained_searcher.search_clips(made, {"text": "t", "audio": "a", "video": "ta"}[kind], K)
    assert_above_chance(own_rank_hits(hits, clips), K, len(trained_searcher.gallery), kind)


def test_query_command_prints_hits_and_json(index, searcher, retrieval_clips, use_corpus, tmp_path, capsys):
    c = retrieval_clips[0]
    text = " ".join(w.display for w in c.words)
    assert main(["search", "query", "--index", str(index), "--text", text, "-k", "5", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["query"]["modalities"] == "t" and doc["query"]["words"] == text.split() and len(doc["hits"]) == 5
    assert [h["clip_id"] for h in doc["hits"]] == [h["clip_id"] for h in searcher.text(text, 5)]
    assert set(doc["hits"][0]) >= {"rank", "score", "clip_id", "source", "start", "end", "person"}
    assert main(["search", "query", "--index", str(index), "--text", text, "-k", "3"]) == 0
    out = capsys.readouterr().out
    assert "top 3 of" in out and doc["hits"][0]["clip_id"] in out
    wav = tmp_path / "alone.wav"  # no transcript beside it: the words come from offline recognition
    shutil.copy(use_corpus / "media" / f"{c.clip_id}.wav", wav)
    assert main(["search", "query", "--index", str(index), "--audio", str(wav), "--asr", "pocketsphinx", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["query"]["words_from"] == "asr:pocketsphinx" and doc["query"]["modalities"] == "a"
    assert doc["query"]["words"] and len(doc["hits"]) == K


def test_an_embeddings_file_builds_the_same_gallery_and_approximate_builds_report_recall(index, use_corpus, use_model,
                                                                                          tmp_path, capsys):
    from jegal.inference import GalleryIndex

    npz = tmp_path / "test.npz"
    assert main(["embed", str(use_corpus / "test"), "--model", str(use_model), "--out", str(npz),
                 "--clip-vectors-only", "--quiet"]) == 0
    assert main(["search", "build", str(npz), "--model", str(use_model), "--index", str(tmp_path / "i2"),
                 "--kind", "hnsw", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "index hnsw" in out and "recall@10" in out and "held-out queries" in out
    a, b = GalleryIndex.load(index), GalleryIndex.load(tmp_path / "i2")
    assert a.ids == b.ids and b.report["recall_query_source"] == "held-out"
    q = np.random.default_rng(0).normal(size=(3, a.dim))
    assert [h["clip_id"] for h in a.hits(q, 3)[0]] == [h["clip_id"] for h in b.hits(q, 3)[0]]


@pytest.mark.slow
def test_a_folder_of_real_videos_is_a_gallery_of_people_in_windows(real_dir, use_model, tmp_path, capsys):
    folder = tmp_path / "videos"
    folder.mkdir()
    for name in ("sample1", "sample2"):
        for suffix in (".avi", ".wav", ".txt"):
            shutil.copy(real_dir / f"{name}{suffix}", folder / f"{name}{suffix}")
    index = tmp_path / "index"
    assert main(["search", "build", str(folder), "--model", str(use_model), "--index", str(index),
                 "--window-frames", "40", "--overlap-frames", "20", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["search", "query", "--index", str(index), "--video", str(real_dir / "sample1.avi"), "--json",
                 "-k", "50"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["query"]["words_from"] == "given" and doc["query"]["modalities"] == "ta"
    hits = doc["hits"]
    assert {h["source"].rsplit("/", 1)[-1] for h in hits} == {"sample1.avi", "sample2.avi"}  # every window of both
    for h in hits:
        name = h["source"].rsplit("/", 1)[-1][:-4]
        assert h["clip_id"] == f"{name}/{h['person']:05d}@{h['start_frame']:06d}"
        assert h["start"] == h["start_frame"] / 25 and h["end"] == (h["end_frame"] + 1) / 25
        assert h["end_frame"] - h["start_frame"] + 1 <= 40


def test_errors_are_one_line(index, use_corpus, use_model, tmp_path, capsys, monkeypatch):
    from jegal.model import JEGAL
    from jegal.use import embed

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with monkeypatch.context() as m:  # refused before any embedding
        m.setattr(embed, "embed_input", lambda *a, **k: pytest.fail("embedded before checking --index"))
        assert main(["search", "build", str(use_corpus / "test"), "--model", str(use_model), "--index",
                     str(mine)]) == 1
    assert "mine exists and is not a gallery index" in capsys.readouterr().err
    assert (mine / "notes.txt").read_text() == "keep me"

    q = ["search", "query", "--index", str(index)]
    assert main(q + ["--text", "   "]) == 1
    assert "--text is empty" in capsys.readouterr().err
    assert main(q + ["--text", "?! ..."]) == 1
    assert "no words to search for" in capsys.readouterr().err
    assert main(q + ["--audio", str(tmp_path / "missing.wav")]) == 1
    assert "missing.wav: no such file" in capsys.readouterr().err
    assert main(["search", "query", "--index", str(tmp_path), "--text", "ball"]) == 1
    assert "not a gallery index" in capsys.readouterr().err
    other = JEGAL.from_preset("cpu").save_pretrained(tmp_path / "other")
    assert main(q + ["--text", "ball", "--model", str(other)]) == 1
    assert "built with another model" in capsys.readouterr().err
    npz = tmp_path / "t.npz"
    assert main(["embed", str(use_corpus / "test"), "--model", str(use_model), "--out", str(npz),
                 "--clip-vectors-only", "--quiet"]) == 0
    assert main(["search", "build", str(npz), "--model", str(other), "--index", str(tmp_path / "i")]) == 1
    assert "was embedded with the model" in capsys.readouterr().err
    silent = tmp_path / "silent.wav"
    import soundfile as sf

    sf.write(silent, np.zeros(16000, np.float32), 16000)
    assert main(q + ["--audio", str(silent), "--asr", "none"]) == 1
    assert "no transcript" in capsys.readouterr().err
