# Two entry points for a fresh machine (each creates .venv on first use):
#   make demo   run the check against the bundled simulated cluster
#   make test   lint, type-check and run the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: demo test lint typecheck pytest bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

demo: $(BIN)/.installed
	@$(BIN)/check_pve_backup --demo -v; \
	echo "(exit code $$?: the monitoring state, 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN)"

lint: $(BIN)/.installed
	$(BIN)/ruff check src tests icinga $(wildcard bench)
	$(BIN)/ruff format --check src tests icinga $(wildcard bench)
	$(BIN)/lint-imports

typecheck: $(BIN)/.installed
	$(BIN)/mypy

pytest: $(BIN)/.installed
	$(BIN)/pytest -q

test: lint typecheck pytest

bench: $(BIN)/.installed
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .mypy_cache .ruff_cache .pytest_cache
