"""The three protocols of docs/design.md section 7 on a benchmark, its clips and a model.

:func:`evaluate_benchmark` is the one entry point (``jegal eval``, ``jegal ablate`` and
``jegal demo`` call it): it embeds what the benchmark needs once (cached as ``.npz`` when
given a cache directory), then scores every CSV row. Rows whose clips are missing or
unreadable, and rows the CSV reader could not parse, count as errors: every accuracy is
over *all* rows of the CSV, and the result says how many were actually evaluated.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from jegal.data.benchmarks import Benchmark
from jegal.data.clip import Clip
from jegal.evaluation.benchmarks import ClipSet, with_benchmark_words
from jegal.evaluation.embeddings import cache_key
from jegal.inference.embed import Embeddings, embed_clips
from jegal.metrics import (ASD_SIZES, RECALL_AT, TIE_RULES, accuracy_by, asd_correct, retrieval_metrics, spot_word,
                           spotting_probabilities)

MODEL_TIES = "pessimistic"  # docs/design.md section 7: a tie must never flatter a model


def _content_key(bench: Benchmark) -> dict[int, str]:
    """Row index -> content key: the filename, unless two rows of one clip disagree on words."""
    first: dict[str, list] = {}
    keys = {}
    for r in bench.rows:
        sig = [(w.text, w.start, w.end) for w in r.words]
        if first.setdefault(r.filename, sig) == sig:
            keys[r.index] = r.filename
        else:
            keys[r.index] = f"{r.filename}#row{r.index}"
    return keys


def needed_clips(bench: Benchmark, clipset: ClipSet) -> tuple[list[Clip], list[Clip], int]:
    """(gesture clips, content clips with the CSV's words, number of words clipped to the clip)."""
    keys = _content_key(bench)
    gesture: dict[str, Clip] = {}
    content: dict[str, Clip] = {}
    clipped = 0
    for r in bench.rows:
        for cid in [r.filename, *r.neg_files]:
            if cid in clipset.clips:
                gesture.setdefault(cid, clipset.clips[cid])
        if r.filename in clipset.clips and keys[r.index] not in content:
            clip, n = with_benchmark_words(clipset.clips[r.filename], r.words)
            clip.clip_id = keys[r.index]
            content[keys[r.index]] = clip
            clipped += n
    return list(gesture.values()), list(content.values()), clipped


def compute_embeddings(model, bench: Benchmark, clipset: ClipSet, modalities: str = "ta", cache_dir=None,
                       model_id: str | None = None, batch_size: int = 32, progress: bool = False,
                       reuse: Embeddings | None = None) -> tuple[Embeddings, dict]:
    """Embeddings for ``bench`` (from the cache when it holds them). Returns (embeddings, info).

    ``reuse``: embeddings of the same model computed earlier (another task or modality);
    gesture embeddings found there are taken instead of recomputed (they do not depend on
    the content modalities)."""
    gesture, content, clipped = needed_clips(bench, clipset)
    info = {"gesture_clips": len(gesture), "content_clips": len(content), "words_clipped_to_clip": clipped,
            "cache": None, "cached": False}
    path = None
    if cache_dir is not None and model_id is not None:
        key = cache_key(model_id, modalities, gesture, content)
        path = Path(cache_dir) / f"emb-{bench.task}-{modalities}-{key}.npz"
        info["cache"] = str(path)
        if path.is_file():
            try:
                emb = Embeddings.load(path)
                info["cached"] = True
                return emb, info
            except (OSError, ValueError, KeyError):
                pass  # a stale or damaged cache is recomputed and replaced
    t0 = time.perf_counter()
    known = [c for c in gesture if reuse is not None and reuse.has_gesture(c.clip_id)]
    todo = [c for c in gesture if reuse is None or not reuse.has_gesture(c.clip_id)]
    emb = embed_clips(model, todo, content, modalities=modalities, batch_size=batch_size, progress=progress,
                      desc=f"embed {bench.task}")
    if known:
        d = reuse.dim
        clip_vecs = [reuse.gesture(c.clip_id)[0] for c in known]
        emb = Embeddings(emb.gesture_ids + [c.clip_id for c in known],
                         np.concatenate([emb.gesture_clip.reshape(-1, d), np.stack(clip_vecs)]),
                         emb.gesture_frames + [reuse.gesture(c.clip_id)[1] for c in known],
                         emb.content_ids, emb.content_clip, emb.content_words)
    info["gesture_reused"] = len(known)
    info["embed_seconds"] = round(time.perf_counter() - t0, 2)
    if path is not None:
        emb.save(path, meta={"task": bench.task, "benchmark": str(bench.path), "modalities": modalities,
                             "model": model_id})
    return emb, info


# -- protocols --------------------------------------------------------------------------------
def speaker_diagnostics(scores: np.ndarray, speakers: list[str]) -> dict | None:
    """Mean content-gesture score of the true pair, of other clips of the same speaker and
    of clips of other speakers. A model that matches *speakers* (voice to body) instead of
    gestures shows own ~ same-speaker >> other-speaker; on held-out speakers such a mapping
    can even fall below chance (own < other-speaker)."""
    spk = np.array(speakers)
    known = spk != ""  # clips without a speaker id (or missing clips) are left out
    if len(set(spk[known])) < 2:
        return None
    ok = np.isfinite(scores) & known[:, None] & known[None, :]
    same = spk[:, None] == spk[None, :]
    own = np.eye(len(spk), dtype=bool)

    def mean(mask):
        m = mask & ok
        return float(scores[m].mean()) if m.any() else None

    return {"own": mean(own), "same_speaker": mean(same & ~own), "other_speakers": mean(~same),
            "speakers": len(set(spk[known]))}


def evaluate_retrieval(bench: Benchmark, emb: Embeddings, problems: dict[str, str],
                       speakers: dict[str, str] | None = None) -> dict:
    """R@5/10/25/50 and median rank both ways over every CSV row; a row whose clip is missing
    (or could not be parsed) keeps its place as a NaN row: its query ranks last and, as a
    candidate, it ranks above every true match."""
    keys = _content_key(bench)
    d = emb.dim
    n = len(bench.rows) + len(bench.bad_rows)
    C = np.full((n, d), np.nan)
    G = np.full((n, d), np.nan)
    evaluated = 0
    for i, r in enumerate(bench.rows):
        ok = emb.has_content(keys[r.index]) and emb.has_gesture(r.filename)
        if emb.has_content(keys[r.index]):
            C[i] = emb.content(keys[r.index])[0]
        if emb.has_gesture(r.filename):
            G[i] = emb.gesture(r.filename)[0]
        evaluated += ok
    with np.errstate(invalid="ignore"):
        scores = C @ G.T  # (content, gesture)
    out = {"rows": n, "evaluated": evaluated, "failed": n - evaluated,
           **retrieval_metrics(scores, RECALL_AT, ties=MODEL_TIES)}
    if speakers:
        names = [speakers.get(r.filename, "") for r in bench.rows]
        diag = speaker_diagnostics(scores[: len(names), : len(names)], names)
        if diag is not None:
            out["speaker_diagnostics"] = diag
    return out


def evaluate_spotting(bench: Benchmark, emb: Embeddings, problems: dict[str, str], keep_rows: bool = True) -> dict:
    keys = _content_key(bench)
    hits, stress, per_row = [], [], []
    evaluated = 0
    for r in bench.rows:
        key = keys[r.index]
        if not (emb.has_gesture(r.filename) and emb.has_content(key)):
            hits.append(False)
            stress.append(r.stress_label)
            per_row.append({"row": r.index, "filename": r.filename, "correct": False,
                            "error": problems.get(r.filename, "no embedding")})
            continue
        frames = emb.gesture(r.filename)[1]  # (T, d)
        words = emb.content(key)[1]  # (W, d)
        probs = spotting_probabilities(frames, words)
        t = r.target
        res = spot_word(probs, r.target_index, t.start, t.end)
        hits.append(res["correct"])
        stress.append(r.stress_label)
        per_row.append({"row": r.index, "filename": r.filename, "target": t.display, **res})
        evaluated += 1
    n_bad = len(bench.bad_rows)
    n = len(hits) + n_bad
    correct = int(sum(hits))
    ok_hits = [h for h, p in zip(hits, per_row) if "error" not in p]
    out = {"rows": n, "evaluated": evaluated, "failed": n - evaluated, "correct": correct,
           "accuracy": correct / n if n else float("nan"),
           "accuracy_evaluated": float(np.mean(ok_hits)) if ok_hits else float("nan"),
           "by_stress": accuracy_by(hits, stress)}
    if keep_rows:
        out["per_row"] = per_row
    return out


def evaluate_asd(bench: Benchmark, emb: Embeddings, problems: dict[str, str], sizes=ASD_SIZES) -> dict:
    keys = _content_key(bench)
    n_bad = len(bench.bad_rows)
    n = len(bench.rows) + n_bad
    out: dict = {"rows": n}
    evaluated_any = 0
    for P in sizes:
        correct, errors = 0, {"missing_clip": 0, "too_few_candidates": 0, "unparsed_row": n_bad}
        for r in bench.rows:
            cands = [r.filename, *r.neg_files[:P - 1]]
            if len(cands) < P:
                errors["too_few_candidates"] += 1
                continue
            if not emb.has_content(keys[r.index]) or not all(emb.has_gesture(c) for c in cands):
                errors["missing_clip"] += 1
                continue
            query = emb.content(keys[r.index])[0]
            own = emb.gesture(r.filename)[0]
            others = np.stack([emb.gesture(c)[0] for c in cands[1:]])
            correct += asd_correct(query, own, others)
        evaluated = n - sum(errors.values())
        evaluated_any = max(evaluated_any, evaluated)
        out[f"P={P}"] = {"accuracy": correct / n if n else float("nan"), "correct": correct, "evaluated": evaluated,
                         "errors": errors, "chance": 1.0 / P}
    out["evaluated"] = evaluated_any
    return out


def evaluate_benchmark(model, bench: Benchmark, clipset: ClipSet, modalities: str = "ta", cache_dir=None,
                       model_id: str | None = None, batch_size: int = 32, progress: bool = False,
                       keep_rows: bool = True, reuse: Embeddings | None = None, return_embeddings: bool = False):
    """Run the benchmark's protocol. Returns a JSON-ready dict: the metrics plus what was
    missing (``problems``), unparsable rows (``bad_rows``) and how embeddings were made
    (and the :class:`Embeddings` too with ``return_embeddings``, to pass as ``reuse``)."""
    t0 = time.perf_counter()
    emb, info = compute_embeddings(model, bench, clipset, modalities, cache_dir, model_id, batch_size, progress, reuse)
    if bench.task == "retrieval":
        metrics = evaluate_retrieval(bench, emb, clipset.problems,
                                     {cid: c.speaker_id for cid, c in clipset.clips.items()})
    elif bench.task == "spotting":
        metrics = evaluate_spotting(bench, emb, clipset.problems, keep_rows=keep_rows)
    else:
        metrics = evaluate_asd(bench, emb, clipset.problems)
    result = {"task": bench.task, "benchmark": str(bench.path), "modalities": modalities, "metrics": metrics,
              "problems": clipset.problems, "bad_rows": bench.bad_rows, "embeddings": info,
              "seconds": round(time.perf_counter() - t0, 2)}
    return (result, emb) if return_embeddings else result


# -- reporting --------------------------------------------------------------------------------
def summary_row(result: dict) -> dict[str, float]:
    """The headline numbers of one result, flat (for tables)."""
    m = result["metrics"]
    if result["task"] == "retrieval":
        out = {}
        for direction, short in (("content_to_gesture", "c2g"), ("gesture_to_content", "g2c")):
            for k in RECALL_AT:
                out[f"{short} R@{k}"] = m[direction][f"R@{k}"]
            out[f"{short} MedR"] = m[direction]["median_rank"]
        return out
    if result["task"] == "spotting":
        out = {"accuracy": m["accuracy"]}
        for label, d in m["by_stress"].items():
            out[f"stress={label}"] = d["accuracy"]
        return out
    return {f"P={P}": m[f"P={P}"]["accuracy"] for P in ASD_SIZES if f"P={P}" in m}


def is_rank_column(name: str) -> bool:
    return "MedR" in name or "rank" in name


def format_value(v, column: str = "") -> str:
    """Fractions as percentages with one decimal; ranks as they are."""
    if v is None:
        return "-"
    if isinstance(v, (float, np.floating)):
        if np.isnan(v):
            return "nan"
        return f"{v:.1f}" if is_rank_column(column) else f"{100 * v:.1f}"
    return str(v)


def markdown_table(rows: list[tuple[str, dict]], first: str = "model") -> str:
    """A markdown table from (label, {column: value}); fractions are shown as percentages,
    rank columns (MedR) as ranks."""
    cols: list[str] = []
    for _, r in rows:
        cols += [c for c in r if c not in cols]
    lines = ["| " + " | ".join([first] + cols) + " |", "|" + "---|" * (len(cols) + 1)]
    for label, r in rows:
        lines.append("| " + " | ".join([label] + [format_value(r.get(c), c) for c in cols]) + " |")
    return "\n".join(lines)


def ties_note(floor_ties: str | None = None) -> str:
    """The note under a results table: the retrieval tie rule of each kind of row.

    Model rows always use ``"pessimistic"`` (:data:`MODEL_TIES`); ``floor_ties`` is the rule of
    the clip-length floor (its result's ``"ties"``), None when the table has no floor rows."""
    rules = {"model rows": MODEL_TIES}
    if floor_ties is not None:
        rules["clip-length floor (its scores tie by construction)"] = floor_ties
    return "Retrieval tie rule (jegal.metrics.retrieval_metrics): " + "; ".join(
        f"{kind}: {rule}, {TIE_RULES[rule]}" for kind, rule in rules.items()) + "."
