import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from jegal.data.batch import collate_clips
from jegal.model import JEGAL
from tests.dummy import random_batch, random_clip
from tests.reference import loop_forward

from .conftest import tiny_model

EMB_KEYS = ("gesture_frames", "frame_mask", "gesture_clip", "content_words", "word_mask", "content_clip")


def _clips(n=6, seed=0, **kw):
    rng = np.random.default_rng(seed)
    return [random_clip(rng, int(rng.integers(8, 30)), int(rng.integers(1, 6)), f"c{i}", **kw) for i in range(n)]


def _batch(n=6, seed=0, **kw):
    return collate_clips(_clips(n, seed, **kw))


def test_embed_shapes_and_unit_norms(model):
    b = _batch()
    emb = model.embed(b)
    B, T = b["frame_mask"].shape
    W = b["word_mask"].shape[1]
    d = model.config.d_model
    assert emb["gesture_frames"].shape == (B, T, d) and emb["content_words"].shape == (B, W, d)
    assert emb["gesture_clip"].shape == (B, d) and emb["content_clip"].shape == (B, d)
    norms = emb["gesture_frames"].norm(dim=-1)
    torch.testing.assert_close(norms[b["frame_mask"]], torch.ones(int(b["frame_mask"].sum())))
    assert torch.all(norms[~b["frame_mask"]] == 0)
    torch.testing.assert_close(emb["content_words"].norm(dim=-1)[b["word_mask"]], torch.ones(int(b["word_mask"].sum())))
    torch.testing.assert_close(emb["content_clip"].norm(dim=-1), torch.ones(B))


def test_padding_changes_nothing(model):
    """A clip embedded alone equals the same clip inside a batch padded to longer clips."""
    clips = _clips(seed=1)
    full = model.embed(collate_clips(clips))
    for i in (0, 3):
        alone = model.embed(collate_clips([clips[i]]))
        T, W = alone["frame_mask"].shape[1], alone["word_mask"].shape[1]
        for k in ("gesture_frames", "content_words"):
            n = T if k == "gesture_frames" else W
            torch.testing.assert_close(full[k][i, :n], alone[k][0], atol=2e-5, rtol=1e-4)
        for k in ("gesture_clip", "content_clip"):
            torch.testing.assert_close(full[k][i], alone[k][0], atol=2e-5, rtol=1e-4)


