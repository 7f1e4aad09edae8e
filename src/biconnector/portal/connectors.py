"""The connectors the application registers on a portal, one per engine.

Registration is idempotent: the portal's connectors are listed first; those that are ours
(by source code, by URL, or by the titles the PHP implementation gave them) are updated,
what is missing is added, and nothing is added twice.
"""

from __future__ import annotations

import base64
import contextlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import urlencode

from b24pysdk.errors import BitrixAPIBadRequest, BitrixAPIError

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
        self.description = description


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


@dataclass
class _Accepted:
    """What the portal takes, learnt from its refusals during one registration."""

    port_type: str = "INT"
    source_code: bool = True

    def adapt(self, error: str, description: str) -> bool:
        """Whether a refusal was one of the known differences between portals, now
        adapted to; anything else is not retried."""
        if error == "VALIDATION_SETTINGS_INVALID_TYPE" and self.port_type == "INT":
            # Some portals take only STRING settings (PROTOCOL.md).
            logger.info("the portal refused an INT setting; registering the port as STRING")
            self.port_type = "STRING"
            return True
        unknown = error == "VALIDATION_UNKNOWN_PARAMETERS" and "sourceCode" in description
        if unknown and self.source_code:
            logger.warning(
                "the portal does not know sourceCode: the connectors are registered "
                "without it and are not shown behind the MySQL and PostgreSQL tiles"
            )
            self.source_code = False
            return True
        return False


def register(client: Any, app_domain: str, credential: Mapping[str, str]) -> list[Registered]:
    """Add or update the portal's connectors, and bind the uninstall handler."""
    accepted = _Accepted()
    done: list[Registered] = []
    for connector in CONNECTORS:
        while True:
            values = fields(connector, app_domain, credential, accepted.port_type)
            if not accepted.source_code:
                del values["sourceCode"]
            try:
                done += _put(client, connector, values)
                break
            except BitrixAPIBadRequest as exc:
                if not accepted.adapt(exc.error, exc.error_description):
                    raise
            except Refused as exc:
                if not accepted.adapt(exc.error, exc.description):
                    raise
    bind_uninstall(client, f"{app_domain}/uninstall")
    return done


def _ours(client: Any, connector: Connector) -> list[int]:
    listed: Sequence[Mapping[str, Any]] = _result(client.biconnector.connector.list()) or []
    return sorted(int(item["id"]) for item in listed if is_ours(connector, item))


def _put(client: Any, connector: Connector, values: dict[str, Any]) -> list[Registered]:
    updated = [cid for cid in _ours(client, connector) if _update(client, cid, values)]
    if updated:
        return [Registered(connector.engine, cid, added=False) for cid in updated]
    added = int(_result(client.biconnector.connector.add(values))["id"])
    # Two installs at once each found none and added one: both keep the lowest id and
    # remove the others, which are new and have no sources yet.
    ids = _ours(client, connector)
    for duplicate in ids[1:]:
        with contextlib.suppress(BitrixAPIError, Refused):
            _result(client.biconnector.connector.delete(duplicate))
    kept = ids[0] if ids else added
    return [Registered(connector.engine, kept, added=kept == added)]


def _update(client: Any, connector_id: int, values: dict[str, Any]) -> bool:
    """Update one connector; False when it is gone (a concurrent install removed it)."""
    try:
        _result(client.biconnector.connector.update(connector_id, values))
    except (BitrixAPIBadRequest, Refused) as exc:
        if exc.error == "CONNECTOR_NOT_FOUND":
            return False
        raise
    return True


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
    if any(item.get("handler") == handler for item in handlers):
        return
    try:
        client.event.bind(event=UNINSTALL_EVENT, handler=handler).call()
    except BitrixAPIBadRequest as exc:
        # Another install bound it between the list and now ("Handler already binded").
        if "already" not in exc.error_description.lower():
            raise
