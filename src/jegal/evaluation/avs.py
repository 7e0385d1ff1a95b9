"""``jegal eval avs``: the paper's three AVS benchmarks (arXiv 2503.22668, Tables 2-4) from their CSVs and clips, in one command.

    jegal eval avs --model released --csv-dir jegal/dataset --clips avs_videos --out avs_eval
    jegal eval avs --model released --csv-dir jegal/dataset --clips avs_videos --shard 3/8 --workers 2
    jegal eval avs --model released --csv-dir jegal/dataset --clips avs_videos --download

The CSVs are the official repository's ``dataset/avs_{spot,ret,asd}.csv`` (``--csv-dir``, or each one
with ``--spot-csv`` / ``--ret-csv`` / ``--asd-csv``). The clips are in the official downloader's
layout (``dataset/download_videos.py``: ``<video_id>_<start>-<end>.mp4``, both times with six
decimals, which is the CSV ``filename`` before its ``/<track>``), so a folder made by the authors'
script is reused as it is; ``--download`` fetches the missing ones the same way (yt-dlp, an
optional extra: ``pip install 'jegal[avs]'``; YouTube videos disappear, so failures are listed, not
fatal).

Each clip is prepared by ``jegal prepare``'s pipeline (:func:`jegal.prepare.pipeline.run_prepare`)
with the model's own input spec (:attr:`jegal.model.JEGAL.input_spec`: keypoints, rgb crops or
GestSync features, and the log-mel its speech encoder reads) and the CSV's words as its transcript,
into ``OUT/prepared``: resumable (a clip prepared once is skipped) and shardable (``--shard i/N``
prepares job i's clips and stops; a run without ``--shard`` prepares what is left and scores).
Then the three protocols of :mod:`jegal.evaluation.protocols` run with each content input the
model supports (t, a, ta) and one table is printed beside the paper's numbers, with the rows
evaluated out of each CSV's rows, the word-order floor of spotting and chance. The AVS track
(``/00000``) is the person the authors' preprocessing picked; here a clip's track numbers are
``jegal prepare``'s, so a clip whose target person is not found as that track is missing, not
scored against another person. A missing or unusable clip is counted and listed (``avs.json``),
never dropped from a candidate set (docs/evaluation.md).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

AVS_FILES = {"spotting": "avs_spot.csv", "retrieval": "avs_ret.csv", "asd": "avs_asd.csv"}
AVS_ROWS = 500  # each of the paper's CSVs
PAPER = "arXiv 2503.22668 (ICCV 2025), Tables 2-4"
# JEGAL's numbers on AVS in the paper: R@10 and accuracies as fractions, median ranks as ranks
PAPER_NUMBERS = {
    "ta": {"R@10 c2g": 0.308, "R@10 g2c": 0.202, "MedR c2g": 31.0, "MedR g2c": 24.5, "spot": 0.636,
           "ASD P=2": 0.768, "ASD P=4": 0.578, "ASD P=6": 0.480},
    "t": {"R@10 c2g": 0.206, "R@10 g2c": 0.270, "MedR c2g": 57.5, "MedR g2c": 51.0, "spot": 0.610,
          "ASD P=2": 0.656, "ASD P=4": 0.444, "ASD P=6": 0.346},
    "a": {"R@10 c2g": 0.200, "R@10 g2c": 0.206, "MedR c2g": 59.0, "MedR g2c": 60.5, "spot": 0.418,
          "ASD P=2": 0.744, "ASD P=4": 0.500, "ASD P=6": 0.404},
}
MODALITY_NAMES = {"ta": "text + speech", "t": "text only", "a": "speech only"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``jegal eval avs`` (``--model``, ``--out``, ``--modalities``... are eval's own)."""
    g = parser.add_argument_group("avs (jegal eval avs)")
    g.add_argument("--csv-dir", type=Path, default=None, metavar="DIR",
                   help="avs: the folder holding avs_spot.csv, avs_ret.csv, avs_asd.csv (the official dataset/)")
    for task, flag in (("spotting", "--spot-csv"), ("retrieval", "--ret-csv"), ("asd", "--asd-csv")):
        g.add_argument(flag, type=Path, default=None, metavar="CSV", help=f"avs: the {task} CSV (instead of --csv-dir)")
    g.add_argument("--clips", type=Path, default=None, metavar="DIR",
                   help="avs: the clips, <video_id>_<start>-<end>.mp4 (the official download_videos.py layout)")
    g.add_argument("--download", action="store_true",
                   help="avs: fetch missing clips into --clips with yt-dlp (pip install 'jegal[avs]'; needs ffmpeg)")
    g.add_argument("--shard", default="0/1", metavar="I/N",
                   help="avs: prepare only job I of N and stop (run once more without it to score)")
    g.add_argument("--workers", type=int, default=1, help="avs: prepare worker processes")


