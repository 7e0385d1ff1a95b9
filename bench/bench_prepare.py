"""Frames per second of ``jegal prepare`` per step on the real raw videos (2 cores).

Steps: decode (PyAV, 25 fps + 16 kHz), detection (faces, scene cuts, tracking), keypoints
(mediapipe pose + hands per person), writing (log-mel, clips, shard), and the whole
``prepare`` of one video through the library (models already loaded, as in a long run).
Configurations run side by side: face detection on every frame (``--detect-stride 1``)
with one pose thread; the defaults (detection on every 2nd frame) with one pose thread and
with two (parts of a track in parallel: what ``jegal prepare`` does when it prepares a
single video with ``--workers 2``); and two threads with the hand model on every 2nd frame
(``--hand-stride 2``). fps = video frames / wall seconds; real time is 25 fps.

    python bench/bench_prepare.py [--repeat 3] [--real-dir ../shared/data/real]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

WORDS = "Text: -\nLang: en\n\nWORD, START, END, SCORE\n" + "".join(
    f"w{i}, {0.2 + 0.6 * i:.2f}, {0.6 + 0.6 * i:.2f}, 1.0\n" for i in range(8))


def bench_video(path: Path, options, repeat: int) -> dict:
    from jegal.prepare.discover import Item
    from jegal.prepare.pipeline import Preparer, process_item

    preparer = Preparer(options)
    best: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "in").mkdir()
        video = tmp / "in" / path.name
        video.symlink_to(path.resolve())
        (tmp / "in" / f"{path.stem}.txt").write_text(WORDS)
        item = Item(name=path.stem, video=video, transcript=tmp / "in" / f"{path.stem}.txt")
        process_item(preparer, item, tmp / "warm")  # load every model once, as in a long run
        for r in range(repeat):
            t_all, c_all = time.perf_counter(), time.process_time()
            result = process_item(preparer, item, tmp / f"out{r}")
            times = {"whole": time.perf_counter() - t_all, "whole_cpu": time.process_time() - c_all,
                     "decode": result.timings["decode"], "detection": result.timings["detect"],
                     "keypoints": result.timings["keypoints"],
                     "writing": result.timings["clips"] + result.timings["write"]}
            for k, v in times.items():
                best[k] = min(best.get(k, float("inf")), v)
    preparer.close()
    best["frames"] = result.frames
    best["tracks"] = len(result.clips)
    return best


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--real-dir", default=str(REPO.parent / "shared" / "data" / "real"))
    args = parser.parse_args()
    torch.set_num_threads(2)
    from jegal.prepare.options import PrepareOptions

    configs = {"detect every frame, 1 pose thread": PrepareOptions(threads=1, detect_stride=1),
               "defaults, 1 pose thread": PrepareOptions(threads=1),
               "defaults, 2 pose threads": PrepareOptions(threads=2),
               "2 pose threads, --hand-stride 2": PrepareOptions(threads=2, hand_stride=2)}
    print(f"CPU cores visible: {len(os.sched_getaffinity(0))}; load average before: {os.getloadavg()[0]:.1f}; "
          f"best of {args.repeat}; fps = video frames / wall s; CPU ms/frame = process CPU time of the whole "
          "prepare per frame (all threads; contention inflates wall time more than CPU time)\n")
    print("| video | config | frames | clips | decode fps | detection fps | keypoints fps | writing fps "
          "| whole prepare fps | x real time | CPU ms/frame |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name in ("speaker_raw.mp4", "two_speakers_raw.mp4"):
        for label, options in configs.items():
            r = bench_video(Path(args.real_dir) / name, options, args.repeat)
            n = r["frames"]
            fps = {k: n / r[k] for k in ("decode", "detection", "keypoints", "writing", "whole")}
            print(f"| {name} | {label} | {n} | {r['tracks']} | {fps['decode']:.0f} | {fps['detection']:.0f} | "
                  f"{fps['keypoints']:.1f} | {fps['writing']:.0f} | {fps['whole']:.1f} | {fps['whole'] / 25:.2f} | "
                  f"{1000 * r['whole_cpu'] / n:.1f} |", flush=True)
    print(f"\nload average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
