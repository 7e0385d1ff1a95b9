"""``jegal ablate``: the paper's ablations and baselines, trained on the same data and budget.

    jegal ablate --corpus demo_out/corpus --out ablate_out                # every variant, 4 epochs each
    jegal ablate --corpus demo_out/corpus --out ablate_out --variants full,global_only,coupling_only --max-steps 300
    jegal ablate --corpus demo_out/corpus --out ablate_seeds --variants full,global_only --max-steps 300 --seeds 3

Writes ``OUT/ablation.md`` (one table) and ``OUT/ablation.json`` (every number, per variant
and test modality); each variant's run is in ``OUT/runs/<variant>/`` and is reused on reruns.
With ``--seeds N`` (N > 1) every variant is trained and evaluated once per seed (``--seed``,
``--seed`` + 1, ...; runs in ``OUT/runs/seed<S>/<variant>/``): the table shows, for every number,
the mean over seeds +- the half-width of its 95 % Student-t interval, and lists the differences
from ``full`` whose interval (paired by seed) contains 0.

Every model row also carries the gestured-word protocols (:mod:`jegal.evaluation.gestured`, on
every word of every test clip of the corpus's ``benchmarks/gestured_words.csv`` or its
``ground_truth.jsonl``) of its variant and test modalities: the columns of :data:`GW_COLUMNS`, once
for the gesture score (``gw score ...``) and once for the window-max spotting probability
(``gw prob ...``); the gestured-word floors are floor rows (``gw floor: ...``), computed once.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import numbers
import sys
import time
from pathlib import Path

from jegal.atomic import write_json_atomic, write_text_atomic
from jegal.evaluation.protocols import format_value, markdown_table, ties_note
from jegal.evaluation.suite import (HEADLINE, TEXT_CACHE_SIZE, VARIANTS, Budget, EnsembleModel, corpus_benchmarks,
                                    corpus_clips, evaluate_model, floor_rows, headline, results_table, train_variant)

# the gestured-word numbers of a model row: (column, path into an evaluate_gestured row)
GW_COLUMNS = [("AUC", ("detection", "auc")), ("AUC cond", ("detection", "conditioned", "pooled")),
              ("AP", ("detection", "ap")), ("P", ("flag", "precision")), ("R", ("flag", "recall")),
              ("flagged", ("flag", "flagged_fraction")), ("top-1", ("identification", "top1")),
              ("MRR", ("identification", "mrr")), ("in stroke", ("localisation", "in_stroke"))]
# the evaluate_gestured model rows a table row reads (name prefix) -> its columns' prefix
GW_SCORERS = {"gesture score": "gw score", "spotting probability": "gw prob"}
GW_LEGEND = ("gw: the gestured-word protocols (`jegal eval gestured`) on every word of every test clip; `gw score`: "
             "the per-word gesture score against no-gesture controls, `gw prob`: the spotting probability (window "
             "max; its flag is the AVS rule). AUC: detection ROC-AUC over all words; AUC cond: pooled over the words "
             "gestured in some clips and not in others (where a word prior has no per-word signal: its per-word AUC is "
             "50, pooled near 50); AP: average precision; P, R, flagged: the gestured flag's precision, recall and fraction of words flagged; top-1, MRR: "
             "identification of the gestured word in a clip; in stroke: the peak frame inside the annotated stroke. "
             "The `gw floor` rows (scored by the same code) fill both column sets; '-': the row cannot answer it "
             "(a floor makes no flag; the late-fusion ensemble may lack the gesture score).")

MOD_NAMES = {"ta": "text + speech", "t": "text", "a": "speech"}
DEFAULT_EPOCHS = 4  # per variant, unless --epochs or --max-steps sets the length
LEVEL = 0.95  # of every interval over seeds
REFERENCE = ("full", "ta")  # the row every other row's per-seed differences are taken against


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
    parser.add_argument("--seed", type=int, default=0, help="the (first) training seed")
    parser.add_argument("--seeds", type=int, default=1, metavar="N",
                        help="train and evaluate every variant with N seeds (--seed, --seed+1, ...; runs in "
                             "OUT/runs/seed<S>/<variant>/): every number of the table becomes mean +- the half-width "
                             "of its 95 %% Student-t interval over seeds, and the differences from `full` whose "
                             "interval (paired by seed) contains 0 are listed. 1: one run per variant in "
                             "OUT/runs/<variant>/, no intervals")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = all cores)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def run_ablation(corpus: Path, out: Path, names: list[str], budget: Budget, progress: bool = True,
                 log=print, seeds: int = 1) -> dict:
    """Train and evaluate ``names`` with ``seeds`` seeds (``budget.seed``, + 1, ...) and the floors:
    the document of ``OUT/ablation.json``. One seed: runs in ``out/runs/<variant>``, one value per
    number; more: runs in ``out/runs/seed<S>/<variant>``, every number aggregated over seeds."""
    if seeds < 1:
        raise ValueError(f"seeds must be at least 1, got {seeds}")
    benches = corpus_benchmarks(corpus)
    clips = corpus_clips(corpus, benches)
    if clips.problems:
        log(f"{len(clips.problems)} benchmark clips missing or unreadable (counted as errors)")
    gw = gestured_setup(corpus, log)
    seed_list = [budget.seed + k for k in range(seeds)]
    runs = []
    for s in seed_list:
        if seeds > 1:
            log(f"[ablate] seed {s} ({s - budget.seed + 1} of {seeds})")
        runs.append(_one_seed(corpus, seed_runs_dir(out, s, seeds), names, dataclasses.replace(budget, seed=s),
                              benches, clips, progress, log, gw))
    floors, floor_raw = floor_rows(corpus, len(benches["retrieval"].rows))
    floor_docs = [{"label": lbl, "metrics": m} for lbl, m in floors]
    gw_floors = gestured_floors(gw)
    floor_docs += [{"label": lbl, "metrics": m} for lbl, m in gw_floors["rows"]] if gw_floors else []
    doc = {"corpus": str(corpus), "budget": vars(budget), "seeds": seed_list, "variants": names,
           "floors": floor_docs, "floor_details": floor_raw, "clips_missing": clips.problems,
           "gestured": gw_floors["doc"] if gw_floors else {"skipped": gw["skipped"]}}
    if seeds == 1:
        one = runs[0]
        return {"findings": findings(one["rows"], floor_docs), **doc, "rows": one["rows"], "training": one["trained"],
                "train_wall_seconds": one["timings"], "eval_wall_seconds": one["eval_timings"],
                "results": _strip(one["results"]),
                "table": results_table([(r["label"], r["metrics"]) for r in one["rows"]]
                                       + [(f["label"], f["metrics"]) for f in floor_docs])}
    return {**doc, **_over_seeds(runs, seed_list, names, floor_docs)}


# -- the gestured-word protocols ----------------------------------------------------------------
def gestured_setup(corpus: Path, log=print) -> dict:
    """The corpus's gestured-word ground truth and its test clips, read once for every variant and
    seed: {truth, clips} or {skipped: why} (a corpus without ``gestured_words.csv`` or
    ``ground_truth.jsonl``)."""
    from jegal.data.gestured_words import FILENAME, GesturedWordsError, find_gestured_words
    from jegal.evaluation.benchmarks import load_clips

    try:
        truth = find_gestured_words(Path(corpus) / "benchmarks" / FILENAME)
    except GesturedWordsError as err:
        log(f"[ablate] gestured-word protocols skipped: {err}")
        return {"skipped": str(err)}
    clips = load_clips(Path(corpus) / "test", truth.clips("test").keys())
    if clips.problems:
        log(f"{len(clips.problems)} gestured-word test clips missing or unreadable (their words count as errors)")
    return {"truth": truth, "clips": clips}


def gestured_metrics(result: dict) -> dict:
    """The table columns of one :func:`jegal.evaluation.gestured.evaluate_gestured` result's model
    rows: :data:`GW_COLUMNS` under each :data:`GW_SCORERS` prefix the result has (a number the row
    cannot give is None)."""
    out = {}
    for prefix, col_prefix in GW_SCORERS.items():
        row = next((r for r in result["rows"] if r["kind"] == "model"
                    and (r["name"] == prefix or r["name"].startswith(prefix + " ("))), None)
        if row is not None:
            out.update({f"{col_prefix} {col}": _path(row, path) for col, path in GW_COLUMNS})
    return out


def _path(d, path: tuple):
    for k in path:
        if not isinstance(d, dict):
            return None
        d = d.get(k)
    return d if _number(d) else None


def evaluate_gestured_row(gw: dict, model, benches: dict, embs: dict | None, modalities: str, ensemble: bool,
                          log=print) -> dict | None:
    """The gestured-word protocols of one model and test modalities, reusing its benchmark
    embeddings ``embs`` ({task: Embeddings} of ``modalities``) as ``jegal demo`` does: the model
    rows of the result, its counts, timings and, where the gesture score could not be computed
    (the late-fusion ensemble), why. None when the corpus has no ground truth."""
    from jegal.evaluation.gestured import evaluate_gestured, reusable_embeddings

    if "truth" not in gw:
        return None
    truth, clips = gw["truth"], gw["clips"]
    reuse = reusable_embeddings(truth, benches, embs) if embs else None
    note = None
    try:
        res = evaluate_gestured(truth, clips, model, modalities=modalities, reuse=reuse)
    except Exception as err:  # noqa: BLE001 - only the ensemble's gesture score may fail: its cells stay empty
        if not ensemble:
            raise
        note = f"gesture score not computed: {type(err).__name__}: {err}"
        log(f"[ablate] {note}")
        res = evaluate_gestured(truth, clips, model, modalities=modalities, reuse=reuse, gesture_score=False)
    return {"rows": [r for r in res["rows"] if r["kind"] == "model"], "counts": res["counts"],
            "model": res["model"], "seconds": res["seconds"], "note": note}


def gestured_floors(gw: dict) -> dict | None:
    """The gestured-word floors (seed- and model-independent, computed once): {rows: [(label,
    metrics)], doc: the floors' numbers, counts and notes for ``ablation.json``}; None without
    ground truth. A floor's numbers fill both the ``gw score`` and the ``gw prob`` columns."""
    from jegal.evaluation.gestured import evaluate_gestured

    if "truth" not in gw:
        return None
    res = evaluate_gestured(gw["truth"], gw["clips"], None)
    rows = []
    for r in res["rows"]:
        if r["kind"] != "floor":
            continue
        values = {col: _path(r, path) for col, path in GW_COLUMNS}
        if any(v is not None for v in values.values()):
            rows.append((f"gw floor: {r['name']}",
                         {f"{p} {col}": v for p in GW_SCORERS.values() for col, v in values.items()}))
    return {"rows": rows, "doc": {"counts": res["counts"], "floors": res["rows"], "notes": res["notes"],
                                  "truth": res["truth"]}}


def seed_runs_dir(out: Path, seed: int, seeds: int) -> Path:
    """Where the runs of one seed live: ``out/runs`` for a one-seed ablation (the layout before
    ``--seeds``, so its runs are reused), ``out/runs/seed<S>`` otherwise (beside, never inside, a
    one-seed run's folder, which the trainer deletes when it finds it unfinished)."""
    return out / "runs" if seeds == 1 else out / "runs" / f"seed{seed}"


def _one_seed(corpus: Path, runs_dir: Path, names: list[str], budget: Budget, benches: dict, clips, progress: bool,
              log, gw: dict | None = None) -> dict:
    """Train (or reuse) and evaluate every variant of ``names`` with ``budget`` (its seed), the
    three benchmarks and (``gw``: :func:`gestured_setup`) the gestured-word protocols:
    {trained, timings, eval_timings, results, rows}."""
    from jegal.model import JEGAL

    gw = gw or {"skipped": "not asked for"}
    trained, results, timings, eval_timings = {}, {}, {}, {}
    needed = list(dict.fromkeys(p for n in names for p in (VARIANTS[n].parts or (n,))))
    for name in needed:
        v = VARIANTS[name]
        log(f"[ablate] train {name}: {v.label}")
        t0 = time.perf_counter()
        trained[name] = train_variant(v, corpus, runs_dir / name, budget, progress=progress)
        timings[name] = round(time.perf_counter() - t0, 1)
    models = {name: JEGAL.from_pretrained(runs_dir / name).set_runtime(text_cache_size=TEXT_CACHE_SIZE)
              for name in needed}
    for name in names:
        v = VARIANTS[name]
        log(f"[ablate] evaluate {name}")
        t0 = time.perf_counter()
        mods = ("ta",) if v.parts else v.test_modalities
        model = EnsembleModel([models[p] for p in v.parts], [VARIANTS[p].test_modalities[0] for p in v.parts]) \
            if v.parts else models[name]
        results[name], embs = evaluate_model(model, benches, clips, mods, return_embeddings=True)
        if "truth" in gw:
            results[name]["gestured"] = {m: evaluate_gestured_row(gw, model, benches, embs.get(m), m, bool(v.parts),
                                                                  log) for m in mods}
        eval_timings[name] = round(time.perf_counter() - t0, 1)
    rows = []
    for name in names:
        v = VARIANTS[name]
        for m in (v.test_modalities if not v.parts else ("ta",)):
            label = v.label if len(v.test_modalities) == 1 else f"{v.label}; test: {MOD_NAMES[m]}"
            metrics = headline(results[name], m)
            g = results[name].get("gestured", {}).get(m)
            if g is not None:
                metrics.update(gestured_metrics(g))
            rows.append({"variant": name, "label": label, "modalities": m, "group": v.group, "metrics": metrics})
    return {"trained": trained, "timings": timings, "eval_timings": eval_timings, "results": results, "rows": rows}


def _over_seeds(runs: list[dict], seed_list: list[int], names: list[str], floors: list[dict]) -> dict:
    """The parts of the document that several seeds change: each row's numbers as mean, interval
    and per-seed values; the paired differences from :data:`REFERENCE`; the findings on the means
    (and in how many seeds each holds); training, timings and results per variant and seed."""
    keys = [f"seed{s}" for s in seed_list]
    rows = []
    for i, row in enumerate(runs[0]["rows"]):
        per_seed = [run["rows"][i]["metrics"] for run in runs]
        agg = aggregate(per_seed)
        rows.append({**{k: row[k] for k in ("variant", "label", "modalities", "group")}, "metrics": means(agg),
                     "interval": agg, "per_seed": dict(zip(keys, per_seed))})
    diffs = paired_differences([run["rows"] for run in runs])
    checked = findings(rows, floors)
    per_seed_findings = [{f["claim"]: f["holds"] for f in findings(run["rows"], floors)} for run in runs]
    for f in checked:
        f["holds_in_seeds"] = sum(bool(p.get(f["claim"])) for p in per_seed_findings)
        f["seeds"] = len(runs)
    return {"findings": checked, "rows": rows, "differences": diffs,
            "training": {n: dict(zip(keys, (run["trained"][n] for run in runs))) for n in runs[0]["trained"]},
            "train_wall_seconds": {n: dict(zip(keys, (run["timings"][n] for run in runs))) for n in runs[0]["timings"]},
            "eval_wall_seconds": {n: dict(zip(keys, (run["eval_timings"][n] for run in runs)))
                                  for n in runs[0]["eval_timings"]},
            "results": {n: dict(zip(keys, (_strip(run["results"])[n] for run in runs))) for n in names},
            "table": seeds_table(rows, floors, len(runs))}


# -- numbers over seeds -----------------------------------------------------------------------
def t_quantile(p: float, df: int) -> float:
    """The ``p`` quantile of Student's t distribution with ``df`` degrees of freedom (scipy)."""
    from scipy.stats import t

    return float(t.ppf(p, df))


def _number(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def interval(values, level: float = LEVEL) -> dict:
    """Mean of ``values`` (None left out) and the ``level`` Student-t interval of the mean:
    {mean, half_width, low, high, n}; half_width, low and high are None below two values."""
    xs = [float(v) for v in values if v is not None]
    n = len(xs)
    if not n:
        return {"mean": None, "half_width": None, "low": None, "high": None, "n": 0}
    mean = sum(xs) / n
    if n < 2:
        return {"mean": mean, "half_width": None, "low": None, "high": None, "n": 1}
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1))
    half = t_quantile(0.5 + level / 2, n - 1) * sd / math.sqrt(n)
    return {"mean": mean, "half_width": half, "low": mean - half, "high": mean + half, "n": n}


