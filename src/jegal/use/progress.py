"""The one progress protocol of ``jegal spot`` / ``asd`` / ``embed`` and the page: ``progress(stage, fraction)``.

A task (:func:`jegal.use.spot_words`, :func:`jegal.use.find_speakers`, :func:`jegal.use.write_embeddings`,
:func:`jegal.use.read_video`) takes one callable ``progress(stage: str, fraction: float)``: ``stage``
says in words what runs now ("people: 12 s of 40 s"), ``fraction`` (0-1) how much of the whole task
is done. Fractions never go down and the last call is ``(..., 1.0)``. The command line shows it as
one tqdm bar (:class:`ProgressBar`) when stderr is a terminal, and as one plain line per stage
otherwise (a log file gets no carriage returns or escape codes), the page as its progress bar and stage line
(:mod:`jegal.serve.work`); ``None`` (or :func:`quiet`) shows nothing.

A task made of stages splits [0, 1] among them by their expected share of the time
(:class:`Stages`), and a stage that knows how far it is (the people stage counts decoded frames)
reports fractions in between, so a bar never sits still across the longest stage. A task that
calls another (the page: read, spot, asd, its own video) gives it a :meth:`Stages.part`: the inner
task's 0-1 maps into the outer stage's span.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Mapping

Progress = Callable[[str, float], None]


def quiet(stage: str, fraction: float) -> None:
    """The progress callback that shows nothing."""


class ProgressBar:
    """``progress(stage, fraction)`` on stderr; a context manager that closes it. On a terminal one
    tqdm bar (``desc`` in front, the stage after it); elsewhere (a log file, a pipe) one plain line
    per stage, ``desc: stage (NN%)``, a stage being the part of its label before the first ``:``
    ("people: 12 s of 40 s" and "people: 20 s of 40 s" are one stage). ``disable``: show nothing
    (``--quiet``). ``terminal``: force one form (default :func:`jegal.native_logs.stderr_is_terminal`)."""

    def __init__(self, desc: str, disable: bool = False, terminal: bool | None = None):
        from jegal.native_logs import stderr_is_terminal

        self._desc = desc
        self._disable = disable
        self._terminal = stderr_is_terminal() if terminal is None else terminal
        self._bar = None
        if self._terminal and not disable:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=1000, desc=desc, leave=False, bar_format="{percentage:3.0f}%|{bar:24}| {desc}")
        self._stage = None
        self._said = None  # the stage last written as a plain line

    def __call__(self, stage: str, fraction: float) -> None:
        if self._disable:
            return
        if self._bar is None:
            key = stage.split(":", 1)[0]
            if key != self._said:
                import sys

                self._said = key
                print(f"{self._desc}: {stage} ({100 * min(1.0, max(0.0, fraction)):.0f}%)", file=sys.stderr,
                      flush=True)
            return
        n = int(round(1000 * min(1.0, max(0.0, fraction))))
        if n > self._bar.n:
            self._bar.update(n - self._bar.n)
        if stage != self._stage:
            self._stage = stage
            self._bar.set_description_str(f"{self._desc}: {stage}", refresh=True)

    @property
    def terminal(self) -> bool:
        """Whether this shows a bar (stderr is a terminal) rather than plain lines."""
        return self._terminal

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Stages:
    """A task's stages and their expected shares of its time: ``Stages(progress, {"people": 8,
    "model": 1, ...})`` (weights, any scale). ``stages(name, fraction)`` reports ``fraction`` (0-1)
    of stage ``name`` as the task's overall fraction; stages run in the order given, a stage
    not run counts as done when a later one starts. Overall fractions never go down (a late or
    repeated call reports the furthest point reached). :meth:`part` is a ``Progress`` for a sub-task
    inside one stage; :meth:`done` reports 1.0. ``progress`` None: nothing is reported."""

    def __init__(self, progress: Progress | None, weights: Mapping[str, float]):
        total = float(sum(weights.values())) or 1.0
        self._progress = progress or quiet
        self._start: dict[str, float] = {}
        self._span: dict[str, float] = {}
        at = 0.0
        for name, w in weights.items():
            self._start[name], self._span[name] = at / total, float(w) / total
            at += float(w)
        self._reached = 0.0
        self._lock = threading.Lock()

    def __call__(self, name: str, fraction: float = 0.0, label: str | None = None) -> None:
        """Stage ``name`` is ``fraction`` done; ``label`` (default ``name``) is what is shown. A
        name not among the stages only changes what is shown."""
        if name not in self._start:
            self._progress(label or name, self._reached)
            return
        overall = self._start[name] + self._span[name] * min(1.0, max(0.0, float(fraction)))
        with self._lock:  # (a stage may report from another thread: ticking)
            self._reached = max(self._reached, min(1.0, overall))
            self._progress(label or name, self._reached)

    def part(self, name: str) -> Progress:
        """A ``progress(stage, fraction)`` for a sub-task that runs as stage ``name``: its 0-1 is
        this stage's span; its stage names are shown as they are."""
        return lambda stage, fraction: self(name, fraction, stage)

    @contextlib.contextmanager
    def ticking(self, name: str, seconds: float | None, label: str, cap: float = 0.9, period: float = 0.5):
        """While the block runs, move stage ``name`` on by the time it takes against ``seconds``, the
        time it is expected to take, up to ``cap`` of the stage: for a stage that reports only now and
        then (the people stage reports per decoded chunk of 30 s). Real reports inside the block win
        where they are further. ``seconds`` None: nothing is estimated."""
        if not seconds or seconds <= 0:
            yield
            return
        stop = threading.Event()
        start = time.perf_counter()

        def tick():
            while not stop.wait(period):
                self(name, min(cap, (time.perf_counter() - start) / seconds), label)

        thread = threading.Thread(target=tick, name="jegal-progress", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def done(self, label: str = "done") -> None:
        """The whole task is done: reports 1.0."""
        with self._lock:
            self._reached = 1.0
            self._progress(label, 1.0)


__all__ = ["Progress", "ProgressBar", "Stages", "quiet"]
