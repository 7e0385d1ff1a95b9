"""Quality and cost of the offline recogniser of ``jegal prepare --asr`` on the real speech here.

For the samples with a reference transcript (sample1, sample2: their ``.wav`` and ``.txt``):
word error rate (substitutions + deletions + insertions over reference words, on normalised
words) and word timing error (mean |start| and |end| difference over the words that match
on a best edit alignment). Since few words match, also the boundary error: the mean distance
from each reference word start and end to the nearest recognised word start or end,
whatever the words (how well recognised words would cut the clip into the right pieces).
For the raw videos without a transcript (speaker_raw, two_speakers_raw) only the text.
CPU seconds per second of audio include nothing but decoding (the models are loaded first).

    python bench/bench_asr.py [--engine pocketsphinx] [--asr-model DIR] [--real-dir ../shared/data/real]
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


def main(argv: list[str] | None = None) -> None:
    from jegal.data.transcripts import read_txt
    from jegal.perception.asr import make_recogniser, timing_error, word_error_rate
    from jegal.perception.decode import load_audio_for

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--engine", default="pocketsphinx", choices=["pocketsphinx", "faster-whisper"])
    p.add_argument("--asr-model", default=None, help="faster-whisper model directory")
    p.add_argument("--real-dir", type=Path, default=REPO.parent / "shared" / "data" / "real")
    args = p.parse_args(argv)

    recogniser = make_recogniser(args.engine, args.asr_model)
    rows, texts, total_err, total_ref = [], [], 0.0, 0
    for name in (*REFERENCED, *RAW):
        path = args.real_dir / name
        audio = load_audio_for(None, path.with_suffix(".wav")) if name in REFERENCED else load_audio_for(path)
        t = time.process_time()
        words = recogniser.recognise(audio)
        cpu = (time.process_time() - t) / (len(audio) / 16000)
        hyp = [(w.display, w.start, w.end) for w in words]
        texts.append((name, len(audio) / 16000, cpu, " ".join(w for w, _, _ in hyp),
                      " ".join(f"{w.score:.2f}" for w in words)))
        if name not in REFERENCED:
            continue
        # Reference times in seconds, as written in the txt (not rounded to frames).
        lines = (args.real_dir / f"{name}.txt").read_text().splitlines()
        read_txt(args.real_dir / f"{name}.txt")  # the file is a valid reference
        start = next(i for i, line in enumerate(lines) if line.replace(" ", "").upper().startswith("WORD,START"))
        ref = [(w.strip(), float(s), float(e)) for w, s, e, _ in
               (line.rsplit(",", 3) for line in lines[start + 1:] if line.strip())]
        wer = word_error_rate([w for w, _, _ in ref], [w for w, _, _ in hyp])
        ds, de, matched = timing_error(ref, hyp)
        total_err += wer * len(ref)
        total_ref += len(ref)
        rows.append((name, len(ref), len(hyp), wer, matched, ds, de, boundary_error(ref, hyp)))

    print(f"engine: {args.engine}\n")
    print("| audio | reference words | recognised words | WER | matched words | start error ms | end error ms "
          "| boundary error ms |")
    print("|---|---|---|---|---|---|---|---|")
    for name, n_ref, n_hyp, wer, matched, ds, de, be in rows:
        print(f"| {name} | {n_ref} | {n_hyp} | {wer:.2f} | {matched} | {_ms(ds)} | {_ms(de)} | {_ms(be)} |")
    print(f"| all | {total_ref} | | {total_err / total_ref:.2f} | | | | |\n")
    print("| audio | seconds | CPU s per audio s | recognised text | confidences |")
    print("|---|---|---|---|---|")
    for name, seconds, cpu, text, scores in texts:
        print(f"| {name} | {seconds:.2f} | {cpu:.2f} | {text} | {scores} |")


if __name__ == "__main__":
    main()
