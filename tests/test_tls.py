"""TLS to the database, against a PostgreSQL cluster with a certificate made for the test."""

from __future__ import annotations

from collections.abc import Iterator
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
