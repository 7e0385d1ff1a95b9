"""Train-and-evaluate building blocks shared by ``jegal ablate`` and ``jegal demo``.

- :data:`VARIANTS`: the paper's ablations and baselines, each an objective (``loss.objective``)
  and model overrides, all trained by the one loop :func:`jegal.train.loop.train`.
- :func:`train_variant`: train one variant on a corpus in this process (idempotent: a finished
  run is reused); a trained variant is read with :meth:`jegal.model.JEGAL.from_pretrained`, with the
  text-state cache at :data:`TEXT_CACHE_SIZE` (the benchmarks embed the same clips' words again).
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

from jegal.data.benchmarks import Benchmark, read_benchmark
from jegal.evaluation.benchmarks import ClipSet, load_clips
from jegal.atomic import write_json_atomic
from jegal.evaluation.protocols import evaluate_benchmark, markdown_table
from jegal.model.presets import paper_objective_overrides

BENCHMARK_FILES = {"retrieval": "ret.csv", "spotting": "spot.csv", "asd": "asd.csv"}
TEXT_CACHE_SIZE = 4096  # clips whose text-backbone states an evaluated model keeps (JEGAL.set_runtime)


@dataclass
class Variant:
    """One model of the ablation table: what it is trained for and how it differs from the cpu preset.

    A variant with ``parts`` is not trained: it fuses the models of those variants at test time."""

    name: str
    label: str
    objective: str = "jegal"  # loss.objective: "jegal", "clip" (clip-level CLIP), "sync" (sync-style)
    overrides: dict = field(default_factory=dict)  # dotted model overrides on the cpu preset
    test_modalities: tuple[str, ...] = ("ta",)
    group: str = "ablation"  # ablation | baseline
    parts: tuple[str, ...] = ()  # late fusion: the variants whose scores are averaged

    def model_overrides(self) -> dict:
        return {"loss.objective": self.objective, **self.overrides}


VARIANTS: dict[str, Variant] = {v.name: v for v in [
    Variant("full", "JEGAL: concat fusion, global + coupling loss", test_modalities=("ta", "t", "a")),
    Variant("global_only", "global loss only (beta=1, no word-level term)", "clip"),
    Variant("coupling_only", "coupling loss only (beta=0)", overrides={"loss.beta": 0.0}),
    # the paper's objective and embedding heads as published (the `paper` preset's) on the cpu model
    Variant("paper_objective", "paper objective and clip heads: global + coupling (beta 0.5), no centring, "
            "spotting term or standardisation, speech in the clip vectors", overrides=paper_objective_overrides()),
    Variant("pair_text", "pairwise gesture-text model", overrides={"content.modalities": "t"}, test_modalities=("t",)),
    Variant("pair_speech", "pairwise gesture-speech model", overrides={"content.modalities": "a"},
            test_modalities=("a",)),
    Variant("late_fusion", "late fusion of the pairwise models (score average)", parts=("pair_text", "pair_speech")),
    Variant("avg_fusion", "avg fusion (trained jointly)", overrides={"content.fusion": "avg"}),
    # issue 21's suggested model change: a frame knows its time only through the front-end's few frames,
    # so neither spotting nor the gesture score can lean on where a word falls in the clip
    Variant("no_positions", "JEGAL without absolute frame positions in the gesture encoder (gesture.positions=false)",
            overrides={"gesture.positions": False}),
    # issue 21's detection contrast: each word against the batch's other motion at the same frames
    Variant("detect", "JEGAL + detection contrast (loss.detect_weight=0.25)", overrides={"loss.detect_weight": 0.25}),
    Variant("clip_clip", "baseline: clip-level gesture-text CLIP (global loss, text only)", "clip",
            {"content.modalities": "t"}, test_modalities=("t",), group="baseline"),
    Variant("sync", "baseline: sync-style gesture-speech (synchrony only)", "sync", {"content.modalities": "a"},
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
# what a variant's run keeps of the loop's summary (OUT/runs/<variant>/summary.json)
TRAINING_KEYS = ("objective", "readout", "steps", "epochs_completed", "samples", "skipped_samples", "final_loss",
                 "train_seconds", "clips_per_s", "stopped_by", "stopped_on_time", "step_note")


@dataclass
class Budget:
    """The training budget every variant gets (the cpu preset's for anything left None / 0).

    A run stops at the first of ``epochs``, ``max_steps`` and ``max_seconds`` (a time budget
    the loop checks after every step). ``epochs`` None: the preset's, or no epoch limit when
    ``max_steps`` is given (so ``max_steps`` steps are really trained)."""

    epochs: int | None = None
    max_steps: int = 0
    max_seconds: float = 0.0
    batch_size: int | None = None
    lr: float | None = None
    threads: int = 0
    seed: int = 0

    def train_config(self, corpus: str | os.PathLike, run_dir: str | os.PathLike, overrides: dict | None = None,
                     progress: bool = True):
        """The :class:`jegal.train.config.TrainConfig` of a variant: the cpu preset, this budget,
        validation only at the end on a small subset (evaluation is what counts here)."""
        from jegal.train import resolve

        flags = {"out": str(run_dir), "data.train": str(corpus), "max_steps": self.max_steps,
                 "max_seconds": self.max_seconds, "seed": self.seed, "threads": self.threads, "progress": progress,
                 "tensorboard": False, "validate_every": 0, "data.val_max_clips": 64, "checkpoint_every": 1_000_000,
                 "device": "cpu"}
        if self.epochs is not None:
            flags["epochs"] = self.epochs
        if self.batch_size:
            flags["data.batch_size"] = self.batch_size
        if self.lr:
            flags["optim.lr"] = self.lr
        return resolve("cpu", flags=flags, overrides=dict(overrides or {}))


def train_variant(variant: Variant, corpus: str | os.PathLike, run_dir: str | os.PathLike, budget: Budget,
                  progress: bool = True) -> dict:
    """Train ``variant`` into ``run_dir`` (its model in ``run_dir/model``) with
    :func:`jegal.train.loop.train`, in this process; a run directory that already holds a
    finished model is reused. Returns the training summary (:data:`TRAINING_KEYS` of the loop's,
    plus the variant, its overrides and the wall seconds), also ``run_dir/summary.json``."""
    from jegal.train import train

    if variant.parts:
        raise ValueError(f"variant {variant.name} fuses {variant.parts} at test time; it is not trained")
    run_dir = Path(run_dir)
    done = run_dir / "summary.json"
    if done.is_file() and (run_dir / "model" / "model.safetensors").is_file():
        return {**json.loads(done.read_text()), "reused": True}
    if run_dir.exists():
        import shutil

        shutil.rmtree(run_dir)  # an interrupted earlier attempt: start it again
    t0 = time.perf_counter()
    s = train(budget.train_config(corpus, run_dir, variant.model_overrides(), progress))
    summary = {**{k: s.get(k) for k in TRAINING_KEYS}, "variant": variant.name, "overrides": variant.overrides,
               "seconds": round(time.perf_counter() - t0, 1)}
    write_json_atomic(done, summary)
    return summary


# -- evaluation -------------------------------------------------------------------------------
class EnsembleModel:
    """Late fusion of independent models: each model's (normalised) embeddings side by side,
    scaled by 1/sqrt(n), so every cosine is the average of the models' cosines."""

    def __init__(self, models: list, modalities: list[str]):
        self.models, self.modalities = models, modalities

    def embed(self, batch: dict, modalities: str = "ta", parts: str = "gc", space: str | None = None) -> dict:
        """:meth:`jegal.model.JEGAL.embed` of the fused models (each with its own content modalities)."""
        import torch

        kw = {} if space is None else {"space": space}  # (None: each model's own readout)
        outs = [m.embed(batch, modalities=mod, parts=parts, **kw) for m, mod in zip(self.models, self.modalities)]
        k = 1.0 / np.sqrt(len(outs))
        res = {}
        for key in ("gesture_frames", "content_words", "gesture_clip", "content_clip"):
            if key in outs[0]:
                res[key] = torch.cat([o[key].float() for o in outs], dim=-1) * k
        for key in ("frame_mask", "word_mask"):
            if key in outs[0]:
                res[key] = outs[0][key]
        return res


def evaluate_model(model, benches: dict[str, Benchmark], clips: ClipSet, modalities=("ta",), cache_dir=None,
                   model_id: str | None = None, progress: bool = False, keep_rows: bool = False,
                   return_embeddings: bool = False):
    """{task: {modalities: result}} over the three benchmarks; with ``return_embeddings``,
    ``(results, {modalities: {task: Embeddings}})``, the embeddings each benchmark was scored with
    (a later protocol reuses them: :func:`jegal.evaluation.gestured.reusable_embeddings`)."""
    out: dict = {task: {} for task in benches}
    embs: dict = {m: {} for m in modalities}
    reuse = None  # gesture embeddings do not depend on the task or the content modalities
    for m in modalities:
        for task, bench in benches.items():
            out[task][m], reuse = evaluate_benchmark(model, bench, clips, modalities=m, cache_dir=cache_dir,
                                                     model_id=model_id, progress=progress, keep_rows=keep_rows,
                                                     reuse=reuse, return_embeddings=True)
            embs[m][task] = reuse
    return (out, embs) if return_embeddings else out


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
    from jegal.synth import trivial_baselines

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
    """The markdown table of ``rows``: :data:`HEADLINE`'s columns in its order, then any other
    number a row holds (e.g. ``jegal ablate``'s gestured-word columns), in the order first seen."""
    seen = list(dict.fromkeys(c for _, r in rows for c in r))
    cols = [c for c in HEADLINE if c in seen] + [c for c in seen if c not in HEADLINE]
    return markdown_table([(label, {c: r.get(c) for c in cols}) for label, r in rows], first="model")
