"""Train-and-evaluate building blocks shared by ``jegal ablate`` and ``jegal demo``.

- :data:`VARIANTS`: the paper's ablations and baselines as model configurations.
- :func:`train_variant`: train one variant on a corpus (idempotent: a finished run is reused).
- :func:`evaluate_model`: all three SynthGest benchmarks for one model, any test modalities.
- :func:`floor_rows`: the SynthGest floor baselines (fastest hand, clip length, chance).
- :func:`headline` / :func:`results_table`: the one-table summary (markdown).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from jegal.evaluation.benchmarks import Benchmark, ClipSet, load_clips, read_benchmark
from jegal.evaluation.protocols import evaluate_benchmark, markdown_table

BENCHMARK_FILES = {"retrieval": "ret.csv", "spotting": "spot.csv", "asd": "asd.csv"}


@dataclass
class Variant:
    name: str
    label: str
    overrides: dict = field(default_factory=dict)
    trainer: str = "jegal"  # "jegal" (jegal.train) | "sync" (baselines.train_sync) | "ensemble" (no training)
    test_modalities: tuple[str, ...] = ("ta",)
    group: str = "ablation"  # ablation | baseline
    parts: tuple[str, ...] = ()  # ensemble: the variants whose scores are averaged


# The presets add two word-level terms to the paper's objective (docs/model.md, "Word
# discrimination in the local space"); clip-level variants must switch them off too.
NO_WORD_TERMS = {"loss.spot_weight": 0.0, "loss.local_centre": False}
# The paper's model and objective as published: also no clip-feature standardisation, speech in
# the clip vectors and the paper's beta (docs/model.md, "The clip-level space").
PAPER_MODEL = {**NO_WORD_TERMS, "loss.global_standardise": False, "content.global_speech": True,
               "content.speech_clip_follows": False, "loss.beta": 0.5}

VARIANTS: dict[str, Variant] = {v.name: v for v in [
    Variant("full", "JEGAL: concat fusion, global + coupling loss", {}, test_modalities=("ta", "t", "a")),
    Variant("global_only", "global loss only (beta=1, no word-level term)", {"loss.beta": 1.0, **NO_WORD_TERMS}),
    Variant("coupling_only", "coupling loss only (beta=0)", {"loss.beta": 0.0}),
    Variant("paper_objective", "paper objective and clip heads: global + coupling (beta 0.5), no centring, "
            "spotting term or standardisation, speech in the clip vectors", PAPER_MODEL),
    Variant("pair_text", "pairwise gesture-text model", {"content.modalities": "t"}, test_modalities=("t",)),
    Variant("pair_speech", "pairwise gesture-speech model", {"content.modalities": "a"}, test_modalities=("a",)),
    Variant("late_fusion", "late fusion of the pairwise models (score average)", trainer="ensemble",
            parts=("pair_text", "pair_speech")),
    Variant("avg_fusion", "avg fusion (trained jointly)", {"content.fusion": "avg"}),
    Variant("clip_clip", "baseline: clip-level gesture-text CLIP (global loss, text only)",
            {"content.modalities": "t", "loss.beta": 1.0, **NO_WORD_TERMS}, test_modalities=("t",), group="baseline"),
    Variant("sync", "baseline: sync-style gesture-speech (synchrony only)", trainer="sync",
            test_modalities=("a",), group="baseline"),
]}


# -- corpus -----------------------------------------------------------------------------------
def corpus_benchmarks(corpus: str | os.PathLike) -> dict[str, Benchmark]:
    bench_dir = Path(corpus) / "benchmarks"
    return {task: read_benchmark(bench_dir / name, task) for task, name in BENCHMARK_FILES.items()}


def corpus_clips(corpus: str | os.PathLike, benches: dict[str, Benchmark]) -> ClipSet:
    wanted = [cid for b in benches.values() for cid in b.clip_ids()]
    return load_clips(Path(corpus) / "test", wanted)


# -- training ---------------------------------------------------------------------------------
@dataclass
class Budget:
    epochs: int = 4
    max_steps: int = 0
    batch_size: int | None = None  # None: the cpu training preset's
    lr: float | None = None  # None: the cpu training preset's
    threads: int = 0
    seed: int = 0

    def train_config(self, corpus: str | os.PathLike, run_dir: str | os.PathLike, overrides: dict | None = None,
                     progress: bool = True):
        """The :class:`jegal.train.config.TrainConfig` of a variant: the cpu preset, this budget,
        validation only at the end on a small subset (evaluation is what counts here)."""
        from jegal.train.config import resolve

        flags = {"out": str(run_dir), "data.train": str(corpus), "epochs": self.epochs, "max_steps": self.max_steps,
                 "seed": self.seed, "threads": self.threads, "progress": progress, "tensorboard": False,
                 "validate_every": 0, "data.val_max_clips": 64, "checkpoint_every": 1_000_000, "device": "cpu"}
        if self.batch_size:
            flags["data.batch_size"] = self.batch_size
        if self.lr:
            flags["optim.lr"] = self.lr
        return resolve("cpu", flags=flags, overrides=dict(overrides or {}))


def epoch_cap(epochs: int | None, max_steps: int, default: int) -> int:
    """The ``--epochs`` limit of a run: as given; when unset, no limit if ``--max-steps`` sets the
    length (so ``--max-steps 1000`` really trains 1000 steps), else ``default``."""
    if epochs is not None:
        return epochs
    return max_steps if max_steps > 0 else default


def measure_step_seconds(corpus: str | os.PathLike, budget: Budget, overrides: dict | None = None, steps: int = 3,
                         warmup: int = 1) -> float:
    """Seconds per training step (forward + backward + AdamW) of the cpu preset on real
    batches of ``corpus``: the median of ``steps`` steps after ``warmup`` steps. Used to turn
    a time budget into a step count, so the learning-rate schedule still ends where the
    budget does."""
    import torch

    from jegal.model import JEGAL
    from jegal.train.data import ClipStream, index_shards

    corpus = Path(corpus)
    cfg = budget.train_config(corpus, corpus / "unused", overrides, progress=False)
    torch.set_num_threads(budget.threads or max(1, os.cpu_count() or 1))
    torch.manual_seed(budget.seed)
    model = JEGAL(cfg.model_config())
    model.train()
    if model.text is not None:
        model.text.backbone.load()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    d = cfg.data
    stream = ClipStream(index_shards(corpus / "train" if (corpus / "train").is_dir() else corpus), d.batch_size,
                        seed=budget.seed, shuffle_buffer=min(100, d.batch_size * 2), min_words=d.min_words,
                        max_words=d.max_words, margin=d.margin, crop=d.crop, crop_frames=d.crop_frames)
    stream.set_epoch(0)
    times: list[float] = []
    for item in stream:
        if item["batch"] is None:
            continue
        t0 = time.perf_counter()
        loss = model(item["batch"])["loss"]
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - t0)
        if len(times) >= warmup + steps:
            break
    if not times:
        raise ValueError(f"{corpus}: no training batch to time")
    return float(np.median(times[warmup:] or times))


def steps_for_budget(seconds: float, step_seconds: float, epochs: int, steps_per_epoch: int) -> int:
    """Optimiser steps that fit ``seconds`` (10% kept for validation and saving), at most
    ``epochs`` full epochs, at least 1."""
    fit = int(0.9 * seconds / max(step_seconds, 1e-6))
    return max(1, min(fit, epochs * steps_per_epoch))


def _train_entry(cfg_dict: dict) -> None:
    from jegal.train.loop import train

    train(cfg_dict)


def train_until(cfg, seconds: float, poll: float = 1.0) -> dict:
    """Run :func:`jegal.train.loop.train` on ``cfg`` in a child process, stopping it after
    ``seconds`` if it has not finished (but not before its first checkpoint). A stopped run's
    model is its latest checkpoint (written atomically every ``cfg.checkpoint_every`` steps, so
    a stop at any moment is safe), saved to ``RUN/model`` like a finished run's. Returns
    {"stopped": bool, "steps": int, ...}."""
    import multiprocessing as mp

    run_dir = Path(cfg.out)
    ctx = mp.get_context("spawn")  # no forked torch / tokenizer state
    proc = ctx.Process(target=_train_entry, args=(cfg.to_dict(),), daemon=True)
    t0 = time.perf_counter()
    proc.start()
    from jegal.train.checkpoint import latest_checkpoint

    # past the time limit, a run with no checkpoint yet is allowed to reach its first one
    while proc.is_alive() and (time.perf_counter() - t0 < seconds or latest_checkpoint(run_dir) is None):
        proc.join(timeout=poll)
    stopped = proc.is_alive()
    if stopped:
        proc.terminate()
        proc.join(timeout=30)
        if proc.is_alive():
            proc.kill()
            proc.join()
    elif proc.exitcode != 0:
        raise RuntimeError(f"training {run_dir} failed (exit code {proc.exitcode}); see the messages above")
    if not stopped:
        s = json.loads((run_dir / "metrics.json").read_text())
        return {"stopped": False, **{k: s.get(k) for k in ("steps", "epochs_completed", "samples", "skipped_samples",
                                                           "final_loss", "train_seconds", "clips_per_s")}}
    out = model_from_checkpoint(cfg)
    out["train_seconds"] = round(time.perf_counter() - t0, 1)
    return out


def model_from_checkpoint(cfg) -> dict:
    """Save the latest checkpoint of run ``cfg.out`` as its model (``RUN/model``); returns
    {"stopped": True, "steps", "epochs_completed", "samples", "final_loss", "checkpoint"}."""
    from jegal.model import JEGAL
    from jegal.train.checkpoint import latest_checkpoint, load_checkpoint

    run_dir = Path(cfg.out)
    ckpt = latest_checkpoint(run_dir)
    if ckpt is None:
        raise RuntimeError(f"training {run_dir} reached its time limit before its first checkpoint; "
                           f"give it more time or a smaller checkpoint_every")
    model = JEGAL(cfg.model_config())
    state = load_checkpoint(ckpt, model, None)
    model.save(run_dir / "model")
    steps = int(state.get("step", 0))
    log = run_dir / "log.jsonl"
    records = [json.loads(line) for line in log.read_text().splitlines() if line.strip()][:steps] if log.is_file() else []
    losses = [r["loss"] for r in records[-10:]]
    rates = [r["clips_per_s"] for r in records if r.get("clips_per_s")]
    return {"stopped": True, "steps": steps, "epochs_completed": state.get("epoch"), "samples": state.get("samples"),
            "final_loss": float(np.mean(losses)) if losses else None,
            "clips_per_s": round(float(np.median(rates)), 1) if rates else None, "checkpoint": ckpt.name}


def train_variant(variant: Variant, corpus: str | os.PathLike, run_dir: str | os.PathLike, budget: Budget,
                  progress: bool = True, seconds: float | None = None) -> dict:
    """Train ``variant`` into ``run_dir`` (its model in ``run_dir/model``); a run directory
    that already holds a finished model is reused. With ``seconds``, training stops at that
    time limit and keeps its latest checkpoint (:func:`train_until`). Returns the training summary."""
    run_dir = Path(run_dir)
    done = run_dir / "summary.json"
    if done.is_file() and (run_dir / "model" / "model.safetensors").is_file():
        return {**json.loads(done.read_text()), "reused": True}
    if run_dir.exists():
        import shutil

        shutil.rmtree(run_dir)  # an interrupted earlier attempt: start it again
    t0 = time.perf_counter()
    if variant.trainer == "sync":
        from jegal.evaluation.baselines import train_sync

        summary = train_sync(corpus, run_dir, epochs=budget.epochs, max_steps=budget.max_steps,
                             batch_size=budget.batch_size or 32, lr=budget.lr or 1e-3, seed=budget.seed,
                             progress=progress, threads=budget.threads)
    elif variant.trainer == "jegal" and seconds is not None:
        cfg = budget.train_config(corpus, run_dir, variant.overrides, progress)
        steps = cfg.max_steps or cfg.epochs * 1000
        cfg.checkpoint_every = max(5, min(50, steps // 20))  # what a stop at the time limit can lose
        cfg.keep_checkpoints = 1
        summary = train_until(cfg, seconds)
    elif variant.trainer == "jegal":
        from jegal.train.loop import train

        s = train(budget.train_config(corpus, run_dir, variant.overrides, progress))
        summary = {k: s.get(k) for k in ("steps", "epochs_completed", "samples", "skipped_samples", "final_loss",
                                         "train_seconds", "clips_per_s")}
    else:
        raise ValueError(f"variant {variant.name}: trainer {variant.trainer!r} does not train")
    summary = {**summary, "variant": variant.name, "overrides": variant.overrides,
               "seconds": round(time.perf_counter() - t0, 1)}
    tmp = run_dir / ".summary.json.tmp"
    tmp.write_text(json.dumps(summary, indent=2) + "\n")
    os.replace(tmp, done)
    return summary


# -- evaluation -------------------------------------------------------------------------------
class EnsembleModel:
    """Late fusion of independent models: each model's (normalised) embeddings side by side,
    scaled by 1/sqrt(n), so every cosine is the average of the models' cosines."""

    def __init__(self, models: list, modalities: list[str]):
        self.models, self.modalities = models, modalities

    def embed(self, batch: dict, modalities: str = "ta", parts: str = "gc") -> dict:
        import torch

        outs = [m.embed(batch, modalities=mod, parts=parts) for m, mod in zip(self.models, self.modalities)]
        k = 1.0 / np.sqrt(len(outs))
        res = {}
        for key in ("gesture_frames", "content_words", "gesture_clip", "content_clip"):
            if key in outs[0]:
                res[key] = torch.cat([o[key].float() for o in outs], dim=-1) * k
        for key in ("frame_mask", "word_mask"):
            if key in outs[0]:
                res[key] = outs[0][key]
        return res


def load_view(model_dir: str | os.PathLike):
    from jegal.evaluation.baselines import view_for
    from jegal.model import JEGAL

    return view_for(JEGAL.load(model_dir, device="cpu"), model_dir)


def evaluate_model(model, benches: dict[str, Benchmark], clips: ClipSet, modalities=("ta",), cache_dir=None,
                   model_id: str | None = None, progress: bool = False, keep_rows: bool = False) -> dict:
    """{task: {modalities: result}} over the three benchmarks."""
    out: dict = {task: {} for task in benches}
    reuse = None  # gesture embeddings do not depend on the task or the content modalities
    for m in modalities:
        for task, bench in benches.items():
            out[task][m], reuse = evaluate_benchmark(model, bench, clips, modalities=m, cache_dir=cache_dir,
                                                     model_id=model_id, progress=progress, keep_rows=keep_rows,
                                                     reuse=reuse, return_embeddings=True)
    return out


# -- floors and tables ------------------------------------------------------------------------
HEADLINE = ["ret R@10 c2g", "ret R@10 g2c", "ret MedR c2g", "ret MedR g2c", "spot", "spot stressed",
            "spot unstressed", "ASD P=2", "ASD P=4", "ASD P=6"]


def headline(results: dict, modalities: str) -> dict:
    """The table columns from {task: {modalities: result}}."""
    row: dict = {}
    r = results.get("retrieval", {}).get(modalities)
    if r:
        m = r["metrics"]
        row["ret R@10 c2g"] = m["content_to_gesture"]["R@10"]
        row["ret R@10 g2c"] = m["gesture_to_content"]["R@10"]
        row["ret MedR c2g"] = m["content_to_gesture"]["median_rank"]
        row["ret MedR g2c"] = m["gesture_to_content"]["median_rank"]
    s = results.get("spotting", {}).get(modalities)
    if s:
        m = s["metrics"]
        row["spot"] = m["accuracy"]
        row["spot stressed"] = m["by_stress"].get("1", {}).get("accuracy")
        row["spot unstressed"] = m["by_stress"].get("0", {}).get("accuracy")
    a = results.get("asd", {}).get(modalities)
    if a:
        for P in (2, 4, 6):
            row[f"ASD P={P}"] = a["metrics"][f"P={P}"]["accuracy"]
    return row


