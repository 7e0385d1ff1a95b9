"""SynthGest: a synthetic co-speech gesture corpus whose gestured words are known.

``generate_corpus`` is the entry point; ``jegal synth`` drives it from the command line.
``trivial_baselines`` and ``word_order_spotting`` are the floors a model must beat on it;
``wrist_speed`` is the fastest-hand floors' motion measure.
Nothing heavy (espeak, torch) is loaded at import time.
"""

from jegal.synth.baselines import trivial_baselines, word_order_spotting, wrist_speed
from jegal.synth.corpus import SynthError, generate_corpus

__all__ = ["SynthError", "generate_corpus", "trivial_baselines", "word_order_spotting", "wrist_speed"]
