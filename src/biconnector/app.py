"""The ASGI application: routes, body decoding, one error shape, request ids."""

from __future__ import annotations

import gc
import json
import logging
import threading
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from contextlib import (
    AbstractContextManager,
    AsyncExitStack,
    aclosing,
    asynccontextmanager,
    nullcontext,
)
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from biconnector import catalog, export, logs, metrics, query
from biconnector.cache import Answers, open_cache
from biconnector.engines.base import Engine, Query, Session
from biconnector.engines.mysql import MySQLEngine
from biconnector.engines.postgresql import PostgresEngine
from biconnector.errors import (
    ConnectorError,
    DatabaseError,
    InvalidRequest,
    NotFound,
    NotReady,
    PayloadTooLarge,
    TooManyExports,
)
from biconnector.limits import Slots
from biconnector.portal.callers import Callers
from biconnector.portal.store import Portals
from biconnector.protocol import params as p
from biconnector.protocol.form import FormError, parse_form
from biconnector.settings import Settings

if TYPE_CHECKING:
    from biconnector.portal.lifecycle import Lifecycle

logger = logging.getLogger(__name__)

# Seconds allowed for closing an export's cursor and session once its stream has ended.
CLEANUP_TIMEOUT = 10.0


@dataclass(frozen=True)
class Call:
    """What a connector call brings besides its parameters."""

    answers: Answers
    # The member id of the calling portal; None for an unsigned call (ALLOW_UNSIGNED_CALLS).
    portal: str | None
    portal_exports: Slots

    def export_slot(self) -> AbstractContextManager[None]:
        if self.portal is None:
            return nullcontext()
        return self.portal_exports.hold(self.portal)


Action = Callable[[Engine, Mapping[str, Any], Call], Awaitable[Response]]


async def check(engine: Engine, params: Mapping[str, Any], call: Call) -> Response:
    connection = p.read_connection(params, engine.default_port)
    async with engine.session(connection) as session:
        await session.ping()
    return JSONResponse({"status": "ok", "message": "Connected to the database."})


async def table_list(engine: Engine, params: Mapping[str, Any], call: Call) -> Response:
    connection = p.read_connection(params, engine.default_port)
    search = p.read_search(params)

    async def fresh() -> bytes:
        async with engine.session(connection) as session:
            tables = await catalog.list_tables(session)
        return _json([{"code": table.code, "title": table.title} for table in tables])

    # The whole list is what is kept; each search narrows it.
    answers = call.answers
    listed = await _answer(
        answers, "table_list", answers.key(engine.name, "table_list", connection, ""), fresh
    )
    if not search.strip():
        return Response(listed, media_type="application/json")
    items = json.loads(listed)
    found = [item for item in items if catalog.matches(item["code"], item["title"], search)]
    return Response(_json(found), media_type="application/json")


async def table_description(engine: Engine, params: Mapping[str, Any], call: Call) -> Response:
    connection = p.read_connection(params, engine.default_port)
    wanted = p.read_table(params)

    async def fresh() -> bytes:
        async with engine.session(connection) as session:
            columns = await catalog.describe(session, await catalog.find_table(session, wanted))
        return _json([{"code": c.code, "name": c.title, "type": c.type} for c in columns])

    key = call.answers.key(engine.name, "table_description", connection, wanted)
    described = await _answer(call.answers, "table_description", key, fresh)
    return Response(described, media_type="application/json")


async def _answer(
    answers: Answers, action: str, key: str, fresh: Callable[[], Awaitable[bytes]]
) -> bytes:
    """The cached answer, or a fresh one that is then kept; the log line says which."""
    if not answers.enabled(action):
        logs.note(cache="off")
        return await fresh()
    found = await answers.get(key)
    logs.note(cache="miss" if found is None else "hit")
    if found is None:
        found = await fresh()
        await answers.set(action, key, found)
    return found


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