def flatten(d: dict, prefix: tuple = ()) -> dict[tuple, float | None]:
    """{key path: value} of every number (or None) in nested dicts; other values are left out."""
    out: dict[tuple, float | None] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flatten(v, prefix + (k,)))
        elif v is None or _number(v):
            out[prefix + (k,)] = None if v is None else float(v)
    return out


def _nest(flat: dict[tuple, object]) -> dict:
    out: dict = {}
    for path, v in flat.items():
        node = out
        for k in path[:-1]:
            node = node.setdefault(k, {})
            if not isinstance(node, dict):
                break  # a key that is a number in one seed and a dict in another: the number wins
        else:
            node.setdefault(path[-1], v)
    return out


def aggregate(dicts: list[dict], level: float = LEVEL) -> dict:
    """Every number of the nested dicts ``dicts`` (one per seed) over the seeds, in the same
    nesting: ``interval`` plus ``values`` (one per seed, None where that seed lacks it)."""
    flats = [flatten(d) for d in dicts]
    paths = list(dict.fromkeys(p for f in flats for p in f))
    return _nest({p: {**interval([f.get(p) for f in flats], level), "values": [f.get(p) for f in flats]}
                  for p in paths})


def _is_stats(v) -> bool:
    return isinstance(v, dict) and "values" in v and "mean" in v


