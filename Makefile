# desclm: two commands do all the set-up (see README).
#   make demo   create/refresh .venv, build the demo image set and demo CV models if missing, run notebooks 01 -> 04
#   make test   create/refresh .venv, lint with ruff, run the default test suite
# Each step reuses what already exists and says so.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
VPY := $(VENV)/bin/python
# The venv is reinstalled only when the dependency declarations change, by uv (pip where uv fails; see
# scripts/install_venv.sh). Bytecode is compiled at install: where PYTHONDONTWRITEBYTECODE is set (as here),
# skipping it made every later process compile what it imports (the default suite took 14 min instead of 9).
STAMP := $(VENV)/.desclm-installed
DEPS_HASH = $(shell cat pyproject.toml constraints.txt scripts/install_venv.sh | sha256sum | cut -c1-16)
PYTEST_ARGS ?=
# make test's pytest workers (pytest-xdist), a test file each, so its module fixtures (a Ray cluster, an S3 server)
# start once: for a machine with cores to spare. 0 (the default) runs the suite in one process: on a 2-core machine
# two workers were no faster (each builds the session's demo models, and the Ray tests slow down beside the rest)
PYTEST_WORKERS ?= 0

.PHONY: venv demo demo-data demo-models lint test test-slow clean-reports help
.DEFAULT_GOAL := help

help:
	@echo "make demo       run the whole pipeline on the embedded demo (reports in reports/demo/)"
	@echo "make test       lint (ruff), then run the default test suite"
	@echo "make lint       ruff: lint and format check"
	@echo "make test-slow  run the slow quality tests too"
	@echo "make demo-data  only build the demo image set (data/demo/)"
	@echo "make demo-models  only build the demo image set and train the demo CV models (models/demo/)"

venv:
	@if [ -x $(VPY) ] && [ "$$(cat $(STAMP) 2>/dev/null)" = "$(DEPS_HASH)" ]; then \
		echo "✓ $(VENV) matches pyproject.toml and constraints.txt: reusing it (no reinstall)"; \
	else \
		set -e; \
		if [ ! -x $(VPY) ]; then echo "Creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); fi; \
		echo "Installing desclm (editable) with pinned dependencies into $(VENV)"; \
		scripts/install_venv.sh $(VPY); \
		echo "$(DEPS_HASH)" > $(STAMP); \
		echo "✓ $(VENV) ready"; \
	fi

demo-data: venv
	@$(VENV)/bin/desclm demo dataset

demo-models: demo-data
	@$(VENV)/bin/desclm demo models

# The whole run's seconds, install included, go to reports/demo/timings.json as "total".
demo:
	@started=$$(date +%s); \
	$(MAKE) --no-print-directory demo-models && \
	$(VENV)/bin/desclm pipeline --params helpers/demo/pipeline.yaml --run demo --total_since $$started

lint: venv
	$(VPY) -m ruff check .
	$(VPY) -m ruff format --check helpers tests
	$(VENV)/bin/lint-imports

test: lint
	$(VPY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

test-slow: venv
	$(VPY) -m pytest -m slow $(PYTEST_ARGS)

clean-reports:
	rm -rf reports/
