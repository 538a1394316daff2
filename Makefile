# tickwork: `make test` is the gate; `make check` lint + types; `make bench` benchmarks.
SHELL := /bin/bash
PYTHON ?= python3
# Use uv from PATH when there is one; otherwise run it as a module of $(PYTHON),
# which the `uv` target installs with pip on a machine that has only Python.
UV_BIN := $(shell command -v uv 2>/dev/null)
ifeq ($(UV_BIN),)
UV := $(PYTHON) -m uv
else
UV := $(UV_BIN)
endif
RUN := $(UV) run --frozen

.PHONY: help uv sync lint format typecheck check test test-slow demo bench clean

help:
	@echo "make demo       run the main example"
	@echo "make test       lint + format check + type check + tests on asyncio and trio"
	@echo "make check      lint + format check + type check only"
	@echo "make test-slow  the long property/soak profiles (10,000+ cases)"
	@echo "make bench      the benchmarks (installs the 'bench' group)"

# Install uv with pip when the machine does not have it yet.
uv:
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv

sync: uv
	$(UV) sync --frozen --all-extras

lint: sync
	$(RUN) ruff check .
	$(RUN) ruff format --check .

typecheck: sync
	$(RUN) pyright
	$(RUN) pyright --verifytypes tickwork --ignoreexternal

check: lint typecheck

test: check
	$(RUN) pytest

test-slow: sync
	$(RUN) pytest -m slow --timeout 3600

demo: sync
	$(RUN) python examples/demo.py

bench: uv
	$(UV) sync --frozen --all-extras --group bench
	$(RUN) --group bench python bench/run_all.py

format: sync
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

clean:
	rm -rf .venv .pytest_cache .ruff_cache build dist
