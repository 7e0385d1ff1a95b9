import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from jegal.train.config import OptimConfig, resolve
from jegal.train.loop import TrainingDiverged, lr_at, train

from .conftest import NO_DROPOUT, TINY_MODEL, set_args

REPO = Path(__file__).resolve().parents[2]


def read_log(run_dir):
    return [json.loads(line) for line in (Path(run_dir) / "log.jsonl").read_text().splitlines()]


def test_warmup_then_cosine():
    cfg = OptimConfig(lr=1.0, warmup_steps=10, min_lr_ratio=0.1)
    lrs = [lr_at(s, cfg, 110) for s in range(110)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert all(a < b for a, b in zip(lrs[:9], lrs[1:10]))
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))
    assert lrs[60] == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert lr_at(500, cfg, 110) == pytest.approx(0.1)
    const = OptimConfig(lr=2.0, warmup_steps=0, schedule="constant")
    assert {lr_at(s, const, 50) for s in range(50)} == {2.0}


def tiny_config(data, out, **flags):
    base = {"data.train": str(data), "out": str(out), "data.batch_size": 8, "data.val_max_clips": 8,
            "progress": False, "tensorboard": False, "threads": 1}
    return resolve(preset="cpu", flags={**base, **flags}, overrides={**TINY_MODEL, **NO_DROPOUT})


def test_non_finite_loss_is_skipped_counted_and_aborts(small_corpus, tmp_path, monkeypatch):
    from jegal.model.jegal import JEGAL

    forward = JEGAL.forward
    calls = {"n": 0}
    bad_calls = {2, 3}

    def flaky(self, batch, rank=0, world_size=1):
        out = forward(self, batch, rank=rank, world_size=world_size)
        calls["n"] += 1
        if calls["n"] in bad_calls:
            out["loss"] = out["loss"] * float("nan")
        return out

    monkeypatch.setattr(JEGAL, "forward", flaky)
    summary = train(tiny_config(small_corpus, tmp_path / "a", max_steps=5, validate_every=0))
    log = read_log(tmp_path / "a")
    assert summary["bad_steps"] == 2 and summary["steps"] == 5
    assert [r["finite"] for r in log] == [True, False, False, True, True]
    ckpt = torch.load(tmp_path / "a" / "checkpoints" / "step-00000005" / "optimizer.pt", weights_only=True)
    assert {int(s["step"]) for s in ckpt["state"].values()} == {3}  # AdamW stepped only on the 3 good steps

    calls["n"] = 0
    bad_calls.update(range(1, 100))
    with pytest.raises(TrainingDiverged, match="3 consecutive"):
        train(tiny_config(small_corpus, tmp_path / "b", max_steps=10, **{"optim.max_bad_steps": 3}))


def test_a_run_writes_its_outputs_and_refuses_to_overwrite(small_corpus, tmp_path):
    out = tmp_path / "run"
    summary = train(tiny_config(small_corpus, out, epochs=1, **{"data.val_max_clips": 12}))
    for name in ("train_config.json", "metrics.json", "log.jsonl", "model/model.safetensors", "best/best.json"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs_completed"] == 1 and metrics["history"][0]["epoch"] == 0
    assert "spot_acc" in metrics["metrics"] and metrics["val_clips"] == 12
    # one epoch sees every training clip once (there is no uneven tail in one process)
    assert summary["samples"] == 120 and summary["dropped_uneven"] == 0
    from jegal.model import JEGAL

    JEGAL.load(out / "model")  # the final model loads
    with pytest.raises(Exception, match="--resume"):
        train(tiny_config(small_corpus, out, epochs=1))


def cli_cmd(data, out, *extra, dropout=True):
    model = {**TINY_MODEL, **NO_DROPOUT}
    if dropout:
        model.update({"content.modality_dropout": 0.5, "gesture.dropout": 0.1})
    return [sys.executable, "-m", "jegal.cli", "train", "--data", str(data), "--out", str(out), "--preset", "cpu",
            "--batch-size", "8", "--val-max-clips", "8", "--no-progress", "--no-tensorboard", "--threads", "1",
            "--validate-every", "0", *set_args(model), *extra]


def env():
    return {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO / "src")}


