"""A stand-in Bitrix24 (OAuth server and portal REST API over HTTPS) and a service that
installs itself there."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from biconnector.portal.lifecycle import Lifecycle
from biconnector.settings import Settings
from tests.conftest import make_settings
from tests.support.bitrix import FakeBitrix
from tests.support.databases import mysql_database, postgres_database
from tests.support.php import http_build_query
from tests.support.service import SENT_PASSWORDS, free_port, running_service

CLIENT_ID = "local.5f1e2d3c4b5a69.12345678"
CLIENT_SECRET = "kq7Vb3XnR0tLs9YwZ2aPd6Fh1Jm4Ne8Uc5Gi0Oe"
APP_SECRET = "test-app-secret-" + secrets.token_hex(16)
SENT_PASSWORDS.update({CLIENT_SECRET, APP_SECRET})


@pytest.fixture
def bitrix(tmp_path: Path) -> Iterator[FakeBitrix]:
    with FakeBitrix(tmp_path / "bitrix", client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as fake:
        yield fake


def app_settings(bitrix: FakeBitrix, tmp_path: Path, **overrides: Any) -> Settings:
    """Settings of a service that is the application known to `bitrix`, at a free port."""
    port = free_port()
    values: dict[str, Any] = {
        "app_domain": f"http://127.0.0.1:{port}",
        "bind_port": port,
        "bitrix24_client_id": CLIENT_ID,
        "bitrix24_client_secret": CLIENT_SECRET,
        "bitrix24_oauth_url": bitrix.url,
        "bitrix24_ca_file": bitrix.ca_file,
        "app_secret": APP_SECRET,
        "app_database_url": f"sqlite:///{tmp_path / 'state.sqlite3'}",
        "allow_unsigned_calls": False,
        **overrides,
    }
    return make_settings(**values)


@dataclass
class App:
    """The service running as the Bitrix24 application."""

    url: str
    settings: Settings

    def post_event(self, path: str, event: dict[str, Any]) -> httpx.Response:
        """Post an event the way Bitrix24 does: a PHP-encoded form."""
        _remember_secrets(event)
        return httpx.post(
            f"{self.url}{path}",
            content=http_build_query(event).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            timeout=30,
        )

    def lifecycle(self) -> Lifecycle:
        return Lifecycle(self.settings)


@contextlib.contextmanager
def running_app(settings: Settings) -> Iterator[App]:
    with running_service(settings, port=settings.bind_port) as url:
        assert url == settings.app_domain, "APP_DOMAIN must be where the service listens"
        yield App(url, settings)


@pytest.fixture
def app(bitrix: FakeBitrix, tmp_path: Path) -> Iterator[App]:
    with running_app(app_settings(bitrix, tmp_path)) as running:
        yield running


def _remember_secrets(event: dict[str, Any]) -> None:
    auth = event.get("auth")
    if not isinstance(auth, dict):
        return
    for name in ("access_token", "refresh_token", "application_token"):
        if isinstance(auth.get(name), str) and len(auth[name]) >= 16:
            SENT_PASSWORDS.add(auth[name])


@contextlib.contextmanager
def state_database(kind: str) -> Iterator[str]:
    """An empty database of `kind` for the application's own state, as a SQLAlchemy URL."""
    if kind == "postgresql":
        with postgres_database() as db:
            yield f"postgresql+psycopg://{db.username}@{db.host}:{db.port}/{db.name}"
    else:
        with mysql_database() as db:
            yield f"mysql+pymysql://{db.username}@{db.host}:{db.port}/{db.name}"


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def every_state_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database for the application's state on each engine it may live on."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'every-state.sqlite3'}"
        return
    with state_database(request.param) as url:
        yield url
