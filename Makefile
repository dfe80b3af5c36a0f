# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin

.PHONY: install demo test test-floors lint docs bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# torch first, pinned: a CPU build where pip's configuration offers one (this project's
# machines: a local wheel); from plain PyPI on Linux it is the CUDA build (docs/faq.rst).
$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[test,benchmarks,distributed,pyod]" ruff
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/python -m sklearn_nce.demo

# One worker process per core (pytest-xdist): the suite is ~1500 short, independent
# tests, and on the 2-core development machine it took 181 s this way against 345 s serially.
# Each worker trains with one torch thread (tests/conftest.py), so workers do not oversubscribe.
test: install
	$(BIN)/python -m pytest -n auto --dist worksteal

# The suite on the oldest dependency versions pyproject.toml declares (.ci/min-versions.txt), in
# a second environment; not part of CI. A run on the old floors found skorch 1.0-1.1 unable to
# unpickle fitted models under torch >= 2.6 and joblib 1.2 without return_as.
FLOORS_VENV ?= .venv-floors
test-floors:
	$(PYTHON) -m venv $(FLOORS_VENV)
	$(FLOORS_VENV)/bin/python -m pip install --quiet "$(TORCH_SPEC)"
	$(FLOORS_VENV)/bin/python -m pip install --quiet -r .ci/min-versions.txt
	$(FLOORS_VENV)/bin/python -m pip install --quiet --no-deps -e .
	$(FLOORS_VENV)/bin/python -m pytest -n auto --dist worksteal

lint: install
	$(BIN)/ruff check sklearn_nce tests benchmarks

# The Sphinx site from the working tree; every warning is an error.
docs: install
	$(BIN)/python -m pip install --quiet -e ".[docs]"
	$(BIN)/python -m sphinx -W --keep-going -b html docs docs/_build/html

bench: install
	$(BIN)/python benchmarks/density_ratio.py
	$(BIN)/python benchmarks/mutual_info.py
	$(BIN)/python benchmarks/covariate_shift.py
	$(BIN)/python benchmarks/energy.py
	$(BIN)/python benchmarks/cnce_budget.py
	$(BIN)/python benchmarks/outlier.py
	$(BIN)/python benchmarks/outlier_real.py
	$(BIN)/python benchmarks/contamination.py
	$(BIN)/python benchmarks/noisier_nce.py
	$(BIN)/python benchmarks/scaling.py
	$(BIN)/python benchmarks/busy.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache demo_density_ratio.png docs/_build docs/generated