def means(agg: dict) -> dict:
    """The means of :func:`aggregate`'s result, in the same nesting."""
    return {k: v["mean"] if _is_stats(v) else means(v) for k, v in agg.items()}


def paired_differences(rows_by_seed: list[list[dict]], reference: tuple[str, str] = REFERENCE,
                       level: float = LEVEL) -> list[dict]:
    """Every number of every row minus the same number of the ``reference`` row (variant,
    modalities), paired by seed, and the ``level`` interval of that difference: one item per
    row and number, ``supported`` when the interval excludes 0 (two seeds with both numbers needed)."""
    out = []
    ref_index = next((i for i, r in enumerate(rows_by_seed[0]) if (r["variant"], r["modalities"]) == reference), None)
    if ref_index is None:
        return out
    ref = [flatten(rows[ref_index]["metrics"]) for rows in rows_by_seed]
    for i, row in enumerate(rows_by_seed[0]):
        if i == ref_index:
            continue
        mine = [flatten(rows[i]["metrics"]) for rows in rows_by_seed]
        for path in dict.fromkeys(p for f in mine for p in f):
            d = [m[path] - r[path] for m, r in zip(mine, ref) if m.get(path) is not None and r.get(path) is not None]
            iv = interval(d, level)
            supported = iv["half_width"] is not None and math.isfinite(iv["half_width"]) and \
                not iv["low"] <= 0 <= iv["high"]
            out.append({"variant": row["variant"], "modalities": row["modalities"], "label": row["label"],
                        "metric": column_name(path), **iv, "supported": supported})
    return out


