# make run: start the stack and JupyterLab (Ctrl-C stops everything); make test: install everything the
# suite needs and run it; make bench: the full benchmarks.  Each step is skipped when already done.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NPM_STAMP := node_modules/.installed
PYTEST_ARGS ?=

.PHONY: run test bench install install-test npm system-deps clean

$(BIN)/python:
	@$(PY) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is needed (set PY=python3.11)")'
	@echo "Creating $(VENV) ..."
	@$(PY) -m venv $(VENV)
	@$(BIN)/python -m pip install -qq --upgrade pip

# Runtime and test dependencies together: one install, re-run only when pyproject.toml changes.
$(STAMP): $(BIN)/python pyproject.toml
	@echo "Installing the project and its test dependencies into $(VENV) ..."
	@$(BIN)/python -m pip install -qq -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

# npm packages for the tracker and browser tests, from the committed lock file.
$(NPM_STAMP): package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		echo "Installing npm packages (npm ci) ..."; \
		npm ci --no-audit --no-fund --loglevel=error >/dev/null && touch $(NPM_STAMP); \
	else \
		echo "NOTE: npm is not installed: the tests marked 'node' (Node tracker, browser tracker) will be skipped."; \
	fi

npm:
	@if [ -f package-lock.json ]; then $(MAKE) --no-print-directory $(NPM_STAMP); fi

# Debian programs the suite starts for real: Chromium (browser tracker), hey (collector benchmark's open-loop
# load), PostgreSQL and MariaDB (SQL enrichment).  Installed with apt-get when running as root, else explained.
# Each entry is program=package; a program is looked up on PATH and in the packages' own bin directories.
SYSTEM_DEPS := chromium=chromium chromedriver=chromium-driver hey=hey postgres=postgresql mariadbd=mariadb-server
SYSTEM_PATH := $(PATH):/usr/sbin:$(lastword $(sort $(wildcard /usr/lib/postgresql/*/bin)))

system-deps:
	@missing=""; for dep in $(SYSTEM_DEPS); do \
		PATH="$(SYSTEM_PATH)" command -v "$${dep%%=*}" >/dev/null 2>&1 || missing="$$missing $${dep#*=}"; \
	done; \
	if [ -z "$$missing" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing$$missing (apt-get) for the browser, benchmark and SQL enrichment tests ..."; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else \
		echo "NOTE:$$missing missing and can only be installed as root with apt-get:"; \
		echo "      the tests that need them will be skipped, each naming what it needs."; \
	fi

run: install
	@$(BIN)/mini lab

test: install npm system-deps
	@$(BIN)/python -m pytest -q $(PYTEST_ARGS)

bench: install
	@$(BIN)/python -m bench

clean:
	rm -rf $(VENV) node_modules
