# Two commands on a fresh machine: `make run` (set-up + the main job), `make test` (set-up + tests).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TORCH  ?= "torch==2.14.1" "torchvision==0.29.1"

.PHONY: install run test test-fast lint format docs docs-serve bench clean

install: $(STAMP)

# torch/torchvision pinned to the builds pip can install here (CPU-capable); the rest from pyproject.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

run: install
	$(BIN)/freedarts search space=nb201 scorer=synflow

test: install
	$(BIN)/python -m pytest -q

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow"

# ruff: lint and format check over the whole repository (configured in pyproject.toml).
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

DOCS_STAMP := $(VENV)/.docs-installed
$(DOCS_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[dev,docs]"
	touch $(DOCS_STAMP)

# The documentation site (MkDocs + mkdocs-material + mkdocstrings) into site/; --strict fails on
# any broken link or page missing from the navigation.
docs: $(DOCS_STAMP)
	$(BIN)/mkdocs build --strict

docs-serve: $(DOCS_STAMP)
	$(BIN)/mkdocs serve

bench: install
	$(BIN)/python scripts/bench.py

clean:
	rm -rf $(VENV) build site *.egg-info
