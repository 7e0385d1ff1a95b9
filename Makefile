# `make demo` and `make test` create the virtual environment on first use and reuse it after.
VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed-stamp
PYTEST_ARGS ?= --durations=25  # the slowest tests named in every run, so CI time is watched

.PHONY: demo test test-fast bench install

# mediapipe declares numpy<2 and pulls jax, so it goes in with --no-deps; its real needs are in pyproject.toml.
$(STAMP): pyproject.toml Makefile
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev,asr]'
	$(PY) -m pip install -q --no-deps mediapipe==0.10.21
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	HF_HUB_OFFLINE=1 $(VENV)/bin/jegal demo --out demo_out

# The browser tests of `jegal serve` drive Debian's chromium; the script installs it where it can
# and otherwise says why those tests will be skipped (it never fails the target).
test: $(STAMP)
	sh scripts/ensure_chromium.sh
	HF_HUB_OFFLINE=1 $(PY) -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP)
	sh scripts/ensure_chromium.sh
	HF_HUB_OFFLINE=1 $(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

bench: $(STAMP)
	HF_HUB_OFFLINE=1 $(PY) -m bench
