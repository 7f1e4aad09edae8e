from __future__ import annotations

import socket
from collections.abc import Callable

import psycopg
import pymysql
import pytest

from tests.support.servers import (
    PasswordPostgres,
    password_postgres,
    silent_listener,
    tcp_forwarder,
)


def test_password_cluster_refuses_a_wrong_password_and_accepts_the_right_one() -> None:
    with password_postgres() as server:
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            _connect(server, password="not-" + server.password)

        with _connect(server, password=server.password) as conn:
            assert conn.execute("SELECT current_user").fetchone() == ("postgres",)


def _connect(server: PasswordPostgres, password: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(
        host=server.host,
        port=server.port,
        user=server.user,
        password=password,
        dbname="postgres",
        connect_timeout=5,
    )


def _select_one_from_postgresql(host: str, port: int) -> object:
    with psycopg.connect(
        host=host, port=port, user="postgres", dbname="postgres", connect_timeout=5
    ) as conn:
        row = conn.execute("SELECT 1").fetchone()
    return row[0] if row else None


def _select_one_from_mariadb(host: str, port: int) -> object:
    with (
        pymysql.connect(host=host, port=port, user="root", password="", connect_timeout=5) as conn,
        conn.cursor() as cursor,
    ):
        cursor.execute("SELECT 1")
        row = cursor.fetchone()
    return row[0] if row else None


@pytest.mark.parametrize(
    ("target_port", "select_one"),
    [
        pytest.param(5432, _select_one_from_postgresql, id="postgresql"),
        pytest.param(3306, _select_one_from_mariadb, id="mariadb"),
    ],
)
def test_forwarder_carries_a_database_session_over_ipv6(
    target_port: int, select_one: Callable[[str, int], object]
) -> None:
    with tcp_forwarder("127.0.0.1", target_port, listen_host="::1") as port:
        assert select_one("::1", port) == 1


def test_silent_listener_counts_connections_and_never_answers() -> None:
    with silent_listener() as listener:
        assert listener.accepted == 0

        with socket.create_connection(("127.0.0.1", listener.port), timeout=0.3) as client:
            assert listener.wait_for(1)
            with pytest.raises(TimeoutError):
                client.recv(1)

        assert listener.accepted == 1
