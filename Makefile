# tickwork: `make test` is the gate; `make check` lint + types; `make bench` benchmarks.
SHELL := /bin/bash
PYTHON ?= python3
# uv from PATH when there is one; otherwise a private copy in .tools/uv, a virtualenv
# of the project's own (works on an externally managed system Python: no pip into it).
TOOLS := .tools
UV_BIN := $(shell command -v uv 2>/dev/null)
ifeq ($(UV_BIN),)
UV_BIN := $(TOOLS)/uv/bin/uv
endif
# uv always works on the project's .venv: an active virtualenv of the user's
# (VIRTUAL_ENV) is neither used nor warned about.
UV := env -u VIRTUAL_ENV $(UV_BIN)
RUN := $(UV) run --frozen

.PHONY: help uv sync lint format typecheck check docs test test-slow test-bootstrap test-lowest demo bench clean

help:
	@echo "make demo       run the main example"
	@echo "make test       lint + format check + type check + tests on asyncio and trio"
	@echo "make check      lint + format check + type check only"
	@echo "make docs       build the docs site with the API reference into site/ (strict)"
	@echo "make test-slow  the long property/soak profiles (10,000+ cases)"
	@echo "make test-bootstrap  make demo in a fresh clone with only the system Python"
	@echo "make test-lowest     the tests against the lowest declared dependency versions"
	@echo "make bench      the benchmarks (installs the 'bench' group)"

# Bootstrap uv into .tools/uv when the machine does not have it yet.
uv: $(UV_BIN)

$(TOOLS)/uv/bin/uv:
	$(PYTHON) -m venv $(TOOLS)/uv
	$(TOOLS)/uv/bin/python -m pip install --quiet --disable-pip-version-check uv

sync: uv
	$(UV) sync --frozen --all-extras

lint: sync
	$(RUN) ruff check .
	$(RUN) ruff format --check .

typecheck: sync
	$(RUN) pyright
	$(RUN) pyright --verifytypes tickwork --ignoreexternal

check: lint typecheck

# The API reference and guides, built strictly: a broken reference fails `make test`.
docs: sync
	$(RUN) mkdocs build --strict --quiet

# The suite spreads over one worker per core (pytest-xdist): most of its time is CPU,
# so two cores halve it. `make test WORKERS=0` runs it in one process.
WORKERS ?= auto
test: check docs
	$(RUN) pytest -n $(WORKERS)

# A fresh clone of HEAD with only the system Python on PATH (no uv, no virtualenv):
# what a new user's `make demo` does, uv bootstrap included. CI runs it.
test-bootstrap:
	@d=$$(mktemp -d) && trap 'rm -rf "$$d"' EXIT && git clone -q . "$$d/clone" \
		&& cd "$$d/clone" && env -u VIRTUAL_ENV PATH=/usr/bin:/bin $(MAKE) --no-print-directory demo

# The suite against the lowest versions pyproject.toml declares, in a separate
# environment (.venv-lowest) so neither .venv nor uv.lock changes. CI runs it.
LOWEST := .venv-lowest
test-lowest: uv
	rm -rf $(LOWEST)
	$(UV) venv --quiet --python $(PYTHON) $(LOWEST)
	$(UV) pip install --quiet --python $(LOWEST) --resolution lowest-direct \
		-e '.[zmq,trio,http]' --group dev
	$(LOWEST)/bin/python -m pytest -n $(WORKERS)

test-slow: sync
	$(RUN) pytest -m slow --timeout 3600

# Only the runtime dependencies (no dev or docs group), plus the http extra for the
# endpoint demo, which probes itself and stops; a free port, so it never collides.
demo: uv
	$(RUN) --no-default-groups python examples/demo.py
	$(RUN) --no-default-groups --extra http python examples/health_demo.py --seconds 2 --health 127.0.0.1:0

bench: uv
	$(UV) sync --frozen --all-extras --group bench
	$(RUN) --group bench python bench/run_all.py

format: sync
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

clean:
	rm -rf .venv .venv-lowest .tools site .pytest_cache .ruff_cache build dist
