"""The training loop: ``train(config) -> summary``, one process or many under torchrun.

One loop for every objective the model config names (``loss.objective``: the JEGAL objective
and the clip-level and sync-style baselines), with the same resume, checkpoints, logging and
validation. A run stops at the first of its limits: ``epochs`` (0: none), ``max_steps`` (0:
none) and ``max_seconds`` (a time budget, checked after every step; 0: none), then validates,
checkpoints and saves its model; ``metrics.json`` says which limit stopped it.

Run directory (``config.out``)::

    train_config.json   the resolved configuration (with the full model config)
    log.jsonl           one line per optimiser step: loss, its parts, lr, clips/s, grad norm
    skipped.jsonl       samples skipped (key, reason, rank, step)
    checkpoints/        step-NNNNNNNN/ (see jegal.train.checkpoint); the newest ``keep`` kept
    best/               the model (JEGAL.save format) with the best validation score + best.json
    model/              the final model
    metrics.json        the summary returned by train(), with the validation history
    tb/                 TensorBoard scalars
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from pathlib import Path

import numpy as np
import torch

from jegal.atomic import atomic_path, write_json_atomic, write_text_atomic
from jegal.data.benchmarks import read_benchmark
from jegal.data.shards import ShardError, index_shards, read_clip_list
from jegal.train import checkpoint as ckpt
from jegal.train.config import DataConfig, OptimConfig, TrainConfig, TrainConfigError
from jegal.train.data import ClipStream, holdout_keys, key_hash, make_loader
from jegal.train.distributed import DistInfo, all_reduce, barrier, cleanup, setup
from jegal.train.validate import validate

# fields that may differ between a run and its resumption (they do not change the numbers)
RESUMABLE_CHANGES = {"resume", "progress", "tensorboard", "epochs", "max_steps", "max_seconds", "checkpoint_every",
                     "keep_checkpoints", "log_every", "validate_every", "data.workers", "device", "threads"}


# the loss terms every objective's forward returns (zero where it has no such term), logged per step
LOSS_PARTS = ("loss_global", "loss_couple", "loss_spot", "loss_follow", "loss_sync")


class TrainingDiverged(RuntimeError):
    """The loss stayed non-finite for ``optim.max_bad_steps`` consecutive steps."""


def _clock() -> float:
    """Seconds on a monotonic clock: the time budget's (a function of its own, so tests can replace it)."""
    return time.perf_counter()


