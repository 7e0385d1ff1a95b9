"""Seconds per stage of ``jegal spot`` on a real video, after the models are loaded (2 cores).

The stages of :mod:`jegal.use.spot` run through the library, as the command runs them:

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

    python bench/bench_use.py [--video ../shared/data/real/speaker_raw.mp4] [--transcript FILE] [--model DIR]
                              [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STAGES = ("people", "transcript", "features", "windows", "model", "maps/csv/png", "annotated video")


def one_run(model, video: Path, preparer, out: Path, modalities: str, transcript=None) -> tuple[dict, float]:
    """Seconds per stage of one ``jegal spot`` of ``video`` into ``out``, and the video's duration."""
    from jegal.use.spot import spot_video, write_outputs
    from jegal.use.video import read_video

    start = time.perf_counter()
    vi = read_video(video, transcript, progress=False, preparer=preparer)
    t = time.perf_counter()
    spots = spot_video(model, vi, modalities)
    model_s = time.perf_counter() - t
    doc = write_outputs(out, vi, spots, {"model": "bench"}, annotated=True)
    wall = time.perf_counter() - start
    tm = vi.timings
    stages = {"people": tm.get("decode", 0) + tm.get("detect", 0) + tm.get("keypoints", 0),
              "transcript": tm.get("transcript", 0), "features": tm.get("features", 0),
              "windows": tm.get("audio", 0) + tm.get("windows", 0),
              "model": model_s, "maps/csv/png": doc["timings"]["maps_csv_png"],
              "annotated video": doc["timings"]["annotated_video"], "wall": wall,
              "beside": "transcript_wait" in tm}
    return stages, vi.duration


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", default=str(REPO.parent / "shared" / "data" / "real" / "speaker_raw.mp4"))
    parser.add_argument("--model", default=None,
                        help="a model or run directory, or an imported released model "
                             "(default: an untrained cpu model)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--transcript", default=None,
                        help="a transcript of the video (default: the one beside it, else offline recognition)")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.path.insert(0, str(REPO / "src"))
    import torch

    from jegal.model import JEGAL
    from jegal.use.common import content_modalities, load_model
    from jegal.use.video import model_inputs, video_preparer

    load_before = os.getloadavg()
    t = time.perf_counter()
    model_dir = None
    if args.model:
        model, model_dir = load_model(args.model)
    else:
        model = JEGAL.from_preset("cpu").eval()
        model.text.backbone.load()
    modalities = content_modalities(model, None)
    video = Path(args.video)
    preparer = video_preparer(**model_inputs(model, model_dir, video))
    if preparer.features is not None:
        _ = preparer.features.model  # the GestSync weights, read once
    load_s = time.perf_counter() - t
    runs = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            first, duration = one_run(model, video, preparer, Path(tmp) / "first", modalities, args.transcript)
            for k in range(args.repeat):
                runs.append(one_run(model, video, preparer, Path(tmp) / f"run{k}", modalities, args.transcript)[0])
    finally:
        preparer.close()
    best = {s: min(r[s] for r in runs) for s in STAGES}
    total = min(r["wall"] for r in runs)
    beside = runs[0]["beside"]
    load_after = os.getloadavg()
    words = f"transcript {args.transcript}" if args.transcript else "transcript beside it or recognised"
    print(f"`jegal spot` on {video.name} ({duration:.2f} s of video, {words}), model {args.model or 'cpu preset (untrained)'}, "
          f"modalities {modalities}, torch threads {torch.get_num_threads()}, cores {os.cpu_count()}, 1-min load "
          f"average {load_before[0]:.1f} before, {load_after[0]:.1f} after; model load {load_s:.2f} s; first run "
          f"(loads mediapipe, recogniser) {first['wall']:.2f} s\n")
    print(f"| stage | seconds (best of {args.repeat}) | share | first run |")
    print("|---|---|---|---|")
    for s in STAGES:
        name = s + (" (beside people)" if s == "transcript" and beside else "")
        print(f"| {name} | {best[s]:.3f} | {best[s] / total:.0%} | {first[s]:.3f} |")
    print(f"| **total after loading (wall clock)** | **{total:.3f}** | | {first['wall']:.3f} |")
    print(f"\n{duration / total:.2f} x real time after loading (>= 1 is real time)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