def floor_rows(corpus: str | os.PathLike, n_ret: int) -> tuple[list[tuple[str, dict]], dict]:
    """Rows for the SynthGest floors (from :mod:`jegal.synth.baselines`) and chance."""
    from jegal.synth.baselines import trivial_baselines

    fl = trivial_baselines(corpus)
    sp, rt = fl["spotting"], fl["retrieval"]
    rows = [
        ("floor: chance", {"ret R@10 c2g": rt["chance"]["R@10"], "ret R@10 g2c": rt["chance"]["R@10"],
                           "ret MedR c2g": rt["chance"]["median_rank"], "ret MedR g2c": rt["chance"]["median_rank"],
                           "spot": sp["random_frame"], "ASD P=2": 1 / 2, "ASD P=4": 1 / 4, "ASD P=6": 1 / 6}),
        ("floor: clip length (retrieval) / fastest hand (spotting)",
         {"ret R@10 c2g": rt["content_to_gesture"]["R@10"], "ret R@10 g2c": rt["gesture_to_content"]["R@10"],
          "ret MedR c2g": rt["content_to_gesture"]["median_rank"], "ret MedR g2c": rt["gesture_to_content"]["median_rank"],
          "spot": sp["fastest_hand"], "spot stressed": sp.get("fastest_hand_stressed"),
          "spot unstressed": sp.get("fastest_hand_unstressed")}),
    ]
    if sp.get("word_order") is not None:
        rows.append(("floor: word order, no gesture (spotting)",
                     {"spot": sp["word_order"], "spot stressed": sp.get("word_order_stressed"),
                      "spot unstressed": sp.get("word_order_unstressed")}))
    if sp.get("oracle") is not None:
        rows.append(("ceiling: oracle stroke frame (spotting)", {"spot": sp["oracle"]}))
    return rows, fl


def results_table(rows: list[tuple[str, dict]]) -> str:
    cols = [c for c in HEADLINE if any(c in r for _, r in rows)]
    return markdown_table([(label, {c: r.get(c) for c in cols}) for label, r in rows], first="model")
