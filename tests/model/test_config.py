import copy
import json
from dataclasses import asdict, replace

import pytest
import torch

from jegal.model import ConfigError, JEGAL, JEGALConfig, TextBackboneError
from jegal.model.config import PRESET_DIR, paper_objective_overrides
from jegal.model.text import FrozenTextBackbone
from tests.dummy import random_batch

from .conftest import tiny_model


def test_presets_hold_the_paper_sizes_and_a_small_cpu_model():
    paper = JEGALConfig.from_preset("paper")
    g, t = paper.gesture, paper.text
    assert (g.d_model, g.layers, g.ffn, g.heads, t.layers, t.head_dim) == (512, 6, 2048, 8, 3, 768)
    assert paper.loss.beta == 0.5 and paper.loss.window == 10 and paper.content.modality_dropout == 0.5
    # "paper" is the paper's model and objective as published: exactly the dataclass defaults
    assert replace(paper, preset="") == JEGALConfig()
    assert not paper.embedding.local_centre and not paper.embedding.global_standardise
    assert paper.loss.spot_weight == 0.0 and paper.content.global_speech
    cpu = JEGALConfig.from_preset("cpu")
    assert cpu.gesture.d_model < paper.gesture.d_model and cpu.preset == "cpu"
    # recommended: the paper's encoders and sizes, this project's objective
    recommended = JEGALConfig.from_preset("recommended")
    for section in ("gesture", "text", "speech"):
        assert getattr(recommended, section) == getattr(paper, section), section
    # cpu and recommended train a word-discriminative local space and standardised clip features
    for preset in (recommended, cpu):
        assert preset.embedding.local_centre and preset.embedding.global_standardise and preset.loss.spot_weight > 0
    # released: the modules of the released checkpoint (tests/model/test_released.py)
    assert sorted(p.stem for p in PRESET_DIR.glob("*.json")) == ["cpu", "paper", "recommended", "released"]


def test_paper_objective_overrides_give_any_preset_the_papers_objective_and_heads():
    paper = JEGALConfig.from_preset("paper")
    for name in ("cpu", "recommended"):
        own = JEGALConfig.from_preset(name)
        turned = JEGALConfig.from_preset(name, paper_objective_overrides())
        assert turned.embedding == paper.embedding and turned.loss == paper.loss
        assert (turned.content.global_speech, turned.content.speech_clip_follows,
                turned.content.modality_dropout) == (True, False, 0.5)
        for section in ("gesture", "text", "speech"):  # the sizes stay the preset's
            assert getattr(turned, section) == getattr(own, section), (name, section)
    # the overrides change only the embedding heads and the objective: the same modules as the paper's
    turned = JEGAL(JEGALConfig.from_preset("cpu", {**paper_objective_overrides(), "gesture.d_model": 32,
                                                  "gesture.heads": 2}))
    assert turned.gesture_standardise is None and turned.gesture_global.bias is not None


def test_dotted_overrides_and_string_values():
    cfg = JEGALConfig.from_preset("cpu", {"loss.beta": "1.0", "content.fusion": "avg", "speech.channels": "[8, 8]",
                                          "gesture.positions": "false", "embedding.local_centre": "false",
                                          "text.head_dim": "null", "gesture.rgb_checkpoint": "/w/rgb.safetensors"})
    assert cfg.loss.beta == 1.0 and cfg.content.fusion == "avg" and cfg.speech.channels == [8, 8]
    assert cfg.gesture.positions is False and cfg.embedding.local_centre is False and cfg.text.head_dim is None
    assert cfg.gesture.rgb_checkpoint == "/w/rgb.safetensors"
    with pytest.raises(ConfigError, match="'gesture.layers': cannot parse 'two' as int"):
        JEGALConfig.from_preset("cpu", {"gesture.layers": "two"})
    with pytest.raises(ConfigError, match="'gesture.positions' takes bool"):
        JEGALConfig.from_preset("cpu", {"gesture.positions": 1})
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
    cfg = JEGALConfig.from_preset("cpu", {"gesture.frontend": "features", "loss.window": 8})
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
    assert not model.text.backbone.loaded and model.text.backbone.encoder is None
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


# -- runtime settings: set on the model, not saved with it -----------------------------------

def test_runtime_settings_change_speed_not_numbers_and_are_not_saved(tmp_path):
    model = tiny_model()
    assert (model.runtime.text_cache_size, model.runtime.couple_chunk, model.runtime.couple_checkpoint) == (0, 32, True)
    b = random_batch(5, seed=3)
    model.eval()
    plain = model.set_runtime(couple_chunk=0)(b)["loss"]
    assert model.set_runtime(couple_chunk=2, couple_checkpoint=False) is model
    assert (model.loss.couple_chunk, model.loss.couple_checkpoint) == (2, False)
    torch.testing.assert_close(model(b)["loss"], plain)
    model.set_runtime(text_cache_size=3)
    assert model.text.backbone.cache_size == 3 and model.runtime.couple_chunk == 2  # None keeps the others
    model.embed(b)
    assert len(model.text.backbone.cache) == 3
    model.set_runtime(text_cache_size=1)
    assert len(model.text.backbone.cache) == 1  # shrinking drops the least recently used
    model.save_pretrained(tmp_path / "m")
    saved = json.loads((tmp_path / "m" / "config.json").read_text())
    assert "cache_size" not in saved["text"] and "couple_chunk" not in saved["loss"]
    assert JEGAL.from_pretrained(tmp_path / "m").runtime == type(model.runtime)()  # a loaded model gets the defaults
    with pytest.raises(ValueError, match="couple_chunk"):
        model.set_runtime(couple_chunk=-1)


