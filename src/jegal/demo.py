"""``jegal demo``: the whole pipeline on a generated corpus, with a report.

    jegal demo                       # <= 15 min on 2 CPU cores: corpus, training, 3 benchmarks, heatmaps, report
    jegal demo --out /tmp/d --speakers 6 --train-clips 60 --test-clips 30 --max-steps 30   # a small run (~1 min)

The default training budget is time-based (``--train-minutes``, the whole training stage): the
training loop stops at the first step past 90 % of it (the rest is for validation and saving)
and its learning-rate schedule ends there, so the demo ends on time on a slower or busier
machine, at the price of fewer steps there. ``--max-steps N`` makes the run the same everywhere.

Stages (each sized by flags, each timed in ``demo.json``):

1. **corpus**: a SynthGest corpus (``jegal synth``) in ``OUT/corpus``;
2. **train**: the cpu preset on its training split, ``OUT/run`` (``jegal train`` layout);
3. **evaluate**: retrieval, spotting and ASD on the held-out speakers with text + speech,
   text only and speech only, beside the SynthGest floors (chance, clip length, fastest hand);
   then the gestured-word protocols (``jegal eval gestured``: detection, identification,
   localisation, the gestured flag, beside their floors) on every word of every test clip, with
   the first modalities, reusing the benchmarks' gesture embeddings;
4. **heatmaps**: words x frames maps for two SynthGest test clips and for the real clips
   ``sample1``/``sample2`` (keypoints by ``jegal prepare``'s mediapipe pipeline);
5. **report**: ``OUT/report.md`` and ``OUT/report.html``, built only from ``OUT/demo.json``.

``OUT`` is ``demo_out`` by default, as ``make demo`` names it. Afterwards ``--model OUT`` names the
trained model (``OUT/run/model``) for every command, and the corpus and the real sample clips
(copied to ``OUT/real/input`` with their transcripts) are inputs to try them on:

    jegal spot demo_out/real/input/sample1.avi --model demo_out --out sample1.spot
    jegal eval spotting --model demo_out --benchmark demo_out/corpus/benchmarks/spot.csv --data demo_out/corpus/test
    jegal serve --model demo_out
"""

from __future__ import annotations

import argparse
import html
import json
import shutil
import sys
import time
from pathlib import Path

from jegal.atomic import write_json_atomic, write_text_atomic
from jegal.evaluation import format_value, ties_note

