"""A stand-in for Bitrix24: its OAuth server and the REST API of portals that installed the app.

One HTTPS server on 127.0.0.1 plays both roles, so every portal's domain is that server's
own address and the REST calls a service makes come back to it. It answers what b24pysdk
1.3.2 sends (GET with a query string to the OAuth server, JSON POSTs to ``/rest/<method>.json``)
in the shapes Bitrix24 uses, so the SDK parses the answers and raises its own exceptions.

With ``strict=True`` the ``biconnector.connector.*`` methods behave as the production
``biconnector`` module does: they report errors inside ``result`` with HTTP 200 (which the
SDK treats as success), require ``logo`` and reject unknown fields and setting types.
"""

from __future__ import annotations

import copy
import datetime
import json
import secrets
import ssl
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from tests.support.tls import make_certificates

_HOST = "127.0.0.1"
# What the real OAuth server names itself in a renewal's "domain".
OAUTH_DOMAIN = "oauth.bitrix.info"
_SCOPE = "biconnector"
_USER_ID = 1
_REQUEST_TIMEOUT = 10.0
_OPERATING_WINDOW = 600

_REQUIRED = ("title", "urlCheck", "urlTableList", "urlTableDescription", "urlData", "settings")
# The production module's fields in its own order: name -> (type, required).
_FIELDS: dict[str, tuple[str, bool]] = {
    "title": ("string", True),
    "logo": ("string", True),
    "description": ("string", False),
    "sort": ("integer", False),
    "urlCheck": ("string", True),
    "urlData": ("string", True),
    "urlTableList": ("string", True),
    "urlTableDescription": ("string", True),
    "settings": ("array", True),
    "supportMapping": ("boolean", False),
    "sourceCode": ("string", False),
}
_READ_ONLY = ("id", "dateCreate")
_SETTING_TYPES = ("STRING", "INT")

_Payload = dict[str, Any]
_Answer = tuple[int, _Payload]


