# Native targets, named after the PHP implementation's. The service runs on embedded
# development defaults: no secret and no database server are needed to start it.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN := var
PIDFILE := $(RUN)/biconnector.pid
LOGFILE := $(RUN)/log/biconnector.log
STAMP := $(VENV)/.installed

export APP_ENV ?= development

.PHONY: install start stop restart test lint fix-code pipeline logs clean bench

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

start: install ## start the service in the background
	@mkdir -p $(RUN)/log
	@if [ -f $(PIDFILE) ] && kill -0 $$(cat $(PIDFILE)) 2>/dev/null; then \
		echo "biconnector is already running (pid $$(cat $(PIDFILE)))"; exit 0; fi
	@nohup $(BIN)/biconnector serve >> $(LOGFILE) 2>&1 & echo $$! > $(PIDFILE)
	@$(BIN)/python -m biconnector.wait_ready || { tail -n 20 $(LOGFILE); exit 1; }

stop: ## stop the service started by `make start`
	@if [ -f $(PIDFILE) ] && kill -0 $$(cat $(PIDFILE)) 2>/dev/null; then \
		kill $$(cat $(PIDFILE)) && echo "biconnector stopped"; fi
	@rm -f $(PIDFILE)

restart: stop start

test: install ## run the test suite against the local MariaDB and PostgreSQL
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

fix-code: install
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

bench: install ## export speed and memory against the engines' own tools (builds its tables once)
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; } || \
		echo "wrk could not be installed: the cached rate is skipped"
	$(BIN)/python -m bench.run

pipeline: lint test

logs:
	tail -n 50 -f $(LOGFILE)

clean: stop
	rm -rf $(VENV) $(RUN) .pytest_cache .mypy_cache .ruff_cache .hypothesis src/*.egg-info