def column_name(path: tuple) -> str:
    return " / ".join(str(k) for k in path)


def _cell(stats: dict, col: str, seeds: int) -> str | None:
    if stats["mean"] is None:
        return None
    text = format_value(stats["mean"], col)
    if stats["half_width"] is not None:
        text += " ± " + format_value(stats["half_width"], col)
    return text + (f" (n={stats['n']})" if stats["n"] < seeds else "")


def seeds_table(rows: list[dict], floors: list[dict], seeds: int) -> str:
    """The markdown table over seeds: a row's cell is ``mean ± half-width`` (of the 95 % interval
    of the mean; ``(n=K)`` where only K seeds have that number); floors as they are. Columns:
    :data:`HEADLINE`'s order, then any other number a row holds (nested keys joined by `` / ``)."""
    flat_rows = [(r["label"], {column_name(p): s for p, s in flatten_stats(r["interval"]).items()}) for r in rows]
    flat_floors = [(f["label"], {column_name(p): v for p, v in flatten(f["metrics"]).items()}) for f in floors]
    seen = list(dict.fromkeys(c for _, r in flat_rows + flat_floors for c in r))
    cols = [c for c in HEADLINE if c in seen] + [c for c in seen if c not in HEADLINE]
    table = [(label, {c: _cell(r[c], c, seeds) if c in r else None for c in cols}) for label, r in flat_rows]
    table += [(label, {c: None if r.get(c) is None else format_value(r[c], c) for c in cols})
              for label, r in flat_floors]
    return markdown_table(table, first=f"model (mean ± 95 % interval, {seeds} seeds)")


