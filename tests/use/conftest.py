"""Fixtures of the tests of the commands that use a model. The small trained model itself
(``use_corpus``, ``use_model``) lives in tests/conftest.py, so tests/use and tests/serve share one
training run per session."""

import pytest
