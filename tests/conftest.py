"""Shared fixtures: the databases, the running service, and a portal that calls it."""

from __future__ import annotations

import atexit
import logging
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from biconnector.logs import JsonFormatter
from biconnector.settings import Settings
from tests.support.databases import Database, mysql_database, postgres_database
from tests.support.service import SENT_PASSWORDS, Encoding, Portal, running_service

ENGINES = ["mysql", "postgresql"]
ENCODINGS: list[Encoding] = ["form", "json"]


# The service's own files (cache, cache key) for this test run, removed at its end.
STATE_DIR = Path(tempfile.mkdtemp(prefix="biconnector-tests-"))
atexit.register(shutil.rmtree, STATE_DIR, ignore_errors=True)


def make_settings(**overrides: Any) -> Settings:
    """Settings for tests: no `.env` file, a short connect timeout, and no metadata cache
    (tests change tables between calls); the cache's own tests turn it on."""
    values: dict[str, Any] = {
        "db_connection_timeout": 3.0,
        "cache_ttl_table_list": 0,
        "cache_ttl_table_description": 0,
        "state_dir": STATE_DIR,
        **overrides,
    }
    return Settings(_env_file=None, **values)


def production_settings(**overrides: Any) -> Settings:
    """Test settings in production, which refuses to start without its secrets."""
    secrets = {
        "app_domain": "https://bi.example.com",
        "app_secret": "production-test-secret-0123456789abcdef",
        "bitrix24_client_id": "local.test.production",
        "bitrix24_client_secret": "production-test-client-secret",
    }
    return make_settings(app_env="production", **(secrets | overrides))


@pytest.fixture(scope="session")
def service() -> Iterator[str]:
    with running_service(make_settings()) as base_url:
        yield base_url


@pytest.fixture(params=ENCODINGS)
def portal(request: pytest.FixtureRequest, service: str) -> Portal:
    """A portal calling the service, once with form bodies and once with JSON bodies."""
    return Portal(service, request.param)


@pytest.fixture
def form_portal(service: str) -> Portal:
    return Portal(service, "form")


@pytest.fixture(scope="session")
def pg_db() -> Iterator[Database]:
    with postgres_database() as database:
        yield database


@pytest.fixture(scope="session")
def mysql_db() -> Iterator[Database]:
    with mysql_database() as database:
        yield database


@pytest.fixture(params=ENGINES)
def db(request: pytest.FixtureRequest) -> Database:
    """The test database of each engine in turn."""
    fixture = "mysql_db" if request.param == "mysql" else "pg_db"
    database: Database = request.getfixturevalue(fixture)
    return database


class _Recorder(logging.Handler):
    """Every record as the service writes it: the JSON line, with all its facts."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        # httpx is the tests' own client, playing Bitrix24: its lines are not the service's.
        if not record.name.startswith(("httpx", "httpcore")):
            self.lines.append(self.format(record))


@pytest.fixture(autouse=True)
def no_password_in_the_log() -> Iterator[None]:
    """Every test also checks that no password a portal sent reached any log line.

    The service runs in this process, so its records (and its drivers') reach the root
    logger; DEBUG is switched on so that the most talkative level is searched too.
    """
    root, recorder = logging.getLogger(), _Recorder()
    level = root.level
    root.addHandler(recorder)
    root.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        root.removeHandler(recorder)
        root.setLevel(level)
    leaked = {p for p in SENT_PASSWORDS for line in recorder.lines if p in line}
    assert not leaked, "a password reached the log"
