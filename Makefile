# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The CPU build of torch; install it before anything that depends on torch, or pip fetches
# a multi-GB CUDA build. On a GPU machine: make TORCH=torch==2.13.0 run (with the CUDA index).
TORCH ?= torch==2.13.0
STAMP := $(VENV)/.installed

.PHONY: run test lint format bench install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "$(TORCH)"
	$(BIN)/pip install --quiet -e ".[ml,dev]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/classbot db upgrade
	$(BIN)/classbot run

lint: $(STAMP)
	$(BIN)/ruff check bot adapters tests bench migrations
	$(BIN)/ruff format --check bot adapters tests bench migrations
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest

format: $(STAMP)
	$(BIN)/ruff format bot adapters tests bench migrations
	$(BIN)/ruff check --fix bot adapters tests bench migrations

bench: $(STAMP)
	@for script in bench/bench_*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
