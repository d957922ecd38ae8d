# agentlab: `make quickstart` runs the main job on the embedded model; `make test` runs the test suite.
# Both set up everything they need first (the core .venv, engine environments, Chromium for browser tests).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.agentlab-core
# The tests use one thread per heavy process (unless OMP_NUM_THREADS says otherwise): the suite runs several at
# once, and two threads each on a busy 2-core box collapse. `agentlab quickstart` shares the cores out itself.
test: export OMP_NUM_THREADS ?= 1

.PHONY: setup engines browser test quickstart doctor clean

setup: $(STAMP)

$(STAMP): requirements/core.lock requirements/core-nodeps.txt pyproject.toml configs/envs/constraints-cpu.txt
	@command -v $(PYTHON) >/dev/null || { echo "agentlab needs $(PYTHON) (set PYTHON=...)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q -r requirements/core.lock -c configs/envs/constraints-cpu.txt
	$(BIN)/python -m pip install --disable-pip-version-check -q --no-deps -r requirements/core-nodeps.txt
	$(BIN)/python -m pip install --disable-pip-version-check -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

# Engine environments (train: XTuner, bench: OpenCompass, bfcl: BFCL's own evaluator, llamacpp: llama.cpp built from
# source, ~5 min the first time) and the embedded model.
engines: setup
	$(BIN)/agentlab setup --engines train,bench,bfcl,llamacpp

# Debian's Chromium for the browser tests (Playwright drives /usr/bin/chromium; its own download cannot work here).
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "browser tests need Debian's chromium: sudo apt-get install chromium"; fi; fi

test: engines browser
	$(BIN)/python -m pytest -q

quickstart: setup
	$(BIN)/agentlab quickstart

doctor: setup
	$(BIN)/agentlab doctor

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
