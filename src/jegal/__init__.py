"""JEGAL: joint embedding of co-speech gestures, audio (speech) and language.

Importing this package is cheap and side-effect free: no model is loaded and no
network is touched until a function is called.
"""

__version__ = "0.1.0"