def test_permuting_the_batch_permutes_outputs_and_keeps_losses(model):
    clips = _clips(seed=2)
    perm = [4, 2, 0, 5, 1, 3]
    b, bp = collate_clips(clips), collate_clips([clips[i] for i in perm])
    e, ep = model.embed(b), model.embed(bp)
    torch.testing.assert_close(ep["gesture_clip"], e["gesture_clip"][perm], atol=2e-5, rtol=1e-4)
    torch.testing.assert_close(ep["content_clip"], e["content_clip"][perm], atol=2e-5, rtol=1e-4)
    model.eval()
    out, out_p = model(b), model(bp)
    model.train()
    for k in ("loss", "loss_global", "loss_couple"):
        torch.testing.assert_close(out_p[k], out[k], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("local", [{"embedding.local_centre": False, "loss.spot_weight": 0.0},
                                   {"embedding.local_centre": True, "loss.spot_weight": 0.7},
                                   {"embedding.local_centre": True, "loss.spot_weight": 0.7,
                                    "embedding.global_standardise": True},
                                   {"content.global_speech": False, "embedding.global_standardise": True},
                                   {"content.speech_clip_follows": False}])
def test_vectorised_step_equals_the_loop_reference(local):
    model = tiny_model(**local).set_runtime(couple_chunk=2)
    b = _batch(n=5, seed=3)
    out = model(b)
    grads_fast = torch.autograd.grad(out["loss"], list(model.parameters()))
    ref = loop_forward(model, b)
    grads_ref = torch.autograd.grad(ref["loss"], list(model.parameters()))
    for k in ("loss", "loss_global", "loss_couple", "loss_spot"):
        torch.testing.assert_close(out[k].detach(), ref[k].detach(), atol=1e-5, rtol=1e-5)
    # float32 noise scales with each gradient's size (the word-discrimination softmax runs over every word
    # of the batch); batch standardisation divides by batch standard deviations, which amplifies it
    noise = 1e-4 if local.get("embedding.global_standardise") else 1e-5
    for (name, _), gf, gr in zip(model.named_parameters(), grads_fast, grads_ref):
        atol = noise * max(1.0, float(gr.abs().max()))
        torch.testing.assert_close(gf, gr, atol=atol, rtol=1e-4, msg=f"gradient of {name}")


def test_gradients_reach_every_trainable_parameter_and_not_the_backbone():
    model = tiny_model(**{"content.modality_dropout": 0.5})
    model.train()
    model(_batch(seed=4))["loss"].backward()
    no_grad = [n for n, p in model.named_parameters() if p.requires_grad and (p.grad is None or not p.grad.abs().sum())]
    assert no_grad == []
    backbone = model.text.backbone.encoder
    assert backbone is not None
    assert all(p.grad is None and not p.requires_grad for p in backbone.parameters())
    own = {id(p) for p in model.parameters()}
    assert not any(id(p) in own for p in backbone.parameters())
    n_backbone = sum(p.numel() for p in backbone.parameters())
    assert model.num_parameters() == sum(p.numel() for p in model.parameters())
    assert n_backbone > model.num_parameters()  # the 22M-parameter MiniLM is not counted


def test_text_only_speech_only_and_both_give_same_shapes(model):
    b = _batch(seed=5)
    embs = {m: model.embed(b, modalities=m, parts="c") for m in ("ta", "t", "a")}
    assert {tuple(e["content_words"].shape) for e in embs.values()} == {tuple(embs["ta"]["content_words"].shape)}
    assert not torch.allclose(embs["t"]["content_words"], embs["a"]["content_words"])
    assert not torch.allclose(embs["t"]["content_words"], embs["ta"]["content_words"])


def test_single_modality_models_build_and_refuse_the_missing_modality():
    text_only = tiny_model(**{"content.modalities": "t"})
    assert text_only.speech is None
    b = _batch(seed=6)
    assert text_only.embed(b, modalities="t")["content_words"].shape[-1] == 32
    with pytest.raises(ValueError, match="trained with 't'"):
        text_only.embed(b, modalities="a")
    speech_only = tiny_model(**{"content.modalities": "a"})
    assert speech_only.text is None
    assert torch.isfinite(speech_only(b)["loss"])


def test_modality_dropout_zeroes_exactly_one_modality_per_clip():
    model = tiny_model()
    b = model._to_device(_batch(n=16, seed=7))
    only_t = model.encode_content(b, "t")["content_words"]
    only_a = model.encode_content(b, "a")["content_words"]
    both = model.encode_content(b, "ta")["content_words"]
    torch.manual_seed(1)
    dropped = model.encode_content(b, modality_dropout=1.0)["content_words"]
    is_t = torch.isclose(dropped, only_t, atol=1e-6).flatten(1).all(1)
    is_a = torch.isclose(dropped, only_a, atol=1e-6).flatten(1).all(1)
    assert torch.all(is_t ^ is_a) and is_t.any() and is_a.any()
    torch.testing.assert_close(model.encode_content(b, modality_dropout=0.0)["content_words"], both)


def test_save_load_round_trip_is_exact(model, tmp_path):
    b = _batch(seed=8)
    model.save_pretrained(tmp_path / "m")
    saved = load_file(str(tmp_path / "m" / "model.safetensors"))
    assert not any("backbone" in k for k in saved)
    assert set(saved) == set(model.state_dict())
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    assert cfg["text"]["backbone"] == "all-MiniLM-L6-v2" and cfg["gesture"]["d_model"] == 32
    loaded = JEGAL.from_pretrained(tmp_path / "m")
    for mods in ("ta", "t", "a"):
        e1, e2 = model.embed(b, mods), loaded.embed(b, mods)
        for k in EMB_KEYS:
            assert torch.equal(e1[k], e2[k]), k


def test_load_reports_a_missing_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a saved JEGAL model"):
        JEGAL.from_pretrained(tmp_path)


@pytest.mark.parametrize("frontend", ["features", "rgb"])
def test_other_gesture_frontends(frontend):
    kw = {"feature_dim": 12} if frontend == "features" else {"rgb_size": 16}
    model = tiny_model(**{"gesture.frontend": frontend, "gesture.feature_dim": 12, "gesture.rgb_channels": [4, 8]})
    clips = _clips(n=3, seed=9, **kw)
    b = collate_clips(clips)
    emb = model.embed(b, parts="g")
    assert emb["gesture_frames"].shape == (3, b["frame_mask"].shape[1], 32)
    alone = model.embed(collate_clips([clips[1]]), parts="g")
    T = alone["frame_mask"].shape[1]
    torch.testing.assert_close(emb["gesture_frames"][1, :T], alone["gesture_frames"][0], atol=2e-5, rtol=1e-4)
    model(b)["loss"].backward()
    assert all(p.grad is not None for p in model.gesture.parameters())


def test_frozen_rgb_backbone_gets_no_gradient():
    model = tiny_model(**{"gesture.frontend": "rgb", "gesture.rgb_channels": [4, 8], "gesture.rgb_trainable": False})
    model(_batch(n=2, seed=10, rgb_size=16))["loss"].backward()
    assert all(p.grad is None for p in model.gesture.frontend.backbone.parameters())
    assert model.gesture.frontend.proj.weight.grad is not None


def test_keypoint_frontend_sees_five_frames():
    model = tiny_model()
    fe = model.gesture.frontend
    b = random_batch(1, num_frames=30, num_words=3, seed=11)
    base = fe(b)
    b2 = dict(b, keypoints=b["keypoints"].clone())
    b2["keypoints"][0, 15, :, :2] += 1.0
    changed = (fe(b2) - base).abs().sum(-1)[0] > 0
    assert changed.nonzero().flatten().tolist() == [13, 14, 15, 16, 17]


def test_without_positions_a_still_pose_gives_the_same_features_at_every_inner_frame():
    b = random_batch(1, num_frames=30, num_words=3, seed=12)
    b["keypoints"][:] = b["keypoints"][:, :1]  # the first frame's pose, held
    inner = slice(3, 27)  # beyond the 5-frame front-end's reach of the clip's edges
    for positions in (True, False):
        x = tiny_model(**{"gesture.positions": positions}).gesture(b)[0, inner]
        spread = (x - x[0]).abs().max()
        assert (spread < 1e-5) == (not positions), positions
    # the pose still counts: moving one frame changes its features
    model = tiny_model(**{"gesture.positions": False})
    b2 = dict(b, keypoints=b["keypoints"].clone())
    b2["keypoints"][0, 15, :, :2] += 1.0
    assert not torch.allclose(model.gesture(b2)[0, 15], model.gesture(b)[0, 15])


def test_speech_encoder_has_time_stride_four_and_local_receptive_field():
    model = tiny_model()
    b = random_batch(2, num_frames=(20, 30), num_words=3, seed=12)
    out = model.speech(b["mel"], b["frame_mask"])
    assert out.shape[:2] == b["frame_mask"].shape
    mel = b["mel"].clone()
    mel[0, 40:44] += 3.0  # the mel frames of video frame 10
    changed = ((model.speech(mel, b["frame_mask"]) - out).abs().sum(-1)[0] > 0).nonzero().flatten()
    assert 10 in changed.tolist() and changed.min() >= 8 and changed.max() <= 12


def test_bf16_autocast_step_runs_and_stays_close_to_fp32():
    model = tiny_model()
    b = _batch(seed=13)
    ref = model(b)["loss"].detach()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(b)
    out["loss"].backward()
    # bf16 keeps ~3 significant digits: within 2 % of the fp32 loss
    assert torch.isfinite(out["loss"]) and abs(float(out["loss"].detach()) - float(ref)) < 0.02 * float(ref)
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_centred_local_space_ignores_what_a_clip_shares_but_keeps_one_word_clips():
    b = _batch(n=6, seed=11)
    for centre in (True, False):
        model = tiny_model(**{"embedding.local_centre": centre})
        e = model.embed(b)
        with torch.no_grad():  # a shift shared by every frame / word of every clip
            model.gesture_align.bias.add_(torch.randn_like(model.gesture_align.bias))
            model.content_align.bias.add_(torch.randn_like(model.content_align.bias))
        shifted = model.embed(b)
        several = e["word_mask"].sum(1) >= 2
        same_w = torch.isclose(shifted["content_words"], e["content_words"], atol=1e-5).flatten(1).all(1)
        same_f = torch.isclose(shifted["gesture_frames"], e["gesture_frames"], atol=1e-5).flatten(1).all(1)
        assert bool(same_w[several].all() and same_f.all()) == centre
        # a one-word clip is not centred (it would become a zero vector)
        assert (e["content_words"].norm(dim=-1)[e["word_mask"]] > 0.99).all()
    assert (~several).any()  # the batch has a one-word clip


def test_global_speech_off_keeps_speech_out_of_the_clip_vector_only():
    model = tiny_model(**{"content.global_speech": False, "embedding.global_standardise": True})
    b = _batch(seed=6)
    noisy = {**b, "mel": b["mel"] + torch.randn_like(b["mel"])}
    e, e_noisy = model.embed(b), model.embed(noisy)
    torch.testing.assert_close(e["content_clip"], e_noisy["content_clip"])  # text alone makes the clip vector
    assert not torch.allclose(e["content_words"], e_noisy["content_words"])  # speech still shapes the words
    with_speech = tiny_model(**{"content.global_speech": True, "content.speech_clip_follows": False,
                                "embedding.global_standardise": True})
    assert not torch.allclose(with_speech.embed(b)["content_clip"], with_speech.embed(noisy)["content_clip"])


def _grads(model, loss_key="loss"):
    model.zero_grad()
    model(_batch(seed=7))[loss_key].backward()
    return {n: (torch.zeros_like(p) if p.grad is None else p.grad.clone()) for n, p in model.named_parameters()
            if p.requires_grad}


def test_speech_clip_vectors_follow_the_gesture_space_without_moving_it():
    # clip-level loss only; the cpu preset: text-only clip vectors, speech clip vectors that follow
    setting = {"loss.beta": 1.0, "loss.spot_weight": 0.0}
    follows = tiny_model(**setting)
    assert follows.config.content.speech_clip_follows
    out = follows(_batch(seed=7))
    assert out["loss_follow"] > 0
    with_follow, without = _grads(follows), _grads(tiny_model(**setting, **{"content.speech_clip_follows": False}))
    gesture_side = [n for n in with_follow if n.startswith(("gesture", "loss.logit_scale"))]
    for n in gesture_side:  # the gesture side and the temperature learn exactly as without the term
        torch.testing.assert_close(with_follow[n], without[n], msg=n)
    assert without["speech.out.1.weight"].abs().sum() == 0  # the text clip vectors never see speech
    assert with_follow["speech.out.1.weight"].abs().sum() > 0  # the speech ones learn
    # modality dropout no longer reaches the text clip vectors: every clip keeps its text there
    b = _batch(seed=9)
    follows.eval()
    plain = follows.encode_content(b, speech_clip=True)
    torch.manual_seed(3)
    dropped = follows.encode_content(b, modality_dropout=1.0)
    torch.testing.assert_close(dropped["content_clip"], plain["content_clip"])
    assert not torch.allclose(dropped["content_words"], plain["content_words"])
    # at inference "a" gives the speech-only vector the term trained
    torch.testing.assert_close(follows.embed(b, modalities="a", parts="c")["content_clip"],
                               plain["content_clip_speech"])
