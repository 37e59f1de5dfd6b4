# Two commands on a fresh machine: `make demo` and `make test`. Both set everything up first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO := out/demo

.PHONY: setup weights index demo test bench lint clean

setup: $(STAMP) weights index

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch first, pinned to the CPU build; then the project, which accepts that torch as is.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

weights: $(STAMP)
	@$(BIN)/scientist weights fetch

# The shipped corpus's search index (MiniLM vectors, BM25 statistics): derived data, built once, reused.
index: $(STAMP)
	@$(BIN)/scientist corpus stats > /dev/null

# Answers the seed question offline, with a real, measured 4x LIIF run; files land in out/demo/.
demo: setup
	$(BIN)/scientist ask examples/questions/4x-upscale.txt --backend offline --out $(DEMO)

test: setup
	$(BIN)/pytest

bench: setup
	$(BIN)/python bench/liif_speed.py
	$(BIN)/python bench/liif_quality.py
	$(BIN)/python bench/liif_memory.py
	$(BIN)/python bench/ask_speed.py
	$(BIN)/python bench/retrieval_speed.py
	$(BIN)/python bench/hostile_speed.py
	$(BIN)/python bench/attack_sets.py tests/fixtures/attacks/heldout tests/fixtures/attacks/EXPECTED.json

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) out *.egg-info .pytest_cache .ruff_cache corpus/index
