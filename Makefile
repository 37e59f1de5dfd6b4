# Two commands on a fresh machine: `make demo` and `make test`. Both set everything up first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO := out/demo

.PHONY: setup weights demo test bench lint clean

setup: $(STAMP) weights

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch first, pinned to the CPU build; then the project, which accepts that torch as is.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

weights: $(STAMP)
	@$(BIN)/scientist weights fetch

demo: setup
	@$(BIN)/python -m tools.liif.demo $(DEMO) >/dev/null
	$(BIN)/scientist upscale $(DEMO)/astronaut-128.png -o $(DEMO)/astronaut-liif-x4.png \
		--reference $(DEMO)/astronaut-512.png --compare $(DEMO)/compare.png

test: setup
	$(BIN)/pytest

bench: setup
	$(BIN)/python bench/liif_speed.py
	$(BIN)/python bench/liif_quality.py
	$(BIN)/python bench/liif_memory.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) out *.egg-info .pytest_cache .ruff_cache
