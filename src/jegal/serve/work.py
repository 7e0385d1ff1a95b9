"""The work of one ``jegal serve`` job: what ``jegal spot`` (and, with two or more people, ``jegal asd``) does,
through the same functions, plus the page's video and the download.

:func:`analyse` calls :func:`jegal.use.spot_words` on the job's inputs into ``job.dir/outputs``,
then with two or more people :func:`jegal.use.find_speakers` on the video already read (into
``outputs/asd``), then zips every output (the ``.eaf`` files with their link to the video set to the
user's file name: :func:`jegal.use.exports.relink_media`). The page's
video (H.264 + AAC mp4, exactly one picture per
25 fps frame the model saw, so ``currentTime * 25`` is the model's frame index; no drawing: the
page draws the boxes) is written in the same decode as ``annotated.mp4``
(:class:`jegal.use.VideoTarget`). The job's progress is :mod:`jegal.use.progress`'s protocol,
shown by the page as it comes (the people stage reports as its frames are decoded).

The page's result (:func:`page_result`) is ``spot.json`` and ``asd.json`` as written, with server
paths replaced by the user's file names, plus only what a browser needs beside them: the URLs of
the video, the maps (by their file names in ``spot.json``) and the zip, each person's colour and
per-frame boxes (fractions of the picture), and what the page says about the model.

The worker thread keeps one reading pipeline (:func:`job_reader`: the people stage's mediapipe
models, the GestSync weights) across its jobs instead of building one per job; the people stage
clears the models' tracking state at the start of every video, so a job's result does not depend
on the jobs before it, and the recogniser is let go after each job.

A video without a sound track is still read when the transcript gives word times: it gets a
silent track and the model reads the text only (content modality ``t``), with a warning on
the page. Without a sound track and without timed words it fails with ``no_audio``.
"""

from __future__ import annotations

import re
import threading
import zipfile
from pathlib import Path

import numpy as np

from jegal.serve.errors import Refused
from jegal.serve.queue import Inputs, Job

# expected shares of a job's time (2 cores): reading the video (people stage) dominates
JOB_STAGES = {"sound": 1, "spot": 30, "asd": 4, "zip": 1}

_worker = threading.local()  # per worker thread: (model, model_dir, its reading pipeline)


def job_reader(model, model_dir):
    """The calling thread's reading pipeline for ``model`` (:func:`jegal.use.video.video_preparer`
    with :func:`jegal.use.video.model_inputs`): made on the thread's first job and kept for its
    next ones (its mediapipe models cost about 0.65 GB and a second to build, docs/serve.md); a
    job with another model or ``model_dir`` closes it and makes a new one. None when the model's
    inputs cannot be made here: the job then reads without one, and fails with the error that
    names the file."""
    from jegal.perception.asr import AsrUnavailable
    from jegal.use import FrontEndMismatch, model_inputs, video_preparer

    held = getattr(_worker, "reader", None)
    if held is not None and held[0] is model and held[1] == str(model_dir):
        return held[2]
    if held is not None:
        _worker.reader = None
        held[2].close()
    try:
        reader = video_preparer(**model_inputs(model, model_dir))
    except (FrontEndMismatch, AsrUnavailable):
        return None
    _worker.reader = (model, str(model_dir), reader)
    return reader


def write_wav(path: Path, wave: np.ndarray) -> None:
    """16 kHz mono PCM16 WAV, atomically."""
    import io

    import soundfile as sf

    from jegal.atomic import write_bytes_atomic
    from jegal.timebase import SAMPLE_RATE

    buf = io.BytesIO()
    sf.write(buf, np.clip(wave, -1, 1), SAMPLE_RATE, subtype="PCM_16", format="WAV")
    write_bytes_atomic(path, buf.getvalue())


