# Task runner. `make lab` opens the workbook, `make test` runs every test; both set up .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# Jupyter refuses to start as root (containers, CI images) without --allow-root; only root gets it.
USER_ID   ?= $(shell id -u)
ROOT_FLAG := $(if $(filter 0,$(USER_ID)),--allow-root)
LAB_ARGS  ?=

.PHONY: lab test notebooks benchmark benchmark-quick clean-venv

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

lab: $(STAMP)  ## open JupyterLab on the notebooks; more options: make lab LAB_ARGS="--no-browser --port 8890"
	$(BIN)/jupyter lab notebooks/ $(ROOT_FLAG) $(LAB_ARGS)

test: $(STAMP)  ## unit tests, CLI tests, browser test and every notebook (fast mode) under nbval
	DIGITLAB_FAST=1 $(BIN)/python -m pytest tests notebooks --nbval-lax --nbval-current-env -p no:cacheprovider $(PYTEST_ARGS)

notebooks: $(STAMP)  ## re-run every notebook for real (about 15 minutes) and keep the outputs, without widget state
	cd notebooks && ../$(BIN)/jupyter nbconvert --to notebook --execute --inplace \
		--ExecutePreprocessor.timeout=-1 --ExecutePreprocessor.store_widget_state=False \
		--ExecutePreprocessor.record_timing=False $(or $(NB),*.ipynb)

benchmark: $(STAMP)  ## full benchmark (18-90 minutes on a 2-core CPU with offline MNIST, by its speed), writes benchmarks/RESULTS.md
	$(BIN)/python benchmarks/run.py

benchmark-quick: $(STAMP)  ## reduced benchmark, a few minutes
	$(BIN)/python benchmarks/run.py --quick

clean-venv:
	rm -rf $(VENV)
