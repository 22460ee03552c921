# nexpress: two commands on a fresh machine.
#   make run   -> creates .venv, installs, serves examples/blog on http://127.0.0.1:3000
#   make test  -> installs what the tests need, then runs ruff and the whole suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-dev

IDP    := tests/idp/node_modules/.package-lock.json

.PHONY: install run dev test lint bench bench-quick clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# The OpenID provider the auth tests sign in against (npm package oidc-provider).
$(IDP): tests/idp/package.json tests/idp/package-lock.json
	cd tests/idp && npm ci --no-audit --no-fund --loglevel=error
	touch $(IDP)

run: install
	cd examples/blog && ../../$(VENV)/bin/nexpress start --host 127.0.0.1 --port 3000

dev: install
	cd examples/blog && ../../$(VENV)/bin/nexpress dev --host 127.0.0.1 --port 3000

lint: install
	$(VENV)/bin/ruff check nexpress tests bench examples

test: install lint $(IDP)
	$(PY) -m pytest

bench: install
	$(PY) -m pip install -q --disable-pip-version-check -e ".[bench]"
	$(PY) bench/run.py

bench-quick: install
	$(PY) -m pip install -q --disable-pip-version-check -e ".[bench]"
	BENCH_QUICK=1 $(PY) bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
