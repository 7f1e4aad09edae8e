"""Reading the endpoints' parameters from a decoded form (PHP maps) or JSON body."""

from __future__ import annotations

from typing import Any

import pytest

from biconnector.errors import InvalidRequest
from biconnector.protocol.params import (
    SSL_MODES,
    ConnectionSettings,
    DataRequest,
    read_connection,
    read_data_request,
    read_search,
    read_table,
)

PASSWORD = "Secr3t-pa55word"
REQUIRED: dict[str, Any] = {"host": "db.example.com", "database": "shop", "username": "reader"}
# Four labels of 63, 63, 63 and 61 characters with their dots: the longest name DNS allows.
LONGEST_HOSTNAME = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])


def with_connection(**settings: Any) -> dict[str, Any]:
    return {"connection": {**REQUIRED, **settings}}


def without(key: str) -> dict[str, Any]:
    return {"connection": {name: value for name, value in REQUIRED.items() if name != key}}


def refusal(params: dict[str, Any], default_port: int = 5432) -> str:
    with pytest.raises(InvalidRequest) as excinfo:
        read_connection(params, default_port)
    return excinfo.value.message


def data_refusal(params: dict[str, Any]) -> str:
    with pytest.raises(InvalidRequest) as excinfo:
        read_data_request({"table": "orders", **params})
    return excinfo.value.message


# read_connection


def test_connection_defaults_fill_what_is_absent() -> None:
    settings = read_connection(with_connection(), 5432)

    assert settings == ConnectionSettings(
        host="db.example.com",
        port=5432,
        database="shop",
        username="reader",
        password="",
        schema=None,
        sslmode="prefer",
    )


def test_connection_keeps_every_given_setting() -> None:
    params = with_connection(port="6543", password=PASSWORD, schema="sales", sslmode="verify-full")

    assert read_connection(params, 5432) == ConnectionSettings(
        host="db.example.com",
        port=6543,
        database="shop",
        username="reader",
        password=PASSWORD,
        schema="sales",
        sslmode="verify-full",
    )


@pytest.mark.parametrize(
    "default_port", [pytest.param(3306, id="mysql"), pytest.param(5432, id="pg")]
)
def test_absent_port_is_the_engines_default(default_port: int) -> None:
    assert read_connection(with_connection(), default_port).port == default_port


def test_empty_schema_means_no_schema() -> None:
    assert read_connection(with_connection(schema=""), 5432).schema is None


def test_empty_password_is_empty_text() -> None:
    assert read_connection(with_connection(password=""), 5432).password == ""


@pytest.mark.parametrize(
    ("port", "expected"),
    [
        pytest.param(5433, 5433, id="json-int"),
        pytest.param("5433", 5433, id="digit-string"),
        pytest.param(" 5433 ", 5433, id="digits-with-spaces"),
        pytest.param(1, 1, id="lowest"),
        pytest.param("65535", 65535, id="highest"),
        pytest.param("", 3306, id="empty-is-default"),
        pytest.param(None, 3306, id="null-is-default"),
    ],
)
def test_port_accepted(port: Any, expected: int) -> None:
    assert read_connection(with_connection(port=port), 3306).port == expected


@pytest.mark.parametrize(
    "port",
    [
        pytest.param(0, id="zero"),
        pytest.param(65536, id="above-range"),
        pytest.param("-1", id="negative-text"),
        pytest.param(-5432, id="negative-int"),
        pytest.param("abc", id="word"),
        pytest.param("54 32", id="inner-space"),
        pytest.param("5432.0", id="decimal-text"),
        pytest.param(5432.0, id="json-float"),
        pytest.param(True, id="boolean"),
        pytest.param("9" * 20, id="twenty-digits"),
        pytest.param({"0": "5432"}, id="nested-map"),
        pytest.param(["5432"], id="list"),
    ],
)
def test_port_refused_names_the_port(port: Any) -> None:
    assert "connection[port]" in refusal(with_connection(port=port))


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        pytest.param("192.0.2.10", "192.0.2.10", id="ipv4"),
        pytest.param("2001:db8::1", "2001:db8::1", id="ipv6"),
        pytest.param("[2001:db8::1]", "2001:db8::1", id="ipv6-in-brackets"),
        pytest.param("2001:DB8:0:0::1", "2001:db8::1", id="ipv6-normalised"),
        pytest.param("[::1]", "::1", id="ipv6-loopback-in-brackets"),
        pytest.param("localhost", "localhost", id="single-label"),
        pytest.param("db.example.com", "db.example.com", id="dotted-name"),
        pytest.param("my_db.internal", "my_db.internal", id="underscore"),
        pytest.param("db-1.example.com.", "db-1.example.com.", id="trailing-dot"),
        pytest.param(" db.example.com ", "db.example.com", id="surrounding-spaces-stripped"),
        pytest.param(LONGEST_HOSTNAME, LONGEST_HOSTNAME, id="253-characters"),
    ],
)
def test_host_accepted(host: str, expected: str) -> None:
    assert read_connection(with_connection(host=host), 5432).host == expected


