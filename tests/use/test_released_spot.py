"""``jegal spot`` with an imported released model (the parity fixture's recipe: GestSync features in, the
released heads): every word gets the gesture score against its controls, as with our own models."""

from __future__ import annotations

import json

import numpy as np
import pytest

from jegal.cli import main
from tests.model import released_fixture as rf


@pytest.fixture(scope="module")
def released_model(tmp_path_factory):
    from jegal.released.cli import import_released

    root = tmp_path_factory.mktemp("released_spot")
    jegal_pth = rf.save_released(root / "jegal.pth", rf.recipe_state("jegal"))
    gestsync_pth = rf.save_released(root / "gestsync.pth", rf.recipe_state("gestsync"))
    import_released(jegal_pth, root / "model", gestsync_pth)
    return root / "model"


@pytest.mark.slow
def test_the_released_model_path_computes_the_gesture_score(released_model, real_dir, tmp_path):
    out = tmp_path / "out"
    assert main(["spot", str(real_dir / "sample1.avi"), "--model", str(released_model), "--out", str(out),
                 "--quiet", "--no-video"]) == 0
    doc = json.loads((out / "spot.json").read_text())
    assert doc["model"]["kind"] == "real"
    (person,) = doc["people"]
    words = person["words"]
    assert len(words) == len(doc["words"]) == 8
    for w in words:
        assert 0.0 <= w["gesture_score"] < 1.0 and w["p_value"] == pytest.approx(1 - w["gesture_score"], abs=1e-3)
        assert w["controls"] == 1  # a 2.2 s track: the still pose alone, so no word is decided
        assert w["gestured"] == (w["p_value"] <= 0.05 and w["controls"] >= 19)
    scores = np.array([w["gesture_score"] for w in words])
    assert np.isfinite(scores).all() and len(set(scores.round(4))) > 1, "scores depend on the word"
