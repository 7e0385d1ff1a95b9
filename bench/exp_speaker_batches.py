"""Speaker-grouped batches (``data.speakers_per_batch``) side by side: `python bench/exp_speaker_batches.py`.

One SynthGest corpus, the cpu preset trained for a few steps with k = 0 (off), 2 and 4
speakers per batch, the same seed; prints a markdown table of validation retrieval (mean R@10),
spotting accuracy, and the mean cosine of the gesture clip vectors of validation clips within
a speaker vs across speakers (how much of the clip vector is speaker identity).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch


def speaker_cosines(model_dir: Path, test_dir: Path) -> tuple[float, float]:
    from jegal.data.batch import collate_clips
    from jegal.model import JEGAL
    from jegal.train.data import read_clip_list

    model = JEGAL.load(model_dir).eval()
    clips, _ = read_clip_list(test_dir)
    vecs = []
    with torch.no_grad():
        for lo in range(0, len(clips), 64):
            vecs.append(model.embed(collate_clips(clips[lo : lo + 64]))["gesture_clip"].float())
    g = torch.nn.functional.normalize(torch.cat(vecs), dim=-1)
    cos = g @ g.T
    spk = [c.speaker_id for c in clips]
    same = torch.tensor([[a == b for b in spk] for a in spk])
    off_diag = ~torch.eye(len(clips), dtype=torch.bool)
    return float(cos[same & off_diag].mean()), float(cos[~same].mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--speakers", type=int, default=12)
    ap.add_argument("--train-clips", type=int, default=800)
    ap.add_argument("--test-clips", type=int, default=120)
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--ks", default="0,2,4")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="extra overrides")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from jegal.synth.corpus import generate_corpus
    from jegal.train import resolve, train

    root = Path(tempfile.mkdtemp(prefix="spkbatch"))
    corpus = root / "corpus"
    generate_corpus(corpus, speakers=args.speakers, train_clips=args.train_clips, test_clips=args.test_clips,
                    seed=3, progress=False, workers=1)
    overrides = dict(s.split("=", 1) for s in args.set)
    rows = []
    for k in (int(x) for x in args.ks.split(",")):
        out = root / f"k{k}"
        cfg = resolve(preset="cpu", flags={"data.train": str(corpus), "out": str(out), "max_steps": args.steps,
                                           "epochs": 100, "validate_every": 0, "progress": False,
                                           "tensorboard": False, "threads": args.threads,
                                           "data.speakers_per_batch": k}, overrides=dict(overrides))
        m = train(cfg)["metrics"]
        within, across = speaker_cosines(out / "model", corpus / "test")
        rows.append((k, m["ret_R@10_mean"], m.get("spot_acc", float("nan")), m["ret_c2g_median_rank"],
                     m["ret_g2c_median_rank"], within, across, m["val_clips"]))
        print(rows[-1], flush=True)
    print("\n| speakers per batch | R@10 mean | spot acc | median rank c2g / g2c | gesture cos within / across speaker |")
    print("|---|---|---|---|---|")
    for k, r10, spot, mc, mg, w, a, n in rows:
        print(f"| {k or 'off'} | {r10:.3f} | {spot:.3f} | {mc:.0f} / {mg:.0f} | {w:.3f} / {a:.3f} |")
    print(f"\n(validation: {int(rows[0][-1])} clips; chance R@10 = {10 / rows[0][-1]:.3f})")


if __name__ == "__main__":
    main()
