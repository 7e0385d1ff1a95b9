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


def test_a_time_budget_ends_the_cosine_with_it():
    cfg = OptimConfig(lr=1.0, warmup_steps=10, min_lr_ratio=0.1)
    cosine = lambda progress: 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))  # noqa: E731
    assert lr_at(50, cfg, 1000, time_progress=1.0) == pytest.approx(0.1)
    assert lr_at(50, cfg, 1000, time_progress=0.5) == pytest.approx(cosine(0.5))
    assert lr_at(900, cfg, 1010, time_progress=0.01) == pytest.approx(cosine(0.89))  # the steps' progress is ahead
    assert lr_at(5, cfg, 1000, time_progress=0.9) == pytest.approx(0.6)  # warmup counts steps
    assert lr_at(50, cfg, 0, time_progress=0.25) == pytest.approx(cosine(0.25))  # no step limit: time alone
    assert lr_at(50, cfg, 0) == 1.0


def tiny_config(data, out, model=None, **flags):
    base = {"data.train": str(data), "out": str(out), "data.batch_size": 8, "data.val_max_clips": 8,
            "progress": False, "tensorboard": False, "threads": 1}
    return resolve(preset="cpu", flags={**base, **flags}, overrides={**TINY_MODEL, **NO_DROPOUT, **(model or {})})


def train_args(data, out, *extra):
    """``jegal train`` arguments for a tiny model on ``data``, validated on the same shards at the end."""
    return ["train", "--data", str(data), "--val-data", str(data), "--out", str(out), "--preset", "cpu",
            "--batch-size", "8", "--val-max-clips", "8", "--no-progress", "--no-tensorboard", "--threads", "1",
            "--validate-every", "0", *set_args({**TINY_MODEL, **NO_DROPOUT}), *extra]


def test_max_steps_runs_every_step_and_an_explicit_epoch_cap_says_why_not(make_shards, tmp_path, capsys):
    from jegal.cli import main

    data = make_shards(n=8, per_shard=4)  # one batch of 8 clips: the cpu preset's 20 epochs are 20 steps
    assert main(train_args(data, tmp_path / "a", "--max-steps", "24")) == 0
    m = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert (m["steps"], m["stopped_by"], m["epochs"], m["step_note"]) == (24, "max_steps", 0, None)
    assert [r["step"] for r in read_log(tmp_path / "a")] == list(range(1, 25))
    card = json.loads((tmp_path / "a" / "model" / "card.json").read_text())  # shards of no known kind
    assert card["training_kind"] == ""
    assert card["training_statement"] == f"training data of unknown kind: {data.resolve()}"
    capsys.readouterr()

    assert main(train_args(data, tmp_path / "b", "--max-steps", "24", "--epochs", "3")) == 0
    m = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert (m["steps"], m["stopped_by"], m["planned_steps"]) == (3, "epochs", 3)
    assert "max_steps is 24 but epochs=3" in m["step_note"]
    assert f"jegal train: {m['step_note']}" in capsys.readouterr().out


def test_a_time_budget_stops_the_run_cleanly_where_its_schedule_ends(small_corpus, tmp_path, monkeypatch):
    import jegal.train.loop as loop
    from jegal.model import JEGAL

    forward = JEGAL.forward
    calls = {"n": 0}

    def counted(self, batch, rank=0, world_size=1):
        calls["n"] += 1
        return forward(self, batch, rank=rank, world_size=world_size)

    monkeypatch.setattr(JEGAL, "forward", counted)
    monkeypatch.setattr(loop, "_clock", lambda: 10.0 * calls["n"])  # every step takes 10 s, nothing else any time
    cfg = tiny_config(small_corpus, tmp_path / "run", max_seconds=55, validate_every=0,
                      **{"optim.min_lr_ratio": 0.1, "optim.warmup_steps": 2})
    summary = train(cfg)
    out = tmp_path / "run"
    assert (summary["steps"], summary["stopped_by"], summary["stopped_on_time"]) == (6, "max_seconds", True)
    saved = json.loads((out / "metrics.json").read_text())
    assert (saved["steps"], saved["stopped_on_time"], saved["elapsed_seconds"]) == (6, True, 60.0)
    assert "ret_R@10_mean" in saved["metrics"]  # validated at the end
    assert (out / "checkpoints" / "step-00000006" / "state.json").is_file()
    JEGAL.from_pretrained(out / "model")
    # the learning rate of step s followed the time spent before it, 10 (s - 1) s of 55
    o, total = cfg.optim, summary["planned_steps"]
    log = read_log(out)
    assert [r["step"] for r in log] == [1, 2, 3, 4, 5, 6] and total == 20 * 15
    for r in log:
        assert r["lr"] == pytest.approx(lr_at(r["step"] - 1, o, total, 10 * (r["step"] - 1) / 55))
    floor = o.min_lr_ratio * o.lr
    assert log[-1]["lr"] < floor + 0.05 * (o.lr - floor) < lr_at(5, o, total)  # by steps alone: near the peak


def test_the_sync_objective_trains_through_the_loop_and_resumes_exactly(small_corpus, tmp_path):
    from jegal.model import JEGAL

    sync = {"loss.objective": "sync", "content.modalities": "a"}
    ref = train(tiny_config(small_corpus, tmp_path / "ref", sync, max_steps=4, checkpoint_every=2))
    assert (ref["objective"], ref["readout"]) == ("sync", "local")
    assert "ret_R@10_mean" in ref["metrics"] and "spot_acc" in ref["metrics"]
    a = read_log(tmp_path / "ref")
    assert all(r["loss_sync"] == r["loss"] and r["loss_global"] == r["loss_couple"] == 0.0 for r in a)
    assert JEGAL.from_pretrained(tmp_path / "ref" / "model").config.loss.objective == "sync"

    out = tmp_path / "resumed"
    train(tiny_config(small_corpus, out, sync, max_steps=2, checkpoint_every=2))
    train(tiny_config(small_corpus, out, sync, max_steps=4, checkpoint_every=2, resume=True))
    b = read_log(out)
    assert [r["step"] for r in b] == [1, 2, 3, 4]
    for ra, rb in zip(a, b):
        assert rb["loss"] == pytest.approx(ra["loss"], rel=1e-5, abs=1e-6), (ra["step"], ra["loss"], rb["loss"])
    assert a[2]["loss"] != a[0]["loss"]  # the comparison is not vacuous


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

    model = JEGAL.from_pretrained(out / "model")  # the final model loads
    # its card says what it knows: SynthGest alone, the corpus's own numbers, the shards' resolved path
    assert model.card.training_kind == "synthetic"
    assert model.card.training_data == str((small_corpus / "train").resolve())
    assert model.card.training_statement == ("trained on SynthGest only: 4 synthetic training speakers, 120 clips; "
                                             "findings on real video are not meaningful")
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
    from jegal.data.shards import index_shards, read_clip_list
    from jegal.train.data import ClipStream, make_loader

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