# -- configs written before the keys moved (issue 11) ----------------------------------------

def _old_layout(cfg: JEGALConfig, **loss) -> dict:
    """``cfg`` as the previous layout saved it: centring / standardisation under loss, runtime knobs inside."""
    d = asdict(cfg)
    emb = d.pop("embedding")
    d["loss"].update({"local_centre": emb["local_centre"], "global_standardise": emb["global_standardise"],
                      "couple_chunk": 32, "couple_checkpoint": True, "spot_negatives": "batch", "global_pool": "mean",
                      **loss})
    d["text"]["cache_size"] = 4096
    d["gesture"]["separate_global"] = False
    return d


def test_an_old_config_file_loads_with_its_keys_at_their_new_place(tmp_path):
    cfg = tiny_model().config
    (tmp_path / "config.json").write_text(json.dumps(_old_layout(cfg)))
    with pytest.warns(UserWarning, match="loss.local_centre -> embedding.local_centre"):
        old = JEGALConfig.from_json(tmp_path / "config.json")
    assert old == cfg and old.embedding.local_centre and old.embedding.global_standardise
    # within-clip negatives were a training choice only: such a model loads as it is
    with pytest.warns(UserWarning):
        assert JEGALConfig.from_dict(_old_layout(cfg, spot_negatives="clip")) == cfg


def test_old_runtime_knobs_of_any_value_are_dropped():
    d = _old_layout(JEGALConfig.from_preset("cpu"), couple_chunk=8, couple_checkpoint=False)
    with pytest.warns(UserWarning):
        assert JEGALConfig.from_dict(d) == JEGALConfig.from_preset("cpu")


def test_an_old_config_of_a_removed_behaviour_is_refused():
    with pytest.raises(ConfigError, match="loss.global_pool='max' is no longer supported"):
        JEGALConfig.from_dict(_old_layout(JEGALConfig.from_preset("cpu"), global_pool="max"))
    d = _old_layout(JEGALConfig.from_preset("cpu"))
    d["gesture"]["separate_global"] = True
    with pytest.raises(ConfigError, match="gesture.separate_global=True is no longer supported"):
        JEGALConfig.from_dict(d)
    d = _old_layout(JEGALConfig.from_preset("cpu"))
    d["embedding"] = {"local_centre": False}
    with pytest.raises(ConfigError, match="both 'loss.local_centre' and its new name 'embedding.local_centre'"):
        JEGALConfig.from_dict(d)


@pytest.mark.parametrize("key,needle", [("loss.local_centre", "is now 'embedding.local_centre'"),
                                        ("loss.global_standardise", "is now 'embedding.global_standardise'"),
                                        ("loss.couple_chunk", "runtime setting now.*--set couple_chunk="),
                                        ("text.cache_size", "runtime setting now.*text_cache_size"),
                                        ("loss.spot_negatives", "was removed: .*whole batch"),
                                        ("loss.global_pool", "was removed"),
                                        ("gesture.separate_global", "was removed")])
def test_an_old_key_in_an_override_names_its_replacement(key, needle):
    with pytest.raises(ConfigError, match=needle):
        JEGALConfig.from_preset("cpu", {key: "true"})


def test_building_a_model_leaves_the_callers_config_unchanged(tmp_path):
    from safetensors.torch import save_file

    from jegal.model.gesture import RGBBackbone

    cfg = JEGALConfig.from_preset("cpu", {"gesture.d_model": 32, "gesture.heads": 2, "text.head_dim": 32,
                                          "text.heads": 2, "gesture.frontend": "rgb", "gesture.rgb_channels": [4, 8]})
    save_file(RGBBackbone(cfg.gesture).state_dict(), str(tmp_path / "rgb.safetensors"))
    cfg.loss.objective, cfg.loss.beta, cfg.loss.spot_weight = "clip", 0.5, 0.3  # the objective implies other weights
    cfg.text.backbone_dim = None  # read from the backbone when the model is built
    cfg.gesture.rgb_checkpoint = str(tmp_path / "rgb.safetensors")
    before = copy.deepcopy(cfg)
    model = JEGAL(cfg)
    assert cfg == before  # nothing of the caller's object changed
    assert (model.config.loss.beta, model.config.loss.spot_weight) == (1.0, 0.0)  # the model's own copy
    assert model.config.text.backbone_dim == 384 and model.config.gesture.rgb_checkpoint is None
    checked = cfg.validate()
    assert checked is not cfg and checked.loss is not cfg.loss and cfg == before
    assert checked.loss.beta == 1.0


def test_config_units_loss_config_lives_with_the_losses():
    import subprocess
    import sys

    from jegal.losses import LossConfig
    from jegal.model.config import LossConfig as FromModel

    assert FromModel is LossConfig and JEGALConfig().loss == LossConfig()
    code = "import sys, jegal.losses; print(sorted(m for m in sys.modules if m.startswith('jegal.model')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"  # the losses import nothing from the model
    cfg = JEGALConfig.from_preset("cpu", {"loss.objective": "sync", "loss.window": 7})  # the JSON keys as before
    assert (cfg.loss.beta, cfg.loss.window) == (0.0, 7) and cfg.to_dict()["loss"]["window"] == 7
    with pytest.raises(ConfigError, match="loss.window"):
        LossConfig(window=-1).validated()
