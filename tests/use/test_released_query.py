"""``jegal search query --audio`` with an imported released model embeds the query with the log-mel
that model reads (its ``input_spec.mel``, the reference log-mel), as its gallery was made: the bug
was our own log-mel for every model."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import numpy as np
import pytest

from jegal.cli import main
from tests.model import released_fixture as rf


@pytest.fixture(scope="module")
def released_index(tmp_path_factory, real_dir):
    """An imported released model (the fixture's recipe), a small gallery index recorded with it, and a
    recording with its transcript beside it."""
    from jegal.inference.search import GalleryIndex
    from jegal.model import JEGAL
    from jegal.released.cli import import_released

    root = tmp_path_factory.mktemp("released_query")
    jegal_pth = rf.save_released(root / "jegal.pth", rf.recipe_state("jegal"))
    import_released(jegal_pth, root / "model")
    jegal_pth.unlink()
    model = JEGAL.from_pretrained(root / "model")
    assert model.input_spec.mel == "reference"
    vectors = np.random.default_rng(0).standard_normal((12, model.config.d_model)).astype(np.float32)
    GalleryIndex(vectors, [f"g{i}" for i in range(12)], kind="exact",
                 info={"model": str(root / "model"), "model_id": model.identity}).save(root / "index")
    for name in ("sample1.wav", "sample1.txt"):
        shutil.copy(real_dir / name, root / name)
    return root


def test_an_audio_query_of_a_released_model_uses_its_reference_log_mel(released_index, capsys):
    from jegal.model.released import reference_log_mel
    from jegal.perception.decode import load_audio_for
    from jegal.timebase import SAMPLES_PER_FRAME
    from jegal.use.search import Searcher, speech_clip

    root = released_index
    wav = root / "sample1.wav"
    searcher = Searcher(root / "index")
    ours, _ = speech_clip(wav)  # the words of the transcript beside it, and our own log-mel
    audio = load_audio_for(wav, None)[:ours.num_frames * SAMPLES_PER_FRAME]
    expected_clip = replace(ours, mel=reference_log_mel(audio, ours.num_frames))
    expected = searcher.vectors([expected_clip], "a")
    assert not np.allclose(expected, searcher.vectors([ours], "a"), atol=1e-4)  # the two log-mels differ here
    hits = searcher.speech(wav, k=12)
    want = searcher.gallery.hits(expected, k=12)[0]
    assert [h["clip_id"] for h in hits] == [h["clip_id"] for h in want]
    np.testing.assert_allclose([h["score"] for h in hits], [h["score"] for h in want], atol=1e-5)
    # the command line: the same hits
    assert main(["search", "query", "--index", str(root / "index"), "--audio", str(wav), "-k", "12", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["query"]["modalities"] == "a"
    np.testing.assert_allclose([h["score"] for h in doc["hits"]], [h["score"] for h in want], atol=1e-5)
