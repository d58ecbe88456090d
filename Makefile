# docker-credential-imgpkg — the obvious targets. `make` sets up .venv with the helper and its test tools.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HELPER := $(VENV)/bin/docker-credential-imgpkg

.PHONY: all venv install test e2e stress bench binary lint clean

all: install

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade 'pip>=26.3'  # its console-script wrapper no longer imports re (~3 ms a call)

venv: $(PY)
	$(PY) -m pip install -q -e '.[test]'

install: venv

# HELPER_BIN=path selects the program under test (default: the console script in .venv).
test: venv
	$(PY) -m pytest -q tests

e2e: venv
	$(PY) -m pytest -q -m e2e tests/e2e tests/backend

stress: venv
	$(PY) -m pytest -q -m stress tests

bench: venv
	$(PY) packaging/bench.py

binary: venv
	packaging/build.sh

lint: venv
	$(VENV)/bin/ruff check helper tests packaging
	$(VENV)/bin/ruff format --check helper tests packaging
	$(VENV)/bin/mypy

clean:
	rm -rf build dist *.egg-info .pytest_cache