def flatten_stats(agg: dict, prefix: tuple = ()) -> dict[tuple, dict]:
    """{key path: stats} of :func:`aggregate`'s result."""
    out = {}
    for k, v in agg.items():
        if _is_stats(v):
            out[prefix + (k,)] = v
        else:
            out.update(flatten_stats(v, prefix + (k,)))
    return out


def differences_markdown(diffs: list[dict]) -> str:
    """The differences from the reference whose interval contains 0, row by row; then, in one
    line, those it supports."""
    unsupported = [d for d in diffs if not d["supported"]]
    supported = [d for d in diffs if d["supported"]]
    lines = [f"{len(supported)} of {len(diffs)} differences from `full` (test: text + speech) are supported: the "
             "95 % interval of the difference, paired by seed, excludes 0 (difference: mean ± half-width; percentage "
             "points except MedR)."]
    by_row: dict = {}
    for d in unsupported:
        by_row.setdefault(d["label"], []).append(d)
    if unsupported:
        lines += ["", "Not supported:", ""]
    for label, items in by_row.items():
        lines.append(f"- {label}: " + ", ".join(_difference(d) for d in items))
    if supported:
        lines += ["", "Supported: " + "; ".join(f"{d['label']}: {_difference(d)}" for d in supported)]
    return "\n".join(lines)


