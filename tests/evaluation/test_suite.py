"""jegal.evaluation.suite (variants, late fusion) and the ablation's checks of the paper's claims."""

import torch

from jegal.evaluation.suite import VARIANTS, Budget, EnsembleModel

from .conftest import FakeModel, make_clip


def test_variants_are_objectives_and_overrides_of_the_cpu_preset(tmp_path):
    """Every trained variant builds through the one training config; the baselines and the
    clip-level ablation name their objective, and the model config says so."""
    budget = Budget(max_steps=5)
    for v in VARIANTS.values():
        if v.parts:
            assert all(not VARIANTS[p].parts for p in v.parts)
            continue
        cfg = budget.train_config(tmp_path / "corpus", tmp_path / v.name, v.model_overrides(), progress=False)
        mc = cfg.model_config()
        assert mc.loss.objective == v.objective, v.name
        assert cfg.max_steps == 5 and cfg.epochs == 0  # --max-steps sets the length: no epoch cap
    assert VARIANTS["sync"].objective == "sync" and VARIANTS["clip_clip"].objective == "clip"
    assert VARIANTS["global_only"].objective == "clip"
    cfg = Budget(epochs=4).train_config(tmp_path / "c", tmp_path / "r", VARIANTS["sync"].model_overrides())
    assert cfg.epochs == 4 and cfg.model_config().content.modalities == "a"
    paper = Budget().train_config(tmp_path / "c", tmp_path / "r", VARIANTS["paper_objective"].model_overrides())
    mc = paper.model_config()
    assert (mc.loss.objective, mc.loss.beta, mc.loss.spot_weight, mc.embedding.local_centre) == ("jegal", 0.5, 0.0,
                                                                                                False)


def test_ensemble_cosine_is_the_average_of_the_models():
    from jegal.data.batch import collate_clips

    batch = collate_clips([make_clip(1), make_clip(2)])
    a, b = FakeModel(), FakeModel()
    ens = EnsembleModel([a, b], ["ta", "ta"])
    out = ens.embed(batch)
    one = a.embed(batch)
    sim_ens = out["content_clip"] @ out["gesture_clip"].T
    sim_one = one["content_clip"] @ one["gesture_clip"].T
    torch.testing.assert_close(sim_ens, sim_one)


def test_findings_check_the_papers_claims():
    from jegal.evaluation.ablate import findings

    def m(ret, spot, stressed=None, asd=0.5):
        return {"ret R@10 c2g": ret, "ret R@10 g2c": ret, "spot": spot, "spot stressed": stressed,
                "ASD P=2": asd, "ASD P=4": asd, "ASD P=6": asd}

    rows = [{"variant": "full", "modalities": "ta", "metrics": m(0.5, 0.4, 0.6)},
            {"variant": "full", "modalities": "t", "metrics": m(0.45, 0.35, 0.5)},
            {"variant": "full", "modalities": "a", "metrics": m(0.3, 0.1, 0.2)},
            {"variant": "global_only", "modalities": "ta", "metrics": m(0.55, 0.0)},
            {"variant": "coupling_only", "modalities": "ta", "metrics": m(0.2, 0.3)},
            {"variant": "sync", "modalities": "a", "metrics": m(0.1, 0.05)}]
    floors = [{"label": "floor: chance", "metrics": {"ret R@10 c2g": 0.03, "spot": 0.35, "ASD P=2": 0.5}},
              {"label": "ceiling: oracle", "metrics": {"spot": 1.0}}]
    got = {f["claim"].split(" (")[0]: f["holds"] for f in findings(rows, floors)}
    assert got["both losses together beat either alone on retrieval and spotting"] is False  # global-only retrieval is higher
    assert got["the coupling loss is what drives spotting"] is True
    assert got["text helps spotting most"] is True
    assert got["speech helps on stressed words"] is True
    assert got["the full model beats the sync-style baseline on spotting and retrieval"] is True
    assert got["the full model beats every floor on every task"] is False  # spot 40 > 35 but ASD P=2 50 == 50
    assert not any("avg" in k for k in got)  # avg fusion was not run
