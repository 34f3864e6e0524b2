# The kit's entry points. Every target installs what it needs first (tools/setup.sh).
VENV   ?= .venv
PY     := $(VENV)/bin/python
BIN    := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: help setup book lab test grade bench clean

help:
	@echo "make book   build the website in _build/html, running every chapter on the real engine"
	@echo "make test   run the whole test suite (unit, contract, crash, notebooks, grading, website)"
	@echo "make lab    open JupyterLab on the book"
	@echo "make grade  generate exercises/ from solutions/ with nbgrader"
	@echo "make bench  run the benchmarks in bench/"
	@echo "make clean  remove build output, the virtual environment and downloaded assets"

setup:
	@tools/setup.sh

book: setup
	$(BIN)/jupyter-book build --all -W -n --keep-going .

lab: setup
	$(BIN)/jupyter-lab book

test: setup
	$(BIN)/lint-imports
	$(PY) -m pytest $(PYTEST_ARGS)

grade: setup
	@set -e; for dir in solutions/*/; do \
	    $(BIN)/nbgrader generate_assignment --force "$$(basename "$$dir")"; \
	done

bench: setup
	$(PY) bench/store.py
	$(PY) bench/apiserver.py
	$(PY) bench/scheduler.py
	$(PY) bench/startup.py

clean:
	rm -rf _build .venv .web .pytest_cache .import_linter_cache *.egg-info
	find . -name __pycache__ -prune -exec rm -rf {} +
