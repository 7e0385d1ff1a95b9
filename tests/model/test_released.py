"""The released JEGAL heads: parity with the reference on every stage of the released-checkpoint fixture
(../shared/fixtures/released), through the importer, and the importer's refusals."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
import torch

from jegal.model import JEGAL
from jegal.model.released import (ReleasedCheckpointError, UnbiasedLayerNorm, convert_state, jegal_key_map,
                                  read_checkpoint, reference_log_mel)
from jegal.released import cli
from tests.model import released_fixture as rf


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> dict:
    """The recipe's checkpoints saved in the released layout and imported twice: jegal.pth with the
    ``module.`` prefix and gestsync.pth without it, then the other way round."""
    root = tmp_path_factory.mktemp("released")
    jegal_state, gestsync_state = rf.recipe_state("jegal"), rf.recipe_state("gestsync")
    out = {}
    for name, (jp, gp) in {"a": ("module.", ""), "b": ("", "module.")}.items():
        jegal_pth = rf.save_released(root / f"jegal_{name}.pth", jegal_state, jp)
        gestsync_pth = rf.save_released(root / f"gestsync_{name}.pth", gestsync_state, gp)
        out[name] = cli.import_released(jegal_pth, root / f"model_{name}", gestsync_pth)
        jegal_pth.unlink()
        gestsync_pth.unlink()
    out["dir"] = root / "model_a"
    out["model"] = JEGAL.from_pretrained(root / "model_a").eval()
    out["other"] = JEGAL.from_pretrained(root / "model_b").eval()
    return out


def close(ours: torch.Tensor | np.ndarray, key: str) -> float:
    """max |ours - reference| for fixture array ``key``, asserted within the README's tolerance."""
    ref = rf.arrays()[key]
    ours = ours.detach().numpy() if isinstance(ours, torch.Tensor) else ours
    assert ours.shape == ref.shape, key
    diff = float(np.abs(ours - ref).max())
    assert diff <= rf.bound(ref), f"{key}: max diff {diff:.3g} > {rf.bound(ref):.3g}"
    return diff


def gesture_batch() -> tuple[dict, torch.Tensor]:
    a = rf.arrays()
    mask = torch.from_numpy(a["gesture.mask"][:, 0] > 0)  # (B, T) True on real frames
    return {"features": torch.from_numpy(a["gesture.x"]), "frame_mask": mask}, mask


def test_recipe_checksums():
    bad = [e["key"] for which in ("jegal", "gestsync") for e in rf.entries(which)
           if rf.sha16(rf.recipe_value(e)) != e["sha256_16"]]
    assert not bad


def test_import_consumes_every_key_with_and_without_prefix(imported):
    for name in ("a", "b"):
        s = imported[name]
        assert s["jegal"]["consumed"] == 210 and s["jegal"]["kept_initial"] == [
            "loss.couple_scale.log_scale", "loss.logit_scale.log_scale"]
        assert s["gestsync"]["consumed"] + s["gestsync"]["skipped_audio_branch"] == 181
        assert s["gestsync"]["skipped_audio_branch"] > 0
    a, b = imported["model"].state_dict(), imported["other"].state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    d = imported["dir"]
    assert {"config.json", "model.safetensors", "gestsync.safetensors", "README.md"} <= {p.name for p in d.iterdir()}
    assert json.loads((d / "config.json").read_text())["gesture"]["architecture"] == "released"


def test_the_imported_card_says_the_model_knows_real_video(imported):
    from jegal.model.card import model_record

    card = imported["model"].card
    assert card.training_kind == "real" and card.training_statement == cli.RELEASED_STATEMENT
    record = model_record(imported["model"])
    assert record["kind"] == "real" and not record["synthetic"] and record["statement"] == cli.RELEASED_STATEMENT
    assert record["dir"] == str(imported["dir"]) and record["identity"] == imported["model"].identity


