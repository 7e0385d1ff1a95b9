"""Fixtures of the tests of the commands that use a model. The small trained model itself
(``use_corpus``, ``use_model``) lives in tests/conftest.py, so tests/use and tests/serve share one
training run per session. Here: an untrained model for the tests of the outputs' structure
(``random_model``) and ``decode_mp4``, for the annotated videos."""

import pytest


@pytest.fixture(scope="module")
def random_model(tmp_path_factory):
    """An untrained cpu-preset model: the outputs' structure does not depend on training."""
    from jegal.model import JEGAL

    out = tmp_path_factory.mktemp("spot_model") / "model"
    JEGAL.from_preset("cpu").save_pretrained(out)
    return out


def decode_mp4(path):
    """(frames, video stream seconds, stream kinds, video codec) of an mp4, decoded with PyAV."""
    import av

    with av.open(str(path)) as c:
        v = c.streams.video[0]
        frames = sum(1 for _ in c.decode(v))
        return frames, float(v.duration * v.time_base), sorted(s.type for s in c.streams), v.codec_context.name
