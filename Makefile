# Two commands on a fresh machine: `make demo` and `make test`. Everything else builds on `make install`.
comma := ,
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
export DAGSTER_HOME := $(CURDIR)/.dagster_home
export PYTHONWARNINGS ?= ignore::DeprecationWarning

EXTRAS := test,dev,scale,lm
LOCK := requirements.lock

.PHONY: install lock demo test test-replay test-replay-full test-fast lint dev bench bench-scale bench-scale-state catalog screenshots clean-data

install: $(VENV)/.installed $(DAGSTER_HOME)/dagster.yaml

# Exactly the locked set (pip itself included), then the project without resolving anything again.
$(VENV)/.installed: pyproject.toml $(LOCK)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r $(LOCK)
	$(PY) -m pip install --quiet --no-deps -e .
	$(PY) -m pip check
	touch $@

# The one way to move versions: re-resolve pyproject.toml's ranges to the newest coherent set, install
# it and run the suite. Commit requirements.lock when it passes.
lock:
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet "pip-tools>=7.4"
	CUSTOM_COMPILE_COMMAND="make lock" $(VENV)/bin/pip-compile --quiet --upgrade --extra $(subst $(comma), --extra ,$(EXTRAS)) \
		--allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links --no-emit-trusted-host \
		-o $(LOCK) pyproject.toml
	rm -f $(VENV)/.installed
	$(MAKE) test

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $@

demo: install
	$(VENV)/bin/finance-assets demo

# Test files are spread over the machine's cores (pytest-xdist; a file's tests stay on one worker so
# module fixtures are built once, except a few files of independent end-to-end tests whose tests are
# spread one by one, longest first: finance_assets_tests/conftest.py). TEST_WORKERS=0 runs them in one
# process. The 25 slowest tests are listed at the end: where to look when the suite outgrows its
# ~12-minute budget.
# The tests' temporary files (Dagster instances, warehouses) go to /dev/shm where there is one: the
# SQLite event log commits each event, ~8 ms on disk and ~1 ms in memory on the 2-core box.
TEST_WORKERS ?= auto
TEST_TMPDIR ?= $(if $(wildcard /dev/shm/.),/dev/shm,$(or $(TMPDIR),/tmp))
test: install
	TMPDIR=$(TEST_TMPDIR) $(PY) -m pytest -q -ra -m "not replay and not replay_full" -n $(TEST_WORKERS) --dist loadfile --durations=25

# 63 sessions of continuous operation of the market graph only (corporate actions, prices, technicals),
# compared with fresh builds at 5 checkpoints (~5 min on 2 cores; finance_assets_tests/replay_market.py):
# a quicker check while working on the market assets. CI runs it too (it runs the market sync, which the whole
# graph's replay reaches only with every filing stored: it failed unnoticed while it was left out of CI).
test-replay: install
	TMPDIR=$(TEST_TMPDIR) $(PY) -m pytest -q -ra -m replay

# The whole graph over 63 sessions with every #16 event, compared with fresh builds at 9 checkpoints
# (finance_assets_tests/replay.py; ~20 min CPU on 2 cores, what an idle runner takes). CI runs it (.ci/run).
test-replay-full: install
	$(PY) -m pytest -q -ra -s -m replay_full

test-fast: install
	$(PY) -m pytest -q -m "not slow"

dev: install
	$(VENV)/bin/dagster dev -h 127.0.0.1 -p 3000 -w workspace.yaml

lint: install
	$(VENV)/bin/ruff check finance_assets finance_assets_tests benchmarks
	$(VENV)/bin/ruff format --check finance_assets finance_assets_tests benchmarks

bench: install
	$(PY) -m benchmarks.run

# Issue #17's scale benchmark (benchmarks/bench_scale.py, docs/measurements.md): demo universes of N tickers
# registered in temporary instances, every measure in a fresh process within SCALE_BUDGET_S (600 s each).
# SCALE_N=100,1000 picks the sizes (default 100,1000,6000); writes benchmarks/results/scale-<N>.json and scale.md.
bench-scale: install
	$(PY) -m benchmarks.bench_scale

# The measures of #17 that need a built universe but not how it was built (cross-sectional query, automation with
# nothing to do, the UI's partition status) at N = 1,000 and 6,000, on a synthetic warehouse and instance state
# (benchmarks/bench_scale_state.py); writes benchmarks/results/scale-state-<N>.json.
bench-scale-state: install
	$(PY) -m benchmarks.bench_scale_state

catalog: install
	$(VENV)/bin/finance-assets catalog

# docs/images/report-1280.png and report-390.png: the demo report, full page, in headless Chromium
# (finance_assets_tests/screenshots.py). The demo is built once in its own home (tmp-screenshots/, data
# and Dagster instance) as of a fixed clock, so the pictures change only when the report does; delete
# that folder to rebuild it.
SCREENSHOT_HOME := $(CURDIR)/tmp-screenshots
SCREENSHOT_AS_OF := 2026-11-30T18:00
screenshots: install
	test -f $(SCREENSHOT_HOME)/data/reports/latest.html || ( \
		mkdir -p $(SCREENSHOT_HOME)/data && cp data/portfolio.csv $(SCREENSHOT_HOME)/data/ && \
		FINANCE_ASSETS_DATA_DIR=$(SCREENSHOT_HOME)/data DAGSTER_HOME=$(SCREENSHOT_HOME)/dagster_home \
		FINANCE_ASSETS_AS_OF=$(SCREENSHOT_AS_OF) FINANCE_ASSETS_MODE=demo $(VENV)/bin/finance-assets demo)
	$(PY) -m finance_assets_tests.screenshots $(SCREENSHOT_HOME)/data/reports/latest.html docs/images

clean-data:
	rm -rf data/warehouse data/cache data/state data/reports $(DAGSTER_HOME)