DEFAULT_REAL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real"
MOD_NAMES = {"ta": "text + speech", "t": "text only", "a": "speech only"}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="demo_out", metavar="DIR",
                        help="output folder (make demo's; --model DIR then finds the model in DIR/run/model)")
    g = parser.add_argument_group("corpus")
    g.add_argument("--speakers", type=int, default=60, help="SynthGest speakers (a fifth are held-out test speakers)")
    g.add_argument("--train-clips", type=int, default=4000, help="training clips")
    g.add_argument("--test-clips", type=int, default=300, help="rows per benchmark")
    g = parser.add_argument_group("training (cpu preset)")
    g.add_argument("--train-minutes", type=float, default=10.0,
                   help="training stage budget: the loop stops at 90%% of it (the rest for validation and "
                        "saving) and its lr schedule ends there "
                        "(ignored with --max-steps)")
    g.add_argument("--epochs", type=int, default=None, help="at most this many epochs (default: 20; no limit with --max-steps)")
    g.add_argument("--max-steps", type=int, default=0,
                   help="exactly this many optimiser steps (reproducible across machines; 0 = from --train-minutes)")
    g.add_argument("--batch-size", type=int, default=None, help="clips per batch (default: the cpu preset's)")
    g.add_argument("--lr", type=float, default=None, help="peak learning rate (default: the cpu preset's)")
    g = parser.add_argument_group("evaluation and heatmaps")
    g.add_argument("--modalities", default="ta,t,a", help="content modalities at test time (comma-separated)")
    g.add_argument("--real", default=str(DEFAULT_REAL), metavar="DIR",
                   help="folder with the real clips (<name>.avi/.mp4 + .wav + .txt)")
    g.add_argument("--samples", default="sample1,sample2", help="real clip names in --real")
    g.add_argument("--no-real", action="store_true", help="skip the real clips (no mediapipe run)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the corpus, the training and the heatmap clips")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = all cores)")
    parser.add_argument("--fresh", action="store_true", help="delete OUT first instead of reusing finished stages")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def _log(msg: str) -> None:
    print(f"[demo {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# -- stages -----------------------------------------------------------------------------------
def stage_corpus(args, out: Path) -> dict:
    from jegal.synth import generate_corpus

    corpus = out / "corpus"
    want = {"speakers": args.speakers, "train_clips": args.train_clips, "test_clips": args.test_clips, "seed": args.seed}
    stamp = corpus / "demo_corpus.json"
    if stamp.is_file() and json.loads(stamp.read_text()) == want:
        summary = json.loads((corpus / "synth.json").read_text())
        return {"reused": True, "counts": summary["counts"]}
    summary = generate_corpus(corpus, speakers=args.speakers, train_clips=args.train_clips,
                              test_clips=args.test_clips, seed=args.seed, progress=not args.quiet)
    write_json_atomic(stamp, want)
    return {"reused": False, "counts": summary["counts"], "seconds": summary.get("seconds")}


def stage_train(args, out: Path) -> dict:
    """Train the full model on the corpus in this process (:func:`jegal.train.loop.train`): for
    ``--max-steps`` steps, else until 90 % of ``--train-minutes`` have passed (the loop's time
    budget, with the learning-rate schedule ending at it) or the epochs end. Returns the run's summary."""
    from jegal.evaluation import VARIANTS, Budget, train_variant

    # --train-minutes is the whole training stage, as before the loop had a time budget: a tenth is
    # kept for the final validation and saving, so the stage (and the demo) does not outgrow it
    seconds = 0.0 if args.max_steps else 0.9 * args.train_minutes * 60
    budget = Budget(epochs=args.epochs, max_steps=args.max_steps, max_seconds=seconds, batch_size=args.batch_size,
                    lr=args.lr, threads=args.threads, seed=args.seed)
    summary = train_variant(VARIANTS["full"], out / "corpus", out / "run", budget, progress=not args.quiet)
    if summary.get("stopped_on_time"):
        _log(f"train: time budget of {args.train_minutes:g} min reached at step {summary['steps']}")
    return {**summary, "train_minutes": None if args.max_steps else args.train_minutes}


def stage_evaluate(args, out: Path, mods: list[str]) -> dict:
    from jegal.evaluation import corpus_benchmarks, corpus_clips, evaluate_model, floor_rows, headline
    from jegal.model.jegal import READOUTS

    corpus = out / "corpus"
    benches = corpus_benchmarks(corpus)
    clips = corpus_clips(corpus, benches)
    model = _load_model(out)
    results, embs = evaluate_model(model, benches, clips, mods, cache_dir=out / "eval" / "cache",
                                   model_id=model.identity, progress=not args.quiet, keep_rows=True,
                                   return_embeddings=True)
    for task, by_mod in results.items():
        for m, r in by_mod.items():
            write_json_atomic(out / "eval" / f"{task}_{m}.json", r)
    rows = [{"label": f"JEGAL ({MOD_NAMES[m]})", "modalities": m, "metrics": headline(results, m)} for m in mods]
    floors, floor_raw = floor_rows(corpus, len(benches["retrieval"].rows))
    evaluated = {task: {m: {"rows": r["metrics"]["rows"], "evaluated": r["metrics"]["evaluated"]}
                        for m, r in by_mod.items()} for task, by_mod in results.items()}
    from jegal.evaluation import findings

    floors_doc = [{"label": lbl, "metrics": m} for lbl, m in floors]
    checked = findings([{"variant": "full", **r} for r in rows], floors_doc)
    speaker = {m: r["metrics"].get("speaker_diagnostics") for m, r in results["retrieval"].items()}
    gestured = stage_gestured(args, out, model, mods[0], benches, embs[mods[0]])
    return {"rows": rows, "floors": floors_doc, "floor_details": floor_raw, "findings": checked, "gestured": gestured,
            "speaker_diagnostics": speaker,
            "evaluated": evaluated, "clips_missing": len(clips.problems),
            "readout": READOUTS[model.readout()],
            "details": {task: {m: {k: v for k, v in r["metrics"].items() if k != "per_row"} for m, r in by_mod.items()}
                        for task, by_mod in results.items()}}


def stage_gestured(args, out: Path, model, mod: str, benches: dict, embs: dict) -> dict:
    """The gestured-word protocols on the corpus's test clips (``jegal eval gestured``): their
    result (:func:`jegal.evaluation.evaluate_gestured`, also ``OUT/eval/gestured_<mod>.json``), or
    ``{"skipped": why}`` when the corpus has no ground truth for them. The benchmarks' embeddings
    ``embs`` ({task: Embeddings} of ``mod``) are reused: only what they lack is embedded."""
    from jegal.data.gestured_words import FILENAME, GesturedWordsError, find_gestured_words
    from jegal.evaluation import evaluate_gestured, load_clips, reusable_embeddings

    corpus = out / "corpus"
    try:
        truth = find_gestured_words(corpus / "benchmarks" / FILENAME)
    except GesturedWordsError as err:
        _log(f"gestured-word protocols skipped: {err}")
        return {"skipped": str(err)}
    clips = load_clips(corpus / "test", truth.clips("test").keys())
    reuse = reusable_embeddings(truth, benches, embs)
    res = evaluate_gestured(truth, clips, model, modalities=mod, cache_dir=out / "eval" / "cache",
                            model_id=model.identity, progress=not args.quiet, reuse=reuse)
    res["label"] = f"JEGAL ({MOD_NAMES[mod]})"
    write_json_atomic(out / "eval" / f"gestured_{mod}.json", res)
    return res


def _load_model(out: Path):
    """The demo's trained model, on the CPU, with the text-state cache on (the benchmarks embed the
    same clips' words again)."""
    from jegal.evaluation import TEXT_CACHE_SIZE
    from jegal.model import JEGAL

    return JEGAL.from_pretrained(out / "run", device="cpu").set_runtime(text_cache_size=TEXT_CACHE_SIZE)


def _heatmap(model, clip, png: Path, title: str, mods: str, highlight: int | None = None) -> dict:
    from jegal.inference import save_heatmap, word_frame_scores

    s = word_frame_scores(model, clip, modalities=mods)
    save_heatmap(s, png, title=title, highlight=highlight)
    return {"png": png.name, "clip_id": clip.clip_id, "words": s["words"], "spans": s["spans"],
            "best_frame": s["best_frame"], "best_prob": [round(p, 4) for p in s["best_prob"]]}


def stage_heatmaps(args, out: Path, mod: str) -> dict:
    from jegal.evaluation import corpus_benchmarks, load_clips, with_benchmark_words

    model = _load_model(out)
    figs = out / "heatmaps"
    res: dict = {"synthgest": [], "real": [], "real_skipped": None}
    spot = corpus_benchmarks(out / "corpus")["spotting"]
    rows = spot.rows[:2]
    clips = load_clips(out / "corpus" / "test", [r.filename for r in rows]).clips
    for i, r in enumerate(rows):
        if r.filename not in clips:
            continue
        clip, _ = with_benchmark_words(clips[r.filename], r.words)
        t = r.target
        info = _heatmap(model, clip, figs / f"synth_{i}.png",
                        f"SynthGest {r.filename}: gestured word '{t.display}' at frames {t.start}-{t.end}", mod,
                        highlight=r.target_index)
        info["target"] = {"word": t.display, "index": r.target_index, "start": t.start, "end": t.end}
        res["synthgest"].append(info)
    if args.no_real:
        res["real_skipped"] = "--no-real given"
        return res
    try:
        real_clips = prepare_real(Path(args.real), [s for s in args.samples.split(",") if s], out / "real",
                                  progress=not args.quiet)
    except Exception as err:  # noqa: BLE001 - any failure of the optional mediapipe stage is reported, not fatal
        res["real_skipped"] = f"{type(err).__name__}: {err}"
        _log(f"real clips skipped: {res['real_skipped']}")
        return res
    for name, clip in real_clips.items():
        info = _heatmap(model, clip, figs / f"real_{name}.png", f"real clip {name} (keypoints: mediapipe)", mod)
        info["name"] = name
        res["real"].append(info)
    if not real_clips:
        res["real_skipped"] = "no real clip could be prepared (see real/summary.json)"
    return res


def prepare_real(real_dir: Path, names: list[str], work: Path, progress: bool = True) -> dict:
    """Prepare the named real clips with ``jegal prepare``'s pipeline (mediapipe keypoints,
    transcript words) and return {name: Clip}."""
    from jegal.data.shards import read_clips
    from jegal.prepare import run_prepare

    if not real_dir.is_dir():
        raise FileNotFoundError(f"{real_dir}: real sample folder not found (pass --real DIR or --no-real)")
    inp = work / "input"
    inp.mkdir(parents=True, exist_ok=True)
    for name in names:
        files = [p for p in real_dir.glob(f"{name}.*") if p.suffix in (".avi", ".mp4", ".mkv", ".mov", ".wav", ".txt")]
        if not files:
            raise FileNotFoundError(f"{real_dir}: no files for sample {name!r}")
        for p in files:
            if not (inp / p.name).exists():
                shutil.copy2(p, inp / p.name)
    summary = run_prepare(inp, work / "prepared", progress=progress)
    if summary.get("failed"):
        _log(f"real clips: {summary['failed']} failed: {summary.get('failures')}")
    out = {}
    for clip in read_clips(work / "prepared"):
        name = clip.clip_id.split("/")[0]
        if name in names and name not in out:
            out[name] = clip
    return out


# -- report -----------------------------------------------------------------------------------
def table_rows(doc: dict) -> list[tuple[str, dict]]:
    ev = doc["evaluation"]
    return [(r["label"], r["metrics"]) for r in ev["rows"]] + [(f["label"], f["metrics"]) for f in ev["floors"]]


def _num(x, digits: int) -> str:
    """A number rounded for the report, or "-" when the run did not record it."""
    return "-" if x is None else f"{x:.{digits}f}"


def _columns(rows) -> list[str]:
    from jegal.evaluation import HEADLINE

    return [c for c in HEADLINE if any(r.get(c) is not None for _, r in rows)]


def _ties_note(doc: dict) -> str:
    """The note under the results table: the retrieval tie rule of model rows and of the floor."""
    return ties_note(doc["evaluation"]["floor_details"]["retrieval"].get("ties", "expected"))


def render_markdown(doc: dict) -> str:
    from jegal.evaluation import markdown_table

    rows = table_rows(doc)
    cols = _columns(rows)
    lines = ["# JEGAL demo report", "",
             f"Generated {doc['finished']} by `jegal demo` in {doc['seconds_total']:.0f} s. Every number below is read "
             "from `demo.json` in this folder.", "",
             "## Results on SynthGest (held-out speakers)", "",
             "Percentages except MedR (median rank, 1-based). "
             "c2g: content (text/speech) to gesture; g2c: the reverse. Spotting (the AVS-Spot rule): the best frame "
             "of the target word within +-9 frames of the word and P >= 0.5, a measure of the localisation of a word "
             "known to be gestured (whether a word is gestured: the next section). ASD: P candidates. The spotting "
             "floors have no probabilities, so the 0.5 threshold is waived for them (in their favour).", "",
             markdown_table([(lbl, {c: r.get(c) for c in cols}) for lbl, r in rows]), "", _ties_note(doc), ""]
    ev = doc["evaluation"]
    ev_lines = [f"- {task}: " + ", ".join(f"{m}: {v['evaluated']}/{v['rows']} rows" for m, v in mods.items())
                for task, mods in ev["evaluated"].items()]
    lines += ["Rows evaluated (missing clips count as errors):", "", *ev_lines, "",
              f"Model read as: {ev['readout']}.", ""]
    lines += _speaker_lines(ev)
    if ev.get("findings"):
        from jegal.evaluation import findings_markdown

        lines += ["Checks:", "", findings_markdown(ev["findings"]), ""]
    lines += _gestured_lines(ev)
    lines += ["## Heatmaps (words x frames, P(word | frame))", "",
              "White box: the word's span; dotted: the spotting window; x: the word's best frame (red if P >= 0.5).", ""]
    for h in doc["heatmaps"]["synthgest"]:
        lines += [f"![{h['clip_id']}](heatmaps/{h['png']})", "",
                  f"SynthGest `{h['clip_id']}`: gestured word **{h['target']['word']}** "
                  f"(frames {h['target']['start']}-{h['target']['end']}); its best frame "
                  f"{h['best_frame'][h['target']['index']]} with P = {h['best_prob'][h['target']['index']]:.2f}.", ""]
    for h in doc["heatmaps"]["real"]:
        lines += [f"![{h['name']}](heatmaps/{h['png']})", "", f"Real clip `{h['name']}`.", ""]
    if doc["heatmaps"]["real_skipped"]:
        lines += [f"Real clips skipped: {doc['heatmaps']['real_skipped']}", ""]
    lines += ["## Run", "", "| stage | seconds |", "|---|---|"]
    lines += [f"| {k} | {v:.1f} |" for k, v in doc["timings"].items()]
    tr = doc["training"]
    lines += ["", f"Corpus: {json.dumps(doc['corpus']['counts'])}", "",
              f"Training: {tr.get('steps')} steps, {tr.get('epochs_completed')} epochs, {_stopped(tr)}, final loss "
              f"{_num(tr.get('final_loss'), 3)}, {_num(tr.get('clips_per_s'), 1)} clips/s.", "",
              f"Settings: `{json.dumps(doc['settings'])}`", ""]
    return "\n".join(lines)


GESTURED_INTRO = ("Every word of every test clip (held-out speakers): is it gestured (detection), which word of "
                  "the clip carries the gesture (identification), where is the stroke (localisation), and the "
                  "gestured flag. Each table shows its floors (scored by the same code), the best floor per column "
                  "and the model's margin over it; no timing or word prior passes the conditioned AUC.")


def _gestured_lines(ev: dict) -> list[str]:
    """The report's gestured-word section (markdown) from ``demo.json``'s ``evaluation.gestured``."""
    from jegal.evaluation import gestured_markdown

    g = ev.get("gestured")
    if not g:
        return []
    head = ["## Gestured words: detection, identification, localisation", ""]
    if "skipped" in g:
        return head + [f"Skipped: {g['skipped']}", ""]
    return head + [GESTURED_INTRO + f" Model rows: {g.get('label', 'JEGAL')}.", "", gestured_markdown(g), ""]


def _gestured_html(ev: dict) -> str:
    """The same section as HTML tables (one per protocol, ``data-table`` naming it)."""
    from jegal.evaluation import gestured_table_rows

    g = ev.get("gestured")
    if not g:
        return ""
    e = html.escape
    if "skipped" in g:
        return f"<h2>Gestured words</h2><p>Skipped: {e(g['skipped'])}</p>"
    c = g["counts"]
    parts = ["<h2>Gestured words: detection, identification, localisation</h2>",
             f"<p>{e(GESTURED_INTRO)} Model rows: {e(g.get('label', 'JEGAL'))}.</p>",
             f"<p>{c['test_words']} test words in {c['test_clips']} clips, {c['gestured']} gestured (base rate "
             f"{c['base_rate']:.3f}); conditioned: {c['conditioned_words']} words, {c['conditioned_rows']} rows; "
             f"identification: {c['identification_clips']} clips; localisation: {c['strokes']} strokes.</p>"]
    for name, t in g["tables"].items():
        if not t["rows"]:
            continue
        cols, rows = gestured_table_rows(t)
        body = []
        for kind, label, cells in rows:  # model and floor rows carry their name for the report's readers
            tag = f'<tr data-row="{e(label)}">' if kind == "row" else "<tr>"
            body.append(f"{tag}<th>{e(label)}</th>" + "".join(f"<td>{e(cell)}</td>" for cell in cells) + "</tr>")
        head = "".join(f"<th>{e(col)}</th>" for col in ["row"] + cols)
        parts.append(f'<p><b>{e(t["title"])}</b></p><table data-table="gestured-{e(name)}"><thead><tr>{head}</tr>'
                     f'</thead><tbody>{"".join(body)}</tbody></table>')
    parts.append("<ul>" + "".join(f"<li>{e(n)}</li>" for n in g["notes"]) + "</ul>")
    return "\n".join(parts)


def _stopped(training: dict) -> str:
    """What ended the training, in words (from the loop's summary)."""
    return {"max_seconds": "stopped by the time budget", "max_steps": "stopped at --max-steps",
            "epochs": "stopped after its last epoch"}.get(training.get("stopped_by"), "stop reason not recorded")


def _speaker_lines(ev: dict) -> list[str]:
    diag = {m: d for m, d in (ev.get("speaker_diagnostics") or {}).items() if d}
    if not diag:
        return []
    out = ["Speaker check (retrieval, mean content-gesture cosine; a model matching voices to bodies instead of "
           "gestures shows own ~ same speaker >> other speakers):", ""]
    for m, d in diag.items():
        f = {k: "-" if d[k] is None else f"{d[k]:.3f}" for k in ("own", "same_speaker", "other_speakers")}
        out.append(f"- {MOD_NAMES[m]}: own pair {f['own']}, other clips of the same speaker {f['same_speaker']}, "
                   f"clips of other speakers {f['other_speakers']} ({d['speakers']} speakers)")
    return out + [""]


def render_html(doc: dict) -> str:
    rows = table_rows(doc)
    cols = _columns(rows)
    e = html.escape
    head = "".join(f"<th>{e(c)}</th>" for c in ["model"] + cols)
    body = []
    for label, r in rows:
        cells = "".join(f'<td data-col="{e(c)}">{e(format_value(r.get(c), c))}</td>' for c in cols)
        body.append(f'<tr data-row="{e(label)}"><th>{e(label)}</th>{cells}</tr>')
    figs = []
    for h in doc["heatmaps"]["synthgest"]:
        t = h["target"]
        figs.append(f'<figure><img src="heatmaps/{e(h["png"])}" alt="{e(h["clip_id"])}"><figcaption>SynthGest '
                    f'<code>{e(h["clip_id"])}</code>: gestured word <b>{e(t["word"])}</b> (frames {t["start"]}-{t["end"]}); '
                    f'best frame {h["best_frame"][t["index"]]}, P = {h["best_prob"][t["index"]]:.2f}</figcaption></figure>')
    for h in doc["heatmaps"]["real"]:
        figs.append(f'<figure><img src="heatmaps/{e(h["png"])}" alt="{e(h["name"])}"><figcaption>real clip '
                    f'<code>{e(h["name"])}</code></figcaption></figure>')
    if doc["heatmaps"]["real_skipped"]:
        figs.append(f"<p>Real clips skipped: {e(doc['heatmaps']['real_skipped'])}</p>")
    timings = "".join(f"<tr><th>{e(k)}</th><td>{v:.1f}</td></tr>" for k, v in doc["timings"].items())
    ev = doc["evaluation"]
    evaluated = "".join(f"<li>{e(task)}: " + ", ".join(f"{e(m)}: {v['evaluated']}/{v['rows']} rows"
                                                      for m, v in mods.items()) + "</li>"
                        for task, mods in ev["evaluated"].items())
    sp = _speaker_lines(ev)
    speaker = (f"<p>{e(sp[0])}</p><ul>" + "".join(f"<li>{e(x[2:])}</li>" for x in sp[2:] if x) + "</ul>") if sp else ""
    checks = "".join(f"<li><b>{'holds' if f['holds'] else 'does NOT hold'}</b>: {e(f['claim'])}. "
                     f"<code>{e(json.dumps(f['numbers']))}</code></li>" for f in ev.get("findings", []))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>JEGAL demo report</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}}
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}
tr th:first-child{{text-align:left}}figure{{margin:1.5em 0}}img{{max-width:100%}}</style></head><body>
<h1>JEGAL demo report</h1>
<p>Generated {e(doc['finished'])} by <code>jegal demo</code> in {doc['seconds_total']:.0f} s.
Every number is read from <code>demo.json</code> in this folder.</p>
<h2>Results on SynthGest (held-out speakers)</h2>
<p>Percentages except MedR (median rank, 1-based). c2g: content (text/speech) to
gesture; g2c: the reverse. Spotting (the AVS-Spot rule): best frame of the target word within &plusmn;9 frames
and P &ge; 0.5, a measure of the localisation of a word known to be gestured (whether a word is gestured: the
gestured-word tables below). ASD: P candidates. The spotting floors have no probabilities, so the 0.5 threshold is waived for them (in their
favour).</p>
<table id="results"><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>
<p>{e(_ties_note(doc))}</p>
<p>Rows evaluated (missing clips count as errors):</p><ul>{evaluated}</ul>
<p>Model read as: {e(ev['readout'])}.</p>
{speaker}
<ul>{checks}</ul>
{_gestured_html(ev)}
<h2>Heatmaps (words &times; frames, P(word | frame))</h2>
<p>White box: the word's span; dotted: the spotting window; x: the word's best frame (red if P &ge; 0.5).</p>
{''.join(figs)}
<h2>Run</h2><table>{timings}</table>
<p>Corpus: <code>{e(json.dumps(doc['corpus']['counts']))}</code></p>
<p>Training: {e(str(doc['training'].get('steps')))} steps, {e(_stopped(doc['training']))}, final loss
{e(_num(doc['training'].get('final_loss'), 3))}, {e(_num(doc['training'].get('clips_per_s'), 1))} clips/s.</p>
<p>Settings: <code>{e(json.dumps(doc['settings']))}</code></p>
</body></html>
"""


def write_report(doc: dict, out: Path) -> None:
    for name, text in (("report.md", render_markdown(doc)), ("report.html", render_html(doc))):
        write_text_atomic(out / name, text)


def next_steps(out: Path) -> list[str]:
    """Commands to try on what the demo left in ``out``, each one runnable as printed."""
    lines = [f"jegal eval spotting --model {out} --benchmark {out / 'corpus/benchmarks/spot.csv'} "
             f"--data {out / 'corpus/test'}",
             f"jegal eval gestured --model {out} --truth {out / 'corpus/benchmarks/gestured_words.csv'} "
             f"--data {out / 'corpus/test'}"]
    samples = sorted((out / "real" / "input").glob("*.avi"))
    if samples:
        lines.insert(0, f"jegal spot {samples[0]} --model {out} --out {samples[0].stem}.spot")
    lines.append(f"jegal serve --model {out}")
    return ["try the model:"] + ["  " + line for line in lines]


# -- command ----------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> int:
    import torch

    out = Path(args.out)
    if args.fresh and out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    if args.threads:
        torch.set_num_threads(args.threads)
    mods = [m.strip() for m in args.modalities.split(",") if m.strip()]
    bad = [m for m in mods if m not in MOD_NAMES]
    if bad or not mods:
        print(f"jegal demo: --modalities {args.modalities!r}: use t, a, ta", file=sys.stderr)
        return 1
    t_all = time.perf_counter()
    timings: dict[str, float] = {}

    def timed(name, fn, *a):
        _log(f"{name} ...")
        t0 = time.perf_counter()
        res = fn(*a)
        timings[name] = round(time.perf_counter() - t0, 1)
        _log(f"{name} done in {timings[name]:.0f} s")
        return res

    try:
        corpus = timed("corpus", stage_corpus, args, out)
        training = timed("train", stage_train, args, out)
        evaluation = timed("evaluate", stage_evaluate, args, out, mods)
        heatmaps = timed("heatmaps", stage_heatmaps, args, out, mods[0])
    except (OSError, ValueError, RuntimeError) as err:
        print(f"jegal demo: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    doc = {"settings": {k: v for k, v in vars(args).items() if k not in ("command",) and not callable(v)},
           "corpus": corpus, "training": training, "evaluation": evaluation, "heatmaps": heatmaps,
           "timings": timings, "seconds_total": round(time.perf_counter() - t_all, 1),
           "finished": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}
    write_json_atomic(out / "demo.json", doc)
    write_report(doc, out)
    from jegal.evaluation import results_table

    print(results_table(table_rows(doc)))
    _log(f"report: {out / 'report.html'} and {out / 'report.md'} ({doc['seconds_total']:.0f} s in all)")
    print("\n".join(next_steps(out)))
    return 0
