"""What a training run carries from step to step and saves in each checkpoint's ``state.json``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields


@dataclass
class RunState:
    """The position, counters, best validation and clocks of a run (one per process; the ranks
    keep identical copies, rank 0 writes it). Saved as ``state.json`` (:meth:`to_dict`), read
    back by :meth:`from_dict`, which also reads the state of checkpoints written before this
    class existed (the same keys, ``best_metric`` and ``last_ckpt_step`` sometimes absent)."""

    # data position: the next batch of this epoch, optimiser steps taken, clips trained on
    epoch: int = 0
    batch: int = 0
    step: int = 0
    samples: int = 0
    skipped: int = 0  # samples the loader skipped (skipped.jsonl)
    dropped_uneven: int = 0  # samples dropped so that every rank steps on the same batch size
    bad_steps: int = 0  # steps whose loss or gradient was not finite (skipped)
    consecutive_bad: int = 0
    # validation: the best score, its step and metric name, every epoch's record
    best: float | None = None
    best_step: int | None = None
    best_metric: str | None = None
    history: list[dict] = field(default_factory=list)
    last_val_step: int | None = None
    last_metrics: dict = field(default_factory=dict)
    # the mean training loss of the current epoch, as a running sum
    epoch_loss_sum: float = 0.0
    epoch_loss_n: int = 0
    world_size: int = 1
    # seconds spent in steps, and on the time budget's clock (setup and earlier calls included)
    train_seconds: float = 0.0
    elapsed: float = 0.0
    last_loss: float | None = None
    stopped_by: str | None = None  # "epochs" | "max_steps" | "max_seconds", once a limit is reached
    last_ckpt_step: int | None = None

    def to_dict(self) -> dict:
        """The JSON-ready fields (``state.json``)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, saved: dict) -> RunState:
        """The state of ``saved`` (a checkpoint's ``state.json``); keys that are no field (the
        GradScaler state, which the loop restores itself) are left out."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in saved.items() if k in names})
