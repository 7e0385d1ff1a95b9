"""``jegal ablate``: the paper's ablations and baselines, trained on the same data and budget.

    jegal ablate --corpus demo_out/corpus --out ablate_out                # every variant, 4 epochs each
    jegal ablate --corpus demo_out/corpus --out ablate_out --variants full,global_only,coupling_only --max-steps 300

Writes ``OUT/ablation.md`` (one table) and ``OUT/ablation.json`` (every number, per variant
and test modality); each variant's run is in ``OUT/runs/<variant>/`` and is reused on reruns.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from jegal.atomic import write_json_atomic, write_text_atomic
from jegal.evaluation.protocols import ties_note
from jegal.evaluation.suite import (TEXT_CACHE_SIZE, VARIANTS, Budget, EnsembleModel, corpus_benchmarks, corpus_clips,
                                    evaluate_model, floor_rows, headline, results_table, train_variant)

MOD_NAMES = {"ta": "text + speech", "t": "text", "a": "speech"}
DEFAULT_EPOCHS = 4  # per variant, unless --epochs or --max-steps sets the length


def configure(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.ArgumentDefaultsHelpFormatter
    parser.add_argument("--corpus", required=True, metavar="DIR",
                        help="a SynthGest corpus (jegal synth) or any corpus dir with train/, test/ and benchmarks/")
    parser.add_argument("--out", required=True, metavar="DIR", help="output directory")
    parser.add_argument("--variants", default=",".join(VARIANTS), metavar="LIST",
                        help=f"comma-separated subset of: {', '.join(VARIANTS)} (default: all)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="at most this many training epochs per variant (default: 4; no limit with --max-steps)")
    parser.add_argument("--max-steps", type=int, default=0, help="stop each training after this many steps (0 = epochs)")
    parser.add_argument("--max-seconds", type=float, default=0.0,
                        help="time budget of each training in seconds (0 = none); its lr schedule ends with it")
    parser.add_argument("--batch-size", type=int, default=None, help="clips per training batch (default: the cpu preset's)")
    parser.add_argument("--lr", type=float, default=None, help="peak learning rate (default: the cpu preset's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = all cores)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def run_ablation(corpus: Path, out: Path, names: list[str], budget: Budget, progress: bool = True,
                 log=print) -> dict:
    from jegal.model import JEGAL

    benches = corpus_benchmarks(corpus)
    clips = corpus_clips(corpus, benches)
    if clips.problems:
        log(f"{len(clips.problems)} benchmark clips missing or unreadable (counted as errors)")
    trained, results, timings = {}, {}, {}
    needed = list(dict.fromkeys(p for n in names for p in (VARIANTS[n].parts or (n,))))
    for name in needed:
        v = VARIANTS[name]
        log(f"[ablate] train {name}: {v.label}")
        t0 = time.perf_counter()
        trained[name] = train_variant(v, corpus, out / "runs" / name, budget, progress=progress)
        timings[name] = round(time.perf_counter() - t0, 1)
    models = {name: JEGAL.from_pretrained(out / "runs" / name).set_runtime(text_cache_size=TEXT_CACHE_SIZE)
              for name in needed}
    for name in names:
        v = VARIANTS[name]
        log(f"[ablate] evaluate {name}")
        if v.parts:
            model = EnsembleModel([models[p] for p in v.parts], [VARIANTS[p].test_modalities[0] for p in v.parts])
            results[name] = evaluate_model(model, benches, clips, ("ta",))
        else:
            results[name] = evaluate_model(models[name], benches, clips, v.test_modalities)
    rows = []
    for name in names:
        v = VARIANTS[name]
        for m in (v.test_modalities if not v.parts else ("ta",)):
            label = v.label if len(v.test_modalities) == 1 else f"{v.label}; test: {MOD_NAMES[m]}"
            rows.append({"variant": name, "label": label, "modalities": m, "group": v.group,
                         "metrics": headline(results[name], m)})
    floors, floor_raw = floor_rows(corpus, len(benches["retrieval"].rows))
    table = results_table([(r["label"], r["metrics"]) for r in rows] + floors)
    checked = findings(rows, [{"label": lbl, "metrics": m} for lbl, m in floors])
    return {"findings": checked, "corpus": str(corpus), "budget": vars(budget), "variants": names, "rows": rows,
            "floors": [{"label": lbl, "metrics": m} for lbl, m in floors], "floor_details": floor_raw,
            "training": trained, "train_wall_seconds": timings, "results": _strip(results),
            "clips_missing": clips.problems, "table": table}


def _mean(*xs):
    xs = [x for x in xs if x is not None]
    return sum(xs) / len(xs) if xs else None


def _ret(m: dict):
    return _mean(m.get("ret R@10 c2g"), m.get("ret R@10 g2c"))


def findings(rows: list[dict], floors: list[dict]) -> list[dict]:
    """The paper's qualitative claims, each checked on this table: {claim, holds, numbers}.
    A claim whose variants were not run is left out."""
    by = {(r["variant"], r["modalities"]): r["metrics"] for r in rows}
    full = by.get(("full", "ta"))
    out = []

    def claim(text, holds, numbers):
        out.append({"claim": text, "holds": bool(holds), "numbers": numbers})

    def pct(x):
        return None if x is None else round(100 * x, 1)

    g, c = by.get(("global_only", "ta")), by.get(("coupling_only", "ta"))
    if full and g and c:
        nums = {"retrieval mean R@10": {"both": pct(_ret(full)), "global only": pct(_ret(g)), "coupling only": pct(_ret(c))},
                "spotting": {"both": pct(full.get("spot")), "global only": pct(g.get("spot")),
                             "coupling only": pct(c.get("spot"))}}
        claim("both losses together beat either alone on retrieval and spotting",
              _ret(full) > max(_ret(g), _ret(c)) and full["spot"] > max(g["spot"], c["spot"]), nums)
        claim("the coupling loss is what drives spotting (coupling only > global only on spotting)",
              c["spot"] > g["spot"], nums["spotting"])
    a = by.get(("avg_fusion", "ta"))
    if full and a:
        keys = ["ret R@10 c2g", "ret R@10 g2c", "spot", "ASD P=2", "ASD P=4", "ASD P=6"]
        claim("concat fusion is at least as good as avg fusion (on most headline metrics)",
              sum(full[k] >= a[k] for k in keys) >= len(keys) / 2,
              {k: {"concat": pct(full[k]), "avg": pct(a[k])} for k in keys})
    t, sp = by.get(("full", "t")), by.get(("full", "a"))
    if full and t and sp:
        claim("text helps spotting most (text only > speech only on spotting)", t["spot"] > sp["spot"],
              {"text only": pct(t["spot"]), "speech only": pct(sp["spot"]), "both": pct(full["spot"])})
        if full.get("spot stressed") is not None and t.get("spot stressed") is not None:
            claim("speech helps on stressed words (text + speech > text only on stressed target words)",
                  full["spot stressed"] > t["spot stressed"],
                  {"both": pct(full["spot stressed"]), "text only": pct(t["spot stressed"])})
    for name, label in (("sync", "sync-style"), ("clip_clip", "clip-level CLIP")):
        b = by.get((name, "a" if name == "sync" else "t"))
        if full and b:
            claim(f"the full model beats the {label} baseline on spotting and retrieval",
                  full["spot"] > b["spot"] and _ret(full) > _ret(b),
                  {"spotting": {"full": pct(full["spot"]), label: pct(b["spot"])},
                   "retrieval mean R@10": {"full": pct(_ret(full)), label: pct(_ret(b))}})
    if full and floors:
        best = {}
        for f in floors:
            if f["label"].startswith("ceiling"):
                continue
            for k, v in f["metrics"].items():
                if v is not None and k in full and "MedR" not in k:
                    best[k] = max(best.get(k, v), v)
        claim("the full model beats every floor on every task",
              all(full.get(k) is not None and full[k] > v for k, v in best.items()),
              {k: {"full": pct(full[k]), "best floor": pct(v)} for k, v in best.items()})
    return out


def findings_markdown(items: list[dict]) -> str:
    lines = []
    for f in items:
        mark = "holds" if f["holds"] else "does NOT hold"
        lines.append(f"- **{mark}**: {f['claim']}. Numbers (%): `{json.dumps(f['numbers'])}`")
    return "\n".join(lines)


def _strip(results: dict) -> dict:
    """Drop the per-row lists (kept small: the table JSON)."""
    out = {}
    for name, tasks in results.items():
        out[name] = {t: {m: {k: v for k, v in r.items() if k != "per_row"} for m, r in mods.items()}
                     for t, mods in tasks.items()}
    return out


def run(args: argparse.Namespace) -> int:
    names = [n.strip() for n in args.variants.split(",") if n.strip()]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        print(f"jegal ablate: unknown variants {', '.join(unknown)}; known: {', '.join(VARIANTS)}", file=sys.stderr)
        return 1
    corpus, out = Path(args.corpus), Path(args.out)
    if not (corpus / "benchmarks").is_dir() or not (corpus / "train").is_dir():
        print(f"jegal ablate: {corpus} has no train/ and benchmarks/ (make one with `jegal synth --out {corpus}`)",
              file=sys.stderr)
        return 1
    epochs = DEFAULT_EPOCHS if args.epochs is None and not args.max_steps else args.epochs
    budget = Budget(epochs=epochs, max_steps=args.max_steps, max_seconds=args.max_seconds,
                    batch_size=args.batch_size, lr=args.lr,
                    threads=args.threads, seed=args.seed)
    doc = run_ablation(corpus, out, names, budget, progress=not args.quiet)
    write_json_atomic(out / "ablation.json", doc)
    note = ties_note(doc["floor_details"]["retrieval"]["ties"])
    write_text_atomic(out / "ablation.md", "# JEGAL ablations\n\n" + f"Corpus: `{corpus}`; budget: {vars(budget)}\n\n"
                      + doc["table"] + "\n\n" + note + "\n\n" + "## The paper's findings on this table\n\n"
                      + (findings_markdown(doc["findings"]) or "(none checked)") + "\n")
    print(doc["table"])
    print(note)
    if doc["findings"]:
        print(findings_markdown(doc["findings"]))
    print(f"wrote {out / 'ablation.md'} and {out / 'ablation.json'}")
    return 0