@pytest.mark.parametrize(
    "host",
    [
        pytest.param("", id="empty"),
        pytest.param("/var/run/postgresql", id="unix-socket-path"),
        pytest.param("a,b", id="host-list"),
        pytest.param("host:5432", id="with-port"),
        pytest.param("http://x", id="url"),
        pytest.param("a b", id="inner-space"),
        pytest.param("reader@db.example.com", id="with-user"),
        pytest.param("db..example.com", id="empty-label"),
        pytest.param("-db.example.com", id="leading-hyphen"),
        pytest.param("x" * 64 + ".example.com", id="64-character-label"),
        pytest.param(LONGEST_HOSTNAME + "d", id="254-characters"),
        pytest.param({"0": "db"}, id="nested-map"),
    ],
)
def test_host_refused_names_the_host(host: Any) -> None:
    assert "connection[host]" in refusal(with_connection(host=host))


@pytest.mark.parametrize(
    "params",
    [
        pytest.param(without("database"), id="absent"),
        pytest.param(with_connection(database=""), id="empty"),
        pytest.param(with_connection(database=None), id="null"),
    ],
)
def test_database_is_required(params: dict[str, Any]) -> None:
    assert "connection[database]" in refusal(params)


@pytest.mark.parametrize(
    "params",
    [
        pytest.param(without("username"), id="absent"),
        pytest.param(with_connection(username=""), id="empty"),
    ],
)
def test_username_is_required(params: dict[str, Any]) -> None:
    assert "connection[username]" in refusal(params)


def test_host_is_required() -> None:
    assert "connection[host]" in refusal(without("host"))


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({}, id="absent"),
        pytest.param({"connection": None}, id="null"),
        pytest.param({"connection": ""}, id="empty-text"),
        pytest.param({"connection": "db.example.com"}, id="text"),
        pytest.param({"connection": ["db.example.com", "shop"]}, id="json-list"),
    ],
)
def test_connection_must_be_a_map(params: dict[str, Any]) -> None:
    assert "connection" in refusal(params)


@pytest.mark.parametrize("sslmode", [pytest.param(mode, id=mode) for mode in SSL_MODES])
def test_sslmode_accepted(sslmode: str) -> None:
    assert read_connection(with_connection(sslmode=sslmode), 5432).sslmode == sslmode


def test_empty_sslmode_is_prefer() -> None:
    assert read_connection(with_connection(sslmode=""), 5432).sslmode == "prefer"


@pytest.mark.parametrize(
    "sslmode",
    [
        pytest.param("REQUIRE", id="upper-case"),
        pytest.param("true", id="true"),
        pytest.param("off", id="off"),
        pytest.param("1", id="php-true"),
        pytest.param("verify_full", id="underscore"),
    ],
)
def test_sslmode_refused_names_sslmode(sslmode: str) -> None:
    assert "connection[sslmode]" in refusal(with_connection(sslmode=sslmode))


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        pytest.param("database", 42, "42", id="database"),
        pytest.param("username", 1001, "1001", id="username"),
        pytest.param("password", 1234, "1234", id="password"),
        pytest.param("schema", 2025, "2025", id="schema"),
    ],
)
def test_json_number_setting_is_read_as_text(key: str, value: int, expected: str) -> None:
    settings = read_connection(with_connection(**{key: value}), 5432)

    assert getattr(settings, key) == expected


@pytest.mark.parametrize("key", ["host", "database", "username", "password", "schema", "sslmode"])
@pytest.mark.parametrize(
    "value",
    [
        pytest.param({"0": "x"}, id="nested-map"),
        pytest.param(["x"], id="list"),
        pytest.param(True, id="boolean"),
    ],
)
def test_non_scalar_setting_refused_names_the_key(key: str, value: Any) -> None:
    assert f"connection[{key}]" in refusal(with_connection(**{key: value}))


def test_repr_of_connection_settings_hides_the_password() -> None:
    settings = read_connection(with_connection(password=PASSWORD), 5432)

    assert settings.password == PASSWORD
    assert PASSWORD not in repr(settings)
    assert PASSWORD not in str(settings)
    assert PASSWORD not in f"{settings!r} {settings}"


# read_search and read_table


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        pytest.param({}, "", id="absent"),
        pytest.param({"searchString": ""}, "", id="empty"),
        pytest.param({"searchString": None}, "", id="null"),
        pytest.param({"searchString": "deal"}, "deal", id="text"),
        pytest.param({"searchString": "сделка"}, "сделка", id="cyrillic"),
        pytest.param({"searchString": 2025}, "2025", id="json-number"),
    ],
)
def test_search_string_read(params: dict[str, Any], expected: str) -> None:
    assert read_search(params) == expected


def test_search_string_as_map_refused() -> None:
    with pytest.raises(InvalidRequest, match=r"searchString"):
        read_search({"searchString": {"0": "deal"}})


def test_table_read() -> None:
    assert read_table({"table": "crm_deal"}) == "crm_deal"


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({}, id="absent"),
        pytest.param({"table": ""}, id="empty"),
        pytest.param({"table": None}, id="null"),
        pytest.param({"table": {"0": "crm_deal"}}, id="nested-map"),
        pytest.param({"table": ["crm_deal"]}, id="list"),
    ],
)
def test_table_refused_names_table(params: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest) as excinfo:
        read_table(params)

    assert "table" in excinfo.value.message