def lr_at(step: int, cfg: OptimConfig, total_steps: int, time_progress: float = 0.0) -> float:
    """Linear warmup to ``lr`` over ``warmup_steps``, then cosine to ``min_lr_ratio * lr`` (or constant).

    The cosine's progress is the larger of the steps' ``(step - warmup) / (total_steps - warmup)``
    (none when ``total_steps`` is 0: no step limit) and ``time_progress``, the fraction of a time
    budget spent, so the schedule ends where the first limit ends the run. Measuring the time
    inside the loop needs no calibration steps and follows a machine that gets slower or faster
    during the run (a step count planned from a few timed steps does not: the run then stops
    before its schedule ends, or ends it early). Without a time budget ``time_progress`` is 0 and
    the learning rate is a function of the step alone, so resume is exact; with one it depends on
    the clock, so a resumed time-budgeted run continues its budget but not bit for bit."""
    if cfg.warmup_steps > 0 and step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    if cfg.schedule == "constant":
        return cfg.lr
    by_steps = (step - cfg.warmup_steps) / max(1, total_steps - cfg.warmup_steps) if total_steps else 0.0
    progress = min(1.0, max(by_steps, time_progress))
    floor = cfg.min_lr_ratio * cfg.lr
    return floor + (cfg.lr - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def resolve_sources(data: DataConfig) -> tuple[Path, Path | None, Path | None]:
    """``(train shards, validation shards or None, spotting CSV or None)``.

    A corpus directory (``train/`` and ``test/`` inside, as ``jegal synth`` writes) trains on
    ``train/`` and validates on ``test/`` with ``benchmarks/spot.csv``."""
    train = Path(data.train)
    val = Path(data.val) if data.val else None
    if train.is_dir() and (train / "train").is_dir():
        if val is None and (train / "test").is_dir():
            val = train / "test"
        train = train / "train"
    spot = Path(data.val_spot) if data.val_spot else None
    if spot is None and val is not None:
        guess = val.parent / "benchmarks" / "spot.csv"
        spot = guess if guess.is_file() else None
    if spot is not None and not spot.is_file():
        raise TrainConfigError(f"data.val_spot: {spot} does not exist")
    return train, val, spot


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Weight decay on matrices only: biases, norms and the logit scales keep their size."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if p.ndim < 2 or "scale" in name else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def trim_batch(batch: dict, n: int) -> dict:
    return {k: v[:n] for k, v in batch.items()}


def _amp(cfg: TrainConfig, device: torch.device) -> tuple[torch.dtype | None, bool]:
    """(autocast dtype or None, use GradScaler)."""
    p = cfg.precision
    if p == "auto":
        p = "bf16" if device.type == "cuda" else "fp32"
    if p == "fp16" and device.type != "cuda":
        raise TrainConfigError("precision fp16 needs a CUDA device; use bf16 or fp32 on CPU")
    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[p], p == "fp16"


def _check_resume_config(run_dir: Path, cfg: TrainConfig) -> None:
    saved_file = run_dir / "train_config.json"
    if not saved_file.is_file():
        return
    saved = TrainConfig.from_dict(json.loads(saved_file.read_text())).to_dict()
    now = cfg.to_dict()

    def flat(d, prefix=""):
        out = {}
        for k, v in d.items():
            if isinstance(v, dict) and k != "model":
                out.update(flat(v, prefix + k + "."))
            else:
                out[prefix + k] = v
        return out

    a, b = flat(saved), flat(now)
    diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k) and k not in RESUMABLE_CHANGES)
    if diff:
        raise TrainConfigError(f"--resume: the config differs from {saved_file} in {diff}; "
                               "resume with the same settings or start a new --out")


def _truncate_jsonl(path: Path, step: int) -> None:
    """Drop lines logged after ``step`` (by a run killed after its last checkpoint)."""
    if not path.is_file():
        return
    keep = [line for line in path.read_text().splitlines() if line.strip() and json.loads(line).get("step", 0) <= step]
    write_text_atomic(path, "".join(line + "\n" for line in keep))


def _save_best(run_dir: Path, model, metrics: dict, step: int) -> None:
    """``run_dir/best``: the model and best.json, replaced as a whole."""
    with atomic_path(run_dir / "best") as tmp:
        model.save(tmp)
        write_json_atomic(tmp / "best.json", {"step": step, **metrics})


def model_card(summary: dict, train_src: Path, val_src: Path | None, val_step: int | None) -> dict:
    """The final model's card fields (:mod:`jegal.model.card`): data, steps, the run's facts, and
    the last validation's numbers."""
    from jegal.model.card import metrics_entry

    facts = ("epochs_completed", "samples", "world_size", "device", "precision", "train_seconds", "stopped_by",
             "final_loss")
    values = {k: v for k, v in (summary["metrics"] or {}).items() if isinstance(v, (int, float))}
    where = f"{summary['val_clips']} clips of {val_src or f'{train_src} (held out)'} at step {val_step}"
    return {"training_data": str(train_src), "steps": summary["steps"], "training": {k: summary[k] for k in facts},
            "metrics": {"validation": metrics_entry(values, source=where)} if values else {}}


def _has_unused_parameters(objective: str, beta: float, spot_weight: float) -> bool:
    """Whether some parameters get no gradient under this objective (DDP must then look for them):
    the sync objective never uses the global heads, and the global term alone never the local ones."""
    return objective != "jegal" or (beta >= 1.0 and spot_weight == 0.0)


def _better(metric: str, new: float, old: float | None) -> bool:
    if old is None:
        return True
    return new < old if "median_rank" in metric else new > old


def train(config: TrainConfig | dict) -> dict:
    """Train a JEGAL model as ``config`` says; returns the run summary (also ``metrics.json``).

    Works in one process or under ``torchrun`` (every rank calls it)."""
    cfg = config if isinstance(config, TrainConfig) else TrainConfig.from_dict(config)
    cfg.validate()
    info = setup(cfg.device)
    try:
        return _train(cfg, info)
    finally:
        cleanup(info)


