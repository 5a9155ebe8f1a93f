# `make demo` and `make test` do all set-up on a fresh machine (system programs, venv, packages).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
export GX_ANALYTICS_ENABLED := false

.PHONY: demo test setup system-deps ui lint lock benchmarks clean

demo: setup
	$(BIN)/python -m mtavg_assets demo

test: setup
	@bash scripts/install_system_deps.sh --browser --postgres
	$(BIN)/python -m pytest -q -n 2

setup: system-deps $(STAMP) $(DAGSTER_HOME)/dagster.yaml

system-deps:
	@bash scripts/install_system_deps.sh

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $@

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $@

ui: setup
	$(BIN)/dagster dev -h 127.0.0.1 -p 3000 -w workspace.yaml

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

lock:
	$(BIN)/pip freeze --exclude-editable | grep -v '^mtavg' > requirements.lock

clean:
	rm -rf data/clips data/qa data/derived data/media data/predictions data/mtavg.duckdb $(DAGSTER_HOME)
