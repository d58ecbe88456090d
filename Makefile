# docker-credential-imgpkg — the obvious targets. `make` sets up .venv with the helper and its test tools.
PYTHON ?= python3
# `PYTHON=/path/to/python3.10 make test`: each interpreter gets a venv of its own (.venv-3.10), so runs on
# different Pythons never share one; the default interpreter keeps .venv.
ifeq ($(origin PYTHON),file)
VENV ?= .venv
else
VENV ?= .venv-$(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
endif
# The CPythons setup.cfg promises (python_requires), each found where pyenv installed it (packaging/find-python.sh).
MATRIX := 3.10 3.11 3.12 3.13
# vermin: no construct newer than 3.10 (so a 3.11-only call fails the lint, not a user). Annotations are checked as if
# evaluated (stricter than needed under `from __future__ import annotations`). Two exclusions, both Python 2-only
# names vermin mistakes for ours: `file` (the builtin; here a module, backends/file.py) and `str.decode` (our
# .decode() calls are on bytes).
VERMIN := -q --violations --no-tips --target=3.10- --eval-annotations --exclude file --exclude str.decode
PY := $(VENV)/bin/python
HELPER := $(VENV)/bin/docker-credential-imgpkg

.PHONY: all venv install test test-matrix e2e stress bench binary lint clean

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

# `make test` on every CPython of MATRIX, each in its .venv-X.Y; all run, then the failed ones are named.
test-matrix:
	@failed=""; for version in $(MATRIX); do \
	  python=$$(packaging/find-python.sh $$version) || { failed="$$failed $$version"; continue; }; \
	  echo "== make test on $$python"; \
	  $(MAKE) --no-print-directory test PYTHON=$$python VENV=.venv-$$version || failed="$$failed $$version"; \
	done; \
	if [ -n "$$failed" ]; then echo "test-matrix: failed on$$failed" >&2; exit 1; fi

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
	$(VENV)/bin/vermin $(VERMIN) helper tests packaging
	$(VENV)/bin/mypy

clean:
	rm -rf build dist *.egg-info .pytest_cache
