"""The training loop: ``train(config) -> summary``, one process or many under torchrun.

One loop for every objective the model config names (``loss.objective``: the JEGAL objective
and the clip-level and sync-style baselines), with the same resume, checkpoints, logging and
validation. A run stops at the first of its limits: ``epochs`` (0: none), ``max_steps`` (0:
none) and ``max_seconds`` (a time budget, checked after every step; 0: none), then validates,
checkpoints and saves its model; ``metrics.json`` says which limit stopped it.

:func:`train` sets up the processes; :func:`load_data` reads the stream and the validation clips,
:func:`plan_steps` the step limit, :func:`build_model` the seeded model; :class:`Run` holds the
optimiser and a :class:`~jegal.train.state.RunState` (what a checkpoint saves) and runs epochs of
steps, validations and checkpoints until a limit stops it.

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
from dataclasses import dataclass, field
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
from jegal.train.state import RunState
from jegal.train.validate import validate

# fields that may differ between a run and its resumption (they do not change the numbers)
RESUMABLE_CHANGES = {"resume", "progress", "tensorboard", "epochs", "max_steps", "max_seconds", "checkpoint_every",
                     "keep_checkpoints", "log_every", "validate_every", "data.workers", "device", "threads"}


# the loss terms every objective's forward returns (zero where it has no such term), logged per step
LOSS_PARTS = ("loss_global", "loss_couple", "loss_spot", "loss_detect", "loss_follow", "loss_sync")


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
        model.save_pretrained(tmp)
        write_json_atomic(tmp / "best.json", {"step": step, **metrics})


def model_card(summary: dict, train_src: Path, val_src: Path | None, val_step: int | None) -> dict:
    """The final model's card fields (:mod:`jegal.model.card`): data (its resolved path, its kind and
    what that means: :func:`jegal.model.card.training_data_fields`), steps, the run's facts, and the
    last validation's numbers."""
    from jegal.model.card import metrics_entry, training_data_fields

    facts = ("epochs_completed", "samples", "world_size", "device", "precision", "train_seconds", "stopped_by",
             "final_loss")
    values = {k: v for k, v in (summary["metrics"] or {}).items() if isinstance(v, (int, float))}
    where = f"{summary['val_clips']} clips of {val_src or f'{train_src} (held out)'} at step {val_step}"
    return {**training_data_fields(train_src), "steps": summary["steps"], "training": {k: summary[k] for k in facts},
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


@dataclass
class TrainData:
    """A run's data: the training stream and its length, and what validation reads."""

    train_src: Path
    val_src: Path | None
    stream: ClipStream
    steps_per_epoch: int  # the largest rank's batches per epoch
    val_clips: list = field(default_factory=list)  # read on the main process only
    val_skipped: list = field(default_factory=list)
    spot_rows: object | None = None  # the spotting benchmark rows, or None


def load_data(cfg: TrainConfig, info: DistInfo) -> TrainData:
    """The training stream of this rank and, on the main process, the validation clips (held out of
    the training shards when no validation shards are named; at most ``val_max_clips``, a fixed
    subset). Raises :class:`TrainConfigError` for unreadable or empty training data."""
    train_src, val_src, spot_csv = resolve_sources(cfg.data)
    try:
        index = index_shards(train_src)
    except ShardError as err:
        raise TrainConfigError(f"training data: {err}") from None
    val_clips, val_skipped, spot_rows = [], [], None
    if val_src is None:
        held = holdout_keys(index, cfg.data.val_fraction, cfg.data.val_max_clips)
        index = index.without(held)
        if info.is_main and held:
            val_clips, val_skipped = read_clip_list(train_src, held)
    elif info.is_main:
        val_clips, val_skipped = read_clip_list(val_src)
    if info.is_main and spot_csv is not None:
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
    steps_per_epoch = -(-(-(-index.num_samples // info.world_size)) // d.batch_size)
    return TrainData(train_src, val_src, stream, steps_per_epoch, val_clips, val_skipped, spot_rows)


def plan_steps(cfg: TrainConfig, steps_per_epoch: int) -> tuple[int, str | None]:
    """``(total steps or 0 for no step limit, a note when epochs end the run before max_steps)``."""
    epoch_steps = cfg.epochs * steps_per_epoch  # 0: no epoch limit
    total_steps = min(n for n in (cfg.max_steps, epoch_steps) if n) if cfg.max_steps or epoch_steps else 0
    if cfg.max_steps and epoch_steps and epoch_steps < cfg.max_steps:
        return total_steps, (f"max_steps is {cfg.max_steps} but epochs={cfg.epochs} of {steps_per_epoch} steps end "
                             f"the run at step {epoch_steps}; leave epochs unset (or 0) to run every step")
    return total_steps, None


def build_model(cfg: TrainConfig, info: DistInfo):
    """The model on this rank's device, seeded so every rank starts from the same weights, and each
    rank's RNG then seeded for its own dropout stream."""
    from jegal.model import JEGAL

    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)  # the same initial weights on every rank
    model = JEGAL(cfg.model_config()).set_runtime(**cfg.runtime()).to(info.device)
    if model.text is not None:
        # Hugging Face initialises weights while loading, drawing from the global RNG: load the
        # frozen backbone now, not at the first step, so a resumed run's RNG matches an unbroken one.
        model.text.backbone.load()
    torch.manual_seed(cfg.seed + 1 + info.rank)  # then each rank its own dropout stream
    return model


def wrap_distributed(model, cfg: TrainConfig, info: DistInfo) -> torch.nn.Module:
    """``model`` in DistributedDataParallel under torchrun, else ``model`` itself."""
    if not info.distributed:
        return model
    from torch.nn.parallel import DistributedDataParallel as DDP

    lc, device = model.config.loss, info.device
    return DDP(model, device_ids=[device.index] if device.type == "cuda" else None,
               find_unused_parameters=cfg.ddp_find_unused or _has_unused_parameters(lc.objective, lc.beta,
                                                                                    lc.spot_weight))


def _start_run_dir(cfg: TrainConfig, info: DistInfo) -> Path | None:
    """Check the run directory against ``--resume`` and write ``train_config.json``; returns the
    checkpoint to resume from (None: a fresh run)."""
    run_dir = Path(cfg.out)
    resume_from = ckpt.latest_checkpoint(run_dir) if cfg.resume else None
    if not cfg.resume and ckpt.latest_checkpoint(run_dir) is not None:
        raise TrainConfigError(f"{run_dir} already holds checkpoints: pass --resume to continue it, or another --out")
    if resume_from is not None:
        _check_resume_config(run_dir, cfg)
    if info.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        cfg.save(run_dir / "train_config.json")
    barrier(info)
    return resume_from


def _train(cfg: TrainConfig, info: DistInfo) -> dict:
    t_start = _clock()
    torch.set_num_threads(cfg.threads or max(1, (os.cpu_count() or 1) // info.local_world_size))
    amp = _amp(cfg, info.device)  # (an impossible precision fails before the run directory is touched)
    resume_from = _start_run_dir(cfg, info)
    data = load_data(cfg, info)
    total_steps, step_note = plan_steps(cfg, data.steps_per_epoch)
    if step_note and info.is_main:
        print(f"jegal train: {step_note}", flush=True)
    run = Run(cfg, info, data, build_model(cfg, info), total_steps, amp, t_start)
    if resume_from is not None:
        run.resume(resume_from)
    barrier(info)
    return run.train(step_note)


class Run:
    """One call of :func:`train` once its data and model are built: the optimiser, the state, the
    run directory's logs, and the steps, epochs, validations and checkpoints that move them."""

    def __init__(self, cfg: TrainConfig, info: DistInfo, data: TrainData, model, total_steps: int,
                 amp: tuple[torch.dtype | None, bool], t_start: float):
        self.cfg, self.info, self.data, self.model = cfg, info, data, model
        self.total_steps, self.t_start = total_steps, t_start
        self.run_dir, self.main, self.device = Path(cfg.out), info.is_main, info.device
        self.amp_dtype, self.use_scaler = amp
        o = cfg.optim
        self.optimizer = torch.optim.AdamW(param_groups(model, o.weight_decay), lr=lr_at(0, o, total_steps),
                                           betas=tuple(o.betas), eps=o.eps)
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.net = wrap_distributed(model, cfg, info)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_scaler)
        self.state = RunState(world_size=info.world_size)
        self.writer = self.log_file = None
        self.elapsed_before, self.rate, self.t_last = 0.0, None, t_start

    # -- state in and out ------------------------------------------------------------------
    def resume(self, path: Path) -> None:
        """Model, optimiser, RNG and :class:`RunState` from the checkpoint at ``path``; the logs are
        cut back to its step. Raises :class:`TrainConfigError` when another number of processes wrote it."""
        saved = ckpt.load_checkpoint(path, self.model, self.optimizer, rank=self.info.rank, map_location=self.device)
        if saved.get("world_size") != self.info.world_size:
            raise TrainConfigError(f"{path} was written by {saved.get('world_size')} processes; resume with "
                                   f"the same number (now {self.info.world_size}) so the data order continues exactly")
        self.state = RunState.from_dict(saved)
        if self.use_scaler and saved.get("scaler"):
            self.scaler.load_state_dict(saved["scaler"])
        if self.main:
            s = self.state
            _truncate_jsonl(self.run_dir / "log.jsonl", s.step)
            _truncate_jsonl(self.run_dir / "skipped.jsonl", s.step)
            print(f"jegal train: resuming {self.run_dir} from {path.name} (epoch {s.epoch}, batch {s.batch}, "
                  f"step {s.step})", flush=True)

    def save_checkpoint(self) -> None:
        """A checkpoint of this step: every rank's RNG, then (rank 0) model, optimiser and state."""
        info, step = self.info, self.state.step
        if self.main:
            ckpt.begin_checkpoint(self.run_dir, step)
        barrier(info)
        ckpt.write_rank_state(self.run_dir, step, info.rank)
        barrier(info)
        if self.main:
            full = {**self.state.to_dict(), "scaler": self.scaler.state_dict() if self.use_scaler else None}
            ckpt.finish_checkpoint(self.run_dir, step, self.model, self.optimizer, full, keep=self.cfg.keep_checkpoints)
        barrier(info)
        self.state.last_ckpt_step = step

    def run_validation(self) -> dict:
        """Validate on the main process (the others wait); keep ``best/`` when the score improved."""
        d, s, metrics = self.data, self.state, {}
        if self.main and d.val_clips:
            metrics = validate(self.model, d.val_clips, d.spot_rows, batch_size=max(self.cfg.data.batch_size, 32),
                               autocast_dtype=self.amp_dtype)
            metrics["val_skipped"] = float(len(d.val_skipped))
        barrier(self.info)
        if not self.main:
            return {}
        key = self.cfg.best_metric
        if key == "auto":
            key = "spot_acc" if "spot_acc" in metrics else "ret_R@10_mean"
        s.last_val_step, s.last_metrics = s.step, metrics
        if key in metrics and _better(key, metrics[key], s.best):
            s.best, s.best_step, s.best_metric = metrics[key], s.step, key
            _save_best(self.run_dir, self.model, metrics, s.step)
        if self.writer is not None:
            for k, v in metrics.items():
                self.writer.add_scalar(f"val/{k}", v, s.step)
        return metrics

    # -- the loop --------------------------------------------------------------------------
    def train(self, step_note: str | None) -> dict:
        """Epochs until a limit stops the run, then the last validation, checkpoint and model; the summary."""
        cfg, s = self.cfg, self.state
        if self.main and cfg.tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(self.run_dir / "tb"))
        self.log_file = open(self.run_dir / "log.jsonl", "a", encoding="utf-8") if self.main else None
        done = self._stopped_before_start()
        while (not cfg.epochs or s.epoch < cfg.epochs) and not done:
            done = self._run_epoch()
            if s.batch < self.data.steps_per_epoch:  # stopped by max_steps or max_seconds mid-epoch
                break
            self._end_epoch()
        return self._finish(step_note)

    def _stopped_before_start(self) -> bool:
        """Start the time budget's clock (seconds since this call began, setup included, plus those
        of the run's earlier calls up to the checkpoint it resumed from); whether a limit is already reached."""
        s, cfg = self.state, self.cfg
        self.elapsed_before = s.elapsed
        self.rate, self.t_last = None, _clock()
        (s.elapsed,) = all_reduce([self.elapsed_before + self.t_last - self.t_start], self.info, "max")
        s.stopped_by = None  # (a resumed run may have been given other limits)
        if cfg.max_steps and s.step >= cfg.max_steps:
            s.stopped_by = "max_steps"
        elif cfg.max_seconds and s.step and s.elapsed >= cfg.max_seconds:  # (a fresh run steps once)
            s.stopped_by = "max_seconds"
        return s.stopped_by is not None

    def _run_epoch(self) -> bool:
        """The batches of the current epoch from the state's position; True when a limit stopped the run."""
        from jegal.native_logs import progress_bar

        s, d, cfg = self.state, self.data, self.cfg
        epoch, start = s.epoch, s.batch
        d.stream.set_epoch(epoch, start)
        my_batches = d.stream.num_batches()
        it = iter(make_loader(d.stream, cfg.data.workers, pin_memory=self.device.type == "cuda"))
        bar = progress_bar(d.steps_per_epoch, f"epoch {epoch}", unit="step", initial=start,
                           disable=not (self.main and cfg.progress))
        done = False
        for j in range(start, d.steps_per_epoch):
            item = next(it) if j < my_batches else {"batch": None, "size": 0, "skipped": [], "index": j}
            if item["index"] != j:
                raise RuntimeError(f"data order broken: expected batch {j}, got {item['index']}")
            n_min = self._agree_on_batch(item)
            bar.update(1)
            if n_min == 0:
                continue
            batch = item["batch"] if item["size"] == n_min else trim_batch(item["batch"], n_min)
            self._step(batch, n_min, epoch, j, bar)
            if cfg.max_steps and s.step >= cfg.max_steps:
                s.stopped_by = "max_steps"
            elif cfg.max_seconds and s.elapsed >= cfg.max_seconds:
                s.stopped_by = "max_seconds"
            if s.stopped_by is not None:
                done = True
                break
        bar.close()
        del it
        return done

    def _agree_on_batch(self, item: dict) -> int:
        """Log the samples the loader skipped, count them over the ranks, and return the batch size
        every rank trains on (the smallest rank's; the rest are counted as dropped)."""
        s, info = self.state, self.info
        if item["skipped"]:
            with open(self.run_dir / "skipped.jsonl", "a", encoding="utf-8") as f:
                for key, reason in item["skipped"]:
                    f.write(json.dumps({"step": s.step + 1, "rank": info.rank, "key": key, "reason": reason}) + "\n")
        (n_min,) = all_reduce([item["size"]], info, "min")
        n_sum, skipped = all_reduce([item["size"], len(item["skipped"])], info, "sum")
        n_min = int(n_min)
        s.skipped += int(skipped)
        s.dropped_uneven += int(n_sum) - info.world_size * n_min
        s.batch = item["index"] + 1
        return n_min

    def _step(self, batch: dict, n_min: int, epoch: int, j: int, bar) -> None:
        """One optimiser step on ``batch`` (``n_min`` clips on each rank), counted, logged and checkpointed."""
        cfg, s, info = self.cfg, self.state, self.info
        lr = lr_at(s.step, cfg.optim, self.total_steps, s.elapsed / cfg.max_seconds if cfg.max_seconds else 0.0)
        for g in self.optimizer.param_groups:
            g["lr"] = lr
        ok, loss_val, parts, norm, logit_scale = self._optimise(batch)
        s.step += 1
        s.samples += info.world_size * n_min
        s.last_loss = loss_val
        inst = self._tick(n_min)
        self._count_finite(ok, loss_val)
        if self.main:
            rec = {"step": s.step, "epoch": epoch, "batch": j, "loss": loss_val, **parts, "lr": lr,
                   "grad_norm": norm, "clips": info.world_size * n_min, "clips_per_s": inst,
                   "logit_scale": logit_scale, "finite": ok}
            self._log_step(rec, bar)
        if cfg.checkpoint_every and s.step % cfg.checkpoint_every == 0 and s.batch < self.data.steps_per_epoch:
            self.save_checkpoint()  # (the epoch's last step is saved after validation instead)

    def _optimise(self, batch: dict) -> tuple[bool, float, dict, float, float]:
        """Forward, backward, clip and (when the loss and gradient are finite on every rank) step:
        ``(finite, global loss, its parts, gradient norm, logit scale)``."""
        info, o, amp_dtype = self.info, self.cfg.optim, self.amp_dtype
        self.net.train()
        with torch.autocast(self.device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
            out = self.net(batch, rank=info.rank, world_size=info.world_size)
        loss = out["loss"]
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(self.optimizer)
        norm = torch.nn.utils.clip_grad_norm_(self.params, o.grad_clip if o.grad_clip > 0 else float("inf"))
        ok_here = bool(torch.isfinite(loss.detach()) and torch.isfinite(norm))
        ok, loss_sum, *part_sums = all_reduce(
            [float(ok_here), float(loss.detach())] + [float(out[k]) for k in LOSS_PARTS], info, "sum")
        ok = ok == info.world_size
        if ok:
            self.scaler.step(self.optimizer)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.update()
        parts = {k: v / info.world_size for k, v in zip(LOSS_PARTS, part_sums)}
        # each rank's loss is weighted so their mean is the global one
        return ok, loss_sum / info.world_size, parts, float(norm), float(out["logit_scale"])

    def _tick(self, n_min: int) -> float:
        """Advance the clocks after a step; returns this step's clips per second."""
        s = self.state
        now = _clock()
        dt, self.t_last = now - self.t_last, now
        s.train_seconds += dt
        s.elapsed = self.elapsed_before + now - self.t_start
        if self.cfg.max_seconds:  # every rank must see the same clock: it sets the lr and the stop
            (s.elapsed,) = all_reduce([s.elapsed], self.info, "max")
        inst = self.info.world_size * n_min / max(dt, 1e-9)
        self.rate = inst if self.rate is None else 0.9 * self.rate + 0.1 * inst
        return inst

    def _count_finite(self, ok: bool, loss_val: float) -> None:
        """Count a finite step into the epoch's loss, or a skipped one; raises :class:`TrainingDiverged`
        after ``optim.max_bad_steps`` skipped steps in a row."""
        s = self.state
        if ok:
            s.consecutive_bad = 0
            s.epoch_loss_sum += loss_val
            s.epoch_loss_n += 1
            return
        from tqdm import tqdm

        s.bad_steps += 1
        s.consecutive_bad += 1
        if self.main:
            tqdm.write(f"jegal train: step {s.step}: non-finite loss or gradient ({loss_val}); step skipped "
                       f"({s.consecutive_bad} in a row, {s.bad_steps} in all)")
        if s.consecutive_bad >= self.cfg.optim.max_bad_steps:
            raise TrainingDiverged(
                f"loss or gradient non-finite for {s.consecutive_bad} consecutive steps (last at step "
                f"{s.step}): lower --lr, raise --warmup-steps, use --precision fp32, or check the data; "
                f"the last good checkpoint is in {self.run_dir / ckpt.CHECKPOINT_DIR}")

    def _log_step(self, rec: dict, bar) -> None:
        """One line of ``log.jsonl``, the progress bar's numbers and (every ``log_every`` steps) TensorBoard."""
        self.log_file.write(json.dumps(rec) + "\n")
        self.log_file.flush()
        bar.set_postfix(loss=f"{rec['loss']:.3f}", clips_s=f"{self.rate:.1f}", lr=f"{rec['lr']:.2e}")
        step = rec["step"]
        if self.writer is not None and (step % self.cfg.log_every == 0 or step == 1):
            for k in ("loss", *LOSS_PARTS, "lr", "grad_norm", "logit_scale"):
                self.writer.add_scalar(f"train/{k}", rec[k], step)
            self.writer.add_scalar("train/clips_per_s", self.rate, step)

    def _end_epoch(self) -> None:
        """The epoch's record (mean loss, validation every ``validate_every`` epochs) and a checkpoint."""
        from tqdm import tqdm

        s, cfg = self.state, self.cfg
        epoch = s.epoch
        mean_loss = s.epoch_loss_sum / max(1, s.epoch_loss_n)
        s.epoch, s.batch, s.epoch_loss_sum, s.epoch_loss_n = epoch + 1, 0, 0.0, 0
        record = {"epoch": epoch, "step": s.step, "train_loss": mean_loss}
        if cfg.validate_every and (epoch + 1) % cfg.validate_every == 0:
            record.update(self.run_validation())
            if self.main:
                tqdm.write(f"jegal train: epoch {epoch}: " + ", ".join(
                    f"{k}={v:.4g}" for k, v in record.items() if k in ("train_loss", "spot_acc", "spot_all_words",
                                                                       "ret_R@10_mean")))
        s.history.append(record)
        if self.writer is not None:
            self.writer.add_scalar("train/epoch_loss", mean_loss, s.step)
        self.save_checkpoint()

    # -- the end ---------------------------------------------------------------------------
    def _finish(self, step_note: str | None) -> dict:
        """Validate and checkpoint the last step (unless done), save the model and ``metrics.json``."""
        s, cfg = self.state, self.cfg
        if s.stopped_by is None:
            s.stopped_by = "epochs"
        if self.main and s.stopped_by == "max_seconds":
            print(f"jegal train: time budget of {cfg.max_seconds:g} s reached at step {s.step} "
                  f"({s.elapsed:.0f} s); validating and saving", flush=True)
        if s.last_val_step != s.step:
            self.run_validation()
        if s.last_ckpt_step != s.step:
            self.save_checkpoint()
        summary = self._summary(step_note)
        if self.main:
            self.log_file.close()
            card = model_card(summary, self.data.train_src, self.data.val_src, s.last_val_step)
            self.model.save_pretrained(self.run_dir / "model", card=card)
            write_json_atomic(self.run_dir / "metrics.json", summary)
            if self.writer is not None:
                self.writer.close()
        barrier(self.info)
        return summary

    def _summary(self, step_note: str | None) -> dict:
        """What :func:`train` returns and ``metrics.json`` holds."""
        s, cfg, run_dir, amp_dtype = self.state, self.cfg, self.run_dir, self.amp_dtype
        return {
            "run_dir": str(run_dir), "steps": s.step, "epochs_completed": s.epoch,
            "samples": s.samples, "skipped_samples": s.skipped, "dropped_uneven": s.dropped_uneven,
            "bad_steps": s.bad_steps, "world_size": self.info.world_size, "device": str(self.device),
            "precision": str(amp_dtype).replace("torch.", "") if amp_dtype else "fp32",
            "train_seconds": s.train_seconds, "wall_seconds": _clock() - self.t_start,
            "clips_per_s": s.samples / max(s.train_seconds, 1e-9),
            "objective": self.model.config.loss.objective, "readout": self.model.readout(),
            "stopped_by": s.stopped_by, "stopped_on_time": s.stopped_by == "max_seconds",
            "elapsed_seconds": s.elapsed, "max_seconds": cfg.max_seconds, "max_steps": cfg.max_steps,
            "epochs": cfg.epochs, "planned_steps": self.total_steps or None, "step_note": step_note,
            "final_loss": s.last_loss, "metrics": s.last_metrics, "best_metric": s.best_metric,
            "best": s.best, "best_step": s.best_step, "history": s.history,
            "model_dir": str(run_dir / "model"), "best_dir": str(run_dir / "best") if s.best is not None else None,
            "val_clips": len(self.data.val_clips), "val_skipped": len(self.data.val_skipped),
        }
