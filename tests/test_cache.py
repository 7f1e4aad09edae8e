"""The metadata cache: hits, misses, expiry, passwords, files shared by workers, Redis, clearing."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from biconnector import cli
from tests.conftest import make_settings
from tests.support.databases import Database, execute, mysql_admin, unique_name
from tests.support.service import Portal, running_service


def cached(state: Path, **overrides: Any) -> Any:
    values: dict[str, Any] = {
        "cache_ttl_table_list": 60,
        "cache_ttl_table_description": 60,
        "state_dir": state,
        **overrides,
    }
    return make_settings(**values)


@pytest.fixture
def probe(db: Database) -> Iterator[str]:
    """A table of the test database that the test may drop to see what the cache kept."""
    name = unique_name("probe")
    execute(db, f"CREATE TABLE {name} (id INT)")
    try:
        yield name
    finally:
        execute(db, f"DROP TABLE IF EXISTS {name}")


def codes(portal: Portal, db: Database, **params: Any) -> set[str]:
    items = portal.ok(db.engine, "table_list", {"connection": db.connection(), **params})
    return {item["code"] for item in items}


def test_a_cached_list_is_answered_without_the_database(
    tmp_path: Path, db: Database, probe: str
) -> None:
    with running_service(cached(tmp_path)) as url:
        portal = Portal(url, "form")
        assert probe in codes(portal, db)

        execute(db, f"DROP TABLE {probe}")

        assert probe in codes(portal, db)
        assert codes(portal, db, searchString=probe.upper()) == {probe}


def test_without_a_cache_every_list_is_fresh(service: str, db: Database, probe: str) -> None:
    portal = Portal(service, "form")
    assert probe in codes(portal, db)

    execute(db, f"DROP TABLE {probe}")

    assert probe not in codes(portal, db)


def test_a_cached_description_is_answered_without_the_database(
    tmp_path: Path, db: Database, probe: str
) -> None:
    with running_service(cached(tmp_path)) as url:
        portal = Portal(url, "json")
        params = {"connection": db.connection(), "table": probe}
        first = portal.ok(db.engine, "table_description", params)

        execute(db, f"ALTER TABLE {probe} ADD COLUMN extra INT")

        assert portal.ok(db.engine, "table_description", params) == first


def test_answers_expire(tmp_path: Path, db: Database, probe: str) -> None:
    with running_service(cached(tmp_path, cache_ttl_table_list=0.3)) as url:
        portal = Portal(url, "form")
        assert probe in codes(portal, db)
        execute(db, f"DROP TABLE {probe}")
        time.sleep(0.6)

        assert probe not in codes(portal, db)


def test_worker_processes_of_one_host_share_the_files(
    tmp_path: Path, db: Database, probe: str
) -> None:
    with running_service(cached(tmp_path)) as first, running_service(cached(tmp_path)) as second:
        assert probe in codes(Portal(first, "form"), db)
        execute(db, f"DROP TABLE {probe}")

        assert probe in codes(Portal(second, "form"), db)


def test_the_clear_command_forgets_every_answer(
    tmp_path: Path, db: Database, probe: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with running_service(cached(tmp_path)) as url:
        portal = Portal(url, "form")
        assert probe in codes(portal, db)
        execute(db, f"DROP TABLE {probe}")
        monkeypatch.setenv("STATE_DIR", str(tmp_path))
        other = tmp_path / "cache" / "notes.txt"
        other.write_text("not an answer")

        assert cli.main(["cache", "clear"]) == 0

        assert probe not in codes(portal, db)
        assert other.exists(), "clear deleted a file that was no answer"
        assert (tmp_path / "cache.key").exists()


@pytest.fixture
def reader(mysql_db: Database) -> Iterator[dict[str, Any]]:
    """A MariaDB user whose password the server really checks."""
    user, password = unique_name("bc_cache"), "Cache-pw-7"
    with mysql_admin() as admin:
        admin.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'")
        admin.execute(f"GRANT SELECT ON `{mysql_db.name}`.* TO '{user}'@'%'")
    try:
        yield mysql_db.connection(username=user, password=password)
    finally:
        with mysql_admin() as admin:
            admin.execute(f"DROP USER IF EXISTS '{user}'@'%'")


def test_a_wrong_password_is_never_answered_from_the_cache(
    tmp_path: Path, reader: dict[str, Any]
) -> None:
    with running_service(cached(tmp_path)) as url:
        portal = Portal(url, "form")
        assert portal.call("mysql", "table_list", {"connection": reader}).status_code == 200

        wrong = {**reader, "password": "not-" + reader["password"]}
        response = portal.call("mysql", "table_list", {"connection": wrong})

        assert response.status_code == 422
        assert response.json()["error"]["code"] == "authentication_failed"


def test_no_password_reaches_the_cache_files(tmp_path: Path, reader: dict[str, Any]) -> None:
    with running_service(cached(tmp_path)) as url:
        Portal(url, "form").ok("mysql", "table_list", {"connection": reader})

    stored = b"".join(path.read_bytes() for path in tmp_path.rglob("*") if path.is_file())
    assert reader["password"].encode() not in stored


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """A Redis server of this module's own, on a free port."""
    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        port = probe_socket.getsockname()[1]
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
                    connection.sendall(b"PING\r\n")
                    if connection.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_redis_shares_answers_between_hosts(
    tmp_path: Path, redis_url: str, db: Database, probe: str
) -> None:
    # Two hosts: no files in common, the same CACHE_SECRET.
    one, other = tmp_path / "one", tmp_path / "other"
    shared = {"cache_url": redis_url, "cache_secret": "the same on every host"}
    with (
        running_service(cached(one, **shared)) as first,
        running_service(cached(other, **shared)) as second,
    ):
        assert probe in codes(Portal(first, "form"), db)
        execute(db, f"DROP TABLE {probe}")

        assert probe in codes(Portal(second, "form"), db)
        assert httpx.get(f"{second}/ready", timeout=5).status_code == 200


def test_ready_says_when_the_cache_cannot_be_used(tmp_path: Path, db: Database) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    settings = cached(tmp_path, cache_url=f"redis://127.0.0.1:{port}/0")
    with running_service(settings) as url:
        response = httpx.get(f"{url}/ready", timeout=10)
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "not_ready"

        # A cache that cannot be reached is a miss, never a failed request.
        params = {"connection": db.connection()}
        assert Portal(url, "form").call(db.engine, "table_list", params).status_code == 200


def test_ready_with_the_file_cache(tmp_path: Path) -> None:
    with running_service(cached(tmp_path)) as url:
        assert httpx.get(f"{url}/ready", timeout=5).json() == {"status": "ready"}
