import pytest

from jegal.synth import generate_corpus

SMALL = dict(speakers=5, train_clips=40, test_clips=30, seed=11, progress=False)


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory):
    """A small corpus shared by the synth tests: (directory, summary)."""
    out = tmp_path_factory.mktemp("synthgest") / "corpus"
    summary = generate_corpus(out, **SMALL)
    return out, summary
