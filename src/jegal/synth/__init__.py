"""SynthGest: a synthetic co-speech gesture corpus whose gestured words are known.

``generate_corpus`` is the entry point; ``jegal synth`` drives it from the command line.
Nothing heavy (espeak, torch) is loaded at import time.
"""

from jegal.synth.corpus import SynthError, generate_corpus

__all__ = ["SynthError", "generate_corpus"]