def _sound_for(inputs: Inputs) -> bool:
    """Put the job's sound beside its video (``<stem>.wav``), as ``read_video`` finds it; returns
    True when the model must read the text alone (a silent track was made). Raises
    ``CorruptVideo`` (the audio file is damaged), ``NoAudio`` (no sound and no timed
    transcript), or the transcript errors of :func:`jegal.perception.transcripts.read_words`."""
    from jegal.data.transcripts import EmptyTranscriptError, TranscriptError
    from jegal.perception.decode import decode_audio
    from jegal.perception.errors import BadAudio, BadTranscript, EmptyTranscript, NoAudio
    from jegal.perception.transcripts import read_transcript
    from jegal.timebase import SAMPLE_RATE

    wav = inputs.video.with_suffix(".wav")
    if inputs.audio is not None:
        wave = decode_audio(inputs.audio)
        if wave is None or not len(wave):
            raise BadAudio(f"{inputs.audio}: holds no sound")
        write_wav(wav, wave)
        return False
    if inputs.silent_s is None:
        return False
    if inputs.transcript is None:
        raise NoAudio(f"{inputs.video}: no sound track, no audio file and no transcript with word times: the words "
                      "cannot be found")
    try:
        timed = read_transcript(inputs.transcript, inputs.tier).words is not None
    except EmptyTranscriptError as err:
        raise EmptyTranscript(str(err)) from None
    except TranscriptError as err:
        raise BadTranscript(str(err)) from None
    if not timed:
        raise NoAudio(f"{inputs.video}: no sound track, and {inputs.transcript} has no word times to place the words "
                      "by: upload the audio too, or a transcript with times")
    write_wav(wav, np.zeros(int(np.ceil(inputs.silent_s * SAMPLE_RATE)), np.float32))
    return True