def _difference(d: dict) -> str:
    if d["mean"] is None:
        return f"{d['metric']} (no pair)"
    half = "" if d["half_width"] is None else " ± " + format_value(d["half_width"], d["metric"])
    return f"{d['metric']} {_signed(d['mean'], d['metric'])}{half}"


def _signed(v: float, col: str) -> str:
    text = format_value(v, col)
    return text if text.startswith("-") else "+" + text


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
                if v is not None and k in full and k in HEADLINE and "MedR" not in k:
                    best[k] = max(best.get(k, v), v)
        claim("the full model beats every floor on every task",
              all(full.get(k) is not None and full[k] > v for k, v in best.items()),
              {k: {"full": pct(full[k]), "best floor": pct(v)} for k, v in best.items()})
    gw_keys = [f"{GW_SCORERS['gesture score']} {c}" for c in ("AUC", "AUC cond", "top-1")]
    if full and all(full.get(k) is not None for k in gw_keys):
        best = {k: max((f["metrics"][k] for f in floors if f["label"].startswith("gw floor")
                        and f["metrics"].get(k) is not None), default=None) for k in gw_keys}
        claim("the gesture score beats every gestured-word floor on detection (AUC over all words and conditioned "
              "on the word) and identification (top-1)",
              all(v is None or full[k] > v for k, v in best.items()),
              {k: {"full": pct(full[k]), "best floor": pct(v)} for k, v in best.items()})
    return out


