"""The serve worker keeps one reading pipeline (the people stage's mediapipe models) across its jobs."""

from __future__ import annotations

import threading
from types import SimpleNamespace

from jegal.model.spec import InputSpec


def _model(gesture="keypoints", rgb_size=None):
    return SimpleNamespace(input_spec=InputSpec(gesture, "pose", "jegal", rgb_size=rgb_size))


def _in_thread(fn):
    out = []
    t = threading.Thread(target=lambda: out.append(fn()))
    t.start()
    t.join()
    return out[0]


def test_one_reader_per_worker_thread_kept_across_jobs_and_made_anew_for_another_model():
    from jegal.serve.work import job_reader

    keypoints, rgb = _model(), _model("rgb", 96)

    def worker():
        first = job_reader(keypoints, None)
        again = job_reader(keypoints, None)
        other = job_reader(rgb, None)
        closed = first.tracker._poses == [] and first.transcriber._recogniser is None
        back = job_reader(keypoints, None)
        return first, again, other, closed, back

    first, again, other, closed, back = _in_thread(worker)
    assert again is first  # the second job reuses the first job's models
    assert other is not first and other.options.rgb_size == 96 and first.options.rgb_size is None
    assert closed
    assert back is not other and back is not first
    elsewhere = _in_thread(lambda: job_reader(keypoints, None))
    assert elsewhere is not first and elsewhere is not back  # one per worker thread, never shared
    for reader in (first, other, back, elsewhere):
        reader.close()
