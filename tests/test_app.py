"""Routing, body decoding and the one error shape, through the running service."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.databases import Database
from tests.support.php import http_build_query
from tests.support.service import Portal

REQUEST_ID = re.compile(r"^[0-9a-f]{32}\Z")


def post(service: str, path: str, body: bytes, content_type: str | None) -> httpx.Response:
    headers = {"Content-Type": content_type} if content_type else {}
    return httpx.post(f"{service}{path}", content=body, headers=headers, timeout=30)


def assert_error_shape(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ["error"]
    assert list(body["error"]) == ["code", "message", "requestId"]
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert REQUEST_ID.match(body["error"]["requestId"])
    assert response.headers["x-request-id"] == body["error"]["requestId"]


def test_errors_share_one_shape_and_carry_the_request_id(service: str) -> None:
    response = post(service, "/connectors/mysql/check", b"", None)

    assert_error_shape(response, 400, "invalid_request")
    assert "connection" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("path", "word"),
    [
        ("/connectors/oracle/check", "'oracle'"),
        ("/connectors/mysql/drop_table", "'drop_table'"),
        ("/?connection_type=mysql", "/connectors/"),
        ("/?connection_type=sqlite&action=check", "'sqlite'"),
    ],
    ids=["unknown-engine", "unknown-action", "legacy-without-action", "legacy-unknown-engine"],
)
def test_unknown_addresses_are_a_404_naming_the_part(service: str, path: str, word: str) -> None:
    response = post(service, path, b"", "application/x-www-form-urlencoded")

    assert_error_shape(response, 404, "not_found")
    assert word in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"{not json", "application/json"),
        (b"[1, 2]", "application/json"),
        (b"a=1", "text/plain"),
        (b"connection[host]=%FF", "application/x-www-form-urlencoded"),
    ],
    ids=["broken-json", "json-array", "unsupported-type", "invalid-utf8-form"],
)
def test_undecodable_bodies_are_a_400(service: str, body: bytes, content_type: str) -> None:
    response = post(service, "/connectors/postgresql/check", body, content_type)

    assert_error_shape(response, 400, "invalid_request")


def test_form_and_json_bodies_give_identical_answers(service: str, db: Database) -> None:
    params = {
        "connection": db.connection(),
        "table": "users",
        "select": ["EMAIL", "ID"],
        "mapFields": {"ID": "ID", "EMAIL": "EMAIL"},
        "limit": 5,
    }
    path = f"/connectors/{db.engine}/data"

    form = post(
        service, path, http_build_query(params).encode(), "application/x-www-form-urlencoded"
    )
    as_json = post(service, path, json.dumps(params).encode(), "application/json")

    assert form.status_code == as_json.status_code == 200
    assert form.content == as_json.content


def test_a_form_body_without_content_type_is_read_as_a_form(service: str, db: Database) -> None:
    body = http_build_query({"connection": db.connection()}).encode()

    response = post(service, f"/connectors/{db.engine}/check", body, None)

    assert response.status_code == 200


def test_the_legacy_address_serves_every_action(form_portal: Portal, db: Database) -> None:
    params = {"connection": db.connection(), "table": "users", "limit": 1}

    for action in ("check", "table_list", "table_description", "data"):
        legacy = form_portal.call(db.engine, action, params, legacy=True)
        modern = form_portal.call(db.engine, action, params)

        assert legacy.status_code == modern.status_code == 200
        assert legacy.json() == modern.json()


@pytest.mark.parametrize("path", ["//", "/index.php"], ids=["double-slash", "index-php"])
def test_the_legacy_address_is_served_at_the_php_front_controllers_paths(
    service: str, db: Database, path: str
) -> None:
    url = f"{service}{path}?connection_type={db.engine}&action=check"

    response = httpx.post(url, json={"connection": db.connection()}, timeout=10)

    assert response.status_code == 200, response.text


def test_get_is_not_allowed_on_connector_endpoints(service: str) -> None:
    response = httpx.get(f"{service}/connectors/mysql/check", timeout=10)

    assert_error_shape(response, 405, "invalid_request")
    assert response.headers["allow"] == "POST"


def test_an_unknown_path_is_a_404_in_the_same_shape(service: str) -> None:
    response = httpx.post(f"{service}/nowhere", timeout=10)

    assert_error_shape(response, 404, "not_found")


def test_health_answers_without_a_database(service: str) -> None:
    response = httpx.get(f"{service}/health", timeout=10)

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_a_password_never_reaches_an_error_message(form_portal: Portal, db: Database) -> None:
    secret = "Pa55-never-shown-%&="
    connection = db.connection(password=secret, database="no_such_database")

    for action in ("check", "table_list", "table_description", "data"):
        response = form_portal.call(db.engine, action, {"connection": connection, "table": "x"})

        assert response.status_code != 200
        assert secret not in response.text


def test_a_body_larger_than_any_call_needs_is_a_413(service: str) -> None:
    body = b"connection[host]=" + b"x" * (1024 * 1024)

    response = httpx.post(
        f"{service}/connectors/mysql/check",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=30,
    )

    assert_error_shape(response, 413, "payload_too_large")


def test_a_large_body_without_a_length_is_cut_off_too(service: str) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(2048):
            yield b"x" * 1024

    response = httpx.post(f"{service}/connectors/mysql/check", content=chunks(), timeout=30)

    assert_error_shape(response, 413, "payload_too_large")


@pytest.mark.parametrize(
    ("params", "named"),
    [
        pytest.param({"table": "t", "select": ["A"] * 2001}, "select", id="select"),
        pytest.param({"table": "t" * 10_001}, "table", id="table-name"),
        pytest.param({"table": "t", "filter": {"=A": "v" * 10_001}}, "filter[=A]", id="value"),
        pytest.param({"table": "t", "filter": {"=" + "A" * 10_001: "v"}}, "filter", id="key"),
    ],
)
def test_oversized_parameters_are_refused_naming_them(
    service: str, db: Database, params: dict[str, Any], named: str
) -> None:
    body = {"connection": db.connection(), **params}

    response = httpx.post(f"{service}/connectors/{db.engine}/data", json=body, timeout=30)

    assert_error_shape(response, 400, "invalid_request")
    assert named in response.json()["error"]["message"]


def test_a_client_that_leaves_before_its_body_is_not_an_error(
    service: str, caplog: pytest.LogCaptureFixture
) -> None:
    address = httpx.URL(service)
    with caplog.at_level("INFO"), socket.create_connection((address.host, address.port)) as raw:
        raw.sendall(
            b"POST /connectors/mysql/check HTTP/1.1\r\nHost: x\r\n"
            b'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"conn'
        )
        time.sleep(0.2)
    time.sleep(0.3)

    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    assert any(getattr(r, "status", None) == 499 for r in caplog.records)
    assert httpx.get(f"{service}/health").status_code == 200


def test_serving_connector_calls_does_not_load_the_sdk_or_alembic() -> None:
    # Both stay out of every worker's memory until an install or a migration needs them.
    code = (
        "import sys; from biconnector.app import create_app; "
        "loaded = [m for m in ('b24pysdk', 'alembic', 'requests') if m in sys.modules]; "
        "print(','.join(loaded))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )

    assert result.stdout.strip() == ""
