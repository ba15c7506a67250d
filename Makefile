# The two commands a fresh clone needs: `make run` and `make test`.
# Each creates .venv itself and installs what it needs into it.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
# Two workers: the suite is built for a two-core machine.
PYTEST_ARGS ?= -n 2

.PHONY: run test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@ $(VENV)/.installed-run

# Serve the API on the embedded default, a SQLite file haas.db here, with
# the networking daemon beside it (stopped with the server).
run: $(VENV)/.installed-run
	$(BIN)/haas-admin db create
	$(BIN)/haas-admin serve-networks & daemon=$$!; \
	trap 'kill $$daemon 2>/dev/null' EXIT INT TERM; \
	$(BIN)/haas-admin serve --host $(HOST) --port $(PORT)

# The house style (ruff) and the public API's types (mypy), then the whole
# suite, on SQLite and on PostgreSQL (skipped when unreachable, unless
# HAAS_TEST_REQUIRE_POSTGRES=1).
test: lint $(VENV)/.installed-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: $(VENV)/.installed-test
	$(BIN)/python bench/create_vs_upgrade.py
	$(BIN)/python bench/cli.py
	$(BIN)/python bench/api.py
	$(BIN)/python bench/upgrade_scale.py
	$(BIN)/python bench/switches.py --switches 20 --actions 1000 --latency 0.05

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
