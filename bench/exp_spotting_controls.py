"""How much of a model's spotting comes from the gestures? Controls on a trained model.

Runs the spotting protocol of ``jegal eval`` on a SynthGest corpus's spotting benchmark with the
real keypoints, then with each clip's keypoints replaced by (a) its mean pose held still,
(b) the keypoints of another test clip, (c) its own keypoints played backwards; and prints the
transcript-only word-order floor (``jegal.synth.baselines.word_order_spotting``) beside them.
What survives without the real motion is a prior on word timing, not gesture understanding.

    python bench/exp_spotting_controls.py RUN_OR_MODEL_DIR CORPUS_DIR [--modalities ta,t]
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np


def controlled(clips: dict, kind: str) -> dict:
    ids = list(clips)
    out = {}
    for i, (cid, c) in enumerate(clips.items()):
        kp = c.keypoints
        if kind == "still":
            kp = np.repeat(kp.mean(0, keepdims=True), len(kp), 0)
        elif kind == "other clip":
            other = clips[ids[(i + 7) % len(ids)]].keypoints
            kp = np.concatenate([other, np.repeat(other[-1:], max(0, len(kp) - len(other)), 0)])[: len(kp)]
        elif kind == "backwards":
            kp = kp[::-1].copy()
        out[cid] = replace(c, keypoints=kp)
    return out


def main() -> None:
    from jegal.evaluation.benchmarks import ClipSet
    from jegal.evaluation.protocols import evaluate_benchmark
    from jegal.evaluation.suite import corpus_benchmarks, corpus_clips
    from jegal.model import JEGAL
    from jegal.synth.baselines import word_order_spotting

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("corpus")
    ap.add_argument("--modalities", default="ta,t")
    args = ap.parse_args()
    model = JEGAL.from_pretrained(args.model)
    bench = corpus_benchmarks(args.corpus)["spotting"]
    clips = corpus_clips(args.corpus, {"spotting": bench})
    mods = args.modalities.split(",")
    print("| keypoints | " + " | ".join(f"spot ({m})" for m in mods) + " |\n|" + "---|" * (len(mods) + 1))
    for kind in ("real", "still", "other clip", "backwards"):
        cs = clips if kind == "real" else ClipSet(controlled(clips.clips, kind), {})
        accs = [evaluate_benchmark(model, bench, cs, modalities=m, keep_rows=False)["metrics"]["accuracy"]
                for m in mods]
        print(f"| {kind} | " + " | ".join(f"{100 * a:.1f}" for a in accs) + " |", flush=True)
    floor = word_order_spotting(bench)["word_order"]
    print(f"| none: word-order floor from the transcript | {100 * floor:.1f} |" + " |" * (len(mods) - 1))


if __name__ == "__main__":
    main()
