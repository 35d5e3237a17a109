# Two commands do everything on a fresh machine:
#   make demo   set up .venv, migrate, seed the demo project, start the server and a worker
#   make test   set up the same and run every test (on the machine's PostgreSQL and Redis)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: setup demo test lint services bench-assign clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(PY) manage.py migrate --noinput -v0
	$(PY) manage.py collectstatic --noinput -v0
	$(PY) manage.py seed_demo
	./scripts/run_demo.sh

services:
	./scripts/ensure_services.sh

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

test: setup services lint
	$(PY) manage.py makemigrations --check --dry-run -v0 --settings=annotate.settings_test
	$(PY) -m pytest

bench-assign: setup services
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test} $(PY) bench/assign_submit.py --labelers 32 --seconds 20

clean:
	rm -rf $(VENV) var
