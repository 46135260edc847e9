# Two commands for a new user: `make demo` and `make test`. Every other target is a step they
# run by themselves, idempotently (stamp files), so a second run installs nothing.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
export PATH := $(abspath $(BIN)):$(PATH)
export REGISTRY_HOME ?= $(abspath .registry)

ARTIFACTS := registry/artifacts/CredentialRegistry.json
SOLC_VERSION := 0.8.28
SOLCX_DIR ?= $(if $(SOLCX_BINARY_PATH),$(SOLCX_BINARY_PATH),$(HOME)/.solcx)
SOLCX_SOLC := $(SOLCX_DIR)/solc-v$(SOLC_VERSION)
CONTRACTS := $(wildcard contracts/*.sol contracts/*/*.sol)

FORCE:

.PHONY: FORCE help setup demo test lint typecheck unit contract-tests e2e bench clean distclean browser spreadsheet mutation

help:
	@echo "make demo   - set up everything, then run the end-to-end demo on a local chain"
	@echo "make test   - set up everything, then run lint, type checks and the whole test suite"
	@echo "make bench  - print benchmark figures as one JSON object"
	@echo "make mutation - mutation testing of the verdict-deciding core (fails below 90 % killed)"

$(BIN)/.installed: pyproject.toml constraints.txt
	@$(PYTHON) -c "import sys; sys.exit(sys.version_info[:2] != (3, 11))" || { echo "error: Python 3.11 is required (set PYTHON=...)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@# PyICU (UTS #39 confusables for the auditor) builds against the system ICU: Debian's libicu-dev.
	@pkg-config --exists icu-uc 2>/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libicu-dev pkg-config; } || \
		{ echo "error: PyICU needs ICU's headers: install libicu-dev and pkg-config"; exit 1; }
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The compiler shim: a `solc` command on the venv's PATH running the pinned WASM compiler,
# registered with py-solc-x so neither it nor ape-solidity ever tries to download a compiler.
# py-solc-x keeps it in HOME, shared by every checkout: one registered by another (maybe deleted)
# checkout is registered again from this one.
SOLC_SHIM_STALE := $(shell grep -qsF '$(abspath scripts/solc_shim.js)' '$(SOLCX_SOLC)' || echo FORCE)
$(SOLCX_SOLC): scripts/solc_shim.js node_modules/.installed $(BIN)/.installed $(SOLC_SHIM_STALE)
	printf '#!/bin/sh\nexec node "%s" "$$@"\n' "$(abspath scripts/solc_shim.js)" > $(BIN)/solc
	chmod +x $(BIN)/solc
	ln -sf "$(abspath node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil)" $(BIN)/anvil
	rm -f "$@"
	$(PY) -c "import solcx; print('solc registered with py-solc-x:', solcx.import_installed_solc())"
	test -x "$@"

$(ARTIFACTS): $(CONTRACTS) scripts/build_contracts.py $(SOLCX_SOLC)
	$(PY) scripts/build_contracts.py

# The self-contained verifier page (web/verifier/, bundled by esbuild): `registry verifier-page`.
PAGE := registry/artifacts/verifier.html
VERIFIER_SRC := $(wildcard web/verifier/*.mjs web/verifier/*.html web/verifier/src/*.js) registry/schemas/pathway-v1.schema.json registry/schemas/credential-file-v1.schema.json registry/schemas/credential-file-v2.schema.json registry/schemas/ob3/achievementcredential.schema.json registry/contexts/credentials-v2.jsonld registry/contexts/ob-v3p0-context-3.0.3.json node_modules/.installed $(ARTIFACTS)
$(PAGE): $(VERIFIER_SRC)
	node web/verifier/build.mjs $@

# The same library without the page UI, served at /assets/verifier.js (the share page's live check).
VERIFIER_LIB := registry/artifacts/verifier-lib.js
$(VERIFIER_LIB): $(VERIFIER_SRC)
	node web/verifier/build.mjs --lib $@

setup: $(BIN)/.installed node_modules/.installed $(SOLCX_SOLC) $(ARTIFACTS) $(PAGE) $(VERIFIER_LIB)

lint: setup
	$(BIN)/ruff check registry scripts tests
	$(BIN)/ruff format --check registry scripts tests
	$(BIN)/lint-imports --no-cache

typecheck: setup
	$(BIN)/mypy

unit: setup
	$(BIN)/pytest -p no:ape_test tests/unit tests/test_toolchain.py

contract-tests: setup
	$(BIN)/ape test tests/contracts

# Chromium for the page tests (Debian's package, driven by Playwright; never `playwright install`).
# Installed when missing and we can (root with apt-get); otherwise the page tests skip, or fail
# under CI=true.
browser:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else echo "warning: /usr/bin/chromium missing and not installable here: page tests skip (fail under CI=true)"; fi

# LibreOffice Calc, headless, for the test that opens the HR CSV in a real spreadsheet (Debian's
# package, about 200 MB without recommends). Installed like Chromium when missing and we can.
spreadsheet:
	@if [ -x /usr/bin/soffice ] && [ -e /usr/lib/libreoffice/program/libsclo.so ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libreoffice-calc-nogui; \
	else echo "warning: /usr/bin/soffice missing and not installable here: the spreadsheet test skips (fails under CI=true)"; fi

# The suite runs in TEST_JOBS worker processes (pytest-xdist; TEST_JOBS=0 runs it in this one).
# Each test file stays whole in one worker (--dist loadfile): a file's anvil and deployed contracts
# are made once, and its tests run in their written order. Most of the suite waits on anvil, the
# service and Chromium, so two workers on two cores take far less time than one (docs/testing.md).
TEST_JOBS ?= 2

test: lint typecheck browser spreadsheet
	$(BIN)/ape test tests/contracts -q
	$(BIN)/pytest -p no:ape_test tests --ignore=tests/contracts --durations=25 -n $(TEST_JOBS) --dist loadfile

demo: setup
	$(PY) scripts/demo.py

bench: setup
	$(PY) scripts/bench.py

# Mutation testing of the verdict-deciding core (mutmut; not part of `make test`): per module
# killed/total, then the overall share; fails below 90 %. MUTATION_JOBS=1 for a single worker.
mutation: setup
	$(PY) scripts/mutation.py

clean:
	rm -rf demo-out .pytest_cache .mypy_cache .ruff_cache .build
	find . -name __pycache__ -type d -prune -not -path './node_modules/*' -not -path './.venv/*' -exec rm -rf {} +

distclean: clean
	-$(PY) -m registry.cli chain down 2>/dev/null
	rm -rf $(VENV) node_modules .registry registry/artifacts
