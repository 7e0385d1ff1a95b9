"""``jegal serve`` with a model stand-in that never becomes ready, so that a job stays running: the
server the crash tests start as a process of its own and kill (``python tests/serve/blocked_serve.py
[jegal serve's flags]``)."""

from __future__ import annotations

import sys
import time

import jegal.serve.default_model as default_model


class NeverReady:
    """A model provider whose model is always still loading."""

    def __init__(self, *args, **kwargs):
        pass

    def start(self) -> None:
        pass

    def status(self) -> dict:
        return {"state": "loading", "stage": "a stand-in that never loads", "progress": 0.5, "error": None,
                "about": None}

    def get(self, timeout=None):
        time.sleep(timeout or 1.0)
        raise default_model.ModelUnavailable("not ready (a stand-in)")


if __name__ == "__main__":
    default_model.ModelProvider = NeverReady  # jegal.serve.cli.run looks it up when it runs
    from jegal.cli import main

    sys.exit(main(["serve", *sys.argv[1:]]))
