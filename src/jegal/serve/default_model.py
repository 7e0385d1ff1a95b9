"""The model ``jegal serve`` uses, and the default one that makes a fresh install work.

With ``--model M`` the page uses M (a model directory or a training run, as ``jegal spot``
takes). Without it, the first of:

1. the serve model cached by an earlier ``jegal serve`` in ``$XDG_CACHE_HOME/jegal/serve-model``
   (default ``~/.cache/jegal/serve-model``; its ``serve-model.json`` says it is complete);
2. the model ``jegal demo`` trained in the working directory (``demo_out/run``, the demo's
   default ``--out`` and ``make demo``'s; ``runs/demo/run``, the older default);
3. otherwise one is trained there, in the background, the first time ``jegal serve`` starts
   without a model, by :func:`jegal.use.train_default` (the recipe lives with the applications
   that use a model, :mod:`jegal.use.default_model`, so the server imports no training code:
   :class:`~jegal.use.Recipe`, a SynthGest corpus of 20 synthetic speakers and 1500 clips, about
   1 min on 2 cores, and the ``cpu`` preset for 600 steps, about 4 min on 2 quiet cores), then
   saved in the cache and reused by every later start. An interrupted training resumes from its
   last checkpoint.

The page answers at once: :meth:`ModelProvider.status` says what is happening (finding,
generating the corpus, training step k of n, loading, ready, failed) and jobs wait for the
model. :attr:`ModelProvider.about` (:func:`describe`) says plainly what the model was trained on, from
:func:`jegal.model.card.training_statement` (the same sentence ``jegal spot`` and ``jegal asd`` write);
a model trained on SynthGest alone is flagged ``synthetic`` with what that means for real videos.
Nothing is downloaded: the text backbone is the packaged one.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import traceback
from pathlib import Path

from jegal.use import DEFAULT_MODEL_STAMP, Recipe, last_step, train_default

STAMP = DEFAULT_MODEL_STAMP  # marks the cached model complete
DEMO_RUNS = (Path("demo_out/run"), Path("runs/demo/run"))  # relative to the working directory: jegal demo's --out

SYNTHETIC_CAVEAT = (
    "It has only ever seen SynthGest: generated cartoon speakers whose hands make one made-up gesture for some "
    "concept words, with synthetic (espeak) speech. On real videos the whole pipeline runs (people, keypoints, "
    "words, maps), but which words it marks as gestured says little about the person: real gestures are not "
    "SynthGest's. For real findings, train on real videos (jegal prepare, then jegal train) and start the page "
    "with --model.")
OTHER_CAVEAT = ("Results hold for videos like the ones it was trained on; other speakers, cameras and languages "
                "score lower.")


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/jegal/serve-model`` (default ``~/.cache/jegal/serve-model``)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "jegal" / "serve-model"


def _model_dir(path: Path) -> Path | None:
    from jegal.model.pretrained import ModelNotFound, resolve_model_dir

    try:
        return resolve_model_dir(path)
    except ModelNotFound:
        return None


def find_model(cache: Path, demo_runs=DEMO_RUNS) -> tuple[Path, str] | None:
    """``(model directory, source)`` of an existing default model (module docstring, steps 1-2;
    ``source`` is ``cache`` or ``demo``), or None."""
    if (cache / STAMP).is_file():
        found = _model_dir(cache / "run")
        if found is not None:
            return found, "cache"
    for run in demo_runs:
        found = _model_dir(Path(run))
        if found is not None:
            return found, "demo"
    return None


def describe(model_dir: Path, card, source: str) -> dict:
    """What the page says about the model: ``source`` (given, cache, demo, trained), ``path``,
    ``who``, ``steps``, ``preset``, what it knows (:func:`jegal.model.card.training_statement`, the
    one answer ``spot.json`` and ``asd.json`` give too: ``kind``, ``synthetic`` (trained on SynthGest
    alone), ``statement`` (a sentence), ``training_data``) and ``caveat`` (what that means for real
    videos). From the model ``card`` (:class:`jegal.model.card.ModelCard` or None; a relative
    training data path is resolved against the model's folder, never this server's working
    directory); for a model without one inside a training run, from the run's ``train_config.json``
    and ``metrics.json``."""
    from jegal.model.card import training_statement

    known = training_statement(card, model_dir)
    steps = getattr(card, "steps", None)
    preset = getattr(card, "preset", "") or ""
    run = Path(model_dir).parent  # a model without a card, inside a training run: the run's own records
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        if not preset and card is None and (run / "train_config.json").is_file():
            preset = str(json.loads((run / "train_config.json").read_text()).get("preset", ""))
        if steps is None and (run / "metrics.json").is_file():
            steps = int(json.loads((run / "metrics.json").read_text())["steps"])
    who = {"given": "the model given with --model", "cache": "the default model (trained by an earlier jegal serve)",
           "trained": "the default model, trained by this server on first use",
           "demo": "the model jegal demo trained"}[source]
    return {"source": source, "path": str(model_dir), "who": who, "steps": steps, "preset": preset, **known,
            "caveat": SYNTHETIC_CAVEAT if known["synthetic"] else OTHER_CAVEAT}


class ModelUnavailable(RuntimeError):
    """The model could not be found, trained or loaded; the message says why."""


class ModelProvider:
    """The server's model, loaded once (module docstring). :meth:`start` begins finding,
    training and loading it in a background thread; :meth:`get` waits for it."""

    def __init__(self, model: str | os.PathLike | None = None, *, cache: str | os.PathLike | None = None,
                 recipe: Recipe = Recipe(), demo_runs=DEMO_RUNS, device: str = "cpu", checkpoint: str = "final",
                 threads: int = 0):
        self.model = None if model is None else Path(model)
        self.cache = Path(cache) if cache is not None else cache_dir()
        self.recipe, self.demo_runs = recipe, tuple(demo_runs)
        self.device, self.checkpoint, self.threads = device, checkpoint, threads
        self.state, self.stage, self.progress = "idle", "", 0.0
        self.error: str | None = None
        self.net = self.model_dir = None
        self.about: dict | None = None
        self._ready = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Begin (once) in a background thread; returns at once."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._prepare, name="jegal-serve-model", daemon=True)
                self._thread.start()

    def _report(self, stage: str, progress: float) -> None:
        self.stage, self.progress = stage, float(progress)

    def _prepare(self) -> None:
        from jegal.model import JEGAL
        from jegal.use import check_device

        try:
            if self.model is not None:
                model_dir, source = self.model, "given"
            else:
                self.state = "finding"
                found = find_model(self.cache, self.demo_runs)
                if found is None:
                    self.state = "training"
                    model_dir, source = train_default(self.cache, self.recipe, self._report), "trained"
                else:
                    model_dir, source = found
            self.state = "loading"
            self._report(f"loading {model_dir}", 0.97)
            device = check_device(self.device, self.threads)
            self.net = JEGAL.from_pretrained(model_dir, self.checkpoint, device).load_text_backbone()
            self.model_dir = self.net.source_dir
            self.about = describe(self.model_dir, getattr(self.net, "card", None), source)
            self.state = "ready"
            self._report("ready", 1.0)
        except Exception as err:  # shown on the page; a traceback goes to the log unless the failure is expected
            from jegal.use import expected_errors

            if isinstance(err, expected_errors()):
                print(f"jegal serve: the model: {err}", file=sys.stderr)
            else:
                traceback.print_exc()
            self.error, self.state = f"{type(err).__name__}: {err}", "failed"
        finally:
            self._ready.set()

    def get(self, timeout: float | None = None):
        """``(model, model_dir, about)`` once ready (starting if needed; waits at most
        ``timeout`` s, None: as long as it takes). Raises :class:`ModelUnavailable` when it failed
        or is not ready in time."""
        self.start()
        if not self._ready.wait(timeout):
            raise ModelUnavailable(f"the model is not ready yet ({self.stage or self.state})")
        if self.state != "ready":
            raise ModelUnavailable(self.error or "the model could not be prepared")
        return self.net, self.model_dir, self.about

    def status(self) -> dict:
        """``{"state", "stage", "progress", "error", "about"}`` for the page; ``state`` is idle,
        finding, training, loading, ready or failed."""
        return {"state": self.state, "stage": self.stage, "progress": round(self.progress, 3), "error": self.error,
                "about": self.about}


__all__ = ["DEMO_RUNS", "ModelProvider", "ModelUnavailable", "STAMP", "SYNTHETIC_CAVEAT", "cache_dir", "describe",
           "find_model"]
