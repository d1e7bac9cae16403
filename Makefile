# Two commands on a fresh machine: `make demo` and `make test`. Everything else builds on `make install`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
export DAGSTER_HOME := $(CURDIR)/.dagster_home
export PYTHONWARNINGS ?= ignore::DeprecationWarning

.PHONY: install demo test test-fast dev bench catalog clean-data

install: $(VENV)/.installed $(DAGSTER_HOME)/dagster.yaml

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $@

demo: install
	$(VENV)/bin/finance-assets demo

test: install
	$(PY) -m pytest -q -ra

test-fast: install
	$(PY) -m pytest -q -m "not slow"

dev: install
	$(VENV)/bin/dagster dev -h 127.0.0.1 -p 3000 -w workspace.yaml

bench: install
	$(PY) -m benchmarks.run

catalog: install
	$(VENV)/bin/finance-assets catalog

clean-data:
	rm -rf data/warehouse data/cache data/state data/reports $(DAGSTER_HOME)
