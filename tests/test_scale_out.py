"""Scale-out on loopback: three replicas behind nginx, sharing Redis for the cache and
PostgreSQL for the application's state. The application is installed through the proxy,
the registered URLs reach every replica, and a replica stopped in the middle of an export
finishes it and leaves while every request still succeeds."""

from __future__ import annotations

import contextlib
import json
import secrets
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.portal.conftest import state_database
from tests.support.bitrix import FakeBitrix
from tests.support.databases import Database, created
from tests.support.php import http_build_query
from tests.support.proxy import nginx
from tests.support.service import SENT_PASSWORDS, free_port, service_process
from tests.test_metrics import figures, value

MEMBER = "5ca1e0u75ca1e0u75ca1e0u75ca1e0u7"
CLIENT_ID = "local.scaleout.0001"
CLIENT_SECRET = "scale-out-client-secret-" + secrets.token_hex(8)
APP_SECRET = "scale-out-app-secret-" + secrets.token_hex(16)
SENT_PASSWORDS.update({CLIENT_SECRET, APP_SECRET})


@pytest.fixture
def slow_view(pg_db: Database) -> Iterator[str]:
    view = (
        "CREATE VIEW slowest AS SELECT pg_sleep(1.5)::text AS waited, n"
        " FROM generate_series(1, 4) AS n"
    )
    with created(pg_db, [view], ["DROP VIEW slowest"]):
        yield "slowest"


@contextlib.contextmanager
def replicas(directory: Path, count: int, env: dict[str, str]) -> Iterator[list[Any]]:
    with contextlib.ExitStack() as stack:
        yield [
            stack.enter_context(service_process(directory / f"replica-{n}", **env))
            for n in range(count)
        ]


def _post(url: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(url, json=body, timeout=60)


def test_three_replicas_behind_a_proxy(tmp_path: Path, pg_db: Database, slow_view: str) -> None:
    proxy_port = free_port()
    with (
        FakeBitrix(tmp_path / "bitrix", client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as fake,
        state_database("postgresql") as state_url,
    ):
        env = {
            "APP_ENV": "production",
            "APP_DOMAIN": f"http://127.0.0.1:{proxy_port}",
            "APP_SECRET": APP_SECRET,
            "APP_DATABASE_URL": state_url,
            "BITRIX24_CLIENT_ID": CLIENT_ID,
            "BITRIX24_CLIENT_SECRET": CLIENT_SECRET,
            "BITRIX24_OAUTH_URL": fake.url,
            "BITRIX24_CA_FILE": str(fake.ca_file),
            "CACHE_URL": "redis://127.0.0.1:6379/0",
            "CACHE_SECRET": secrets.token_hex(16),  # this test's own cache keys
            "CACHE_TTL_TABLE_LIST": "60",
            "DB_ALLOW_LOOPBACK": "true",
            "SHUTDOWN_TIMEOUT": "60",
            # Two worker processes each: a stopping replica must refuse new connections
            # at once even though its supervisor holds the listening socket too.
            "WORKERS": "2",
        }
        fake.add_portal(MEMBER)
        with replicas(tmp_path, 3, env) as running:
            upstreams = [url.removeprefix("http://") for url, _ in running]
            with nginx(tmp_path / "nginx", upstreams, port=proxy_port) as proxy:
                _run(proxy, fake, running, pg_db, slow_view)


def _run(proxy: str, fake: FakeBitrix, running: list[Any], db: Database, slow: str) -> None:
    event = fake.install_event(MEMBER)
    SENT_PASSWORDS.update({event["auth"]["access_token"], event["auth"]["refresh_token"]})
    installed = httpx.post(
        f"{proxy}/install",
        content=http_build_query(event).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=30,
    )
    assert installed.status_code == 200, installed.text
    (connector,) = [c for c in fake.portal(MEMBER).connectors.values()
                    if c["sourceCode"] == "pgsql"]  # fmt: skip
    assert connector["urlCheck"].startswith(f"{proxy}/connectors/postgresql/check?")
    source = {"connection": db.connection()}

    for _ in range(6):  # round robin: each replica serves some
        assert _post(connector["urlCheck"], source).status_code == 200
        assert _post(connector["urlTableList"], source).status_code == 200
    served = [figures(url) for url, _ in running]
    for found in served:
        assert value(found, "biconnector_requests_total",
                     endpoint="postgresql/check", status="200") >= 1  # fmt: skip
    # The replicas share the cache: one asked the database, the others found its answer.
    assert sum(value(f, "biconnector_cache_lookups_total", result="hit") for f in served) >= 3

    exports: list[httpx.Response] = []

    def export() -> None:
        exports.append(_post(connector["urlData"], {**source, "table": slow}))

    threads = [threading.Thread(target=export) for _ in range(3)]
    for thread in threads:
        thread.start()
        time.sleep(0.1)
    time.sleep(1.0)
    busy = [
        (url, process) for url, process in running
        if value(figures(url), "biconnector_exports_running", engine="postgresql") >= 1
    ]  # fmt: skip
    assert busy, "no replica is exporting"
    _, stopped = busy[0]
    stopped.send_signal(signal.SIGTERM)

    during: list[int] = []
    while any(thread.is_alive() for thread in threads):
        during.append(_post(connector["urlCheck"], source).status_code)
        time.sleep(0.1)
    for thread in threads:
        thread.join()

    assert stopped.wait(timeout=60) in (0, -signal.SIGTERM)  # it left once its export ended
    assert during
    assert set(during) == {200}
    assert len(exports) == 3
    for response in exports:
        assert response.status_code == 200
        assert [row[1] for row in json.loads(response.content)[1:]] == [1, 2, 3, 4]
    # Requests go on to the replicas that are left.
    assert [_post(connector["urlCheck"], source).status_code for _ in range(6)] == [200] * 6
