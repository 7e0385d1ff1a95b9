"""``jegal serve``: a local web page that runs ``jegal spot`` (and ``jegal asd`` with several people).

The application layer at the edge, beside the command line: a FastAPI app serving one static
page of our own (HTML + plain JavaScript + CSS, no build step, nothing from a CDN) and a small
JSON API. It calls the same functions as the commands (:mod:`jegal.use.video`,
:mod:`jegal.use.spot`, :mod:`jegal.use.asd`), so the page shows the results ``jegal spot``
prints and offers the files it writes.

- :mod:`~jegal.serve.app`            the app factory :func:`~jegal.serve.app.create_app`: routes,
  sessions, upload checks (by content, never by name), examples
- :mod:`~jegal.serve.jobs`           :class:`~jegal.serve.jobs.Limits`, the job queue (one job
  at a time per session, one running at a time, work directories cleaned up) and the work
  itself (:func:`~jegal.serve.jobs.analyse`)
- :mod:`~jegal.serve.default_model`  the model the page uses when none is named: found on disk,
  or trained once on a generated SynthGest corpus, with progress
- :mod:`~jegal.serve.cli`            ``jegal serve [--model M] [--host 127.0.0.1] [--port 7860] ...``
- ``static/``                        ``index.html``, ``app.js``, ``app.css``

Nothing here imports FastAPI, torch or a model at import time; ``docs/serve.md`` documents the
page, the API, the limits and why FastAPI rather than Gradio.
"""