def csv_paths(args: argparse.Namespace) -> dict[str, Path]:
    """task -> CSV path from ``--csv-dir`` and the per-task flags (a flag wins). Raises ValueError
    naming what is missing."""
    given = {"spotting": args.spot_csv, "retrieval": args.ret_csv, "asd": args.asd_csv}
    out = {}
    for task, name in AVS_FILES.items():
        path = given[task] or (args.csv_dir / name if args.csv_dir else None)
        if path is None:
            raise ValueError(f"no {task} CSV: pass --csv-dir DIR (holding {name}) or its own flag")
        if not Path(path).is_file():
            raise ValueError(f"{path}: no such file (the {task} CSV, {name})")
        out[task] = Path(path)
    return out


def clip_name(clip_id: str) -> str:
    """The downloaded file's name (without .mp4) of an AVS ``filename`` ``<video_id>_<start>-<end>/<track>``."""
    return clip_id.split("/", 1)[0]


def segment_of(row: dict) -> tuple[str, float, float, str]:
    """(video id, start s, end s, file name without .mp4) of a CSV row, named as download_videos.py names it."""
    start, end = float(row["start_time"]), float(row["end_time"])
    vid = row["video_id"]
    return vid, start, end, f"{vid}_{start:.6f}-{end:.6f}"


def write_inputs(benches: dict, clips_dir: Path, work: Path) -> tuple[Path, dict[str, list[str]]]:
    """``work/inputs.csv`` (the prepare input list: each present clip with a transcript of the CSV's
    words, written under ``work/transcripts``) and the clips that are absent: ``{"missing": [names]}``.
    A clip's words are those of the first row that names it (rows naming one clip share its words)."""
    from jegal.atomic import atomic_path
    from jegal.csvcells import safe_dict
    from jegal.data.transcripts import format_txt

    words: dict[str, list] = {}
    for bench in benches.values():
        for row in bench.rows:
            words.setdefault(clip_name(row.filename), row.words)
        for row in bench.rows:
            for neg in row.neg_files:  # an ASD candidate with no row of its own: its words are not needed
                words.setdefault(clip_name(neg), [])
    (work / "transcripts").mkdir(parents=True, exist_ok=True)
    lines, missing = [], []
    for name, ws in sorted(words.items()):
        video = clips_dir / f"{name}.mp4"
        if not video.is_file():
            missing.append(name)
            continue
        row = {"video": str(video.resolve()), "transcript": ""}
        if ws:
            txt = work / "transcripts" / f"{name}.txt"
            text = format_txt(ws)
            if not txt.is_file() or txt.read_text() != text:
                with atomic_path(txt) as tmp:
                    Path(tmp).write_text(text)
            row["transcript"] = str(txt.resolve())
        lines.append(row)
    inputs = work / "inputs.csv"
    with atomic_path(inputs) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["video", "transcript"])
        writer.writeheader()
        writer.writerows(safe_dict(r) for r in lines)  # every CSV the project writes (jegal.csvcells)
    return inputs, {"missing": missing, "present": [Path(r["video"]).stem for r in lines]}


def prepare_options(spec, threads: int = 1):
    """The :class:`jegal.perception.options.PrepareOptions` that make the inputs ``spec`` (an
    :class:`jegal.model.spec.InputSpec`) describes, from videos whose transcripts are given."""
    from jegal.perception.options import PrepareOptions

    if spec.gesture == "features" and spec.feature_extractor is not None and spec.feature_weights is None:
        raise ValueError("this model reads GestSync features but its directory has no gestsync.safetensors: import it "
                         "again with `jegal import-released --gestsync gestsync.pth`, or `jegal fetch released`")
    if spec.gesture == "features" and spec.feature_extractor is None:
        raise ValueError(f"this model reads {spec.feature_dim}-d features jegal cannot compute from a video; "
                         "prepare its clips yourself and use `jegal eval TASK --data`")
    gestsync = spec.gesture == "features"
    return PrepareOptions(rgb_size=spec.rgb_size, rgb_features="gestsync" if gestsync else None,
                          gestsync_weights=str(spec.feature_weights) if gestsync else None, mel=spec.mel,
                          asr="none", threads=threads)


