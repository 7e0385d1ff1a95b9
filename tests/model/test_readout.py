"""Objectives by name (loss.objective) and how JEGAL.embed reads a model (JEGAL.readout)."""

import copy

import pytest
import torch
import torch.nn.functional as F

from jegal.losses.sync import sync_objective
from jegal.model.config import ConfigError, JEGALConfig
from tests.dummy import random_batch

from .conftest import tiny_model


def test_the_baseline_objectives_set_their_weights_and_unknown_ones_are_refused():
    clip = JEGALConfig.from_preset("cpu", {"loss.objective": "clip"}).loss
    sync = JEGALConfig.from_preset("cpu", {"loss.objective": "sync"}).loss
    jegal = JEGALConfig.from_preset("cpu").loss
    assert (clip.beta, clip.spot_weight) == (1.0, 0.0)
    assert (sync.beta, sync.spot_weight) == (0.0, 0.0)
    assert (jegal.objective, jegal.beta, jegal.spot_weight) == ("jegal", 0.8, 0.25)  # the preset's, untouched
    with pytest.raises(ConfigError, match="loss.objective"):
        JEGALConfig.from_preset("cpu", {"loss.objective": "siglip"})


@pytest.mark.parametrize("overrides, readout", [
    ({}, "both"),
    ({"loss.objective": "clip"}, "global"),
    ({"loss.objective": "sync"}, "local"),
    ({"loss.beta": 0.0}, "local"),  # coupling only: the global heads are untrained
    ({"loss.beta": 1.0, "loss.spot_weight": 0.0}, "global"),
    ({"loss.beta": 1.0, "loss.spot_weight": 0.25}, "both"),  # the word term trains the local heads
])
def test_readout_follows_what_the_training_shaped(overrides, readout):
    m = tiny_model(**overrides)
    assert m.readout() == readout
    assert m.readout("local") == "local" and m.readout("global") == "global"
    with pytest.raises(ValueError, match="space"):
        m.readout("clip")


def _masked_mean_direction(x, mask):
    """Loop reference: per clip, the normalised mean of its real rows."""
    return torch.stack([F.normalize(x[b, mask[b]].mean(0), dim=0) for b in range(x.shape[0])])


def test_embed_reads_the_requested_space():
    model = tiny_model().eval()
    batch = random_batch(4, seed=3)
    both = model.embed(batch)
    assert set(both) == {"gesture_frames", "frame_mask", "gesture_clip", "content_words", "word_mask", "content_clip"}

    # "local": the clip vectors are the normalised mean of the frames / words; frames and words as they are
    local = model.embed(batch, space="local")
    for rows, mask, clip in (("gesture_frames", "frame_mask", "gesture_clip"),
                             ("content_words", "word_mask", "content_clip")):
        torch.testing.assert_close(local[rows], both[rows])
        torch.testing.assert_close(local[clip], _masked_mean_direction(both[rows], both[mask]))

    # "global": frames and words through the global heads, as a model whose local heads are the
    # global ones (and without the local space's centring) embeds them; clip vectors as they are
    swapped = copy.deepcopy(model)
    swapped.gesture_align, swapped.content_align = swapped.gesture_global, swapped.content_global
    swapped.config.embedding.local_centre = False
    ref = swapped.embed(batch, space="both")
    glob = model.embed(batch, space="global")
    for key in ("gesture_frames", "content_words", "gesture_clip", "content_clip"):
        torch.testing.assert_close(glob[key], ref[key])
    assert not torch.allclose(glob["gesture_frames"], both["gesture_frames"])

    # the default reads what the objective trained
    sync = tiny_model(**{"loss.objective": "sync"}).eval()
    torch.testing.assert_close(sync.embed(batch)["gesture_clip"], sync.embed(batch, space="local")["gesture_clip"])
    clip = tiny_model(**{"loss.objective": "clip"}).eval()
    torch.testing.assert_close(clip.embed(batch)["content_words"], clip.embed(batch, space="global")["content_words"])


def test_forward_dispatches_on_the_objective():
    batch = random_batch(4, seed=1)
    keys = {"loss", "loss_global", "loss_couple", "loss_spot", "loss_detect", "loss_follow", "loss_sync",
            "logit_scale", "couple_scale"}

    sync = tiny_model(**{"loss.objective": "sync"}).train()
    torch.manual_seed(0)
    out = sync(batch)
    assert set(out) == keys
    torch.manual_seed(0)
    b = sync._to_device(batch)
    g, c = sync.encode_gesture(b), sync.encode_content(b, modality_dropout=0.0)
    ref = sync_objective(g["gesture_frames"], g["frame_mask"], c["content_words"], b["word_spans"], c["word_mask"])
    torch.testing.assert_close(out["loss"], ref["loss"])
    out["loss"].backward()
    assert sync.gesture_align.weight.grad is not None and sync.gesture_global.weight.grad is None

    clip = tiny_model(**{"loss.objective": "clip"}).eval()
    out = clip(batch)
    assert set(out) == keys
    assert float(out["loss_couple"]) == 0.0 and float(out["loss_spot"]) == 0.0 and float(out["loss_sync"]) == 0.0
    torch.testing.assert_close(out["loss"], out["loss_global"] + out["loss_follow"])

    jegal = tiny_model().eval()
    out = jegal(batch)
    beta, w = jegal.config.loss.beta, jegal.config.loss.spot_weight
    torch.testing.assert_close(out["loss"], beta * (out["loss_global"] + out["loss_follow"])
                               + (1 - beta) * out["loss_couple"] + w * out["loss_spot"])

    # the detection contrast adds its weighted term; a baseline objective turns it off
    detect = tiny_model(**{"loss.detect_weight": 0.5}).eval()
    out = detect(batch)
    assert float(out["loss_detect"]) > 0.0
    torch.testing.assert_close(out["loss"], beta * (out["loss_global"] + out["loss_follow"])
                               + (1 - beta) * out["loss_couple"] + w * out["loss_spot"] + 0.5 * out["loss_detect"])
    assert float(tiny_model(**{"loss.objective": "clip", "loss.detect_weight": 0.5}).eval()(batch)["loss_detect"]) == 0.0
