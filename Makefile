# phasetune: `make demo` and `make test` set up .venv themselves (Python ≥ 3.11).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
OUT    := demo-output
POT    := lammps:Mo_Chen_PRM2017

.PHONY: demo test test-slow lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "torch==2.13.0"
	$(BIN)/python -m pip install --quiet -e ".[test,mpi,dask,nn]"
	touch $(STAMP)

# campaign → free energies → phase plot → tuning → tuned potential (a few minutes on 2 cores)
demo: $(STAMP)
	$(BIN)/phasetune doctor
	OMP_NUM_THREADS=1 $(BIN)/python examples/demo.py --out $(OUT)
	$(BIN)/phasetune sample examples/mo_bcc_a15.yaml --workers 2
	$(BIN)/phasetune fit $(OUT)/mo_bcc_a15.h5
	$(BIN)/phasetune predict $(OUT)/mo_bcc_a15.h5 --potential $(POT) -T 300 600 900 1000 \
		--plot $(OUT)/free_energy.png
	$(BIN)/phasetune phases $(OUT)/mo_bcc_a15.h5 --potential $(POT) -T 300 1000 --points 8 \
		--plot $(OUT)/phases.png
	$(BIN)/phasetune tune examples/mo_tune.yaml
	$(BIN)/phasetune phases $(OUT)/mo_bcc_a15.h5 --potential $(OUT)/tuned/Mo_Chen_PRM2017_tuned.snap \
		-T 300 1000 --points 8 --plot $(OUT)/phases_tuned.png

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks examples scripts
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q

test-slow: $(STAMP)
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -m slow

bench: $(STAMP)
	OMP_NUM_THREADS=1 $(BIN)/python benchmarks/descriptors.py

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .ruff_cache
