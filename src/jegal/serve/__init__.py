"""``jegal serve``: a local web page that runs ``jegal spot`` (and ``jegal asd`` with several people).

The application layer at the edge, beside the command line: a FastAPI app serving one static
page of our own (HTML + plain JavaScript + CSS, no build step, nothing from a CDN) and a small
JSON API. A job calls the same function as the command (:func:`jegal.use.spot_words`, and
:func:`jegal.use.find_speakers` with several people), so the page shows ``spot.json`` /
``asd.json`` as the commands write them and offers the files they write. It imports the library
and the names :mod:`jegal.use` exports, nothing of the applications that make data or models.

- :mod:`~jegal.serve.app`            the app factory :func:`~jegal.serve.app.create_app`: middleware
  (body limit, Host and Origin checks, security headers) and the job runner
- :mod:`~jegal.serve.routes`         the routes: the page, the status, the jobs and their files; sessions
- :mod:`~jegal.serve.uploads`        what an upload may be, checked by content, never by name
- :mod:`~jegal.serve.queue`          :class:`~jegal.serve.queue.Limits`, the jobs and their queue (one job
  at a time per session, one running at a time, work directories cleaned up, each job's state on disk)
- :mod:`~jegal.serve.recovery`       the work folder's marker; the folders and jobs of servers that died
- :mod:`~jegal.serve.work`           what one job does (:func:`~jegal.serve.work.analyse`) and the page's result
- :mod:`~jegal.serve.errors`         the catalogue of failures and what the page says about each
- :mod:`~jegal.serve.examples`       the example videos offered
- :mod:`~jegal.serve.default_model`  the model the page uses when none is named: found on disk,
  or trained once on a generated SynthGest corpus (:func:`jegal.use.train_default`), with progress
- :mod:`~jegal.serve.cli`            ``jegal serve [--model M] [--host 127.0.0.1] [--port 7860] ...``
- ``static/``                        ``index.html``, ``app.js``, ``app.css``

Nothing here imports FastAPI, torch or a model at import time; ``docs/serve.md`` documents the
page, the API, the limits and why FastAPI rather than Gradio.
"""
