# phasetune: `make demo` and `make test` set up .venv themselves (Python ≥ 3.11).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
OUT    ?= demo-output

.PHONY: demo test test-slow lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,mpi]"
	touch $(STAMP)

demo: $(STAMP)
	OMP_NUM_THREADS=1 $(BIN)/python examples/demo.py --out $(OUT)

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks examples
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q

test-slow: $(STAMP)
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -m slow

bench: $(STAMP)
	OMP_NUM_THREADS=1 $(BIN)/python benchmarks/descriptors.py

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .ruff_cache
