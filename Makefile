# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# torch comes first, pinned, from PyTorch's CPU-only index: on Linux, PyPI's torch wheel is the
# multi-GB CUDA build. With --index-url only that index is read for this one line, so only
# +cpu builds are candidates; --extra-index-url would get the CPU build too, but only because
# PEP 440 sorts 2.13.0+cpu above PyPI's 2.13.0, and any looser pin lets a newer CUDA release
# on PyPI win. The rest is installed afterwards from the usual index and keeps this torch.
# TORCH_INDEX= (empty) leaves the choice to pip's own configuration (CI, a local wheel);
# a GPU machine: TORCH_INDEX=https://download.pytorch.org/whl/cu128 (see README).
TORCH ?= torch==2.13.0
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
STAMP := $(VENV)/.installed

.PHONY: run test lint format bench install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(if $(TORCH_INDEX),--index-url "$(TORCH_INDEX)") "$(TORCH)"
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
