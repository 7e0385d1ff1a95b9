import json

import pytest
import torch

from jegal.model import ConfigError, JEGAL, JEGALConfig, TextBackboneError
from jegal.model.dummy import random_batch
from jegal.model.text import FrozenTextBackbone


def test_presets_hold_the_paper_sizes_and_a_small_cpu_model():
    paper = JEGALConfig.from_preset("paper")
    g, t = paper.gesture, paper.text
    assert (g.d_model, g.layers, g.ffn, g.heads, t.layers) == (512, 6, 2048, 8, 3)
    assert paper.loss.beta == 0.5 and paper.loss.window == 10 and paper.content.modality_dropout == 0.5
    cpu = JEGALConfig.from_preset("cpu")
    assert cpu.gesture.d_model < paper.gesture.d_model and cpu.preset == "cpu"
    assert JEGALConfig().gesture.d_model == 512  # dataclass defaults are the paper's
    # both presets train a word-discriminative local space; the bare defaults keep the paper's objective
    for preset in (paper, cpu):
        assert preset.loss.local_centre and preset.loss.spot_weight > 0
    assert not JEGALConfig().loss.local_centre and JEGALConfig().loss.spot_weight == 0.0


def test_dotted_overrides_and_string_values():
    cfg = JEGALConfig.from_preset("cpu", {"loss.beta": "1.0", "content.fusion": "avg", "speech.channels": "[8, 8]",
                                          "loss.couple_checkpoint": "false"})
    assert cfg.loss.beta == 1.0 and cfg.content.fusion == "avg" and cfg.speech.channels == [8, 8]
    assert cfg.loss.couple_checkpoint is False
    with pytest.raises(ConfigError, match="unknown config key 'loss.betta'"):
        JEGALConfig.from_preset("cpu", {"loss.betta": 1})
    with pytest.raises(ConfigError, match="content.fusion"):
        JEGALConfig.from_preset("cpu", {"content.fusion": "sum"})
    with pytest.raises(ConfigError, match="unknown preset"):
        JEGALConfig.from_preset("huge")
    with pytest.raises(ConfigError, match="loss.spot_weight"):
        JEGALConfig.from_preset("cpu", {"loss.spot_weight": -0.1})
    with pytest.raises(ConfigError, match="spot_temperature"):
        JEGALConfig.from_preset("cpu", {"loss.spot_temperature": 0})


def test_dict_and_json_round_trip(tmp_path):
    cfg = JEGALConfig.from_preset("cpu", {"gesture.frontend": "features", "loss.couple_chunk": 8})
    assert JEGALConfig.from_dict(cfg.to_dict()) == cfg
    cfg.to_json(tmp_path / "c.json")
    assert JEGALConfig.from_json(tmp_path / "c.json") == cfg
    assert JEGALConfig.from_preset(str(tmp_path / "c.json")) == cfg
    (tmp_path / "bad.json").write_text(json.dumps({"gesture": {"width": 3}}))
    with pytest.raises(ConfigError, match="gesture.width"):
        JEGALConfig.from_json(tmp_path / "bad.json")


def test_unavailable_text_backbone_gives_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(TextBackboneError, match="'xlm-roberta-base' is not available.*all-MiniLM-L6-v2"):
        JEGAL.from_preset("cpu", {"text.backbone": "xlm-roberta-base"})
    with pytest.raises(TextBackboneError, match="no config.json"):
        JEGAL.from_preset("cpu", {"text.backbone": str(tmp_path)})


def test_building_the_model_loads_no_backbone_weights():
    model = JEGAL.from_preset("cpu")
    assert model.text.backbone._model is None
    assert model.config.text.backbone_dim == 384


def test_cached_subword_states_equal_fresh_ones():
    fresh = FrozenTextBackbone("all-MiniLM-L6-v2", cache_size=0)
    cached = FrozenTextBackbone("all-MiniLM-L6-v2", cache_size=2)
    words = [["a", "short", "one"], ["a", "rather", "longer", "sentence", "here"]]
    ref = fresh(words, torch.device("cpu"))
    first = cached(words, torch.device("cpu"))
    again = cached(words[::-1], torch.device("cpu"))
    assert cached.misses == 2 and cached.hits == 2
    for r, a, b in zip(ref, first, (x.flip(0) for x in again)):
        torch.testing.assert_close(a, r, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(b, r, atol=1e-5, rtol=1e-5)
    cached([["x"]], torch.device("cpu"))
    assert len(cached.cache) == 2 and ("x",) in cached.cache  # least recently used dropped


def test_changing_the_backbone_forgets_the_old_width():
    cfg = JEGALConfig.from_preset("cpu")
    cfg.text.backbone_dim = 384
    assert cfg.with_overrides({"text.backbone": "/some/other"}).text.backbone_dim is None
    assert cfg.with_overrides({"loss.beta": 1.0}).text.backbone_dim == 384


def test_a_backbone_of_the_wrong_width_is_refused():
    model = JEGAL.from_preset("cpu", {"text.backbone_dim": 768})
    with pytest.raises(TextBackboneError, match="width 384"):
        model.embed(random_batch(1))
