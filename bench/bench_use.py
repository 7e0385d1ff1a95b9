"""Seconds per stage of ``jegal spot`` on a real video, after the models are loaded (2 cores).

The stages of ``jegal spot`` run through :func:`jegal.use.spot_words`, the function the command
(and the page) calls:

- people: decode (PyAV, 25 fps), face detection + tracking, keypoints (mediapipe pose + hands);
- transcript: the given transcript read, or offline speech recognition (pocketsphinx) when the
  video has none (``speaker_raw.mp4`` has none), and alignment;
- features: for a ``features`` model (the imported released model, docs/released.md) the 1024-d
  GestSync features of every person's frames (decode again, mask, resize, the fast path);
- windows: audio decode, log-mel (the reference's for the released speech CNN), the overlapping windows;
- model: the gesture and content embeddings of every window and the spotting decisions;
- maps/csv/png: ``maps.npz``, ``words.csv`` and the heatmap PNGs;
- annotated video: decode again, draw, encode H.264 + AAC.

The first run loads everything (mediapipe models, the text backbone, the recogniser) and is
reported apart; then ``--repeat`` runs reuse the loaded models (one ``Preparer``, one model)
and the table gives the fastest of them per stage, and the fastest wall clock of a whole run
(recognition runs beside the people stage, so the stages may add up to more: shares are of the
wall clock). "x real time" = the video's duration / that wall clock. Weights do not change the time: without ``--model`` a
freshly initialised cpu-preset model is used. ``--model`` is any model ``jegal spot`` takes: a
model or run directory, or a directory written by ``jegal import-released`` (its GestSync
weights compute the features; without xlm-roberta-base it runs with speech only, as ``jegal
spot`` does); the content modalities are ``jegal spot``'s default for the model.

``--baseline DIR`` (a checkout of another commit, e.g. ``git worktree add /tmp/old HEAD~1``)
measures that code and this one side by side, each in fresh interpreters, alternating for
``--rounds`` rounds, and prints the wall clock of each (the stages of different commits need
not be comparable; the wall clock is).

    python bench/bench_use.py [--video ../shared/data/real/speaker_raw.mp4] [--transcript FILE] [--model DIR]
                              [--repeat 3] [--baseline DIR [--rounds 2]]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STAGES = ("people", "transcript", "features", "windows", "model", "maps/csv/png", "annotated video")


def one_run(model, video: Path, preparer, out: Path, modalities: str, transcript=None) -> tuple[dict, float]:
    """Seconds per stage of one ``jegal spot`` of ``video`` into ``out``, and the video's duration.
    Runs the code of either side of a ``--baseline`` comparison: :func:`jegal.use.spot_words` (the
    one function the command calls) where it exists, else the steps the command called before it."""
    start = time.perf_counter()
    try:
        from jegal.use.spot import spot_words
    except ImportError:  # the code before jegal.use.spot_words
        from jegal.use.spot import spot_video, write_outputs
        from jegal.use.video import read_video

        vi = read_video(video, transcript, progress=False, preparer=preparer)
        t = time.perf_counter()
        spots = spot_video(model, vi, modalities)
        model_s = time.perf_counter() - t
        doc = write_outputs(out, vi, spots, {"model": "bench"}, annotated=True)
    else:
        got = spot_words(video, model, transcript=transcript, out=out, modalities=modalities, preparer=preparer)
        vi, doc = got.video, got.doc
        model_s = doc["timings"]["model"]
    wall = time.perf_counter() - start
    tm = vi.timings
    stages = {"people": tm.get("decode", 0) + tm.get("detect", 0) + tm.get("keypoints", 0),
              "transcript": tm.get("transcript", 0), "features": tm.get("features", 0),
              "windows": tm.get("audio", 0) + tm.get("windows", 0),
              "model": model_s, "maps/csv/png": doc["timings"]["maps_csv_png"],
              "annotated video": doc["timings"]["annotated_video"], "wall": wall,
              "beside": "transcript_wait" in tm}
    return stages, vi.duration


def measure(video: Path, transcript: str | None, model_arg: str | None, repeat: int) -> dict:
    """Load the model, spot ``video`` once (loading everything else), then ``repeat`` times:
    the fastest seconds per stage, the fastest wall clock, the first run, and what was measured."""
    import torch

    from jegal.model import JEGAL
    from jegal.use.common import content_modalities
    from jegal.use.video import model_inputs, video_preparer

    t = time.perf_counter()
    model_dir = None
    if model_arg:
        try:  # the code before JEGAL.from_pretrained was the one loader (a --baseline checkout)
            from jegal.use.common import load_model
        except ImportError:
            model = JEGAL.from_pretrained(model_arg).load_text_backbone()
            model_dir = model.source_dir
        else:
            model, model_dir = load_model(model_arg)
    else:
        model = JEGAL.from_preset("cpu").eval()
        model.text.backbone.load()
    modalities = content_modalities(model, None)
    preparer = video_preparer(**model_inputs(model, model_dir, video))
    if preparer.features is not None:
        _ = preparer.features.model  # the GestSync weights, read once
    load_s = time.perf_counter() - t
    runs = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            first, duration = one_run(model, video, preparer, Path(tmp) / "first", modalities, transcript)
            for k in range(repeat):
                runs.append(one_run(model, video, preparer, Path(tmp) / f"run{k}", modalities, transcript)[0])
    finally:
        preparer.close()
    return {"best": {s: min(r[s] for r in runs) for s in STAGES}, "wall": min(r["wall"] for r in runs),
            "first": first, "duration": duration, "load_s": load_s, "modalities": modalities,
            "beside": runs[0]["beside"], "threads": torch.get_num_threads()}


def measure_in(src: Path, video: Path, transcript: str | None, model_arg: str | None, repeat: int) -> dict:
    """:func:`measure` with the code under ``src``, in a fresh interpreter."""
    code = ("import json, sys; sys.path.insert(0, sys.argv[1]); sys.path.insert(0, sys.argv[2]); "
            "import bench_use as b; from pathlib import Path; "
            "r = b.measure(Path(sys.argv[3]), sys.argv[4] or None, sys.argv[5] or None, int(sys.argv[6])); "
            "print('RESULT', json.dumps(r))")
    proc = subprocess.run([sys.executable, "-c", code, str(src), str(Path(__file__).parent), str(video),
                           transcript or "", model_arg or "", str(repeat)], capture_output=True, text=True,
                          env={**os.environ, "GLOG_minloglevel": "2", "TF_CPP_MIN_LOG_LEVEL": "2"})
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
    if proc.returncode or line is None:
        raise RuntimeError(f"{src} {video.name}: failed\n{proc.stderr[-3000:]}")
    return json.loads(line[len("RESULT "):])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", default=str(REPO.parent / "shared" / "data" / "real" / "speaker_raw.mp4"))
    parser.add_argument("--model", default=None,
                        help="a model or run directory, or an imported released model "
                             "(default: an untrained cpu model)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--transcript", default=None,
                        help="a transcript of the video (default: the one beside it, else offline recognition)")
    parser.add_argument("--baseline", help="another checkout of this repository, measured side by side")
    parser.add_argument("--rounds", type=int, default=2, help="with --baseline: alternating rounds")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    video = Path(args.video).resolve()
    words = f"transcript {args.transcript}" if args.transcript else "transcript beside it or recognised"
    if args.baseline:
        codes = {"baseline": Path(args.baseline).resolve() / "src", "this": REPO / "src"}
        print(f"`jegal spot` on {video.name} ({words}), model {args.model or 'cpu preset (untrained)'}; cores "
              f"{os.cpu_count()}; each row: a fresh interpreter, best wall clock of {args.repeat} runs after "
              f"loading; load average before {os.getloadavg()[0]:.1f}\n")
        print("| round | code | wall clock s | x real time |\n|---|---|---|---|")
        walls: dict = {c: [] for c in codes}
        for k in range(args.rounds):
            for code, src in codes.items():
                r = measure_in(src, video, args.transcript, args.model, args.repeat)
                walls[code].append(r["wall"])
                print(f"| {k + 1} | {code} | {r['wall']:.3f} | {r['duration'] / r['wall']:.2f} |", flush=True)
        b, t = min(walls["baseline"]), min(walls["this"])
        print(f"\nbest of all rounds: baseline {b:.3f} s, this {t:.3f} s: this takes {t / b:.2f}x the baseline's "
              f"time; load average after {os.getloadavg()[0]:.1f}")
        return 0
    sys.path.insert(0, str(REPO / "src"))
    load_before = os.getloadavg()
    r = measure(video, args.transcript, args.model, args.repeat)
    best, total, first, beside = r["best"], r["wall"], r["first"], r["beside"]
    load_after = os.getloadavg()
    print(f"`jegal spot` on {video.name} ({r['duration']:.2f} s of video, {words}), model "
          f"{args.model or 'cpu preset (untrained)'}, modalities {r['modalities']}, torch threads {r['threads']}, "
          f"cores {os.cpu_count()}, 1-min load average {load_before[0]:.1f} before, {load_after[0]:.1f} after; "
          f"model load {r['load_s']:.2f} s; first run (loads mediapipe, recogniser) {first['wall']:.2f} s\n")
    print(f"| stage | seconds (best of {args.repeat}) | share | first run |")
    print("|---|---|---|---|")
    for s in STAGES:
        name = s + (" (beside people)" if s == "transcript" and beside else "")
        print(f"| {name} | {best[s]:.3f} | {best[s] / total:.0%} | {first[s]:.3f} |")
    print(f"| **total after loading (wall clock)** | **{total:.3f}** | | {first['wall']:.3f} |")
    print(f"\n{r['duration'] / total:.2f} x real time after loading (>= 1 is real time)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
