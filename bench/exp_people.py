"""The people stage against a hand-made truth (issue 22's acceptance), side by side with another checkout.

Videos (tests/perception/people_videos.py, which also holds the truth and the scoring): three made
from the real footage (``occluded``: a panel hides the speaker for half a second; ``masked``: her
face painted over; ``crossing``: two people walk past each other) and the real
``speaker_raw.mp4`` (one person) and ``two_speakers_raw.mp4`` (two people, two shots).

Per video and tracker: people found vs the truth (a scene cut ends every track, so the truth of
two_speakers_raw holds four: two people in each of two shots); per true person the share of its
in-view frames held by its best-matching single identity (``cover``; the acceptance is >= 95 %)
and how many identities hold it (``ids``); identity switches along tracks; box sanity: the share of
frames whose box holds every keypoint found (``contain``) and the box's area over the keypoints'
extent (median and 90th percentile; a landmark box with a margin and the head, which the
keypoints lack, is about 2.1-2.4x; the face-first tracker's boxes are 4-5x).

Each tracker runs in its own process with its checkout's ``src`` first on the path:

    python bench/exp_people.py [--baseline /tmp/old] [--videos DIR] [--real-dir ../shared/data/real] [--json OUT]

(``git worktree add /tmp/old 52ccf4a`` is the face-first tracker the issue describes.)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the videos, their truth and the scoring live beside the tests
from tests.perception.people_videos import MADE, REAL, load_tracked, make_all, save_tracked, score  # noqa: E402


def run_tracker(src: Path, video: Path, out: Path) -> dict:
    """Track ``video`` with the checkout whose package is in ``src`` (a fresh process); returns its meta."""
    env = {**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    code = subprocess.run([sys.executable, __file__, "--dump", str(video), str(out)], env=env, capture_output=True,
                          text=True)
    if code.returncode != 0:
        raise RuntimeError(f"{src}: tracking {video} failed:\n{code.stderr[-3000:]}")
    return load_tracked(out)


def dump(video: str, out: str) -> None:
    import jegal

    from tests.perception.people_videos import follow

    tracked, extra = follow(Path(video))
    extra["package"] = str(Path(jegal.__file__).parent)
    save_tracked(Path(out), tracked, extra)


def table(rows: list[dict]) -> str:
    head = (f"{'video':<17} {'tracker':<9} {'found':>5} {'true':>4} {'worst cover':>11} {'covers (ids)':<34} "
            f"{'switch':>6} {'contain':>7} {'area med':>8} {'area p90':>8} {'width med':>9} {'s':>5}")
    lines = [head, "-" * len(head)]
    for r in rows:
        covers = " ".join(f"{p['coverage']:.0%}({p['identities']})" for p in r["persons"])
        worst = min(p["coverage"] for p in r["persons"])
        lines.append(f"{r['video']:<17} {r['tracker']:<9} {r['found']:>5} {r['true']:>4} {worst:>11.0%} {covers:<34} "
                     f"{r['switches']:>6} {r['contains']:>7.0%} {r['area_median']:>8.2f} {r['area_p90']:>8.2f} "
                     f"{r['width_median']:>9.2f} {r['seconds']:>5.1f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", type=Path, default=None, help="another checkout (its src is tracked too)")
    parser.add_argument("--videos", type=Path, default=Path(tempfile.gettempdir()) / "jegal_people_videos",
                        help="where the made videos are written (kept and reused)")
    parser.add_argument("--real-dir", type=Path, default=REPO.parent / "shared" / "data" / "real")
    parser.add_argument("--only", nargs="*", default=None, help="video names (default: all)")
    parser.add_argument("--json", type=Path, default=None, help="also write every number here")
    parser.add_argument("--dump", nargs=2, metavar=("VIDEO", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.dump:
        dump(*args.dump)
        return 0
    truths = make_all(args.videos, args.real_dir, tuple(args.only) if args.only else MADE + REAL)
    trackers = [("current", REPO / "src")] + ([("baseline", args.baseline.resolve() / "src")] if args.baseline else [])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, truth in truths.items():
            for label, src in trackers:
                tracked, extra = run_tracker(src, truth.path, Path(tmp) / f"{name}-{label}.npz")
                row = {"tracker": label, "package": extra.get("package"), "seconds": extra["seconds"],
                       "timings": extra["timings"], "error": extra["error"], "warnings": extra["warnings"],
                       **score(truth, tracked)}
                rows.append(row)
                print(f"{name} {label}: {len(tracked)} people, {extra['seconds']:.1f} s"
                      + (f" ({extra['error']})" if extra["error"] else ""), file=sys.stderr, flush=True)
    print(table(rows))
    for r in rows:
        for p in r["persons"]:
            print(f"  {r['video']} {r['tracker']}: {p['label']}: frames {p['first']}..{p['last']} "
                  f"({p['in_view']} in view), best track {p['track']} holds {p['coverage']:.1%}, "
                  f"{p['identities']} identities")
        print(f"  {r['video']} {r['tracker']}: tracks " + ", ".join(
            f"{t['first']}..{t['last']} ({t['parts']} parts)" for t in r["tracks"]))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
