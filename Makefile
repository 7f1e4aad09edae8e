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

test: install ## run the test suite against the local MariaDB, PostgreSQL and Redis
	@# The scale-out test puts Debian's nginx in front of three replicas.
	@command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || \
		{ apt-get update -qq && apt-get install -y -qq --no-install-recommends nginx; }
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

# Container targets, named after the PHP implementation's: the image from the Containerfile,
# and the service with MariaDB, PostgreSQL and Redis from docker-compose.yml. Podman works
# too: make docker-build DOCKER=podman, make docker-start COMPOSE=podman-compose WAIT=
# (podman-compose has no --wait). BUILDAH_FORMAT=docker makes podman keep the image's
# HEALTHCHECK, which its default OCI format has no room for; docker ignores it.
DOCKER ?= docker
COMPOSE ?= docker compose
IMAGE ?= biconnector:local
WAIT ?= --wait
# The APP_ENV this Makefile exports for the native targets is left out, so that compose takes
# APP_ENV from the environment, the command line or .env, or else its own default.
COMPOSE_RUN = $(if $(filter file,$(origin APP_ENV)),env -u APP_ENV) \
	BUILDAH_FORMAT=docker BICONNECTOR_IMAGE=$(IMAGE) $(COMPOSE)

.PHONY: docker-build docker-start docker-restart docker-stop docker-logs docker-shell docker-clean

docker-build: ## build the container image $(IMAGE) from the Containerfile
	BUILDAH_FORMAT=docker $(DOCKER) build --file Containerfile --tag $(IMAGE) .

docker-start: ## build and start the service with MariaDB, PostgreSQL and Redis in containers
	$(COMPOSE_RUN) up --detach --build $(WAIT)
	@echo "biconnector is listening on http://127.0.0.1:$${BICONNECTOR_PORT:-8000}"

docker-stop: ## stop and remove the containers (the databases' and the service's volumes stay)
	$(COMPOSE_RUN) down

docker-restart: docker-stop docker-start ## rebuild and restart the containers

docker-logs: ## follow the service container's log
	$(COMPOSE_RUN) logs --follow --tail=50 biconnector

docker-shell: ## a shell in the running service container
	$(COMPOSE_RUN) exec biconnector /bin/bash

docker-clean: ## remove the containers, their volumes (the demo databases too) and the image
	$(COMPOSE_RUN) down --volumes --remove-orphans
	-$(DOCKER) image rm $(IMAGE)