def _train(cfg: TrainConfig, info: DistInfo) -> dict:
    from jegal.model import JEGAL

    t_start = _clock()
    run_dir = Path(cfg.out)
    device, main = info.device, info.is_main
    torch.set_num_threads(cfg.threads or max(1, (os.cpu_count() or 1) // info.local_world_size))
    amp_dtype, use_scaler = _amp(cfg, device)

    resume_from = ckpt.latest_checkpoint(run_dir) if cfg.resume else None
    if not cfg.resume and ckpt.latest_checkpoint(run_dir) is not None:
        raise TrainConfigError(f"{run_dir} already holds checkpoints: pass --resume to continue it, or another --out")
    if resume_from is not None:
        _check_resume_config(run_dir, cfg)
    if main:
        run_dir.mkdir(parents=True, exist_ok=True)
        cfg.save(run_dir / "train_config.json")
    barrier(info)

    # -- data ------------------------------------------------------------------------------
    train_src, val_src, spot_csv = resolve_sources(cfg.data)
    try:
        index = index_shards(train_src)
    except ShardError as err:
        raise TrainConfigError(f"training data: {err}") from None
    val_clips, val_skipped, spot_rows = [], [], None
    if val_src is None:
        held = holdout_keys(index, cfg.data.val_fraction, cfg.data.val_max_clips)
        index = index.without(held)
        if main and held:
            val_clips, val_skipped = read_clip_list(train_src, held)
    elif main:
        val_clips, val_skipped = read_clip_list(val_src)
    if main and spot_csv is not None:
        spot_rows = read_benchmark(spot_csv, task="spotting")
    if len(val_clips) > cfg.data.val_max_clips:
        # a fixed subset: clips named by spotting rows first, then by key hash
        spotted = set(spot_rows.clip_ids()) if spot_rows is not None else set()
        val_clips = sorted(val_clips, key=lambda c: (c.clip_id not in spotted, key_hash(c.clip_id), c.clip_id))
        val_clips = val_clips[: cfg.data.val_max_clips]
    if index.num_samples == 0:
        raise TrainConfigError(f"{train_src}: no training samples")
    d = cfg.data
    stream = ClipStream(index, d.batch_size, seed=cfg.seed, rank=info.rank, world_size=info.world_size,
                        shuffle_buffer=d.shuffle_buffer, min_words=d.min_words, max_words=d.max_words, margin=d.margin,
                        crop=d.crop, crop_frames=d.crop_frames, augment=d.augment)
    steps_per_epoch = -(-(-(-index.num_samples // info.world_size)) // d.batch_size)  # the largest rank's batches
    epoch_steps = cfg.epochs * steps_per_epoch  # 0: no epoch limit
    total_steps = min(n for n in (cfg.max_steps, epoch_steps) if n) if cfg.max_steps or epoch_steps else 0
    step_note = None
    if cfg.max_steps and epoch_steps and epoch_steps < cfg.max_steps:
        step_note = (f"max_steps is {cfg.max_steps} but epochs={cfg.epochs} of {steps_per_epoch} steps end the run "
                     f"at step {epoch_steps}; leave epochs unset (or 0) to run every step")
        if main:
            print(f"jegal train: {step_note}", flush=True)

    # -- model and optimiser ---------------------------------------------------------------
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)  # the same initial weights on every rank
    model = JEGAL(cfg.model_config()).set_runtime(**cfg.runtime()).to(device)
    if model.text is not None:
        # Hugging Face initialises weights while loading, drawing from the global RNG: load the
        # frozen backbone now, not at the first step, so a resumed run's RNG matches an unbroken one.
        model.text.backbone.load()
    torch.manual_seed(cfg.seed + 1 + info.rank)  # then each rank its own dropout stream
    o = cfg.optim
    optimizer = torch.optim.AdamW(param_groups(model, o.weight_decay), lr=lr_at(0, o, total_steps),
                                  betas=tuple(o.betas), eps=o.eps)
    params = [p for p in model.parameters() if p.requires_grad]
    if info.distributed:
        from torch.nn.parallel import DistributedDataParallel as DDP

        lc = model.config.loss
        net = DDP(model, device_ids=[device.index] if device.type == "cuda" else None,
                  find_unused_parameters=cfg.ddp_find_unused or _has_unused_parameters(lc.objective, lc.beta,
                                                                                       lc.spot_weight))
    else:
        net = model
    scaler = torch.amp.GradScaler("cuda", enabled=use_scaler)

    state = {"epoch": 0, "batch": 0, "step": 0, "samples": 0, "skipped": 0, "dropped_uneven": 0, "bad_steps": 0,
             "consecutive_bad": 0, "best": None, "best_step": None, "history": [], "last_val_step": None,
             "last_metrics": {}, "epoch_loss_sum": 0.0, "epoch_loss_n": 0, "world_size": info.world_size,
             "train_seconds": 0.0, "elapsed": 0.0, "last_loss": None, "stopped_by": None}
    if resume_from is not None:
        saved = ckpt.load_checkpoint(resume_from, model, optimizer, rank=info.rank, map_location=device)
        if saved.get("world_size") != info.world_size:
            raise TrainConfigError(f"{resume_from} was written by {saved.get('world_size')} processes; resume with "
                                   f"the same number (now {info.world_size}) so the data order continues exactly")
        state.update(saved)
        if use_scaler and saved.get("scaler"):
            scaler.load_state_dict(saved["scaler"])
        if main:
            _truncate_jsonl(run_dir / "log.jsonl", state["step"])
            _truncate_jsonl(run_dir / "skipped.jsonl", state["step"])
            print(f"jegal train: resuming {run_dir} from {resume_from.name} (epoch {state['epoch']}, "
                  f"batch {state['batch']}, step {state['step']})", flush=True)
    barrier(info)

    writer = None
    if main and cfg.tensorboard:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(run_dir / "tb"))
    log_file = open(run_dir / "log.jsonl", "a", encoding="utf-8") if main else None
    skip_file = run_dir / "skipped.jsonl"

    def save_checkpoint() -> None:
        step = state["step"]
        if main:
            ckpt.begin_checkpoint(run_dir, step)
        barrier(info)
        ckpt.write_rank_state(run_dir, step, info.rank)
        barrier(info)
        if main:
            full = {**state, "scaler": scaler.state_dict() if use_scaler else None}
            ckpt.finish_checkpoint(run_dir, step, model, optimizer, full, keep=cfg.keep_checkpoints)
        barrier(info)
        state["last_ckpt_step"] = step

    def run_validation() -> dict:
        metrics: dict = {}
        if main and val_clips:
            metrics = validate(model, val_clips, spot_rows, batch_size=max(d.batch_size, 32), autocast_dtype=amp_dtype)
            metrics["val_skipped"] = float(len(val_skipped))
        barrier(info)
        if not main:
            return {}
        key = cfg.best_metric
        if key == "auto":
            key = "spot_acc" if "spot_acc" in metrics else "ret_R@10_mean"
        state["last_val_step"], state["last_metrics"] = state["step"], metrics
        if key in metrics and _better(key, metrics[key], state["best"]):
            state["best"], state["best_step"], state["best_metric"] = metrics[key], state["step"], key
            _save_best(run_dir, model, metrics, state["step"])
        if writer is not None:
            for k, v in metrics.items():
                writer.add_scalar(f"val/{k}", v, state["step"])
        return metrics

    # -- the loop --------------------------------------------------------------------------
    from tqdm import tqdm

    # the time budget's clock: seconds since this call began (setup included), plus those of the
    # run's earlier calls up to the checkpoint it resumed from
    elapsed_before = state["elapsed"]
    rate, t_last = None, _clock()
    (state["elapsed"],) = all_reduce([elapsed_before + t_last - t_start], info, "max")
    state["stopped_by"] = None  # (a resumed run may have been given other limits)
    if cfg.max_steps and state["step"] >= cfg.max_steps:
        state["stopped_by"] = "max_steps"
    elif cfg.max_seconds and state["step"] and state["elapsed"] >= cfg.max_seconds:  # (a fresh run steps once)
        state["stopped_by"] = "max_seconds"
    done = state["stopped_by"] is not None
    while (not cfg.epochs or state["epoch"] < cfg.epochs) and not done:
        epoch, start = state["epoch"], state["batch"]
        stream.set_epoch(epoch, start)
        my_batches = stream.num_batches()
        it = iter(make_loader(stream, d.workers, pin_memory=device.type == "cuda"))
        bar = tqdm(total=steps_per_epoch, initial=start, desc=f"epoch {epoch}", unit="step", dynamic_ncols=True,
                   disable=not (main and cfg.progress))
        for j in range(start, steps_per_epoch):
            item = next(it) if j < my_batches else {"batch": None, "size": 0, "skipped": [], "index": j}
            if item["index"] != j:
                raise RuntimeError(f"data order broken: expected batch {j}, got {item['index']}")
            n = item["size"]
            if item["skipped"]:
                with open(skip_file, "a", encoding="utf-8") as f:
                    for key, reason in item["skipped"]:
                        f.write(json.dumps({"step": state["step"] + 1, "rank": info.rank, "key": key,
                                            "reason": reason}) + "\n")
            (n_min,) = all_reduce([n], info, "min")
            n_sum, skipped = all_reduce([n, len(item["skipped"])], info, "sum")
            n_min = int(n_min)
            state["skipped"] += int(skipped)
            state["dropped_uneven"] += int(n_sum) - info.world_size * n_min
            state["batch"] = j + 1
            bar.update(1)
            if n_min == 0:
                continue
            batch = item["batch"] if n == n_min else trim_batch(item["batch"], n_min)

            lr = lr_at(state["step"], o, total_steps,
                       state["elapsed"] / cfg.max_seconds if cfg.max_seconds else 0.0)
            for g in optimizer.param_groups:
                g["lr"] = lr
            net.train()
            with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
                out = net(batch, rank=info.rank, world_size=info.world_size)
            loss = out["loss"]
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
            norm = torch.nn.utils.clip_grad_norm_(params, o.grad_clip if o.grad_clip > 0 else float("inf"))
            ok_here = bool(torch.isfinite(loss.detach()) and torch.isfinite(norm))
            ok, loss_sum, *part_sums = all_reduce(
                [float(ok_here), float(loss.detach())] + [float(out[k]) for k in LOSS_PARTS], info, "sum")
            ok = ok == info.world_size
            if ok:
                scaler.step(optimizer)
            optimizer.zero_grad(set_to_none=True)
            scaler.update()
            state["step"] += 1
            state["samples"] += info.world_size * n_min
            step = state["step"]
            loss_val = loss_sum / info.world_size  # each rank's loss is weighted so their mean is the global one
            state["last_loss"] = loss_val
            now = _clock()
            dt, t_last = now - t_last, now
            state["train_seconds"] += dt
            state["elapsed"] = elapsed_before + now - t_start
            if cfg.max_seconds:  # every rank must see the same clock: it sets the lr and the stop
                (state["elapsed"],) = all_reduce([state["elapsed"]], info, "max")
            inst = info.world_size * n_min / max(dt, 1e-9)
            rate = inst if rate is None else 0.9 * rate + 0.1 * inst
            if ok:
                state["consecutive_bad"] = 0
                state["epoch_loss_sum"] += loss_val
                state["epoch_loss_n"] += 1
            else:
                state["bad_steps"] += 1
                state["consecutive_bad"] += 1
                if main:
                    tqdm.write(f"jegal train: step {step}: non-finite loss or gradient ({loss_val}); step skipped "
                               f"({state['consecutive_bad']} in a row, {state['bad_steps']} in all)")
                if state["consecutive_bad"] >= o.max_bad_steps:
                    raise TrainingDiverged(
                        f"loss or gradient non-finite for {state['consecutive_bad']} consecutive steps (last at step "
                        f"{step}): lower --lr, raise --warmup-steps, use --precision fp32, or check the data; "
                        f"the last good checkpoint is in {run_dir / ckpt.CHECKPOINT_DIR}")
            if main:
                rec = {"step": step, "epoch": epoch, "batch": j, "loss": loss_val,
                       **{k: v / info.world_size for k, v in zip(LOSS_PARTS, part_sums)}, "lr": lr,
                       "grad_norm": float(norm), "clips": info.world_size * n_min,
                       "clips_per_s": inst, "logit_scale": float(out["logit_scale"]), "finite": ok}
                log_file.write(json.dumps(rec) + "\n")
                log_file.flush()
                bar.set_postfix(loss=f"{loss_val:.3f}", clips_s=f"{rate:.1f}", lr=f"{lr:.2e}")
                if writer is not None and (step % cfg.log_every == 0 or step == 1):
                    for k in ("loss", *LOSS_PARTS, "lr", "grad_norm", "logit_scale"):
                        writer.add_scalar(f"train/{k}", rec[k], step)
                    writer.add_scalar("train/clips_per_s", rate, step)
            if cfg.checkpoint_every and step % cfg.checkpoint_every == 0 and state["batch"] < steps_per_epoch:
                save_checkpoint()  # (the epoch's last step is saved after validation instead)
            if cfg.max_steps and step >= cfg.max_steps:
                state["stopped_by"] = "max_steps"
            elif cfg.max_seconds and state["elapsed"] >= cfg.max_seconds:
                state["stopped_by"] = "max_seconds"
            if state["stopped_by"] is not None:
                done = True
                break
        bar.close()
        del it
        if state["batch"] < steps_per_epoch:  # stopped by max_steps or max_seconds mid-epoch
            break
        mean_loss = state["epoch_loss_sum"] / max(1, state["epoch_loss_n"])
        state.update(epoch=epoch + 1, batch=0, epoch_loss_sum=0.0, epoch_loss_n=0)
        record = {"epoch": epoch, "step": state["step"], "train_loss": mean_loss}
        if cfg.validate_every and (epoch + 1) % cfg.validate_every == 0:
            record.update(run_validation())
            if main:
                tqdm.write(f"jegal train: epoch {epoch}: " + ", ".join(
                    f"{k}={v:.4g}" for k, v in record.items() if k in ("train_loss", "spot_acc", "spot_all_words",
                                                                       "ret_R@10_mean")))
        state["history"].append(record)
        if writer is not None:
            writer.add_scalar("train/epoch_loss", mean_loss, state["step"])
        save_checkpoint()

    # -- the end ---------------------------------------------------------------------------
    if state["stopped_by"] is None:
        state["stopped_by"] = "epochs"
    if main and state["stopped_by"] == "max_seconds":
        print(f"jegal train: time budget of {cfg.max_seconds:g} s reached at step {state['step']} "
              f"({state['elapsed']:.0f} s); validating and saving", flush=True)
    if state["last_val_step"] != state["step"]:
        run_validation()
    if state.get("last_ckpt_step") != state["step"]:
        save_checkpoint()
    summary = {
        "run_dir": str(run_dir), "steps": state["step"], "epochs_completed": state["epoch"],
        "samples": state["samples"], "skipped_samples": state["skipped"], "dropped_uneven": state["dropped_uneven"],
        "bad_steps": state["bad_steps"], "world_size": info.world_size, "device": str(device),
        "precision": str(amp_dtype).replace("torch.", "") if amp_dtype else "fp32",
        "train_seconds": state["train_seconds"], "wall_seconds": _clock() - t_start,
        "clips_per_s": state["samples"] / max(state["train_seconds"], 1e-9),
        "objective": model.config.loss.objective, "readout": model.readout(),
        "stopped_by": state["stopped_by"], "stopped_on_time": state["stopped_by"] == "max_seconds",
        "elapsed_seconds": state["elapsed"], "max_seconds": cfg.max_seconds, "max_steps": cfg.max_steps,
        "epochs": cfg.epochs, "planned_steps": total_steps or None, "step_note": step_note,
        "final_loss": state["last_loss"], "metrics": state["last_metrics"], "best_metric": state.get("best_metric"),
        "best": state["best"], "best_step": state["best_step"], "history": state["history"],
        "model_dir": str(run_dir / "model"), "best_dir": str(run_dir / "best") if state["best"] is not None else None,
        "val_clips": len(val_clips), "val_skipped": len(val_skipped),
    }
    if main:
        log_file.close()
        model.save_pretrained(run_dir / "model", card=model_card(summary, train_src, val_src, state["last_val_step"]))
        write_json_atomic(run_dir / "metrics.json", summary)
        if writer is not None:
            writer.close()
    barrier(info)
    return summary