def zip_outputs(out: Path, zip_path: Path, folder: str) -> Path:
    """Every file under ``out`` into ``zip_path`` (atomically), inside a top folder ``folder``."""
    from jegal.atomic import atomic_path

    with atomic_path(zip_path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(p for p in out.rglob("*") if p.is_file() and not p.name.startswith(".")):
            zf.write(f, f"{folder}/{f.relative_to(out).as_posix()}")
    return zip_path


def _hex(rgb) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def _boxes(person, size) -> list:
    """Per frame ``[x0, y0, x1, y1]`` as fractions of the picture (4 decimals), None where unseen."""
    w, h = size
    b = np.asarray(person.boxes, np.float64) / np.array([w, h, w, h])  # (T, 4)
    b = np.round(np.clip(b, -0.05, 1.05), 4)
    seen = np.isfinite(b).all(axis=1)
    return [row.tolist() if ok else None for row, ok in zip(b, seen)]


def _scrub(value, job: Job):
    """``value`` (a JSON document) with every server path replaced by the user's file names (:meth:`Job.scrub`)."""
    if isinstance(value, str):
        return job.scrub(value)
    if isinstance(value, list):
        return [_scrub(v, job) for v in value]
    if isinstance(value, dict):
        return {k: _scrub(v, job) for k, v in value.items()}
    return value


_RERUN = re.compile(r": correct (\S+) and rerun$")


def page_warning(text: str, out: Path) -> str:
    """A warning of ``jegal spot`` / ``jegal asd`` as the page says it: the note on recognised words
    ("correct OUT/transcripts/<name>.txt and rerun", for someone at the command line) tells a visitor
    where that file is in the download and what to do with it, not a server path to edit."""
    def visitor(m: re.Match) -> str:
        path = Path(m.group(1))
        try:
            inside = path.relative_to(out).as_posix()
        except ValueError:
            inside = "transcripts/" + path.name
        return (f": the download holds them in {inside}; correct that file and upload it with the video as its "
                "transcript")

    return _RERUN.sub(visitor, text).replace(str(out) + "/", "")  # other notes name files as the download has them


def page_result(job: Job, video, spot_doc: dict, asd_doc: dict | None, model_about: dict) -> dict:
    """The page's JSON for a finished job (``docs/serve.md``): ``spot`` (``spot.json``) and ``asd``
    (``asd.json`` or None), server paths scrubbed; ``name``; ``video_url``, ``download_url``,
    ``map_urls`` (heatmap file name in ``spot.json`` -> URL); per person of ``spot.json`` (same
    order) ``colours`` (CSS) and ``boxes`` (per frame ``[x0, y0, x1, y1]`` fractions, None when
    unseen); ``model`` (what the page says about it)."""
    from jegal.use import person_colour

    base = f"api/jobs/{job.id}"
    heatmaps = spot_doc["outputs"].get("heatmaps", [])
    out = job.dir / "outputs"
    spot_doc = {**spot_doc, "warnings": [page_warning(w, out) for w in spot_doc.get("warnings", [])]}
    if asd_doc is not None and "warnings" in asd_doc:
        asd_doc = {**asd_doc, "warnings": [page_warning(w, out) for w in asd_doc.get("warnings", [])]}
    return {"name": job.inputs.name, "spot": _scrub(spot_doc, job),
            "asd": None if asd_doc is None else _scrub(asd_doc, job),
            "video_url": f"{base}/video", "download_url": f"{base}/download",
            "map_urls": {h: f"{base}/maps/{k}" for k, h in enumerate(heatmaps)},
            "colours": [_hex(person_colour(p.person)) for p in video.people],
            "boxes": [_boxes(p, video.size) for p in video.people], "model": model_about}


def analyse(job: Job, model, model_dir, model_about: dict | None = None) -> dict:
    """Do ``job`` (module docstring): ``jegal spot`` (and ``jegal asd`` with two or more people) on
    its inputs into ``job.dir/outputs``, the page's video into ``job.dir/page/video.mp4``, the zip
    into ``job.dir/page/<name>.zip``; returns :func:`page_result`. Reports its progress on ``job``.

    Raises the errors of :func:`jegal.use.read_video` (``PrepareError`` subclasses naming the
    file) and :class:`Refused` ``too_long`` when the decoded video is longer than the limit the
    upload was checked against (``job.inputs.duration_s`` + 1 s)."""
    from jegal.use import Stages, VideoTarget, find_speakers, relink_media, spot_words

    inputs = job.inputs
    out, page = job.dir / "outputs", job.dir / "page"
    out.mkdir(parents=True, exist_ok=True)
    stages = Stages(job.report, JOB_STAGES)
    stages("sound", 0.0, "reading the sound")
    text_only = _sound_for(inputs)
    notes = [f"{inputs.video}: no sound track: the words come from the transcript's times and the model read the "
             "text only (no speech)"] if text_only else []
    page_video = VideoTarget(page / "video.mp4", faststart=True, with_audio=not text_only)
    reader = job_reader(model, model_dir)
    try:
        spot = spot_words(inputs.video, model, model_dir=model_dir, transcript=inputs.transcript, tier=inputs.tier,
                          out=out, modalities="t" if text_only else None, also=[page_video], source=inputs.frames,
                          notes=notes, progress=stages.part("spot"), preparer=reader)
    finally:
        if reader is not None:
            reader.release_recogniser()
    video = spot.video
    if inputs.duration_s is not None and video.duration > inputs.duration_s + 1.0:
        raise Refused(413, "too_long", f"{inputs.video}: decodes to {video.duration:.1f} s, more than its "
                                       f"{inputs.duration_s:.1f} s checked at upload")
    asd_doc = None
    if len(video.people) > 1:
        asd_doc = find_speakers(video, model, model_dir=model_dir, out=out / "asd", modalities=spot.doc["modalities"],
                                progress=stages.part("asd")).doc
    stages("zip", 0.0, "packing the download")
    for eaf in sorted(out.rglob("*.eaf")):  # ELAN files link the user's video by its name, not a server path
        relink_media(eaf, out, job.dir, inputs.names.get(str(inputs.video), Path(inputs.video).name))
    job.files["maps"] = [out / h for h in spot.doc["outputs"].get("heatmaps", [])]
    job.files["video"] = page_video.path
    folder = f"{_safe_stem(inputs.name)}.spot"
    job.files["zip"] = zip_outputs(out, page / f"{folder}.zip", folder)
    job.files["zip_name"] = f"{folder}.zip"
    stages.done("done")
    return page_result(job, video, spot.doc, asd_doc, model_about or {})


def _safe_stem(name: str) -> str:
    """A file name stem made of ``[A-Za-z0-9_-]`` only (for the download's name), ``video`` if nothing is left."""
    stem = Path(name).name.rsplit(".", 1)[0] if "." in Path(name).name else Path(name).name
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("_")[:60]
    return stem or "video"


__all__ = ["Inputs", "analyse", "job_reader", "page_result", "page_warning", "write_wav", "zip_outputs"]
