"""The SQL on which MySQL and MariaDB disagree, chosen by the server's version string."""

from __future__ import annotations

import pytest

from biconnector.engines.mysql import Dialect, quote


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("10.11.19-MariaDB-0+deb12u1", "SET SESSION max_statement_time = 90"),
        ("5.5.5-10.6.12-MariaDB-log", "SET SESSION max_statement_time = 90"),
        ("8.0.36", "SET SESSION max_execution_time = 90000"),
        ("8.4.2-commercial", "SET SESSION max_execution_time = 90000"),
    ],
    ids=["mariadb", "mariadb-behind-5.5.5-prefix", "mysql-8.0", "mysql-8.4"],
)
def test_the_statement_timeout_uses_each_servers_own_variable(version: str, expected: str) -> None:
    assert Dialect.of(version).statement_timeout(90) == expected


@pytest.mark.parametrize(
    ("name", "quoted"),
    [
        ("orders", "`orders`"),
        ("order`s", "`order``s`"),
        ("a`; DROP TABLE t; --", "`a``; DROP TABLE t; --`"),
    ],
    ids=["plain", "backtick", "stacked-query"],
)
def test_identifiers_are_quoted_with_backticks_doubled(name: str, quoted: str) -> None:
    assert quote(name) == quoted
