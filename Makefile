# nexpress: two commands on a fresh machine.
#   make run   -> creates .venv, installs, serves examples/blog on http://127.0.0.1:3000
#   make test  -> installs what the tests need, then runs ruff and the whole suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-dev

IDP    := tests/idp/node_modules/.package-lock.json
P2R    := tests/pathtoregexp/node_modules/.package-lock.json
PYRIGHT := tools/pyright/node_modules/.bin/pyright
CHROMIUM := /usr/bin/chromium
CONDUIT_TESTS := examples/conduit/api-tests
NEWMAN := $(CONDUIT_TESTS)/node_modules/.bin/newman
DASHBOARD := examples/dashboard
TAILWIND := $(DASHBOARD)/node_modules/.package-lock.json
STARTERS_VENV := .venv-starters
STARTERS := $(STARTERS_VENV)/.installed
STARTER_REQUIREMENTS := $(wildcard nexpress/cli/templates/*/requirements.txt)

.PHONY: install run dev docs docs-export test test-load test-hostile soak lint typecheck bench bench-quick clean conduit conduit-api-test conduit-fuzz dashboard

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -e ".[dev]"
	touch $(STAMP)

# newman runs the RealWorld spec's Postman collection against examples/conduit
$(NEWMAN): $(CONDUIT_TESTS)/package-lock.json
	command -v npm >/dev/null || (apt-get update -q && apt-get install -y -q --no-install-recommends nodejs npm)
	cd $(CONDUIT_TESTS) && npm ci --no-audit --no-fund --loglevel=error
	touch $(NEWMAN)

install: $(STAMP)

# The starters' own venv (tests/cli/test_scaffold.py runs each `nexpress new --template T`
# app's `python -m pytest` with it): a fresh `python -m venv` holding only what the
# starters' requirements.txt tell a new user to install (nexpress from this checkout,
# editable, with the extras they declare, and pytest), none of the dev extras. Made again
# from scratch when pyproject.toml or a starter's requirements.txt changes.
$(STARTERS): pyproject.toml $(STARTER_REQUIREMENTS) tools/starters_requirements.py
	rm -rf $(STARTERS_VENV)
	$(PYTHON) -m venv $(STARTERS_VENV)
	$(PYTHON) tools/starters_requirements.py "$(CURDIR)" $(STARTERS_VENV)/requirements.txt $(STARTER_REQUIREMENTS)
	$(STARTERS_VENV)/bin/python -m pip install -q --disable-pip-version-check -r $(STARTERS_VENV)/requirements.txt
	touch $(STARTERS)

# examples/dashboard's asset build: Tailwind's CLI (@tailwindcss/cli, v4) and the
# @fontsource fonts, pinned in its package-lock.json. nexpress runs the build itself,
# and `npm ci` when they are missing; this target also installs npm when absent and
# reruns `npm ci` when the lockfile changes (nexpress only checks that they exist)
$(TAILWIND): $(DASHBOARD)/package.json $(DASHBOARD)/package-lock.json
	command -v npm >/dev/null || (apt-get update -q && apt-get install -y -q --no-install-recommends nodejs npm)
	cd $(DASHBOARD) && npm ci --no-audit --no-fund --loglevel=error
	touch $(TAILWIND)

# The browser tests (tests/browser/) drive Debian's chromium through Python
# Playwright; never `playwright install` (no downloaded browser builds).
$(CHROMIUM):
	apt-get update -q && apt-get install -y -q chromium fonts-dejavu-core

# The OpenID provider the auth tests sign in against (npm package oidc-provider).
$(IDP): tests/idp/package.json tests/idp/package-lock.json
	cd tests/idp && npm ci --no-audit --no-fund --loglevel=error
	touch $(IDP)

# path-to-regexp 8.4.2, Express 5's matcher: tests/routing/test_pattern.py compares nexpress's
# answers with it on seeded random patterns.
$(P2R): tests/pathtoregexp/package.json tests/pathtoregexp/package-lock.json
	cd tests/pathtoregexp && npm ci --no-audit --no-fund --loglevel=error
	touch $(P2R)

# pyright (pinned in tools/pyright/package-lock.json): `make typecheck` checks what
# users write, examples/ and a typed snippet of each docs page (tests/typing/), with
# pyright --strict (pyrightconfig.json); the expected result is 0 errors.
$(PYRIGHT): tools/pyright/package.json tools/pyright/package-lock.json
	command -v npm >/dev/null || (apt-get update -q && apt-get install -y -q --no-install-recommends nodejs npm)
	cd tools/pyright && npm ci --no-audit --no-fund --loglevel=error
	touch $(PYRIGHT)

run: install
	cd examples/blog && ../../$(VENV)/bin/nexpress start --host 127.0.0.1 --port 3000

dev: install
	cd examples/blog && ../../$(VENV)/bin/nexpress dev --host 127.0.0.1 --port 3000

# the documentation site (site/: docs/*.md and README.md, built by nexpress itself):
# `make docs` prerenders it and serves it on http://127.0.0.1:$(DOCS_PORT); `make
# docs-export` writes the static copy to site/out/ (DOCS_BASE_PATH=/project for a
# host that serves it below a path)
DOCS_PORT ?= 3001
DOCS_BASE_PATH ?= /
docs: install
	cd site && ../$(VENV)/bin/nexpress build && ../$(VENV)/bin/nexpress start --host 127.0.0.1 --port $(DOCS_PORT)

docs-export: install
	cd site && ../$(VENV)/bin/nexpress export --out out --base-path $(DOCS_BASE_PATH)

lint: install typecheck
	$(VENV)/bin/ruff check nexpress tests bench examples site

typecheck: install $(PYRIGHT)
	$(PYRIGHT) --project pyrightconfig.json

# two workers, each test file on one of them (files share servers and own their Redis
# database numbers)
test: install lint $(IDP) $(P2R) $(NEWMAN) $(TAILWIND) $(CHROMIUM) $(STARTERS)
	$(PY) -m pytest -n 2 --dist loadfile

# the long deployment load runs (two instances 30 s, one instance with 2 workers 60 s,
# 64 connections each); `make test` runs a few-second version of each
test-load: install
	$(PY) -m pytest tests/server/test_deployment.py -m load -s

# attacks (traversal, smuggling, cache poisoning, slow bodies, floods of unique URLs,
# hostile parser input, forwarded headers, WebSocket caps) against `nexpress start` on
# loopback, a table of case/expected/seen; a minute or two. `make test` runs a quick
# selection (tests/hostile/test_hostile.py)
test-hostile: install
	$(PY) tests/hostile/run.py

# two blog instances over Redis + PostgreSQL under mixed load while Redis, then
# PostgreSQL, are restarted; SOAK_SECONDS (default 180). Restarts this machine's
# services: not part of `make test`
SOAK_SECONDS ?= 180
soak: install
	$(PY) tests/soak.py --seconds $(SOAK_SECONDS)

# bench/run.py: requests per second; bench/startup.py: import, `nexpress --help`,
# `nexpress routes` and cold-start times beside Starlette and FastAPI, and the install
# sizes of `pip install nexpress` and `nexpress[all]` (builds the wheel, fresh venvs)
bench: install
	$(PY) -m pip install -q --disable-pip-version-check -e ".[bench]"
	$(PY) bench/run.py
	$(PY) bench/startup.py

bench-quick: install
	$(PY) -m pip install -q --disable-pip-version-check -e ".[bench]"
	BENCH_QUICK=1 $(PY) bench/run.py
	BENCH_QUICK=1 $(PY) bench/startup.py

# examples/conduit (the RealWorld API) on http://127.0.0.1:3000/api, SQLite by default
conduit: install
	cd examples/conduit && ../../$(VENV)/bin/nexpress start --host 127.0.0.1 --port 3000

# the RealWorld collection (newman) and a longer schemathesis fuzz, each against a
# fresh server on a loopback port (the suite runs short versions of both)
conduit-api-test: install
	$(PY) -m pytest tests/examples/test_conduit.py -k postman -q

conduit-fuzz: install
	CONDUIT_FUZZ_EXAMPLES=50 $(PY) -m pytest tests/examples/test_conduit.py -k schemathesis -q -p no:cacheprovider

# examples/dashboard (the Next.js Learn course's app) on http://127.0.0.1:3000, SQLite by
# default; sign in as user@nextmail.com / 123456
dashboard: install $(TAILWIND)
	cd $(DASHBOARD) && AUTH_SECRET=$${AUTH_SECRET:-dashboard-local-secret-change-me} ../../$(VENV)/bin/nexpress start --host 127.0.0.1 --port 3000

clean:
	rm -rf $(VENV) $(STARTERS_VENV) .pytest_cache .ruff_cache