def test_gesture_parity(imported):
    m = imported["model"]
    batch, mask = gesture_batch()
    with torch.no_grad():
        close(m.gesture.frontend.mlp(batch["features"]), "gesture.after_input_proj")
        enc = m.gesture.head(m.gesture.frontend(batch), mask)
        close(enc, "gesture.after_encoder")  # keys-only masking: padded rows too
        out = m.gesture(batch)  # padded rows are zero here: compare the real rows
        align = m.gesture_align(out)
    a = rf.arrays()
    keep = mask[..., None].numpy()
    close(np.where(keep, out.numpy(), a["gesture.out"]), "gesture.out")
    close(np.where(keep, align.numpy(), a["gesture.align_out"]), "gesture.align_out")
    assert not np.allclose(out.numpy()[1, -1], a["gesture.out"][1, -1])  # the padded row is ours, zero


def test_text_speech_fusion_parity(imported):
    m, a = imported["model"], rf.arrays()
    x, mask = torch.from_numpy(a["text.x"]), torch.from_numpy(a["text.mask"][:, 0] > 0)
    mel = torch.from_numpy(a["audio.mel"])
    with torch.no_grad():
        enc = m.text.head(x, mask)
        close(enc, "text.after_encoder")
        close(m.text.out(enc), "text.out")
        cnn = m.speech.cnn(mel[:, None]).squeeze(-1).transpose(1, 2)
        close(cnn, "audio.after_cnn")
        close(m.speech(mel, torch.ones(2, 40, dtype=torch.bool)), "audio.out")
        fused = m.fusion(torch.from_numpy(a["fusion.text_words"]), torch.from_numpy(a["fusion.audio_words"]))
        close(fused, "fusion.after_fusion")
        close(m.content_align(fused), "fusion.out")


def test_altered_norm_or_concat_order_fails_parity(imported, monkeypatch):
    m, a = imported["model"], rf.arrays()
    text, audio = torch.from_numpy(a["fusion.text_words"]), torch.from_numpy(a["fusion.audio_words"])
    with torch.no_grad(), pytest.raises(AssertionError, match="fusion.out"):
        close(m.content_align(m.fusion(audio, text)), "fusion.out")  # text first: the wrong order
    monkeypatch.setattr(UnbiasedLayerNorm, "forward", lambda self, x: torch.nn.functional.layer_norm(
        x, x.shape[-1:], self.weight, self.bias, eps=1e-6))  # torch's biased std inside the root
    batch, mask = gesture_batch()
    with torch.no_grad():
        out = m.gesture(batch).numpy()
    keep = mask[..., None].numpy()
    with pytest.raises(AssertionError, match="gesture.out"):
        close(np.where(keep, out, a["gesture.out"]), "gesture.out")


def test_padding_frames_do_not_change_real_ones(imported):
    """Keys-only masking: a clip's real frames do not depend on what its padding holds."""
    m = imported["model"]
    batch, mask = gesture_batch()
    noisy = dict(batch, features=batch["features"].clone())
    noisy["features"][1, 31:] = 1000.0
    with torch.no_grad():
        assert torch.equal(m.gesture(batch)[1, :31], m.gesture(noisy)[1, :31])


def test_speech_padding_equals_single_clip(imported):
    m = imported["model"]
    mel = torch.from_numpy(rf.arrays()["audio.mel"])
    mask = torch.ones(2, 40, dtype=torch.bool)
    mask[1, 30:] = False
    with torch.no_grad():
        batched = m.speech(mel, mask)
        single = m.speech(mel[1:, :120], mask[1:, :30])
    assert torch.allclose(batched[1, :30], single[0], atol=1e-6)
    assert torch.equal(batched[1, 30:], torch.zeros_like(batched[1, 30:]))


def test_embed_speech_only_one_space(imported):
    """The imported model embeds with speech only (no text backbone needed) into one space."""
    m = imported["model"]
    assert m.readout() == "local" and m.gesture_global is None
    with pytest.raises(ValueError, match="no global heads"):
        m.readout("global")
    batch, mask = gesture_batch()
    batch.update(mel=torch.from_numpy(rf.arrays()["audio.mel"]), words=[["a", "b"], ["c", "d"]],
                 word_mask=torch.ones(2, 2, dtype=torch.bool), word_spans=torch.tensor([[[0, 3], [4, 9]]] * 2))
    batch["frame_mask"] = torch.ones(2, 40, dtype=torch.bool)
    emb = m.embed(batch, modalities="a")
    frames, words = emb["gesture_frames"], emb["content_words"]
    assert torch.allclose(frames.norm(dim=-1), torch.ones(2, 40), atol=1e-5)
    assert torch.allclose(emb["gesture_clip"], torch.nn.functional.normalize(frames.mean(1), dim=-1), atol=1e-6)
    assert torch.allclose(emb["content_clip"], torch.nn.functional.normalize(words.mean(1), dim=-1), atol=1e-6)