@dataclass
class Installation:
    """One portal that has the application installed."""

    member_id: str
    domain: str
    application_token: str
    connectors: dict[int, dict[str, Any]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _AccessToken:
    member_id: str
    expires: float


class _Refusal(Exception):
    """An error answer; ``in_result`` marks one a strict portal puts inside ``result``."""

    def __init__(self, status: int, code: str, description: str, *, in_result: bool = False):
        super().__init__(f"{code}: {description}")
        self.status = status
        self.error = {"error": code, "error_description": description}
        self.in_result = in_result


def _rejected(code: str, description: str) -> _Refusal:
    return _Refusal(400, code, description, in_result=True)


class FakeBitrix:
    """The Bitrix24 OAuth server and the REST API of every portal added with ``add_portal``."""

    def __init__(
        self,
        directory: Path,
        *,
        client_id: str,
        client_secret: str,
        access_lifetime: int = 3600,
        refuse_int_settings: bool = False,
        strict: bool = True,
    ) -> None:
        tls_directory = directory / "fake-bitrix"
        tls_directory.mkdir(parents=True, exist_ok=True)
        self._tls = make_certificates(tls_directory)
        self.ca_file: Path = self._tls.ca
        self.client_id = client_id
        self.client_secret = client_secret
        self.access_lifetime = access_lifetime
        self.refuse_int_settings = refuse_int_settings
        self.strict = strict
        # Versions of the biconnector module before sourceCode refuse it as unknown.
        self.knows_source_code = True
        self.delay = 0.0
        self.calls: list[tuple[str, str]] = []
        self.refreshes = 0
        self._lock = threading.Lock()
        self._portals: dict[str, Installation] = {}
        self._access: dict[str, _AccessToken] = {}
        self._refresh: dict[str, str] = {}
        self._newest_refresh: dict[str, str] = {}
        self._next_connector_id: dict[str, int] = {}
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Listen on a free loopback port and serve in a daemon thread."""
        if self._server is not None:
            raise RuntimeError("FakeBitrix is already running")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self._tls.certificate, self._tls.key)
        self._server = _Server(self, context)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = None
        self._thread = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def domain(self) -> str:
        """``127.0.0.1:<port>``: the OAuth server's and every portal's domain."""
        if self._server is None:
            raise RuntimeError("FakeBitrix is not running")
        return f"{_HOST}:{self._server.server_address[1]}"

    @property
    def url(self) -> str:
        """The OAuth server's base address, ``https://127.0.0.1:<port>``."""
        return f"https://{self.domain}"

    def add_portal(self, member_id: str) -> Installation:
        """A portal where the application is installed, reached at this server's address."""
        portal = Installation(member_id, self.domain, secrets.token_hex(16))
        with self._lock:
            if member_id in self._portals:
                raise ValueError(f"portal {member_id!r} already exists")
            self._portals[member_id] = portal
            self._next_connector_id[member_id] = 1
        return portal

    def portal(self, member_id: str) -> Installation:
        """The live state of a portal added earlier."""
        with self._lock:
            return self._portals[member_id]

    def issue_tokens(self, member_id: str) -> dict[str, Any]:
        """A fresh token pair as Bitrix24 puts it into an ONAPPINSTALL event's ``auth``: as
        documented for applications that use only the API, without ``expires`` and
        ``user_id``."""
        with self._lock:
            portal = self._portals[member_id]
            tokens = self._new_tokens(member_id)
            return {
                "access_token": tokens["access_token"],
                "expires_in": tokens["expires_in"],
                "scope": tokens["scope"],
                "domain": portal.domain,
                "server_endpoint": f"{self.url}/rest/",
                "status": "L",
                "client_endpoint": f"https://{portal.domain}/rest/",
                "member_id": member_id,
                "refresh_token": tokens["refresh_token"],
                "application_token": portal.application_token,
            }

    def install_event(self, member_id: str) -> dict[str, Any]:
        """The whole ONAPPINSTALL event, nested, with a fresh token pair; like the documented
        one, without ``event_handler_id``."""
        return {
            "event": "ONAPPINSTALL",
            "data": {"VERSION": "1", "LANGUAGE_ID": "en"},
            "ts": str(int(time.time())),
            "auth": self.issue_tokens(member_id),
        }

    def uninstall_event(
        self, member_id: str, *, application_token: str | None = None
    ) -> dict[str, Any]:
        """The whole ONAPPUNINSTALL event; like Bitrix24's, it carries no tokens."""
        portal = self.portal(member_id)
        return {
            "event": "ONAPPUNINSTALL",
            "data": {"CLEAN": "0"},
            "ts": str(int(time.time())),
            "auth": {
                "domain": portal.domain,
                "member_id": member_id,
                "client_endpoint": f"https://{portal.domain}/rest/",
                "server_endpoint": f"{self.url}/rest/",
                "application_token": application_token or portal.application_token,
                "status": "L",
            },
        }

    def expire_access_tokens(self, member_id: str) -> None:
        """Make every access token issued so far for the portal expired."""
        past = time.time() - 1
        with self._lock:
            for access in self._access.values():
                if access.member_id == member_id:
                    access.expires = min(access.expires, past)

    def add_foreign_connector(self, member_id: str, fields: dict[str, Any]) -> int:
        """Store a connector created by someone else, without validation; returns its id."""
        with self._lock:
            return self._store_connector(self._portals[member_id], fields)

    def last_refresh_token(self, member_id: str) -> str:
        """The newest refresh token issued for the portal."""
        with self._lock:
            return self._newest_refresh[member_id]

    def _record(self, kind: str, name: str) -> None:
        with self._lock:
            self.calls.append((kind, name))

    def _new_tokens(self, member_id: str) -> dict[str, Any]:
        expires = time.time() + self.access_lifetime
        access_token = secrets.token_hex(35)
        refresh_token = secrets.token_hex(35)
        self._access[access_token] = _AccessToken(member_id, expires)
        self._refresh[refresh_token] = member_id
        self._newest_refresh[member_id] = refresh_token
        return {
            "access_token": access_token,
            "refresh_token": refresh_token,
            "expires": int(expires),
            "expires_in": self.access_lifetime,
            "scope": _SCOPE,
        }

    def _serve_get(self, target: str) -> _Answer:
        """Answer a GET request for ``target`` (path and query)."""
        path, query = _split(target)
        if path == "/oauth/token":
            self._record("oauth", "token")
            return _answered(lambda: self._token_grant(query))
        if path == "/rest/app.info":
            self._record("oauth", "app.info")
            started = time.time()
            return _answered(lambda: self._app_info(query.get("auth"), started))
        return 404, {"error": "NOT_FOUND", "error_description": f"Nothing at {path}"}

    def _serve_post(self, target: str, body: bytes) -> _Answer:
        """Answer a REST call: a JSON POST to ``/rest/<method>.json``."""
        started = time.time()
        path, query = _split(target)
        method = path.removeprefix("/rest/").removesuffix(".json")
        if not path.startswith("/rest/") or "/" in method:
            return 404, {"error": "NOT_FOUND", "error_description": f"Nothing at {path}"}
        self._record("rest", method)
        try:
            envelope = self._call(method, {**query, **_json_object(body)})
        except _Refusal as refusal:
            if refusal.in_result and self.strict:
                return 200, {"result": {"error": refusal.error}, "time": _timing(started)}
            return refusal.status, refusal.error
        return 200, {**envelope, "time": _timing(started)}

    def _token_grant(self, query: dict[str, str]) -> _Payload:
        if self.delay:
            time.sleep(self.delay)
        with self._lock:
            if (query.get("client_id"), query.get("client_secret")) != (
                self.client_id,
                self.client_secret,
            ):
                raise _Refusal(401, "invalid_client", "Invalid client credentials")
            grant_type = query.get("grant_type")
            if grant_type == "authorization_code":
                raise _Refusal(400, "invalid_grant", "Invalid authorization code")
            if grant_type != "refresh_token":
                raise _Refusal(400, "invalid_request", f"Unsupported grant_type {grant_type!r}")
            member_id = self._refresh.pop(query.get("refresh_token", ""), None)
            if member_id is None:
                raise _Refusal(400, "invalid_grant", "Invalid refresh token")
            self.refreshes += 1
            return self._renewal(member_id)

    def _renewal(self, member_id: str) -> _Payload:
        tokens = self._new_tokens(member_id)
        # As the documented answer: the OAuth server's own host as "domain", no "expires".
        return {
            "access_token": tokens["access_token"],
            "expires_in": tokens["expires_in"],
            "scope": tokens["scope"],
            "domain": OAUTH_DOMAIN,
            "server_endpoint": f"{self.url}/rest/",
            "status": "L",
            "client_endpoint": f"https://{self._portals[member_id].domain}/rest/",
            "member_id": member_id,
            "refresh_token": tokens["refresh_token"],
        }

    def _app_info(self, token: object, started: float) -> _Payload:
        with self._lock:
            access = self._authorised(token)
            portal = self._portals[access.member_id]
        result = {
            "client_id": self.client_id,
            "scope": _SCOPE,
            "expires": _iso(access.expires),
            "install": {
                "installed": True,
                "version": 1,
                "status": "L",
                "scope": _SCOPE,
                "domain": portal.domain,
                "uri": f"https://{portal.domain}",
                "client_endpoint": f"https://{portal.domain}/rest/",
                "member_id": portal.member_id,
                "member_type": "PORTAL",
            },
            "user_id": _USER_ID,
        }
        return {"result": result, "time": _timing(started)}

    def _authorised(self, token: object) -> _AccessToken:
        access = self._access.get(token) if isinstance(token, str) else None
        if access is None:
            raise _Refusal(401, "invalid_token", "The access token provided is invalid.")
        if access.expires <= time.time():
            raise _Refusal(401, "expired_token", "The access token provided has expired.")
        return access

    def _call(self, method: str, params: _Payload) -> _Payload:
        handler = self._methods().get(method)
        if handler is None:
            raise _Refusal(404, "ERROR_METHOD_NOT_FOUND", "Method not found!")
        with self._lock:
            portal = self._portals[self._authorised(params.get("auth")).member_id]
            return copy.deepcopy(handler(portal, params))

    def _methods(self) -> dict[str, Callable[[Installation, _Payload], _Payload]]:
        return {
            "biconnector.connector.list": self._connector_list,
            "biconnector.connector.get": self._connector_get,
            "biconnector.connector.add": self._connector_add,
            "biconnector.connector.update": self._connector_update,
            "biconnector.connector.delete": self._connector_delete,
            "event.bind": self._event_bind,
            "event.get": self._event_get,
            "event.unbind": self._event_unbind,
        }

    def _connector_list(self, portal: Installation, params: _Payload) -> _Payload:
        items = [portal.connectors[key] for key in sorted(portal.connectors)]
        return {"result": items, "total": len(items)}

    def _connector_get(self, portal: Installation, params: _Payload) -> _Payload:
        return {"result": {"item": portal.connectors[self._existing_id(portal, params)]}}

    def _connector_add(self, portal: Installation, params: _Payload) -> _Payload:
        fields = self._checked_fields(params.get("fields"), adding=True)
        return {"result": {"id": self._store_connector(portal, fields)}}

    def _connector_update(self, portal: Installation, params: _Payload) -> _Payload:
        connector_id = _connector_id(params)
        fields = self._checked_fields(params.get("fields"), adding=False)
        connector = portal.connectors[self._existing(portal, connector_id)]
        connector.update({key: value for key, value in fields.items() if key != "id"})
        return {"result": True}

    def _connector_delete(self, portal: Installation, params: _Payload) -> _Payload:
        del portal.connectors[self._existing_id(portal, params)]
        return {"result": True}

    def _store_connector(self, portal: Installation, fields: _Payload) -> int:
        connector_id = self._next_connector_id[portal.member_id]
        self._next_connector_id[portal.member_id] = connector_id + 1
        portal.connectors[connector_id] = {**copy.deepcopy(fields), "id": connector_id}
        return connector_id

    def _existing_id(self, portal: Installation, params: _Payload) -> int:
        return self._existing(portal, _connector_id(params))

    def _existing(self, portal: Installation, connector_id: int) -> int:
        if connector_id not in portal.connectors:
            raise _rejected("CONNECTOR_NOT_FOUND", "Connector was not found.")
        return connector_id

    def _checked_fields(self, fields: object, *, adding: bool) -> _Payload:
        if not isinstance(fields, dict) or not fields:
            raise _rejected("VALIDATION_FIELDS_NOT_PROVIDED", "Fields not provided.")
        known = (
            _FIELDS
            if self.knows_source_code
            else {name: spec for name, spec in _FIELDS.items() if name != "sourceCode"}
        )
        problem = (
            _strict_problem(fields, adding, known) if self.strict else _problem(fields, adding)
        )
        if problem is not None:
            raise problem
        for setting in fields.get("settings", []):
            self._check_setting(setting)
        return fields

    def _check_setting(self, setting: object) -> None:
        if self.strict:
            _check_strict_setting(setting, refuse_int=self.refuse_int_settings)
        elif self.refuse_int_settings and _setting_type(setting) == "INT":
            raise _rejected(
                "VALIDATION_INVALID_FIELD_VALUE",
                "A setting has type INT, which this portal does not accept.",
            )

    def _event_bind(self, portal: Installation, params: _Payload) -> _Payload:
        event, handler = _event_and_handler(params)
        if not handler:
            raise _Refusal(400, "ERROR_ARGUMENT", "Argument 'handler' is null or empty")
        if any(_same_handler(bound, event, handler) for bound in portal.events):
            raise _Refusal(400, "ERROR_CORE", "Handler already binded")
        extra = {key: value for key, value in params.items() if key != "auth"}
        offline = int(params.get("event_type") == "offline")
        auth_type = int(params.get("auth_type") or 0)
        binding = {"event": event, "handler": handler, "auth_type": auth_type, "offline": offline}
        portal.events.append({**extra, **binding})
        return {"result": True}

    def _event_get(self, portal: Installation, params: _Payload) -> _Payload:
        keys = ("event", "handler", "auth_type", "offline")
        return {"result": [{key: bound[key] for key in keys} for bound in portal.events]}

    def _event_unbind(self, portal: Installation, params: _Payload) -> _Payload:
        event, handler = _event_and_handler(params)
        kept = [bound for bound in portal.events if not _same_handler(bound, event, handler)]
        count = len(portal.events) - len(kept)
        portal.events[:] = kept
        return {"result": {"count": count}}


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: FakeBitrix, context: ssl.SSLContext) -> None:
        super().__init__((_HOST, 0), _Handler)
        self.fake = fake
        self.socket = context.wrap_socket(
            self.socket, server_side=True, do_handshake_on_connect=False
        )

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet about clients that drop the connection or refuse the certificate."""
        if not isinstance(sys.exc_info()[1], ssl.SSLError | ConnectionError | TimeoutError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = _REQUEST_TIMEOUT

    def do_GET(self) -> None:
        self._send(self.server.fake._serve_get(self.path))

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._send(self.server.fake._serve_post(self.path, body))

    def _send(self, answer: _Answer) -> None:
        status, payload = answer
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output free of access logs."""


