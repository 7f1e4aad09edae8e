"""The connectors the application registers on a portal, one per engine.

Registration is idempotent: the portal's connectors are listed first; those that are ours
(by source code, by URL, or by the titles the PHP implementation gave them) are updated,
what is missing is added, and nothing is added twice.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import urlencode

from b24pysdk.errors import BitrixAPIBadRequest

logger = logging.getLogger(__name__)

# The event whose handler forgets a portal; Bitrix24 sends it only to a bound handler.
UNINSTALL_EVENT = "ONAPPUNINSTALL"
ACTIONS = {
    "urlCheck": "check",
    "urlTableList": "table_list",
    "urlTableDescription": "table_description",
    "urlData": "data",
}


@dataclass(frozen=True)
class Connector:
    engine: str
    title: str
    description: str
    # The Analytics hub shows its MySQL and PostgreSQL tiles for these (PROTOCOL.md).
    source_code: str
    sort: int
    default_port: int
    # What the PHP implementation called its connectors (MYSQL_CONNECTOR_TITLE, ...).
    php_titles: tuple[str, ...]


CONNECTORS = (
    Connector(
        engine="mysql",
        title="MySQL and MariaDB",
        description="Tables and views of a MySQL or MariaDB database, read-only.",
        source_code="mysql",
        sort=100,
        default_port=3306,
        php_titles=("MySQL Database Connector",),
    ),
    Connector(
        engine="postgresql",
        title="PostgreSQL",
        description="Tables and views of a PostgreSQL database, read-only.",
        source_code="pgsql",
        sort=200,
        default_port=5432,
        php_titles=("PostgreSQL Database Connector",),
    ),
)


class Refused(Exception):
    """A `biconnector.connector.*` method refused: Bitrix24 reports that inside `result`,
    with status 200, which the SDK counts as success."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error


@dataclass(frozen=True)
class Registered:
    engine: str
    id: int
    added: bool


@cache
def logo(engine: str) -> str:
    """The engine's logo (drawn by scripts/draw_logos.py) as a data: URL."""
    image = resources.files("biconnector.portal").joinpath(f"logos/{engine}.png").read_bytes()
    return "data:image/png;base64," + base64.b64encode(image).decode()


def settings_fields(port_type: str) -> list[dict[str, str]]:
    """The source settings a user fills in, under the PHP implementation's codes."""
    return [
        {"code": "host", "name": "Host", "type": "STRING"},
        {"code": "port", "name": "Port", "type": port_type},
        {"code": "database", "name": "Database", "type": "STRING"},
        {"code": "username", "name": "Username", "type": "STRING"},
        {"code": "password", "name": "Password", "type": "STRING"},
    ]


def endpoint(app_domain: str, engine: str, action: str, credential: Mapping[str, str]) -> str:
    return f"{app_domain}/connectors/{engine}/{action}?{urlencode(credential)}"


def fields(
    connector: Connector, app_domain: str, credential: Mapping[str, str], port_type: str
) -> dict[str, Any]:
    urls = {
        name: endpoint(app_domain, connector.engine, action, credential)
        for name, action in ACTIONS.items()
    }
    return {
        "title": connector.title,
        "logo": logo(connector.engine),
        "description": connector.description,
        "sort": connector.sort,
        **urls,
        "settings": settings_fields(port_type),
        "sourceCode": connector.source_code,
    }


def is_ours(connector: Connector, existing: Mapping[str, Any]) -> bool:
    """Whether a connector listed on the portal is this engine's, as registered by this
    service (any APP_DOMAIN) or by the PHP implementation."""
    code = existing.get("sourceCode", existing.get("source_code"))
    if code == connector.source_code:
        return True
    check = str(existing.get("urlCheck", existing.get("url_check", "")))
    if f"/connectors/{connector.engine}/check" in check:
        return True
    if f"connection_type={connector.engine}" in check:
        return True
    return existing.get("title") in connector.php_titles


def register(client: Any, app_domain: str, credential: Mapping[str, str]) -> list[Registered]:
    """Add or update the portal's connectors, and bind the uninstall handler."""
    existing: Sequence[Mapping[str, Any]] = _result(client.biconnector.connector.list()) or []
    done: list[Registered] = []
    port_type = "INT"
    for connector in CONNECTORS:
        ids = [int(item["id"]) for item in existing if is_ours(connector, item)]
        try:
            values = fields(connector, app_domain, credential, port_type)
            done += _put(client, connector, ids, values)
        except (BitrixAPIBadRequest, Refused):
            if port_type == "STRING":
                raise
            # Some portals take only STRING settings (PROTOCOL.md).
            logger.info("the portal refused an INT setting; registering the port as STRING")
            port_type = "STRING"
            values = fields(connector, app_domain, credential, port_type)
            done += _put(client, connector, ids, values)
    bind_uninstall(client, f"{app_domain}/uninstall")
    return done


def _put(
    client: Any, connector: Connector, ids: list[int], values: dict[str, Any]
) -> list[Registered]:
    if not ids:
        added = _result(client.biconnector.connector.add(values))
        return [Registered(connector.engine, int(added["id"]), added=True)]
    for connector_id in ids:
        _result(client.biconnector.connector.update(connector_id, values))
    return [Registered(connector.engine, connector_id, added=False) for connector_id in ids]


def _result(request: Any) -> Any:
    result = request.result
    if isinstance(result, Mapping) and isinstance(result.get("error"), Mapping):
        error = result["error"]
        raise Refused(str(error.get("error", "")), str(error.get("error_description", "")))
    return result


def bind_uninstall(client: Any, handler: str) -> None:
    bound = client.event.get().result or []
    handlers = [item for item in bound if str(item.get("event", "")).upper() == UNINSTALL_EVENT]
    for item in handlers:
        if item.get("handler") != handler:
            client.event.unbind(event=UNINSTALL_EVENT, handler=item["handler"]).call()
    if not any(item.get("handler") == handler for item in handlers):
        client.event.bind(event=UNINSTALL_EVENT, handler=handler).call()
