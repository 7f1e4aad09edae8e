"""TLS to the database, against a PostgreSQL cluster with a certificate made for the test."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_settings
from tests.support.servers import PasswordPostgres, password_postgres
from tests.support.service import Portal, running_service
from tests.support.tls import TlsFiles, make_certificates


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def tls_cluster(certificates: TlsFiles) -> Iterator[PasswordPostgres]:
    with password_postgres(certificates) as cluster:
        yield cluster


def connection(cluster: PasswordPostgres, sslmode: str) -> dict[str, Any]:
    return {
        "host": cluster.host,
        "port": cluster.port,
        "database": "postgres",
        "username": cluster.user,
        "password": cluster.password,
        "sslmode": sslmode,
    }


@dataclass(frozen=True)
class TlsMariaDB:
    host: str
    port: int


@pytest.fixture(scope="module")
def tls_mariadb(
    certificates: TlsFiles, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TlsMariaDB]:
    """A private MariaDB server with the test certificate, without grant tables (any
    password passes: these tests are about TLS)."""
    base = tmp_path_factory.mktemp("mariadb")
    subprocess.run(
        ["mariadb-install-db", "--no-defaults", f"--datadir={base / 'data'}", "--user=root",
         "--auth-root-authentication-method=normal", "--skip-test-db"],
        check=True, capture_output=True,
    )  # fmt: skip
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        ["/usr/sbin/mariadbd", "--no-defaults", f"--datadir={base / 'data'}", "--user=root",
         f"--port={port}", "--bind-address=127.0.0.1", f"--socket={base / 'sock'}",
         f"--pid-file={base / 'pid'}", "--skip-log-bin", "--skip-grant-tables",
         "--innodb-buffer-pool-size=16M", f"--ssl-cert={certificates.certificate}",
         f"--ssl-key={certificates.key}", f"--ssl-ca={certificates.ca}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.1)
        yield TlsMariaDB("127.0.0.1", port)
    finally:
        server.terminate()
        server.wait(timeout=30)


def mysql_connection(server: TlsMariaDB, sslmode: str) -> dict[str, Any]:
    return {
        "host": server.host,
        "port": server.port,
        "database": "mysql",
        "username": "root",
        "sslmode": sslmode,
    }


@pytest.fixture(scope="module")
def trusting(certificates: TlsFiles) -> Iterator[Portal]:
    """A service that trusts the test CA (DB_SSL_CA_FILE)."""
    with running_service(make_settings(db_ssl_ca_file=certificates.ca)) as url:
        yield Portal(url, "form")


@pytest.mark.parametrize("sslmode", ["disable", "prefer", "require", "verify-ca", "verify-full"])
def test_every_sslmode_connects_when_the_ca_is_trusted(
    trusting: Portal, tls_cluster: PasswordPostgres, sslmode: str
) -> None:
    answer = trusting.ok("postgresql", "check", {"connection": connection(tls_cluster, sslmode)})

    assert answer["status"] == "ok"


@pytest.mark.parametrize("sslmode", ["verify-ca", "verify-full"])
def test_verification_fails_against_an_unknown_ca(
    service: str, tls_cluster: PasswordPostgres, sslmode: str
) -> None:
    params = {"connection": connection(tls_cluster, sslmode)}

    response = Portal(service, "form").call("postgresql", "check", params)

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "tls_failed"
    assert tls_cluster.password not in response.text


def test_a_ca_file_that_does_not_exist_stops_the_start(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="PEM"):
        make_settings(db_ssl_ca_file=tmp_path / "missing.pem")


@pytest.mark.parametrize("sslmode", ["disable", "prefer", "require", "verify-ca", "verify-full"])
def test_every_mysql_sslmode_connects_when_the_ca_is_trusted(
    trusting: Portal, tls_mariadb: TlsMariaDB, sslmode: str
) -> None:
    params = {"connection": mysql_connection(tls_mariadb, sslmode)}

    assert trusting.ok("mysql", "check", params)["status"] == "ok"


@pytest.mark.parametrize("sslmode", ["verify-ca", "verify-full"])
def test_mysql_verification_fails_against_an_unknown_ca(
    service: str, tls_mariadb: TlsMariaDB, sslmode: str
) -> None:
    params = {"connection": mysql_connection(tls_mariadb, sslmode)}

    response = Portal(service, "form").call("mysql", "check", params)

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "tls_failed"
