# Two commands on a fresh machine with Python 3.11+ and make: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# the partition DDL's known false positives: see tests/storage/fixtures/partition_ddl.sql
SQUAWK_FALSE_POSITIVES := adding-serial-primary-key-field,require-concurrent-index-creation,constraint-missing-not-valid,ban-drop-constraint,renaming-table,renaming-object,prefer-robust-stmts

.PHONY: install run test lint format openapi bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/dealdesk serve --demo --port 8080

test: install
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check api tests bench
	$(BIN)/ruff format --check api tests bench
	$(BIN)/mypy api
	$(BIN)/squawk --pg-version=15.0 --exclude=$(SQUAWK_FALSE_POSITIVES) tests/storage/fixtures/partition_ddl.sql

format: install
	$(BIN)/ruff format api tests bench
	$(BIN)/ruff check --fix api tests bench

openapi: install
	$(BIN)/dealdesk openapi > openapi.yaml
	$(BIN)/dealdesk openapi --profile salesforce > openapi-salesforce.yaml

clean:
	rm -rf $(VENV) .dealdesk

bench: install
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python bench/run.py
