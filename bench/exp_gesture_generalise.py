"""Does jegal spot's per-word gestured decision generalise? Held-out clips, perturbed without retraining.

For every held-out test clip's media keypoint file (``CORPUS/media/<clip>/<n>.kps.npz`` with its
``.txt`` and ``.wav`` beside it) this runs the ``jegal spot`` path in process (``read_video`` ->
``spot_person(model, person, words, "ta")``: each word in its own window, its gesture score
against the person's no-gesture controls, which on a 3 s clip are the still pose and the word's
own window rolled in time), matches its words to ``CORPUS/ground_truth.jsonl`` (clip id = the
media folder / the file's stem; a word is gestured when a semantic gesture has its
``word_index``; words matched by order, checked by text and frames) and prints, per
perturbation (:mod:`perturb_corpus`, applied to each clip's files in a temporary folder):

- words, base rate, words not scored (outside the person's track; or dropped by ``speed``);
- the ``gestured`` flag: precision, recall, flagged fraction; undecided words (controls < 19);
- ``gesture_score``: ROC-AUC over all words, conditioned ROC-AUC (rows of words gestured in
  some clips and not in others, pooled and per-word mean), the best precision at recall >= 0.6;
- the AVS rule's ``localised`` flag (precision, recall, flagged) and ``prob`` (AUC, conditioned);
- p-values at their minimum 1 / (1 + controls) and the controls' spread;
- seconds per clip (read_video + spot_person).

A word the spot path did not score counts as missed (not flagged; worst score for its label).
``--eval-path`` adds a row for the same (unperturbed) words through ``jegal eval gestured``'s
path (the shard clips of CORPUS/test, ``score_clips``: each speaker's selected clips one person,
the controls their other clips and still pose), so the two paths can be compared word by word.

    python bench/exp_gesture_generalise.py MODEL CORPUS [--limit N] [--perturb none,jitter,...]
        [--eval-path] [--eval-only] [--space global] [--seed 0] [--save out.json] [--threads 1]

``--eval-only`` skips the spot path and runs the eval path once per ``--perturb`` kind (keypoint
kinds only; every clip of a speaker perturbed alike, so the controls are too); ``--space`` reads
the frames and words from those heads (``global``: the clip-level readout of docs/design.md
section 11).

``--limit N`` takes N clips of a fixed shuffle of the media files (seed 0), so a limited run
draws from every speaker and both pools (``spot``: a gestured target forced; ``test``: natural).
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from perturb_corpus import KINDS, clip_rng, media_files, perturb_clip, perturb_keypoints  # noqa: E402


def load_truth(corpus: Path) -> dict:
    """clip id -> (ground-truth record, [GesturedWord by word_index])."""
    from jegal.data.gestured_words import rows_from_ground_truth

    out = {}
    with open(corpus / "ground_truth.jsonl", encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            if rec.get("split") != "test":
                continue
            rows = sorted(rows_from_ground_truth([rec]), key=lambda r: r.word_index)
            out[rec["clip_id"]] = (rec, rows)
    return out


def match_words(words, rows, where: str) -> list[int]:
    """For each read word, the ground-truth word_index (by order; checked by text and frames)."""
    from jegal.data.words import normalise_word

    if len(words) == len(rows) and all(w.text == normalise_word(r.word) and abs(w.start - r.start) <= 2
                                       and abs(w.end - r.end) <= 2 for w, r in zip(words, rows)):
        return list(range(len(rows)))
    raise ValueError(f"{where}: the transcript's words do not match ground_truth.jsonl's "
                     f"({[(w.text, w.start, w.end) for w in words]} vs {[(r.word, r.start, r.end) for r in rows]})")


def run(model, files: list[Path], truth: dict, kind: str, seed: int, tmp: Path) -> dict:
    """Per word of every clip: label, text, pool, and what spot_person says (NaN / False where not scored)."""
    from jegal.data.words import normalise_word
    from jegal.inference.gesture_score import MIN_CONTROLS
    from jegal.inference.spotting import spot_person
    from jegal.use.video import read_video

    cols = {k: [] for k in ("clip", "pool", "label", "text", "scored", "score", "p", "controls", "gestured",
                            "localised", "prob")}
    seconds = []
    for n, path in enumerate(files):
        cid = f"{path.parent.name}/{path.name[:-len('.kps.npz')]}"
        rec, rows = truth[cid]
        if kind == "none":
            src, kept = path, None
        else:
            src, kept = perturb_clip(kind, path, tmp / kind / str(n), seed, cid)
        t0 = time.perf_counter()
        vi = read_video(src, progress=False)
        spots = spot_person(model, vi.people[0], vi.words, "ta")
        seconds.append(time.perf_counter() - t0)
        if kept is None:
            gt_index = match_words(vi.words, rows, cid)
        else:
            texts = [normalise_word(rows[k].word) for k in kept]
            if [w.text for w in vi.words] != texts:
                raise ValueError(f"{cid} ({kind}): the perturbed transcript's words are not the kept ones")
            gt_index = kept
        at = {int(i): r for r, i in enumerate(spots.word_index)}
        for r in rows:  # every ground-truth word; those the spot path did not score stay unscored
            wi = gt_index.index(r.word_index) if r.word_index in gt_index else None
            k = at.get(wi) if wi is not None else None
            cols["clip"].append(cid)
            cols["pool"].append(rec.get("pool", ""))
            cols["label"].append(bool(r.gestured))
            cols["text"].append(normalise_word(r.word))
            cols["scored"].append(k is not None)
            cols["score"].append(np.nan if k is None else float(spots.gesture_score[k]))
            cols["p"].append(np.nan if k is None else float(spots.p_value[k]))
            cols["controls"].append(0 if k is None else int(spots.controls[k]))
            cols["gestured"].append(False if k is None else bool(spots.gestured[k]))
            cols["localised"].append(False if k is None else bool(spots.localised[k]))
            cols["prob"].append(np.nan if k is None else float(spots.prob[k]))
    out = {k: np.asarray(v) for k, v in cols.items()}
    out["seconds"] = np.asarray(seconds)
    out["undecided"] = out["scored"] & (out["controls"] < MIN_CONTROLS)
    return out


def perturbed_keypoints(clip, kps_path: Path, kind: str, seed: int):
    """The shard clip with its keypoints replaced by its media file's, perturbed by ``kind`` exactly as
    :func:`perturb_corpus.perturb_clip` does (same random stream) and normalised as SynthGest's shards
    are (:func:`jegal.data.keypoints.normalise`). Speed kinds move words and audio: not here."""
    from dataclasses import replace

    from jegal.data.keypoints import normalise

    if kind.startswith("speed"):
        raise ValueError(f"--eval-path runs keypoint perturbations only, not {kind!r}")
    name = f"{kps_path.parent.name}/{kps_path.name[:-len('.kps.npz')]}"
    data = np.load(kps_path, allow_pickle=False)
    kp = data["keypoints"].astype(np.float32)
    if len(kp) != clip.num_frames:
        raise ValueError(f"{kps_path}: {len(kp)} frames, its shard clip {clip.num_frames}")
    width = float(data["width"]) if "width" in data else 256.0
    out, _ = perturb_keypoints(kind, kp, width, clip_rng(seed, f"{kind}:{name}"))
    return replace(clip, keypoints=normalise(out).astype(clip.keypoints.dtype))


def run_eval_path(model, files: list[Path], truth: dict, corpus: Path, kind: str = "none", seed: int = 0) -> dict:
    """The same words through ``jegal eval gestured``'s path: the shard clips of CORPUS/test
    (ground-truth words), :func:`jegal.inference.gesture_score.score_clips` (each clip a window,
    each speaker's selected clips one person: controls are their other clips and still pose).
    ``kind`` other than "none": every clip's keypoints perturbed (:func:`perturbed_keypoints`),
    controls included. No AVS columns (``localised`` all False, ``prob`` the window-max spotting
    probability)."""
    from jegal.data.words import Word, normalise_word
    from jegal.evaluation.benchmarks import load_clips, with_benchmark_words
    from jegal.inference.gesture_score import MIN_CONTROLS, score_clips

    ids = [f"{p.parent.name}/{p.name[:-len('.kps.npz')]}" for p in files]
    clipset = load_clips(corpus / "test", ids)
    clips = [with_benchmark_words(clipset.clips[c], [Word.from_display(r.word, r.start, r.end)
                                                     for r in truth[c][1]])[0] for c in ids]
    if kind != "none":
        clips = [perturbed_keypoints(c, p, kind, seed) for c, p in zip(clips, files)]
    t0 = time.perf_counter()
    res = score_clips(model, clips, modalities="ta")
    seconds = (time.perf_counter() - t0) / max(1, len(ids))
    cols = {k: [] for k in ("clip", "pool", "label", "text", "scored", "score", "p", "controls", "gestured",
                            "localised", "prob")}
    for c in ids:
        rec, rows = truth[c]
        ws = res[c]
        for r in rows:
            k = r.word_index
            cols["clip"].append(c)
            cols["pool"].append(rec.get("pool", ""))
            cols["label"].append(bool(r.gestured))
            cols["text"].append(normalise_word(r.word))
            cols["scored"].append(True)
            cols["score"].append(float(ws.score[k]))
            cols["p"].append(float(ws.p_value[k]))
            cols["controls"].append(int(ws.controls[k]))
            cols["gestured"].append(bool(ws.gestured[k]))
            cols["localised"].append(False)
            cols["prob"].append(float(ws.observed[k]))
    out = {k: np.asarray(v) for k, v in cols.items()}
    out["seconds"] = np.full(len(ids), seconds)
    out["undecided"] = out["controls"] < MIN_CONTROLS
    return out


def worst_filled(s: np.ndarray, y: np.ndarray) -> np.ndarray:
    s = s.astype(float).copy()
    bad = np.isnan(s)
    s[bad & y], s[bad & ~y] = -np.inf, np.inf
    return s


def summarise(r: dict) -> dict:
    from jegal.metrics import average_precision, best_precision_at_recall, conditioned_auc, precision_recall, roc_auc

    y, text = r["label"], r["text"].tolist()
    out = {"clips": len(r["seconds"]), "words": int(len(y)), "base_rate": float(y.mean()),
           "not_scored": int((~r["scored"]).sum()), "undecided": int(r["undecided"].sum()),
           "seconds_per_clip": float(r["seconds"].mean()), "seconds": float(r["seconds"].sum())}
    for name, flag, score in (("gesture", r["gestured"], r["score"]), ("avs", r["localised"], r["prob"])):
        s = worst_filled(score, y)
        pr = precision_recall(flag, y)
        cond = conditioned_auc(s, y, text)
        best = best_precision_at_recall(s, y, 0.6)
        out[name] = {"precision": pr["precision"], "recall": pr["recall"], "f1": pr["f1"],
                     "flagged": pr["flagged_fraction"], "auc": roc_auc(s, y), "ap": average_precision(s, y),
                     "cond_auc": cond["pooled"], "cond_auc_per_word": cond["per_group_mean"],
                     "cond_rows": cond["rows"], "p_at_r60": best["precision"]}
    if out["not_scored"]:  # the same numbers over the words the spot path scored
        m = r["scored"]
        pr = precision_recall(r["gestured"][m], y[m])
        out["scored_only"] = {"words": int(m.sum()), "base_rate": float(y[m].mean()), "precision": pr["precision"],
                              "recall": pr["recall"], "flagged": pr["flagged_fraction"],
                              "auc": roc_auc(r["score"][m], y[m]),
                              "cond_auc": conditioned_auc(r["score"][m], y[m], r["text"][m].tolist())["pooled"],
                              "prob_auc": roc_auc(r["prob"][m], y[m]),
                              "localised_recall": precision_recall(r["localised"][m], y[m])["recall"]}
    # the p-values: how many sit at their floor 1 / (1 + controls), and how the controls spread
    sc = r["scored"] & (r["controls"] > 0)
    at_min = sc & np.isclose(r["p"], 1.0 / (1.0 + r["controls"]), rtol=1e-5)
    decided = r["scored"] & ~r["undecided"]
    c = r["controls"][r["scored"]]
    out["p"] = {"at_min": int(at_min.sum()), "at_min_decided": int((at_min & decided).sum()),
                "at_min_positive": float(y[at_min].mean()) if at_min.any() else float("nan"),
                "at_min_share_of_flagged": float(at_min[r["gestured"]].mean()) if r["gestured"].any() else float("nan"),
                "p_le_alpha": int((sc & (r["p"] <= 0.05 + 1e-6)).sum()),  # p is float32
                "controls_min": int(c.min()) if len(c) else 0, "controls_median": float(np.median(c)) if len(c) else 0,
                "controls_max": int(c.max()) if len(c) else 0,
                "controls_hist": {str(k): int(v) for k, v in zip(*np.unique(c, return_counts=True))}}
    out["pools"] = {}
    for pool in sorted(set(r["pool"].tolist())):
        m = r["pool"] == pool
        out["pools"][pool] = {"words": int(m.sum()), "base_rate": float(y[m].mean()),
                              "gesture": precision_recall(r["gestured"][m], y[m]),
                              "avs": precision_recall(r["localised"][m], y[m])}
    return out


def f(x, d=3) -> str:
    return "-" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:.{d}f}"


def table(results: dict) -> str:
    lines = ["| perturbation | clips | words | base | gestured P | R | flagged | undecided | p at min "
             "| score AUC | cond AUC (pooled / per word) | score P@R>=.6 | localised P | R | flagged | prob AUC "
             "| prob cond AUC (pooled / per word) | s/clip |",
             "|" + "---|" * 18]
    for kind, s in results.items():
        g, a, p = s["gesture"], s["avs"], s["p"]
        lines.append(f"| {kind} | {s['clips']} | {s['words']} | {f(s['base_rate'])} | {f(g['precision'])} | "
                     f"{f(g['recall'])} | {f(g['flagged'])} | {s['undecided']} | {p['at_min']} | {f(g['auc'])} | "
                     f"{f(g['cond_auc'])} / {f(g['cond_auc_per_word'])} | {f(g['p_at_r60'])} | {f(a['precision'])} | "
                     f"{f(a['recall'])} | {f(a['flagged'])} | {f(a['auc'])} | {f(a['cond_auc'])} / "
                     f"{f(a['cond_auc_per_word'])} | {f(s['seconds_per_clip'], 2)} |")
    return "\n".join(lines)


def details(kind: str, s: dict) -> str:
    p = s["p"]
    pools = "; ".join(f"{k}: {v['words']} words, base {f(v['base_rate'])}, gestured P {f(v['gesture']['precision'])} "
                      f"R {f(v['gesture']['recall'])}, localised P {f(v['avs']['precision'])} R {f(v['avs']['recall'])}"
                      for k, v in s["pools"].items())
    so = s.get("scored_only")
    scored = "" if so is None else (
        f" (over the {so['words']} scored words: base {f(so['base_rate'])}, gestured P {f(so['precision'])} "
        f"R {f(so['recall'])} flagged {f(so['flagged'])}, score AUC {f(so['auc'])}, cond AUC {f(so['cond_auc'])}, "
        f"prob AUC {f(so['prob_auc'])}, localised R {f(so['localised_recall'])})")
    return (f"{kind}: {s['not_scored']} words not scored{scored}; p <= 0.05: {p['p_le_alpha']}; p at its minimum "
            f"1/(1+controls): {p['at_min']} words ({p['at_min_decided']} decided; {f(p['at_min_positive'])} of them "
            f"gestured; {f(p['at_min_share_of_flagged'])} of the flagged words); controls min/median/max "
            f"{p['controls_min']}/{f(p['controls_median'], 1)}/{p['controls_max']}; {pools}; "
            f"{f(s['seconds'], 1)} s spotting")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("corpus")
    ap.add_argument("--limit", type=int, default=0, help="clips (a fixed shuffle); 0: all")
    ap.add_argument("--perturb", default="none", help=f"comma-separated, of: {', '.join(KINDS)}")
    ap.add_argument("--seed", type=int, default=0, help="of the perturbations")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--eval-path", action="store_true",
                    help="add a row: the same clips through jegal eval gestured's score_clips (per-speaker controls)")
    ap.add_argument("--eval-only", action="store_true",
                    help="skip the spot path: one eval-path row per --perturb kind (keypoint kinds only: the "
                         "speaker's clips perturbed alike, controls included)")
    ap.add_argument("--space", default=None, choices=["both", "global", "local"],
                    help="read frames and words from these heads (JEGAL.readout; default: what the training shaped)")
    ap.add_argument("--save", default="", help="write the summaries (and per-word arrays) as JSON")
    args = ap.parse_args()
    kinds = [k.strip() for k in args.perturb.split(",") if k.strip()]
    for k in kinds:
        if k not in KINDS:
            ap.error(f"unknown perturbation {k!r}; one of {', '.join(KINDS)}")
    import torch

    torch.set_num_threads(args.threads)
    from jegal.model import JEGAL

    t_all = time.perf_counter()
    corpus = Path(args.corpus)
    model_dir = Path(args.model)
    if (model_dir / "run" / "model").is_dir():  # a jegal demo folder
        model_dir = model_dir / "run" / "model"
    model = JEGAL.from_pretrained(model_dir).load_text_backbone()
    model.eval()
    if args.space:  # every embedding pass of this process reads that space (a bench-only readout switch)
        model.embed = functools.partial(model.embed, space=args.space)
    truth = load_truth(corpus)
    files = media_files(corpus)
    files = [files[i] for i in np.random.default_rng(0).permutation(len(files))][: args.limit or None]
    print(f"model {model_dir}, corpus {corpus}: {len(files)} clips; "
          f"model loaded in {time.perf_counter() - t_all:.1f} s", flush=True)
    results, raw = {}, {}
    with tempfile.TemporaryDirectory(prefix="gest_gen_") as tmp:
        for kind in ([] if args.eval_only else kinds):
            t0 = time.perf_counter()
            with torch.no_grad():
                r = run(model, files, truth, kind, args.seed, Path(tmp))
            results[kind] = summarise(r)
            raw[kind] = r
            print(details(kind, results[kind]) + f"; {time.perf_counter() - t0:.1f} s with perturbing", flush=True)
    for perturb in (kinds if args.eval_only else ["none"] if args.eval_path else []):
        with torch.no_grad():
            r = run_eval_path(model, files, truth, corpus, perturb, args.seed)
        kind = f"eval path (score_clips, {'no perturbation' if perturb == 'none' else perturb})"
        results[kind] = summarise(r)
        results[kind]["avs"] = {k: (float("nan") if k in ("precision", "recall", "flagged") else v)
                                for k, v in results[kind]["avs"].items()}  # no AVS flag on this path
        for pool in results[kind]["pools"].values():
            pool["avs"] = {k: float("nan") for k in pool["avs"]}
        raw[kind] = r
        print(details(kind, results[kind]) + " (localised: not computed on this path; prob: the window-max P)",
              flush=True)
    print()
    print(table(results))
    print(f"\nelapsed {time.perf_counter() - t_all:.1f} s")
    if args.save:
        doc = {"model": str(model_dir), "corpus": str(corpus), "clips": len(files), "seed": args.seed,
               "space": args.space,
               "summaries": results,
               "words": {k: {c: v.tolist() for c, v in r.items()} for k, r in raw.items()}}
        Path(args.save).write_text(json.dumps(doc, default=float), encoding="utf-8")
        print(f"wrote {args.save}")


if __name__ == "__main__":
    main()
