"""``jegal spot DIR`` / ``jegal asd DIR``: every video of a folder in one process, one table out.

    jegal spot videos/ --model demo_out --out videos.spot     # OUT/words.csv over every video and person
    jegal asd videos/ --model demo_out --out videos.asd       # OUT/asd.csv over every video's segments

The inputs are found as ``jegal prepare`` finds them (:func:`jegal.perception.discover.discover`:
every video under the folder, recursively, and every ``<name>.kps.npz`` without a video beside it;
each with its ``<name>.wav`` and transcript beside it). The model is loaded once and one reading
pipeline (:func:`jegal.use.video.video_preparer`: mediapipe's models, the recogniser, GestSync
weights) serves every video. Each video is the command's one-video task
(:func:`jegal.use.spot_words`, :func:`jegal.use.find_speakers`) with its outputs in
``OUT/<name>/`` exactly as for one video (its recognised transcript in ``OUT/<name>/transcripts/``),
``<name>`` being the input's path under the folder without its suffix, ``/`` written ``__``.

As ``jegal prepare`` runs a corpus:

- **skip and count**: a video that cannot be read (a corrupt file, no speech, nobody in view, ...)
  is recorded as failed with the reason of its error (:mod:`jegal.perception.errors`, ``error``
  for anything unexpected, with a short traceback) and the run goes on; the exit status is 1
  when any video failed;
- **resume**: a video whose outputs are complete (its ``spot.json`` / ``asd.json`` and every file it
  lists, ``keypoints.csv`` when asked, made by the same model) is skipped by a rerun into the same
  ``OUT`` and its outputs read back, unless its words were recognised and the recognised
  transcript was corrected since (or a transcript now lies beside the video);
- every file is written atomically (:mod:`jegal.atomic`).

The combined tables are rebuilt from every finished video's JSON at the end of each run:
``OUT/words.csv`` (``jegal spot``: ``video`` then the columns of a video's ``words.csv``, one row
per person and word) or ``OUT/asd.csv`` (``jegal asd``: ``video`` then a video's ``asd.csv``
columns, a score and a visibility column per person up to the most people of any video), and
``OUT/summary.json``: counts (``items``, ``done``, ``skipped``, ``failed``), ``failures`` (input,
reason, message) and per video its status, folder and decisions. Every decision is the video's
own: a word's gesture score is tested against controls of the same person in the same video
(:mod:`jegal.inference.gesture_score`), never pooled across videos.

The terminal gets one line per video as it finishes, then the counts and every failure.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

SUMMARY = "summary.json"
TABLES = {"spot": "words.csv", "asd": "asd.csv"}  # the combined table of each command


@dataclass
class VideoRecord:
    """What happened to one video of a folder run (``summary.json``'s ``videos``)."""

    video: str  # the input's name: its path under the folder without suffix
    status: str  # done | skipped | failed
    out: str = ""  # its output folder, relative to OUT
    reason: str = ""  # a failure's reason (PrepareError.reason, or "error")
    message: str = ""
    seconds: float = 0.0
    results: dict = field(default_factory=dict)  # the command's decisions (:func:`spot_results`, :func:`asd_results`)
    warnings: list[str] = field(default_factory=list)


def spot_results(doc: dict) -> dict:
    """A ``spot.json``'s decisions in brief: people, and per person words, gestured, not decided
    (fewer controls than the gesture score needs: a track too short)."""
    from jegal.inference.gesture_score import MIN_CONTROLS

    people = [{"person": p["person"], "words": len(p["words"]), "gestured": len(p["gestured"]),
               "not_decided": sum(w["controls"] < MIN_CONTROLS for w in p["words"])} for p in doc["people"]]
    return {"people": len(people), "words": len(doc.get("words", [])),
            "gestured": sum(p["gestured"] for p in people),
            "not_decided": sum(p["not_decided"] for p in people), "per_person": people}


def asd_results(doc: dict) -> dict:
    """An ``asd.json``'s decisions in brief: people, segments and how each was decided."""
    return {"people": len(doc["people"]), "segments": len(doc["segments"]), **doc["decisions"]}


def result_line(command: str, results: dict) -> str:
    """One video's decisions as words, for its line on the terminal."""
    people = f"{results['people']} " + ("person" if results["people"] == 1 else "people")
    if command == "spot":
        return (f"{people}, {results['words']} words, {results['gestured']} gestured"
                + (f", {results['not_decided']} not decided (tracks too short)" if results["not_decided"] else ""))
    return (f"{people}, {results['segments']} segments: {results['gestures']} by gestures, "
            f"{results['only_person']} one person in view, {results['undecided']} undecided")


def _output_files(doc: dict) -> list[str]:
    files = []
    for value in doc.get("outputs", {}).values():
        for name in value if isinstance(value, list) else [value]:
            if isinstance(name, str):
                files.append(name)
    return files


def finished(out: Path, command: str, item, identity: str | None, keypoints: bool) -> dict | None:
    """The JSON document of ``item``'s outputs in ``out`` when they are complete (module docstring:
    every file it lists, ``keypoints.csv`` with ``keypoints``, the model of ``identity``, and its
    words not recognised into a transcript corrected since); else None."""
    from jegal.use.keypoints_table import FILE_NAME

    path = out / f"{command}.json"
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or (identity is not None and doc.get("model", {}).get("identity") != identity):
        return None
    if not all((out / name).is_file() for name in _output_files(doc)) or (keypoints and not (out / FILE_NAME).is_file()):
        return None
    if str(doc.get("transcript_source", "")).startswith("asr"):
        if item.transcript is not None:  # a transcript now lies beside the video: it wins over recognition
            return None
        machine = doc.get("transcript")
        if machine and Path(machine).is_file() and Path(machine).stat().st_mtime > path.stat().st_mtime:
            return None  # the recognised words were corrected: spot again with them
    return doc


def default_out(folder: str, command: str) -> Path:
    """``./<folder name>.<command>`` in the working directory."""
    return Path.cwd() / f"{Path(folder).resolve().name}.{command}"


Task = Callable[..., object]  # (path, out, preparer, progress, model, model_dir) -> a result with .doc and .video


def run_folder(command: str, args: argparse.Namespace, task: Task) -> int:
    """Run ``task`` on every input of the folder ``args.video`` (module docstring); ``args``: the
    command's flags. ``task(path, out, preparer, progress, model, model_dir)`` is the command's
    one-video task and returns what :func:`jegal.use.spot_words` / :func:`jegal.use.find_speakers`
    return. Returns the exit status: 0 when every video is done or skipped, 1 when any failed or
    the run could not start (a bad flag, no input, a model that does not load: one line on stderr)."""
    from jegal.atomic import write_json_atomic, write_text_atomic
    from jegal.model.card import model_record
    from jegal.perception.asr import check_asr
    from jegal.perception.discover import discover
    from jegal.use.common import BadFlag, content_modalities, expected_errors, load_for_command, report_error
    from jegal.use.keypoints_table import FILE_NAME, write_keypoints_csv
    from jegal.use.progress import ProgressBar
    from jegal.use.video import model_inputs, video_preparer

    t0 = time.perf_counter()
    keypoints = bool(getattr(args, "keypoints_csv", False))
    try:
        if args.transcript is not None:
            raise BadFlag("--transcript names the transcript of one video; for a folder put each transcript "
                          "beside its video (<name>.txt and the other kinds docs/use.md lists)")
        out = Path(args.out) if args.out else default_out(args.video, command)
        if out.exists() and not out.is_dir():
            raise NotADirectoryError(f"--out {out}: exists and is not a folder")
        # not our own outputs: an OUT inside the folder holds annotated videos from an earlier run
        items = [it for it in discover(args.video) if not Path(it.source).resolve().is_relative_to(out.resolve())]
        if not items:
            raise FileNotFoundError(f"{args.video}: no video or .kps.npz in this folder")
        model, model_dir, timings = load_for_command(args)
        content_modalities(model, args.modalities)  # modalities the model lacks: one message, not one per video
        needs = model_inputs(model, model_dir, None, args.rgb_size)
        check_asr(args.asr, args.asr_model)  # a recogniser that cannot run stops the run before any video
    except expected_errors() as err:
        return report_error(command, err)
    record = model_record(model, model_dir)  # (digests the model's files: once per run)
    identity = record["identity"]
    print(f"model: {record['statement']}")
    print(f"{len(items)} inputs in {args.video}; outputs in {out}")
    records: list[VideoRecord] = []
    docs: dict[str, dict] = {}
    brief = spot_results if command == "spot" else asd_results
    preparer = None  # made for the first video to be read (a rerun that skips everything loads no mediapipe)
    try:
        for k, item in enumerate(items):
            vout = out / item.key
            head = f"[{k + 1}/{len(items)}] {item.name}"
            done = finished(vout, command, item, identity, keypoints)
            if done is not None:
                rec = VideoRecord(item.name, "skipped", item.key, results=brief(done))
                docs[item.name] = done
                print(f"{head}: skipped, finished by an earlier run ({result_line(command, rec.results)})", flush=True)
                records.append(rec)
                continue
            t = time.perf_counter()
            try:
                if preparer is None:
                    preparer = video_preparer(asr=args.asr, asr_model=args.asr_model, **needs)
                # on a terminal a bar per video; in a log only the line below (one line per video)
                with ProgressBar(f"{command} {item.name}", disable=args.quiet, terminal=None) as bar:
                    got = task(item.source, vout, preparer, bar if bar.terminal else None, model, model_dir)
                if keypoints:
                    write_keypoints_csv(vout / FILE_NAME, got.video, item.name)
                docs[item.name] = got.doc
                rec = VideoRecord(item.name, "done", item.key, seconds=round(time.perf_counter() - t, 3),
                                  results=brief(got.doc), warnings=list(got.doc.get("warnings", [])))
                print(f"{head}: done in {rec.seconds:.1f} s ({result_line(command, rec.results)})", flush=True)
            except expected_errors() as err:
                rec = VideoRecord(item.name, "failed", reason=getattr(err, "reason", type(err).__name__),
                                  message=str(err), seconds=round(time.perf_counter() - t, 3))
            except Exception as err:  # one bad video must not stop the corpus: recorded with its traceback
                rec = VideoRecord(item.name, "failed", reason="error", message=f"{item.source}: "
                                  f"{type(err).__name__}: {err}", seconds=round(time.perf_counter() - t, 3),
                                  warnings=[traceback.format_exc(limit=3)])
            if rec.status == "failed":
                print(f"{head}: FAILED ({rec.reason}): {rec.message}", flush=True)
            records.append(rec)
    finally:
        if preparer is not None:
            preparer.close()
    names = [r.video for r in records if r.video in docs]
    table = TABLES[command]
    if command == "spot":
        from jegal.use.spot import words_csv

        people = [(n, p) for n in names for p in docs[n]["people"]]
        text = words_csv([p for _, p in people], videos=[n for n, _ in people])
    else:
        from jegal.use.asd import segments_csv

        segs = [(n, s) for n in names for s in docs[n]["segments"]]
        most = max([len(docs[n]["people"]) for n in names] or [0])
        text = segments_csv([s for _, s in segs], most, videos=[n for n, _ in segs])
    write_text_atomic(out / table, text)
    failures = [{"input": r.video, "reason": r.reason, "message": r.message} for r in records if r.status == "failed"]
    summary = {"command": command, "input": str(args.video), "out": str(out), "table": table,
               "model": record, "items": len(records),
               **{s: sum(r.status == s for r in records) for s in ("done", "skipped", "failed")},
               "seconds": round(time.perf_counter() - t0, 3), "timings": {k: round(v, 3) for k, v in timings.items()},
               "failures": failures, "videos": [asdict(r) for r in records]}
    write_json_atomic(out / SUMMARY, summary)
    print(f"{len(records)} videos: {summary['done']} done, {summary['skipped']} skipped, {summary['failed']} failed; "
          f"wrote {out / table} ({len(names)} videos) and {out / SUMMARY}")
    for f in failures:
        print(f"jegal {command}: failed: {f['input']} ({f['reason']}): {f['message']}", file=sys.stderr)
    return 1 if failures else 0


__all__ = ["SUMMARY", "TABLES", "VideoRecord", "asd_results", "default_out", "finished", "result_line", "run_folder",
           "spot_results"]
