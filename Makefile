# Two commands a new user needs: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
VENVOK := $(VENV)/.venv-ok
STAMP := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev

.PHONY: demo test lint bench soak clean

# A stamp, not bin/python: an interrupted venv creation must not count as done.
$(VENVOK):
	rm -rf $(VENV)
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	touch $@

$(STAMP): pyproject.toml | $(VENVOK)
	$(BIN)/python -m pip install -q -e .
	touch $@

$(DEVSTAMP): pyproject.toml | $(VENVOK)
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@ $(STAMP)

demo: $(STAMP)
	$(BIN)/chatdesk demo

test: $(DEVSTAMP)
	$(BIN)/ruff check chatdesk tests bench
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/python -m pytest -n 4 --dist worksteal  # 4 workers even on 2 cores: most tests wait on subprocesses, HTTP and PostgreSQL (7 min instead of 10 on 2 cores)

soak: $(DEVSTAMP)
	$(BIN)/python -m pytest -m slow

bench: $(DEVSTAMP)
	$(BIN)/python -m bench

lint: $(DEVSTAMP)
	$(BIN)/ruff check chatdesk tests bench
	$(BIN)/ruff format --check chatdesk tests bench

clean:
	rm -rf $(VENV) .pytest_cache
