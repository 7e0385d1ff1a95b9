"""Frames per second of ``jegal prepare`` per step on the real raw videos (2 cores), and
side by side with another checkout of the code (``--baseline``).

Steps: decode (PyAV, 25 fps + 16 kHz), detection (scene cuts and the seeds: faces, and bodies
from the Tasks pose landmarker on sparse frames; a checkout from before the bodies-first people
stage: faces, scene cuts, face tracking), keypoints (each person followed by mediapipe pose +
hands), writing (log-mel, clips, shard), and the whole ``prepare`` of one video through the
library (models already loaded, as in a long run). Configurations: face detection on every
frame (``detect_stride=1``) with one thread; the defaults (face seeds on every 2nd frame) with
one thread and with two (what ``jegal prepare`` does when it prepares a single video with its
default ``--workers 2``); and two threads with the hand model on every 2nd frame
(``--hand-stride 2``). fps = video frames /
wall seconds; real time is 25 fps.

``--baseline DIR`` (a checkout of another commit, e.g. ``git worktree add /tmp/old HEAD~3``)
measures every configuration with that checkout's ``src`` too, alternating the two in one
run so both see the same machine, and reports the keypoint drift between them: the mean
distance of the clips' normalised keypoints (origin between the shoulders, unit = one
shoulder width), over joints both runs found.

    python bench/bench_prepare.py [--repeat 3] [--real-dir ../shared/data/real] [--baseline DIR]
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

WORDS = "Text: -\nLang: en\n\nWORD, START, END, SCORE\n" + "".join(
    f"w{i}, {0.2 + 0.6 * i:.2f}, {0.6 + 0.6 * i:.2f}, 1.0\n" for i in range(8))

# name -> (label in the table, PrepareOptions fields)
CONFIGS = {"detect1": ("detect every frame, 1 thread", {"threads": 1, "detect_stride": 1}),
           "default1": ("defaults, 1 thread", {"threads": 1}),
           "default2": ("defaults, 2 threads (jegal prepare's default)", {"threads": 2}),
           "hands2": ("2 threads, --hand-stride 2", {"threads": 2, "hand_stride": 2})}
STEPS = ("decode", "detection", "keypoints", "writing", "whole")


def bench_video(path: Path, options: dict, repeat: int, keypoints_out: Path) -> dict:
    """Best-of-``repeat`` seconds per step of one video (models loaded by a first, untimed
    run); the clips' normalised keypoints of the last run go to ``keypoints_out`` (.npz)."""
    import numpy as np

    from jegal.data.shards import read_clips
    from jegal.perception.discover import Item
    from jegal.perception.options import PrepareOptions
    from jegal.prepare.pipeline import Preparer, process_item

    preparer = Preparer(PrepareOptions(**options))
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
        clips = {c.clip_id: c.keypoints for c in read_clips(tmp / f"out{repeat - 1}")}
        np.savez(keypoints_out, **{k.replace("/", "|"): v for k, v in clips.items()})
    preparer.close()
    best["frames"] = result.frames
    best["clips"] = len(result.clips)
    return best


def drift(a_file: Path, b_file: Path) -> tuple[float, float]:
    """(mean, 95th percentile) distance in shoulder widths between the keypoints of the same
    clips in two runs, over joints with confidence > 0 in both; NaN when no clip matches."""
    import numpy as np

    with np.load(a_file) as a, np.load(b_file) as b:
        dists = []
        for key in sorted(set(a.files) & set(b.files)):
            ka, kb = a[key], b[key]
            if ka.shape != kb.shape:
                continue
            both = (ka[..., 2] > 0) & (kb[..., 2] > 0)
            dists.append(np.linalg.norm(ka[..., :2] - kb[..., :2], axis=-1)[both])
    if not dists:
        return float("nan"), float("nan")
    d = np.concatenate(dists)
    return float(d.mean()), float(np.percentile(d, 95))


def run_one(src: Path, video: Path, config: str, repeat: int, keypoints_out: Path) -> dict:
    """One configuration with the code under ``src``, in a fresh interpreter (so the two
    checkouts never share a process, and each starts from the same state)."""
    code = ("import json, sys, torch; torch.set_num_threads(2); sys.path.insert(0, sys.argv[1]); "
            "sys.path.insert(0, sys.argv[2]); import bench_prepare as b; "
            "print('RESULT', json.dumps(b.bench_video(__import__('pathlib').Path(sys.argv[3]), "
            "b.CONFIGS[sys.argv[4]][1], int(sys.argv[5]), __import__('pathlib').Path(sys.argv[6]))))")
    proc = subprocess.run([sys.executable, "-c", code, str(src), str(Path(__file__).parent), str(video), config,
                           str(repeat), str(keypoints_out)], capture_output=True, text=True,
                          env={**os.environ, "GLOG_minloglevel": "2", "TF_CPP_MIN_LOG_LEVEL": "2"})
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
    if proc.returncode or line is None:
        raise RuntimeError(f"{src} {video.name} {config}: failed\n{proc.stderr[-3000:]}")
    return json.loads(line[len("RESULT "):])


def row(name: str, config: str, code: str, r: dict) -> str:
    from jegal.timebase import FPS

    n = r["frames"]
    fps = {k: n / r[k] for k in STEPS}
    return (f"| {name} | {config} | {code} | {n} | {r['clips']} | {fps['decode']:.0f} | {fps['detection']:.0f} | "
            f"{fps['keypoints']:.1f} | {fps['writing']:.0f} | {fps['whole']:.1f} | {fps['whole'] / FPS:.2f} | "
            f"{1000 * r['whole_cpu'] / n:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--real-dir", default=str(REPO.parent / "shared" / "data" / "real"))
    parser.add_argument("--baseline", help="another checkout of this repository, measured side by side")
    parser.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated subset of: " + ", ".join(
        f"{k} ({label})" for k, (label, _) in CONFIGS.items()))
    parser.add_argument("--videos", default="speaker_raw.mp4,two_speakers_raw.mp4")
    args = parser.parse_args()
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    unknown = [c for c in configs if c not in CONFIGS]
    if unknown:
        parser.error(f"unknown configs {unknown}; choose from {list(CONFIGS)}")
    codes = {"this": REPO / "src"}
    if args.baseline:
        codes = {"baseline": Path(args.baseline).resolve() / "src", **codes}
    print(f"CPU cores visible: {len(os.sched_getaffinity(0))}; load average before: {os.getloadavg()[0]:.1f}; "
          f"best of {args.repeat}; fps = video frames / wall s; CPU ms/frame = process CPU time of the whole "
          "prepare per frame (all threads; contention inflates wall time more than CPU time)\n")
    print("| video | config | code | frames | clips | decode fps | detection fps | keypoints fps | writing fps "
          "| whole prepare fps | x real time | CPU ms/frame |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    drifts = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.videos.split(","):
            for config in configs:
                kps = {}
                for code, src in codes.items():
                    kps[code] = Path(tmp) / f"{code}.npz"
                    r = run_one(src, Path(args.real_dir) / name, config, args.repeat, kps[code])
                    print(row(name, CONFIGS[config][0], code, r), flush=True)
                if len(kps) == 2:
                    drifts.append((name, CONFIGS[config][0], *drift(kps["baseline"], kps["this"])))
    if drifts:
        print("\nKeypoint drift of this code against the baseline (normalised keypoints of the same clips, "
              "joints found by both; unit: shoulder widths)\n")
        print("| video | config | mean | 95th percentile |\n|---|---|---|---|")
        for name, config, mean, p95 in drifts:
            print(f"| {name} | {config} | {mean:.4f} | {p95:.4f} |")
    print(f"\nload average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