# read_data_request


def test_data_request_reads_every_parameter() -> None:
    params = {
        "table": "crm_deal",
        "select": {"0": "ID", "1": "TITLE"},
        "limit": "20",
        "mapFields": {"ID": "DEAL_ID", "TITLE": "TITLE"},
        "connection": REQUIRED,
    }

    assert read_data_request(params) == DataRequest(
        table="crm_deal",
        select=("ID", "TITLE"),
        limit=20,
        map_fields={"ID": "DEAL_ID", "TITLE": "TITLE"},
    )


def test_data_request_without_table_names_table() -> None:
    with pytest.raises(InvalidRequest) as excinfo:
        read_data_request({"limit": "20"})

    assert "table" in excinfo.value.message


@pytest.mark.parametrize(
    ("select", "expected"),
    [
        pytest.param(["A", "B"], ("A", "B"), id="json-list"),
        pytest.param({"0": "A", "1": "B"}, ("A", "B"), id="php-map"),
        pytest.param(["B", "A"], ("B", "A"), id="json-list-order-kept"),
        pytest.param({"0": "B", "1": "A"}, ("B", "A"), id="php-map-order-kept"),
        pytest.param("A", ("A",), id="single-string"),
        pytest.param(None, None, id="null"),
        pytest.param("", None, id="empty-string"),
        pytest.param([], None, id="empty-list"),
        pytest.param({}, None, id="empty-map"),
    ],
)
def test_select_read(select: Any, expected: tuple[str, ...] | None) -> None:
    assert read_data_request({"table": "orders", "select": select}).select == expected


def test_absent_select_is_none() -> None:
    assert read_data_request({"table": "orders"}).select is None


@pytest.mark.parametrize(
    ("select", "key"),
    [
        pytest.param(["A", {"x": "B"}], "select[1]", id="nested-map-item"),
        pytest.param({"0": ["A"]}, "select[0]", id="nested-list-item"),
        pytest.param(5, "select", id="number"),
    ],
)
def test_select_refused_names_the_key(select: Any, key: str) -> None:
    assert key in data_refusal({"select": select})


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        pytest.param({}, None, id="absent"),
        pytest.param({"limit": ""}, None, id="empty"),
        pytest.param({"limit": None}, None, id="null"),
        pytest.param({"limit": "0"}, 0, id="zero-text"),
        pytest.param({"limit": "20"}, 20, id="digit-text"),
        pytest.param({"limit": 20}, 20, id="json-int"),
    ],
)
def test_limit_read(params: dict[str, Any], expected: int | None) -> None:
    assert read_data_request({"table": "orders", **params}).limit == expected


@pytest.mark.parametrize(
    "limit",
    [
        pytest.param(-1, id="negative-int"),
        pytest.param("-1", id="negative-text"),
        pytest.param("ten", id="word"),
        pytest.param(True, id="boolean"),
        pytest.param("1.5", id="decimal-text"),
        pytest.param(1.5, id="json-float"),
        pytest.param({"0": "20"}, id="nested-map"),
    ],
)
def test_limit_refused_names_limit(limit: Any) -> None:
    assert "limit" in data_refusal({"limit": limit})


@pytest.mark.parametrize(
    "limit",
    [
        pytest.param(str(2**64), id="text"),
        pytest.param(2**64, id="json-int"),
    ],
)
def test_limit_beyond_64_bits_refused_whatever_its_encoding(limit: Any) -> None:
    # Neither engine takes such a LIMIT: the client must get a 400, not a database error.
    assert "limit" in data_refusal({"limit": limit})


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        pytest.param({"mapFields": {"ID": "DEAL_ID"}}, {"ID": "DEAL_ID"}, id="map-kept"),
        pytest.param({}, {}, id="absent"),
        pytest.param({"mapFields": ""}, {}, id="empty-text"),
        pytest.param({"mapFields": {}}, {}, id="empty-map"),
    ],
)
def test_map_fields_read(params: dict[str, Any], expected: dict[str, str]) -> None:
    assert read_data_request({"table": "orders", **params}).map_fields == expected


@pytest.mark.parametrize(
    ("map_fields", "key"),
    [
        pytest.param(["ID", "TITLE"], "mapFields", id="list"),
        pytest.param("ID", "mapFields", id="text"),
        pytest.param({"ID": {"0": "DEAL_ID"}}, "mapFields[ID]", id="nested-value"),
    ],
)
def test_map_fields_refused_names_the_key(map_fields: Any, key: str) -> None:
    assert key in data_refusal({"mapFields": map_fields})


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({}, id="absent"),
        pytest.param({"filter": None}, id="null"),
        pytest.param({"filter": ""}, id="empty-text"),
        pytest.param({"filter": {}}, id="empty-map"),
        pytest.param({"filter": []}, id="empty-list"),
    ],
)
def test_empty_filter_accepted(params: dict[str, Any]) -> None:
    assert read_data_request({"table": "orders", **params}).table == "orders"
