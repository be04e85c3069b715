# The two commands a newcomer types (see README.md).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000

.PHONY: run test venv system-deps conformance bench clean

$(BIN)/helpline: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(BIN)/helpline

venv: $(BIN)/helpline

## make run: install into .venv and start everything on the embedded default (SQLite + embedded Redis)
run: venv
	$(BIN)/helpline serve --demo --port $(PORT)

## Debian packages the tests need: a real Redis, PostgreSQL and Chromium
system-deps:
	@missing=""; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	test -x /usr/bin/chromium || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

## make test: install everything the tests need and run the whole suite
test: system-deps venv
	$(BIN)/python -m pytest -q

conformance: venv
	PATH=$(CURDIR)/$(BIN):$$PATH ../shared/conformance/run

bench: venv
	$(BIN)/python bench/webhooks.py

clean:
	rm -rf $(VENV) .cache instance