def download_clips(benches: dict, csvs: dict[str, Path], clips_dir: Path, log) -> list[dict]:
    """Fetch the missing clips with yt-dlp as download_videos.py does (the segment only, mp4), into
    ``clips_dir``; yt-dlp resumes a partial file. Returns the failures (clip, error). Raises
    ImportError with what to install when yt-dlp is not installed."""
    try:
        import yt_dlp
        from yt_dlp.utils import download_range_func
    except ImportError:
        raise ImportError("--download needs yt-dlp, an optional extra: pip install 'jegal[avs]' (and ffmpeg on the "
                          "PATH, which yt-dlp uses to cut the segments); or run the official dataset/download_videos.py "
                          "and pass its folder as --clips") from None
    wanted = {clip_name(r.filename) for b in benches.values() for r in b.rows}
    wanted |= {clip_name(n) for b in benches.values() for r in b.rows for n in r.neg_files}
    segments = {}
    for path in csvs.values():
        with open(path, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                try:
                    vid, start, end, name = segment_of(row)
                except (KeyError, ValueError):
                    continue
                segments.setdefault(name, (vid, start, end))
    clips_dir.mkdir(parents=True, exist_ok=True)
    failures = []
    todo = sorted(n for n in wanted if not (clips_dir / f"{n}.mp4").is_file())
    for n in todo:
        if n not in segments:
            failures.append({"clip": n, "error": "no video_id/start_time/end_time row names it"})
            continue
        vid, start, end = segments[n]
        opts = {"format": "mp4", "outtmpl": str(clips_dir / f"{n}.mp4"), "quiet": True, "no_warnings": True,
                "continuedl": True, "download_ranges": download_range_func(None, [(start, end)]),
                "noprogress": True}
        try:
            with yt_dlp.YoutubeDL(opts) as ydl:
                ydl.download([f"https://www.youtube.com/watch?v={vid}"])
        except Exception as err:  # yt-dlp's errors have no common base worth naming: each failure is listed
            failures.append({"clip": n, "error": f"{type(err).__name__}: {str(err).splitlines()[0][:200]}"})
    log(f"download: {len(todo) - len(failures)} of {len(todo)} missing clips fetched"
        + (f"; {len(failures)} failed (listed in avs.json), e.g. {failures[0]['clip']}: {failures[0]['error']}"
           if failures else ""))
    return failures


def modalities_for(model, asked: str | None) -> tuple[list[str], list[str]]:
    """(the content inputs to score, notes): ``asked`` (comma-separated) or every one of t, a, ta the
    model was trained with and can read here (text needs its backbone)."""
    from jegal.model.pretrained import MODALITIES, parse_modalities

    trained = model.config.content.modalities
    if asked:
        return parse_modalities(asked, trained), []
    mods = [m for m in MODALITIES if set(m) <= set(trained)]
    if "t" in trained and not model.text_available:
        return [m for m in mods if "t" not in m], [f"text: {model.text_problem}; scored with speech only"]
    return mods, []


def result_row(results: dict[str, dict]) -> dict:
    """One table row (the paper's columns) from the three tasks' results of one modality."""
    from jegal.evaluation.protocols import summary_row

    row = {}
    if "retrieval" in results:
        s = summary_row(results["retrieval"])
        row.update({"R@10 c2g": s["c2g R@10"], "R@10 g2c": s["g2c R@10"], "MedR c2g": s["c2g MedR"],
                    "MedR g2c": s["g2c MedR"]})
    if "spotting" in results:
        row["spot"] = summary_row(results["spotting"])["accuracy"]
    if "asd" in results:
        row.update({f"ASD {k}": v for k, v in summary_row(results["asd"]).items()})
    return row


def floor_rows(benches: dict) -> list[tuple[str, dict]]:
    """The floors: spotting's word order (the transcript alone), chance for retrieval and ASD."""
    from jegal.synth import word_order_spotting

    n = len(benches["retrieval"].rows) + len(benches["retrieval"].bad_rows)
    chance = {"R@10 c2g": min(1.0, 10 / max(1, n)), "R@10 g2c": min(1.0, 10 / max(1, n)),
              "MedR c2g": (n + 1) / 2, "MedR g2c": (n + 1) / 2, "ASD P=2": 1 / 2, "ASD P=4": 1 / 4, "ASD P=6": 1 / 6}
    return [("floor: word order, no gesture (spotting)", {"spot": word_order_spotting(benches["spotting"])["word_order"]}),
            (f"chance ({n} retrieval candidates)", chance)]


def _shard(value: str) -> tuple[int, int]:
    try:
        i, n = (int(v) for v in value.split("/"))
    except ValueError:
        raise ValueError(f"--shard wants I/N such as 0/4, got {value!r}") from None
    if n < 1 or not 0 <= i < n:
        raise ValueError(f"--shard {value}: need 0 <= I < N")
    return i, n


def run_avs(args: argparse.Namespace) -> int:
    """``jegal eval avs`` (module docstring)."""
    from jegal.atomic import write_json_atomic
    from jegal.data.benchmarks import BenchmarkError, read_benchmark
    from jegal.evaluation.benchmarks import load_clips
    from jegal.evaluation.protocols import evaluate_benchmark, markdown_table
    from jegal.model import JEGAL
    from jegal.model.config import ConfigError
    from jegal.perception.errors import BadInput
    from jegal.prepare import run_prepare

    def log(line: str) -> None:
        print(line, file=sys.stderr)

    if args.model is None or args.clips is None:
        log("jegal eval avs: --model and --clips are required")
        return 1
    try:
        shard = _shard(args.shard)
        csvs = csv_paths(args)
        benches = {task: read_benchmark(path, task) for task, path in csvs.items()}
        model = JEGAL.from_pretrained(args.model, checkpoint=args.checkpoint, device=args.device)
        mods, notes = modalities_for(model, args.modalities)
        options = prepare_options(model.input_spec, threads=max(1, args.threads or 1))
    except (BenchmarkError, ConfigError, ValueError, OSError) as err:
        log(f"jegal eval avs: {err}")
        return 1
    for note in notes:
        log(f"jegal eval avs: {note}")
    work = Path(args.out) if args.out else Path("avs_eval")
    work.mkdir(parents=True, exist_ok=True)
    failures = []
    if args.download:
        try:
            failures = download_clips(benches, csvs, args.clips, log)
        except ImportError as err:
            log(f"jegal eval avs: {err}")
            return 1
    inputs, found = write_inputs(benches, args.clips, work)
    if found["missing"]:
        log(f"{len(found['missing'])} of {len(found['missing']) + len(found['present'])} clips not in {args.clips} "
            f"(counted as errors; listed in {work / 'avs.json'}), e.g. {found['missing'][0]}.mp4")
    prepared = work / "prepared"
    try:
        summary = run_prepare(inputs, prepared, options, shard=shard, workers=args.workers,
                              progress=not args.quiet) if found["present"] else {"failures": [], "clips": 0}
    except BadInput as err:
        log(f"jegal eval avs: {err}")
        return 1
    if shard != (0, 1):
        print(f"prepared job {shard[0]} of {shard[1]} into {prepared}: {summary.get('done', 0)} done, "
              f"{summary.get('skipped', 0)} earlier, {summary.get('failed', 0)} failed; run without --shard to score")
        return 0
    results: dict[str, dict] = {m: {} for m in mods}
    counts = {}
    cache = None if args.no_cache else Path(args.cache) if args.cache else work / "cache"
    for task, bench in benches.items():
        clips = load_clips(prepared, bench.clip_ids())
        counts[task] = {"rows": len(bench.rows) + len(bench.bad_rows), "clips": len(bench.clip_ids()),
                        "clips_usable": len(clips.clips), "problems": clips.problems, "bad_rows": bench.bad_rows}
        for m in mods:
            results[m][task] = evaluate_benchmark(model, bench, clips, modalities=m, cache_dir=cache,
                                                  model_id=model.identity, batch_size=args.batch_size,
                                                  progress=not args.quiet, keep_rows=not args.no_rows)
            counts[task].setdefault("evaluated", results[m][task]["metrics"]["evaluated"])
    table = []
    for m in mods:
        table.append((f"{model.source_dir.name} ({m})", result_row(results[m])))
        table.append((f"paper: JEGAL, {MODALITY_NAMES[m]}", PAPER_NUMBERS[m]))
    table += floor_rows(benches)
    doc = {"task": "avs", "model": str(model.source_dir), "csvs": {t: str(p) for t, p in csvs.items()},
           "clips": str(args.clips), "modalities": mods, "notes": notes, "paper": PAPER, "paper_numbers": PAPER_NUMBERS,
           "missing_clips": found["missing"], "download_failures": failures,
           "prepare_failures": summary.get("failures", []), "counts": counts, "table": table,
           "results": results}
    out = work / "avs.json"
    write_json_atomic(out, doc)
    for task, c in counts.items():
        print(f"{task}: {c['evaluated']} of {c['rows']} rows evaluated (the paper: {AVS_ROWS}); "
              f"{c['clips_usable']} of {c['clips']} clips usable")
    print(markdown_table(table))
    print(f"paper: {PAPER}. Retrieval ties count against the model; a missing clip counts as an error in every "
          "candidate set that needs it (docs/evaluation.md).")
    print(f"wrote {out}")
    return 0


__all__ = ["AVS_FILES", "PAPER_NUMBERS", "add_arguments", "clip_name", "csv_paths", "run_avs", "write_inputs"]