def test_text_missing_says_speech_only(imported, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    m = imported["model"]
    if cli.text_backbone_problem(m.config.text.backbone) is None:
        pytest.skip("xlm-roberta-base is available here")
    from jegal.model import TextBackboneError

    with pytest.raises(TextBackboneError, match="speech only"):
        m.text([["hello", "world"]], 2)


def test_convert_names_missing_and_misshaped_keys():
    model = JEGAL.from_preset("released")
    key_map, target = jegal_key_map(model.config), model.state_dict()
    state = rf.recipe_state("jegal")
    del state["encoder_rgb.layers.3.feed_forward.w_1.bias"]
    state["proj_op_text.weight"] = torch.zeros(256, 512)
    state["proj_op_extra.weight"] = torch.zeros(3)
    with pytest.raises(ReleasedCheckpointError) as err:
        convert_state(state, key_map, target, "jegal.pth", keep_prefixes=("loss.",))
    message = str(err.value)
    assert "missing key encoder_rgb.layers.3.feed_forward.w_1.bias" in message
    assert "misshaped key proj_op_text.weight: (256, 512), expected (256, 768)" in message
    assert "unexpected key proj_op_extra.weight" in message
    with pytest.raises(ReleasedCheckpointError, match="loss.logit_scale"):
        convert_state(rf.recipe_state("jegal"), key_map, target, "jegal.pth")  # training-only keys not kept


def test_command_refuses_a_bad_checkpoint(tmp_path, capsys):
    bad = rf.save_released(tmp_path / "jegal.pth", {"proj_op_rgb.weight": torch.zeros(512, 512),
                                                    "proj_op_rgb.bias": torch.zeros(7)})
    parser = argparse.ArgumentParser()
    cli.configure(parser)
    rc = cli.run(parser.parse_args(["--jegal", str(bad), "--out", str(tmp_path / "model")]))
    err = capsys.readouterr().err
    assert rc == 2 and "misshaped key proj_op_rgb.bias: (7,), expected (512,)" in err
    assert "missing key encoder_text.layers.0.self_attn.linears.0.weight" in err and str(bad) in err
    assert not (tmp_path / "model").exists()


def test_weights_only_refusal_is_explained(tmp_path):
    path = tmp_path / "pickled.pth"
    torch.save({"state_dict": {"x": torch.zeros(1)}, "args": argparse.Namespace(lr=1)}, path)
    with pytest.raises(ReleasedCheckpointError, match="weights_only=True.*never unpickled"):
        read_checkpoint(path)
    state = tmp_path / "plain.pth"
    torch.save({"module.a.module.b": torch.ones(2)}, state)  # a bare state dict, the prefix at any depth
    assert list(read_checkpoint(state)) == ["a.b"]


def test_reference_log_mel_is_magnitude_with_tiny_floor():
    t = np.arange(16000) / 16000
    wave = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    ref = reference_log_mel(wave, num_frames=25)
    from jegal.data.audio import log_mel

    ours = log_mel(wave, num_frames=25)
    assert ref.shape == ours.shape == (100, 80)
    loud = ours[10:90].max(1)  # the 440 Hz band: power is the square of the magnitude
    assert np.allclose(ours[10:90].argmax(1), ref[10:90].argmax(1))
    assert np.all(loud > ref[10:90].max(1))
    silent = reference_log_mel(np.zeros(16000, np.float32), num_frames=25)
    assert np.allclose(silent, np.log(np.float32(1e-20)))


def test_imported_gestsync_weights_load(imported):
    from jegal.model.gestsync import convert_gestsync, load_gestsync

    loaded = load_gestsync(imported["dir"]).state_dict()
    want = convert_gestsync(rf.recipe_state("gestsync"), "recipe").state
    assert loaded.keys() == want.keys() and all(torch.equal(loaded[k], want[k]) for k in want)
