# Two commands on a fresh machine with Python 3.11+: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test bench install clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "pcs needs Python 3.11 or newer (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/pcs up --simulate 16

test: $(STAMP)
	$(PY) -m pytest -q

# Whole-machine transitions (NODES=10000 by default; minutes), then API latency and the sweep.
bench: $(STAMP)
	$(PY) tests/bench/bench_transitions.py --nodes $(or $(NODES),10000)
	$(PY) tests/bench/bench_api_scale.py
	$(PY) tests/bench/bench_sweep.py

clean:
	rm -rf $(VENV) .pcs .pytest_cache