def _answered(produce: Callable[[], _Payload]) -> _Answer:
    try:
        return 200, produce()
    except _Refusal as refusal:
        return refusal.status, refusal.error


def _split(target: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(target)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    return parts.path.rstrip("/"), query


def _json_object(body: bytes) -> _Payload:
    if not body:
        return {}
    try:
        parsed = json.loads(body)
    except ValueError as error:
        raise _Refusal(400, "INVALID_REQUEST", f"The body is not JSON: {error}") from error
    if not isinstance(parsed, dict):
        raise _Refusal(400, "INVALID_REQUEST", "The body is not a JSON object")
    return parsed


def _timing(started: float) -> _Payload:
    finished = time.time()
    return {
        "start": started,
        "finish": finished,
        "duration": finished - started,
        "processing": finished - started,
        "date_start": _iso(started),
        "date_finish": _iso(finished),
        "operating_reset_at": int(started) + _OPERATING_WINDOW,
        "operating": 0,
    }


def _iso(moment: float) -> str:
    local = datetime.datetime.fromtimestamp(moment, datetime.UTC).astimezone()
    return local.isoformat(timespec="seconds")


def _connector_id(params: _Payload) -> int:
    if "id" not in params:
        raise _rejected("VALIDATION_ID_NOT_PROVIDED", "ID is missing.")
    raw = params["id"]
    valid = isinstance(raw, int | str) and not isinstance(raw, bool) and str(raw).isdigit()
    if not valid or int(raw) <= 0:
        raise _rejected("VALIDATION_INVALID_ID_FORMAT", "ID has to be a positive integer.")
    return int(raw)


def _problem(fields: _Payload, adding: bool) -> _Refusal | None:
    missing = [name for name in _REQUIRED if adding and name not in fields]
    if missing:
        return _rejected("VALIDATION_REQUIRED_FIELD_MISSING", f'Field "{missing[0]}" is required.')
    if "settings" in fields and not isinstance(fields["settings"], list):
        return _rejected("VALIDATION_INVALID_FIELD_TYPE", 'Field "settings" must be of type array.')
    return None


def _strict_problem(
    fields: _Payload, adding: bool, known: dict[str, tuple[str, bool]]
) -> _Refusal | None:
    unknown = [name for name in fields if name not in known and name not in _READ_ONLY]
    if unknown:
        return _rejected(
            "VALIDATION_UNKNOWN_PARAMETERS", f"Unknown parameters: {', '.join(unknown)}"
        )
    for name in _READ_ONLY:
        if name in fields:
            return _rejected("VALIDATION_READ_ONLY_FIELD", f'Field "{name}" is read only.')
    for name, (kind, required) in known.items():
        if name not in fields:
            if adding and required:
                return _rejected(
                    "VALIDATION_REQUIRED_FIELD_MISSING", f'Field "{name}" is required.'
                )
        elif not _has_type(fields[name], kind):
            return _rejected(
                "VALIDATION_INVALID_FIELD_TYPE", f'Field "{name}" must be of type {kind}.'
            )
    return None


def _check_strict_setting(setting: object, *, refuse_int: bool) -> None:
    if not isinstance(setting, dict) or not {"type", "name", "code"} <= setting.keys():
        raise _rejected(
            "VALIDATION_SETTINGS_MISSING_REQUIRED_FIELDS",
            'Settings must include "type", "name" and "code" fields.',
        )
    allowed = ("STRING",) if refuse_int else _SETTING_TYPES
    if setting["type"] not in allowed:
        raise _rejected("VALIDATION_SETTINGS_INVALID_TYPE", 'Parameter "type" is not correct.')


def _setting_type(setting: object) -> object:
    return setting.get("type") if isinstance(setting, dict) else None


def _has_type(value: object, kind: str) -> bool:
    if kind == "integer":
        return not isinstance(value, bool) and (
            isinstance(value, int | float) or (isinstance(value, str) and value.isdigit())
        )
    expected = {"string": str, "array": list, "boolean": bool}[kind]
    return isinstance(value, expected)


def _event_and_handler(params: _Payload) -> tuple[str, str | None]:
    event = str(params.get("event") or "").upper()
    if not event:
        raise _Refusal(400, "ERROR_ARGUMENT", "Argument 'event' is null or empty")
    handler = params.get("handler")
    return event, str(handler) if handler else None


def _same_handler(bound: _Payload, event: str, handler: str | None) -> bool:
    return bound["event"] == event and (handler is None or bound["handler"] == handler)