@pytest.mark.slow
def test_resume_after_sigkill_continues_exactly(small_corpus, tmp_path):
    """Kill -9 a real run after step 4 (checkpoint at step 3), resume, compare steps 4..7
    with an uninterrupted run; dropout and modality dropout are on, so RNG states matter."""
    steps = ["--max-steps", "7", "--checkpoint-every", "3"]
    ref = subprocess.run(cli_cmd(small_corpus, tmp_path / "ref", *steps), env=env(), capture_output=True, text=True)
    assert ref.returncode == 0, ref.stderr
    victim = tmp_path / "victim"
    proc = subprocess.Popen(cli_cmd(small_corpus, victim, *steps), env=env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline:
        log = victim / "log.jsonl"
        if log.is_file() and len(log.read_text().splitlines()) >= 4:
            break
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (victim / "metrics.json").exists()  # killed before the end
    resumed = subprocess.run(cli_cmd(small_corpus, victim, *steps, "--resume"), env=env(), capture_output=True,
                             text=True)
    assert resumed.returncode == 0, resumed.stderr
    k = int(resumed.stdout.split("from step-")[1][:8])  # 3, or 6 if the kill came late
    a, b = read_log(tmp_path / "ref"), read_log(victim)
    assert [r["step"] for r in b] == list(range(1, 8)) and k in (3, 6)
    for ra, rb in zip(a[k:], b[k:]):
        assert rb["loss"] == pytest.approx(ra["loss"], rel=1e-5, abs=1e-6), (ra["step"], ra["loss"], rb["loss"])
    assert a[-1]["loss"] != a[-2]["loss"]  # the comparison is not vacuous


@pytest.mark.slow
def test_resume_ignores_a_checkpoint_killed_mid_write(small_corpus, tmp_path):
    out = tmp_path / "run"
    train(tiny_config(small_corpus, out, max_steps=2, checkpoint_every=1, validate_every=0))
    half = out / "checkpoints" / ".tmp-step-00000003"
    half.mkdir()
    (half / "model.safetensors").write_bytes(b"\0" * 10)  # what kill -9 during a save leaves
    summary = train(tiny_config(small_corpus, out, max_steps=3, checkpoint_every=1, validate_every=0, resume=True))
    assert summary["steps"] == 3 and [r["step"] for r in read_log(out)] == [1, 2, 3]
    assert not half.exists()


@pytest.mark.slow
def test_two_process_torchrun_matches_one_process(small_corpus, tmp_path):
    """2 gloo ranks x 4 clips against one process on the same 8-clip global batches."""
    from jegal.data.shards import write_shards
    from jegal.train.data import ClipStream, index_shards, make_loader, read_clip_list

    train_dir = small_corpus / "train"
    ddp_cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m",
               "jegal.cli"] + cli_cmd(small_corpus, tmp_path / "ddp", "--max-steps", "4", dropout=False)[3:]
    ddp_cmd[ddp_cmd.index("--batch-size") + 1] = "4"
    res = subprocess.run(ddp_cmd, env=env(), capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]

    # the global batches the two ranks trained on, written in rank order into one shard
    index = index_shards(train_dir)
    per_rank = []
    for rank in range(2):
        s = ClipStream(index, 4, seed=0, rank=rank, world_size=2, shuffle_buffer=500)
        s.set_epoch(0)
        per_rank.append([it["batch"]["clip_ids"] for it in make_loader(s)][:4])
    order = [cid for step in range(4) for rank in range(2) for cid in per_rank[rank][step]]
    clips = {c.clip_id: c for c in read_clip_list(train_dir)[0]}
    write_shards([clips[c] for c in order], tmp_path / "replay" / "train", clips_per_shard=1000)
    (tmp_path / "replay" / "test").symlink_to(small_corpus / "test")
    one = subprocess.run(cli_cmd(tmp_path / "replay", tmp_path / "one", "--max-steps", "4", "--shuffle-buffer", "1",
                                 dropout=False),
                         env=env(), capture_output=True, text=True)
    assert one.returncode == 0, one.stderr[-3000:]
    a, b = read_log(tmp_path / "ddp"), read_log(tmp_path / "one")
    assert [r["clips"] for r in a] == [8] * 4 == [r["clips"] for r in b]
    for ra, rb in zip(a, b):
        assert ra["loss"] == pytest.approx(rb["loss"], rel=1e-4), (ra, rb)
    assert a[0]["loss"] != a[-1]["loss"]