def findings_markdown(items: list[dict]) -> str:
    lines = []
    for f in items:
        mark = "holds" if f["holds"] else "does NOT hold"
        seeds = f" (on the means; holds in {f['holds_in_seeds']} of {f['seeds']} seeds)" if "seeds" in f else ""
        lines.append(f"- **{mark}**{seeds}: {f['claim']}. Numbers (%): `{json.dumps(f['numbers'])}`")
    return "\n".join(lines)


def _strip(results: dict) -> dict:
    """Drop the per-row lists (kept small: the table JSON)."""
    out = {}
    for name, tasks in results.items():
        out[name] = {t: {m: {k: v for k, v in r.items() if k != "per_row"} for m, r in mods.items()}
                     for t, mods in tasks.items()}
    return out


def ablation_markdown(doc: dict, corpus: Path, budget: Budget) -> str:
    """``OUT/ablation.md``: the table, the tie note, (several seeds:) the differences the
    intervals do not support, and the paper's findings."""
    seeds = doc["seeds"]
    head = f"Corpus: `{corpus}`; budget: {vars(budget)}"
    if len(seeds) > 1:
        head += (f"; seeds {seeds[0]}..{seeds[-1]} ({len(seeds)} runs per variant). Every model number: mean over the "
                 f"seeds ± the half-width of its {100 * LEVEL:.0f} % Student-t interval; the floors do not depend on the "
                 "seed")
    parts = ["# JEGAL ablations", head + ".", doc["table"], ties_note(doc["floor_details"]["retrieval"]["ties"])]
    g = doc.get("gestured") or {}
    if "counts" in g:
        c = g["counts"]
        parts.append(GW_LEGEND + f" Over {c['test_words']} test words in {c['test_clips']} clips, {c['gestured']} "
                     f"gestured; conditioned: {c['conditioned_words']} words, {c['conditioned_rows']} rows; "
                     f"identification: {c['identification_clips']} clips; localisation: {c['strokes']} strokes.")
    elif "skipped" in g:
        parts.append(f"Gestured-word protocols skipped: {g['skipped']}")
    if len(seeds) > 1:
        parts += ["## Differences the intervals do not support", differences_markdown(doc["differences"])]
    parts += ["## The paper's findings on this table", findings_markdown(doc["findings"]) or "(none checked)"]
    return "\n\n".join(parts) + "\n"


def run(args: argparse.Namespace) -> int:
    names = [n.strip() for n in args.variants.split(",") if n.strip()]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        print(f"jegal ablate: unknown variants {', '.join(unknown)}; known: {', '.join(VARIANTS)}", file=sys.stderr)
        return 1
    if args.seeds < 1:
        print(f"jegal ablate: --seeds must be at least 1, got {args.seeds}", file=sys.stderr)
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
    doc = run_ablation(corpus, out, names, budget, progress=not args.quiet, seeds=args.seeds)
    write_json_atomic(out / "ablation.json", doc)
    md = ablation_markdown(doc, corpus, budget)
    write_text_atomic(out / "ablation.md", md)
    print(md.split("\n\n", 2)[2].rstrip())  # all but the title and the corpus line
    print(f"wrote {out / 'ablation.md'} and {out / 'ablation.json'}")
    return 0
