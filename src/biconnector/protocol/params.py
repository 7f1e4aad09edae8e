"""Typed parameters of the four endpoints, read from a decoded form or JSON body.

Both encodings reach this module as nested mappings: PHP's form encoding turns lists into
maps keyed "0", "1"..., JSON keeps real lists, and both are accepted wherever a list is
expected.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from biconnector.errors import InvalidRequest
from biconnector.protocol.filters import Group, read_filter

# No name, setting or value a call needs is longer; MySQL and PostgreSQL names end at 64.
MAX_TEXT = 10_000
MAX_SELECT = 2_000

SslMode = Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]
SSL_MODES: tuple[str, ...] = get_args(SslMode)

_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_-]{1,63})*\.?$"
)


@dataclass(frozen=True)
class ConnectionSettings:
    """Where and as whom to connect; the password never appears in a repr or a log."""

    host: str
    port: int
    database: str
    username: str
    password: str = field(repr=False)
    schema: str | None = None
    sslmode: SslMode = "prefer"


@dataclass(frozen=True)
class DataRequest:
    table: str
    select: tuple[str, ...] | None
    limit: int | None
    map_fields: Mapping[str, str]
    filter: Group | None = None
    order: tuple[tuple[str, bool], ...] = ()
    offset: int | None = None


def read_connection(params: Mapping[str, Any], default_port: int) -> ConnectionSettings:
    raw = params.get("connection")
    if not isinstance(raw, Mapping):
        raise InvalidRequest("The `connection` parameter is missing: send the source's settings.")

    sslmode = _optional_text(raw, "sslmode", "connection[sslmode]") or "prefer"
    if sslmode not in SSL_MODES:
        raise InvalidRequest(
            f"connection[sslmode] must be one of {', '.join(SSL_MODES)}; got {sslmode!r}."
        )
    return ConnectionSettings(
        host=_read_host(raw),
        port=_read_port(raw, default_port),
        database=_required_text(raw, "database", "connection[database]"),
        username=_required_text(raw, "username", "connection[username]"),
        password=_optional_text(raw, "password", "connection[password]") or "",
        schema=_optional_text(raw, "schema", "connection[schema]") or None,
        sslmode=sslmode,  # type: ignore[arg-type]  # checked against SSL_MODES above
    )


def read_search(params: Mapping[str, Any]) -> str:
    return _optional_text(params, "searchString", "searchString") or ""


def read_table(params: Mapping[str, Any]) -> str:
    return _required_text(params, "table", "table")


def read_data_request(params: Mapping[str, Any]) -> DataRequest:
    return DataRequest(
        table=read_table(params),
        select=_read_select(params.get("select")),
        limit=_read_count(params.get("limit"), "limit"),
        map_fields=_read_map_fields(params.get("mapFields")),
        filter=read_filter(params.get("filter")),
        order=_read_order(params.get("order")),
        offset=_read_count(params.get("offset"), "offset"),
    )


def _read_host(raw: Mapping[str, Any]) -> str:
    host = _required_text(raw, "host", "connection[host]").strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if not _HOSTNAME.match(host):
        raise InvalidRequest(
            "connection[host] must be a host name or an IP address, without a scheme, port "
            f"or path; got {host!r}."
        )
    return host


def _read_port(raw: Mapping[str, Any], default: int) -> int:
    value = raw.get("port")
    if value in (None, ""):
        return default
    port = _integer(value, "connection[port]")
    if not 1 <= port <= 65535:
        raise InvalidRequest(f"connection[port] must be between 1 and 65535; got {port}.")
    return port


def _read_select(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    names = _text_list(value, "select")
    if len(names) > MAX_SELECT:
        raise InvalidRequest(f"select names {len(names)} fields; at most {MAX_SELECT} are read.")
    return tuple(names) or None


def _read_count(value: Any, key: str) -> int | None:
    if value in (None, ""):
        return None
    count = _integer(value, key)
    if count < 0:
        raise InvalidRequest(f"{key} must be zero or a positive integer; got {count}.")
    return count


def _read_order(value: Any) -> tuple[tuple[str, bool], ...]:
    """``order`` as (field, descending) pairs: ``{FIELD: ASC|DESC}``, or a list of fields."""
    if value in (None, "", [], {}):
        return ()
    if isinstance(value, list):
        return tuple((name, False) for name in _text_list(value, "order"))
    if not isinstance(value, Mapping):
        raise InvalidRequest("order must map field names to ASC or DESC.")
    pairs = []
    for name, direction in value.items():
        text = _scalar_text(direction, f"order[{name}]").strip().upper()
        if text not in ("ASC", "DESC"):
            raise InvalidRequest(f"order[{name}] must be ASC or DESC; got {direction!r}.")
        pairs.append((str(name), text == "DESC"))
    return tuple(pairs)


def _read_map_fields(value: Any) -> dict[str, str]:
    if value in (None, "", [], {}):
        return {}
    if not isinstance(value, Mapping):
        raise InvalidRequest("mapFields must map external field codes to dataset field names.")
    return {str(code): _scalar_text(name, f"mapFields[{code}]") for code, name in value.items()}


def _integer(value: Any, key: str) -> int:
    # Eighteen digits keep every accepted value inside a signed 64-bit SQL integer.
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 10**18:
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d{1,18}\s*", value):
        return int(value)
    raise InvalidRequest(f"{key} must be an integer; got {value!r}.")


def _text_list(value: Any, key: str) -> list[str]:
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, Mapping):
        items = list(value.items())
    elif isinstance(value, list):
        items = list(enumerate(value))
    else:
        raise InvalidRequest(f"{key} must be a list of field names.")
    return [_scalar_text(item, f"{key}[{index}]") for index, item in items]


def _required_text(raw: Mapping[str, Any], name: str, key: str) -> str:
    value = _optional_text(raw, name, key)
    if not value:
        raise InvalidRequest(f"{key} is required.")
    return value


def _optional_text(raw: Mapping[str, Any], name: str, key: str) -> str | None:
    value = raw.get(name)
    return None if value is None else _scalar_text(value, key)


def _scalar_text(value: Any, key: str) -> str:
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            raise InvalidRequest(f"{key} is longer than {MAX_TEXT} characters.")
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise InvalidRequest(f"{key} must be a single value, not {type(value).__name__}.")