async def data(engine: Engine, params: Mapping[str, Any], call: Call) -> Response:
    connection = p.read_connection(params, engine.default_port)
    request = p.read_data_request(params)
    async with AsyncExitStack() as stack:
        stack.enter_context(call.export_slot())
        stack.enter_context(engine.export_slot(connection.host))
        metrics.EXPORTS.labels(engine.name).inc()
        stack.callback(metrics.EXPORTS.labels(engine.name).dec)
        session: Session = await stack.enter_async_context(engine.session(connection))
        table = await catalog.find_table(session, request.table)
        columns = await catalog.describe(session, table)
        fields = catalog.Fields(columns, request.map_fields)
        selected = catalog.resolve_select(fields, request.select)
        infos = [column.info for _, column in selected]
        order = query.resolve_order(request.order, fields)
        if request.offset is not None:
            primary_key = await session.primary_key(table.name)
            order = query.deterministic_order(order, columns, primary_key)
        wanted = Query(
            table=table.name,
            columns=tuple(infos),
            where=query.resolve_filter(request.filter, fields, engine.settings),
            order=order,
            limit=request.limit,
            offset=request.offset,
        )
        chunks = await stack.enter_async_context(aclosing(session.json_rows(wanted)))
        interval = engine.settings.data_keepalive_interval
        stream = await stack.enter_async_context(aclosing(export.paced(chunks, interval)))
        # The first rows (or, from a slow query, the first keep-alive) are awaited before the
        # status line is sent, so a query that fails at once still gets a proper error
        # status. The cursor and the session close when the last byte is written, or when
        # the client goes away.
        first = await anext(stream, None)
        body = export.body([name for name, _ in selected], first, stream)
        response = StreamingResponse(_closing(body, stack.pop_all()), media_type="application/json")
    return response


async def _closing(
    chunks: AsyncGenerator[bytes, None], stack: AsyncExitStack
) -> AsyncIterator[bytes]:
    try:
        async for chunk in chunks:
            yield chunk
    finally:
        # A client that goes away cancels the stream, and anyio keeps cancelling every await
        # inside it: closing the cursor and the session would be cut short and leave them
        # open. The clean-up is therefore shielded, and bounded so that a dead database
        # cannot hold it.
        with anyio.CancelScope(shield=True), anyio.move_on_after(CLEANUP_TIMEOUT):
            await chunks.aclose()
            await stack.aclose()


ACTIONS: dict[str, Action] = {
    "check": check,
    "table_list": table_list,
    "table_description": table_description,
    "data": data,
}


# Bitrix24's largest bodies are data calls with a long filter: a few tens of kilobytes.
MAX_BODY_BYTES = 1024 * 1024


