"""A model for a fresh install, and a SynthGest clip to try it on: the recipes the page (``jegal serve``) runs.

:func:`train_default` makes a small model from nothing: a SynthGest corpus
(:func:`jegal.synth.generate_corpus`, :class:`Recipe`: 20 synthetic speakers, 1500 clips; about
1 min on 2 cores) and the ``cpu`` preset trained on it for 600 steps (:func:`jegal.train.train`;
about 4 min on 2 quiet cores), into a folder (the page's cache) that marks it complete with
:data:`DEFAULT_MODEL_STAMP`. A corpus made with the same recipe is reused and an interrupted
training resumes from its last checkpoint; two processes sharing the folder never train at once
(a lock file). :func:`synth_example` generates one SynthGest test clip (the page's example).

These are the only places the applications that use a model reach into the ones that make one
(through ``jegal.synth`` and ``jegal.train``'s exported names), so the web server imports neither.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

DEFAULT_MODEL_STAMP = "serve-model.json"  # in the folder train_default fills: written last, when the model is complete


@dataclass(frozen=True)
class Recipe:
    """How the default model is made: a SynthGest corpus of ``speakers`` speakers and
    ``train_clips`` training clips (2-4 s each, ``test_clips`` test clips), the ``preset``
    (``cpu``) trained for ``steps`` optimiser steps, all from ``seed``."""

    speakers: int = 20
    train_clips: int = 1500
    test_clips: int = 20
    steps: int = 600
    preset: str = "cpu"
    seed: int = 0

    def corpus_key(self) -> dict:
        return {"speakers": self.speakers, "train_clips": self.train_clips, "test_clips": self.test_clips,
                "seed": self.seed}


def _model_dir(path: Path) -> Path | None:
    from jegal.model.pretrained import ModelNotFound, resolve_model_dir

    try:
        return resolve_model_dir(path)
    except ModelNotFound:
        return None


@contextlib.contextmanager
def _locked(path: Path):
    """An exclusive lock on ``path`` (two servers never train into one cache); a no-op without fcntl."""
    try:
        import fcntl
    except ImportError:  # Windows: no lock
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def train_default(cache: str | Path, recipe: Recipe = Recipe(), progress=None) -> Path:
    """Make the default model in ``cache`` (module docstring); returns its model directory
    (``cache/run/model``). ``progress(stage, fraction)`` (:mod:`jegal.use.progress`) is told the
    stage and the fraction done (the training's step, read from its log). Reuses a corpus made
    with the same recipe and resumes an interrupted training run. Raises FileNotFoundError when
    the training ends without a saved model, and what the corpus generator and the training raise."""
    from jegal.atomic import write_json_atomic
    from jegal.synth import generate_corpus
    from jegal.train import resolve, train

    report = progress or (lambda stage, fraction: None)
    cache = Path(cache)
    corpus, run = cache / "corpus", cache / "run"
    t0 = time.time()
    with _locked(cache / ".lock"):
        if (cache / DEFAULT_MODEL_STAMP).is_file() and _model_dir(run) is not None:  # another server finished it
            return _model_dir(run)
        corpus_stamp = corpus / "serve_corpus.json"
        if not (corpus_stamp.is_file() and json.loads(corpus_stamp.read_text()) == recipe.corpus_key()):
            report(f"generating a SynthGest corpus ({recipe.speakers} synthetic speakers, {recipe.train_clips} clips)",
                   0.0)
            # one process: this runs in a server's background thread, and a pool forked from a threaded
            # process can hang on a lock a thread held at the fork (seen in CI); the bytes are the same
            generate_corpus(corpus, speakers=recipe.speakers, train_clips=recipe.train_clips,
                            test_clips=recipe.test_clips, seed=recipe.seed, progress=False, workers=1)
            write_json_atomic(corpus_stamp, recipe.corpus_key())
        report(f"training the {recipe.preset} preset on it: step 0 of {recipe.steps}", 0.1)
        cfg = resolve(preset=recipe.preset, flags={
            "data.train": str(corpus), "out": str(run), "max_steps": recipe.steps, "epochs": 0, "seed": recipe.seed,
            "validate_every": 0, "progress": False, "tensorboard": False, "resume": True})
        done = threading.Event()

        def watch():  # the training loop logs one line per step: turn it into progress
            while not done.wait(1.0):
                step = last_step(run / "log.jsonl")
                report(f"training the {recipe.preset} preset on it: step {step} of {recipe.steps}",
                       0.1 + 0.85 * min(1.0, step / max(1, recipe.steps)))

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            summary = train(cfg)
        finally:
            done.set()
            watcher.join()
        write_json_atomic(cache / DEFAULT_MODEL_STAMP, {
            "recipe": asdict(recipe), "model": "run/model", "steps": summary["steps"],
            "seconds": round(time.time() - t0, 1), "trained": time.strftime("%Y-%m-%d %H:%M:%S")})
    found = _model_dir(run)
    if found is None:
        raise FileNotFoundError(f"{run}: training ended without a saved model")
    return found


def last_step(log: str | Path) -> int:
    """The step of the last complete line of a training ``log.jsonl`` (0 when none)."""
    try:
        with open(log, "rb") as f:
            f.seek(max(0, f.seek(0, 2) - 4096))
            lines = f.read().splitlines()
    except OSError:
        return 0
    for line in reversed(lines):
        try:
            return int(json.loads(line)["step"])
        except (ValueError, KeyError, TypeError):
            continue
    return 0


def synth_example(root: str | Path) -> tuple[Path, Path]:
    """``(keypoints, video)`` of a generated SynthGest test clip under ``root`` (made once:
    :func:`jegal.synth.generate_corpus` with ``render``): a model reads the exact keypoints
    (``.kps.npz`` with its ``.wav`` and ``.txt``), a person watches the rendered ``.mp4``. Raises
    FileNotFoundError when the generated corpus holds no clip."""
    from jegal.perception.discover import KPS_SUFFIX
    from jegal.synth import generate_corpus

    corpus = Path(root) / "corpus"
    if not (corpus / "synth.json").is_file():
        generate_corpus(corpus, speakers=3, train_clips=1, test_clips=2, seed=11, render=True, progress=False,
                        workers=1)
    # a spotting clip first: its first gesturable word is always gestured (docs/synth.md)
    kps = sorted((corpus / "media").rglob(f"*{KPS_SUFFIX}"), key=lambda p: (not p.parent.name.startswith("sgspot"), p))
    if not kps:
        raise FileNotFoundError(f"{corpus}: the generated SynthGest clip has no media")
    return kps[0], kps[0].with_name(kps[0].name[:-len(KPS_SUFFIX)] + ".mp4")


__all__ = ["DEFAULT_MODEL_STAMP", "Recipe", "last_step", "synth_example", "train_default"]
