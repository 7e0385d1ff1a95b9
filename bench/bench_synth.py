"""SynthGest generation speed: time per clip of each stage, and 1 vs 2 worker processes.

    python bench/bench_synth.py [--clips 200]

Prints a markdown table. Stages are timed inside one process on the same clips, so the
shares are comparable; the worker comparison runs both settings side by side.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--clips", type=int, default=200)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    from jegal.data.audio import log_mel
    from jegal.data.keypoints import normalise
    from jegal.synth import generate_corpus
    from jegal.synth.lexicon import family_of, sample_words
    from jegal.synth.motion import animate, plan_events
    from jegal.synth.speakers import make_speakers
    from jegal.synth.speech import get_speech

    speakers = make_speakers(10, 0)
    speech = get_speech()
    stages = {"speech (espeak + resample)": 0.0, "gesture planning + motion": 0.0, "log-mel": 0.0, "normalise": 0.0}
    audio_s = 0.0
    for i in range(args.clips):
        rng = np.random.default_rng([0, i])
        spk = speakers[i % len(speakers)]
        words = sample_words(rng, 10, spk.concept_prob)
        stressed = [bool(rng.random() < (0.55 if family_of(w) else 0.2)) for w in words]
        t = time.perf_counter()
        utt = speech.synthesize(words, stressed, spk.voice, spk.rate_wpm, spk.pitch)
        stages["speech (espeak + resample)"] += time.perf_counter() - t
        audio_s += len(utt.wave) / 16000
        t = time.perf_counter()
        events = plan_events(rng, spk, words, utt.times, stressed)
        _, observed = animate(rng, spk, events, 75)
        stages["gesture planning + motion"] += time.perf_counter() - t
        t = time.perf_counter()
        log_mel(utt.wave[: 75 * 640], 75)
        stages["log-mel"] += time.perf_counter() - t
        t = time.perf_counter()
        normalise(observed)
        stages["normalise"] += time.perf_counter() - t
    total = sum(stages.values())
    print(f"| stage | ms / clip | share |\n|---|---|---|")
    for k, v in stages.items():
        print(f"| {k} | {1000 * v / args.clips:.2f} | {100 * v / total:.0f}% |")
    print(f"\nespeak speaks {audio_s / stages['speech (espeak + resample)']:.0f}x faster than real time.\n")
    print("| corpus (train + test clips) | workers | seconds | clips/s |\n|---|---|---|---|")
    n_train, n_test = 4 * args.clips, args.clips // 2
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as tmp:
            s = generate_corpus(tmp, speakers=10, train_clips=n_train, test_clips=n_test, seed=0, progress=False,
                                workers=workers)
        n = s["counts"]["train_clips"] + s["counts"]["test_clips"]
        print(f"| {n_train} + {s['counts']['test_clips']} | {workers} | {s['seconds']:.1f} | {n / s['seconds']:.0f} |")


if __name__ == "__main__":
    main()
