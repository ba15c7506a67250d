# The two commands a fresh clone needs: `make run` and `make test`.
# Each creates .venv itself and installs what it needs into it.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
SWITCH_PORT ?= 2222
# One worker more than there are cores: a third of the suite's time is
# spent waiting on other processes (servers, daemons, simulators, a lock
# held on purpose, a BMC's retries), which the extra worker fills; more
# only queue for the CPU (on two cores, 2 workers took 323 s, 3 took
# 276-282 s, 4 took 274 s).  The tests that share a module's served site
# (marked xdist_group) run on one worker, which starts it once; the
# others go one by one to whichever worker is free.
WORKERS ?= $(shell echo $$(( $$(nproc 2>/dev/null || echo 2) + 1 )))
PYTEST_ARGS ?= -n $(WORKERS) --dist loadgroup

.PHONY: run test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@ $(VENV)/.installed-run

# Serve the API on a SQLite file haas.db here, with the networking daemon
# and the console worker beside it, a simulated PowerConnect switch (SSH
# on SWITCH_PORT) and a simulated BMC for node n1 (IPMI on UDP 6230),
# their state in .demo/, all stopped together: demo/run.
run: $(VENV)/.installed-run
	HOST=$(HOST) PORT=$(PORT) SWITCH_PORT=$(SWITCH_PORT) BIN=$(BIN) demo/run

# The house style (ruff) and the public API's types (mypy), then the whole
# suite, on SQLite and on PostgreSQL (skipped when unreachable, unless
# HAAS_TEST_REQUIRE_POSTGRES=1).
# With Python's bytecode cache, even where PYTHONDONTWRITEBYTECODE turns
# it off: the suite starts hundreds of processes (servers, daemons,
# simulators, the client), and each would compile HaaS's modules anew, as
# each pytest process would rewrite its plugins' assertions.
test: lint $(VENV)/.installed-test
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: $(VENV)/.installed-test
	$(BIN)/python bench/create_vs_upgrade.py
	$(BIN)/python bench/cli.py
	$(BIN)/python bench/api.py
	$(BIN)/python bench/upgrade_scale.py
	$(BIN)/python bench/upgrade_online.py
	$(BIN)/python bench/switches.py --switches 20 --actions 1000 --latency 0.05

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