async def read_body(request: Request) -> bytes:
    """The body, refused past `MAX_BODY_BYTES` before more of it is read."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise PayloadTooLarge(_too_large())
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise PayloadTooLarge(_too_large())
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large() -> str:
    return f"The body is larger than {MAX_BODY_BYTES // 1024} KiB, more than any call needs."


async def read_params(request: Request) -> Mapping[str, Any]:
    """The request's parameters from a JSON or a form body; both give the same mapping."""
    body = await read_body(request)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json" or (not content_type and body.lstrip()[:1] == b"{"):
        try:
            decoded = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidRequest("The body is not valid JSON.") from exc
        if not isinstance(decoded, dict):
            raise InvalidRequest("The JSON body must be an object of parameters.")
        try:
            # JSON's \ud800 escapes can name half a character, which no database accepts.
            json.dumps(decoded, ensure_ascii=False).encode()
        except UnicodeEncodeError as exc:
            raise InvalidRequest("The JSON body holds an unpaired UTF-16 surrogate.") from exc
        return decoded
    if content_type in ("application/x-www-form-urlencoded", ""):
        try:
            return parse_form(body)
        except FormError as exc:
            raise InvalidRequest(str(exc)) from exc
    raise InvalidRequest(
        f"Unsupported Content-Type {content_type!r}: send application/x-www-form-urlencoded "
        "or application/json."
    )


def serve_app() -> Starlette:
    """The application as `biconnector serve` runs it, in each worker process: logging
    configured from the settings first."""
    settings = Settings()
    logs.configure(settings)
    return create_app(settings)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings()
    answers = Answers(open_cache(settings), settings)
    engines: dict[str, Engine] = {
        engine.name: engine for engine in (MySQLEngine(settings), PostgresEngine(settings))
    }
    portals = Portals.of(settings)
    callers = Callers(portals, settings.unsigned_calls_allowed)
    most = settings.max_exports_per_portal
    portal_exports = Slots(
        most,
        lambda portal: TooManyExports(
            f"{most} exports for this portal are running in this service process already "
            "(MAX_EXPORTS_PER_PORTAL); try again when one has finished."
        ),
    )

    async def dispatch(engine_name: str, action_name: str, request: Request) -> Response:
        engine = engines.get(engine_name)
        if engine is None:
            raise NotFound(f"Unknown connection type {engine_name!r}: use mysql or postgresql.")
        action = ACTIONS.get(action_name)
        if action is None:
            raise NotFound(f"Unknown action {action_name!r}: use one of {', '.join(ACTIONS)}.")
        logs.note(engine=engine_name, action=action_name)
        portal = await _caller(callers, request)
        params = await read_params(request)
        if isinstance(params.get("table"), str):
            logs.note(table=params["table"])
        try:
            return await action(engine, params, Call(answers, portal, portal_exports))
        except engine.driver_errors as exc:
            logger.warning("%s %s failed in the database: %r", engine_name, action_name, exc)
            raise DatabaseError(
                "The database could not answer the request; the service's log has the details "
                "under this request's id."
            ) from exc

    made: list[Lifecycle] = []
    making = threading.Lock()

    def lifecycle() -> Lifecycle:
        # The SDK and what it imports hold about 30 MB in each process; only the install,
        # the uninstall and re-registration need it, so the first of them loads it. They
        # run in worker threads: the first one makes it, the others wait for it.
        with making:
            if not made:
                from biconnector.portal.lifecycle import Lifecycle

                made.append(Lifecycle(settings, portals))
            return made[0]

    async def install(request: Request) -> Response:
        payload = await read_params(request)
        portal, registered = await anyio.to_thread.run_sync(lambda: lifecycle().install(payload))
        logs.note(portal=portal.member_id)
        return JSONResponse(
            {
                "status": "installed",
                "domain": portal.domain,
                "connectors": [
                    {"engine": item.engine, "id": item.id, "added": item.added}
                    for item in registered
                ],
            }
        )

    async def uninstall(request: Request) -> Response:
        payload = await read_params(request)
        forgotten = await anyio.to_thread.run_sync(lambda: lifecycle().uninstall(payload))
        if forgotten is not None:
            callers.forget(forgotten)
        return JSONResponse({"status": "uninstalled" if forgotten else "not_installed"})

    async def connector(request: Request) -> Response:
        return await dispatch(request.path_params["engine"], request.path_params["action"], request)

    async def legacy(request: Request) -> Response:
        # The PHP implementation registered URLs of this form; connectors created by it keep
        # working unchanged.
        query = request.query_params
        if "connection_type" not in query or "action" not in query:
            raise NotFound("Use POST /connectors/{mysql|postgresql}/{action}.")
        return await dispatch(query["connection_type"], query["action"], request)

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def metrics_page(request: Request) -> Response:
        return Response(metrics.render(), media_type=metrics.CONTENT_TYPE)

    async def ready(request: Request) -> Response:
        try:
            await answers.ready()
        except (OSError, RedisError) as exc:
            logger.warning("not ready: the metadata cache cannot be used: %s", exc)
            raise NotReady("The metadata cache cannot be used; the log has the details.") from exc
        try:
            current = await anyio.to_thread.run_sync(portals.current)
        except SQLAlchemyError as exc:
            logger.warning("not ready: the application's database cannot be used: %r", exc)
            raise NotReady(
                "The application's database cannot be used; the log has the details."
            ) from exc
        if not current:
            raise NotReady(
                "The application's database is not migrated: run biconnector db upgrade."
            )
        return JSONResponse({"status": "ready"})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await anyio.to_thread.run_sync(portals.upgrade)
        metrics.worker_started()
        # What exists now (modules, settings, the app) lives as long as the process: moved out
        # of the collector's sight, it is not scanned again by every full collection, which
        # an export's many short-lived objects trigger often (measured: 0.5 s of a
        # 1,000,000-row export).
        gc.freeze()
        try:
            yield
        finally:
            for engine in engines.values():
                await engine.close()
            await answers.close()
            await anyio.to_thread.run_sync(portals.close)
            metrics.worker_stopped()

    app = Starlette(
        routes=[
            Route("/connectors/{engine}/{action}", connector, methods=["POST"]),
            # An APP_DOMAIN ending in "/" made the PHP implementation's URLs start with "//",
            # and its front controller also answered as /index.php.
            Route("/", legacy, methods=["POST"]),
            Route("//", legacy, methods=["POST"]),
            Route("/index.php", legacy, methods=["POST"]),
            # The PHP implementation's install handler was /install.php.
            Route("/install", install, methods=["POST"]),
            Route("/install.php", install, methods=["POST"]),
            Route("/uninstall", uninstall, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
            Route("/ready", ready, methods=["GET"]),
            Route("/metrics", metrics_page, methods=["GET"]),
        ],
        exception_handlers={
            ClientDisconnect: _client_gone,
            ConnectorError: _connector_error,
            HTTPException: _http_error,
            Exception: _unexpected_error,
        },
        lifespan=lifespan,
    )
    app.add_middleware(RequestIdMiddleware)
    app.state.settings = settings
    return app


async def _caller(callers: Callers, request: Request) -> str | None:
    """The calling portal's member id, from the credential in the URL; None for an unsigned
    call that is allowed."""
    portal = callers.signed(request.query_params)
    if portal is not None:
        if not callers.known(portal):
            await anyio.to_thread.run_sync(callers.confirm, portal)
        logs.note(portal=portal)
    return portal


def _error_body(request: Request, code: str, message: str) -> dict[str, Any]:
    return _error_json(code, message, _request_id(request))


def _error_json(code: str, message: str, request_id: str) -> dict[str, Any]:
    """The one shape of every error the service answers."""
    return {"error": {"code": code, "message": message, "requestId": request_id}}


async def _connector_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ConnectorError)
    body = _error_body(request, exc.code, exc.message)
    return JSONResponse(body, status_code=exc.status_code)


async def _client_gone(request: Request, exc: Exception) -> Response:
    # The client closed the connection before its body had arrived: nobody reads an answer.
    # 499 is nginx's name for it, and what the request's log line shows.
    logger.info("the client went away before its request was read")
    return Response(status_code=499)


async def _http_error(request: Request, exc: Exception) -> Response:
    # Unknown paths and wrong methods, raised by the router.
    assert isinstance(exc, HTTPException)
    code = "not_found" if exc.status_code == 404 else "invalid_request"
    body = _error_body(request, code, exc.detail)
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


_INTERNAL = "The service failed unexpectedly; its log has the details under this request's id."


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    logger.exception("unexpected error", exc_info=exc)
    return JSONResponse(_error_body(request, "internal_error", _INTERNAL), status_code=500)


def _request_id(request: Request) -> str:
    return str(request.scope.get("state", {}).get("request_id", ""))


class RequestIdMiddleware:
    """Gives every request an id, returns it in `X-Request-ID`, logs one line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        facts = logs.start_request(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status, sent = 500, 0

        async def send_with_id(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append("X-Request-ID", request_id)
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            # Starlette answers an unexpected error from outside this middleware, where the
            # request id would be lost; it is answered here instead, in the one error shape.
            if status != 500 or sent:
                raise  # the response had begun: nothing but breaking it off is left
            logger.exception("unexpected error", exc_info=exc)
            body = _error_json("internal_error", _INTERNAL, request_id)
            response = JSONResponse(body, status_code=500)
            await response(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            metrics.observe(scope["path"], status, seconds, sent, facts)
            duration = round(seconds * 1000, 1)
            logger.info(
                "%s %s %s %.1f ms",
                scope["method"],
                scope["path"],
                status,
                duration,
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": duration,
                    "bytes": sent,
                    **facts,
                },
            )
