# Carbon Ledger — the two commands of the quick start are `make run` and `make test`.
# Everything else here is what they need: a virtualenv from requirements.lock and the chain
# toolchain from package-lock.json, each installed only when missing or out of date.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed

.PHONY: run test install lint typecheck test-python test-contracts test-js bench bench-deps clean browser-deps monitoring-deps interop-deps

run: install
	$(BIN)/carbon-ledger serve

# Coverage of the code the tests run in-process (servers started as subprocesses are not counted).
test: install
	$(BIN)/pytest --cov --cov-report=term
	node_modules/.bin/forge test
	node --test tests/js/

install: $(PY_STAMP) $(NODE_STAMP)

$(PY_STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is required")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

# `npm install` honours package-lock.json exactly (versions and integrity hashes); `npm ci`
# refuses this lock because npm leaves out the other platforms' optional Foundry binaries.
$(NODE_STAMP): package.json package-lock.json
	@node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)' || (echo "Node 20 or newer is required" && false)
	npm install --no-audit --no-fund --loglevel=error
	touch $@

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy

test-python: install
	$(BIN)/pytest

test-contracts: install
	node_modules/.bin/forge test

# The phone page's receipt verifier (backend/api/static/h5/verify.js) in Node, no dependencies.
test-js:
	node --test tests/js/

# The dashboard's browser test drives Debian's Chromium through chromedriver (never a downloaded
# browser). Installs them when missing and we may (root with apt-get, as on CI); otherwise the test
# skips locally with the reason and fails under CI.
browser-deps:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    chromium chromium-driver fonts-wqy-microhei >/dev/null; \
	else echo "chromium/chromedriver missing: the dashboard browser test will skip"; fi

# The alert rules, their unit tests and the scrape configuration are checked with Prometheus's own
# promtool (Debian's prometheus package). Installed when missing and we may; the test skips with
# the reason elsewhere and fails under CI.
monitoring-deps:
	@if command -v promtool >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    prometheus >/dev/null; \
	else echo "promtool missing: the monitoring rule tests will skip"; fi

# The C2SP formats (checkpoints, tiles, proofs) are checked against Go's golang.org/x/mod/sumdb
# note and tlog packages (Debian's golang-go and golang-golang-x-mod-dev, compiled by the test).
# Installed when missing and we may; the test skips with the reason elsewhere and fails under CI.
interop-deps:
	@if command -v go >/dev/null 2>&1 && [ -d /usr/share/gocode/src/golang.org/x/mod/sumdb/tlog ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    golang-go golang-golang-x-mod-dev >/dev/null; \
	else echo "go or golang.org/x/mod missing: the interoperability tests will skip"; fi

# The single-POST benchmark drives the server with wrk (a C load generator: a Python client would
# take a core of the two from the server it measures). Installed when missing and we may.
bench-deps:
	@if command -v wrk >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; \
	else echo "wrk missing: the single-POST benchmark will be skipped"; fi

bench: install bench-deps
	$(BIN)/python -m bench

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache
