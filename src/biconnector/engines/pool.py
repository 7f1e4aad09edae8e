"""Open connections kept between requests, one small pool per source.

A portal calls the four endpoints again and again with the same settings; logging in to the
database each time costs more than the query. Connections are pooled per distinct set of
connection settings, keyed by a fingerprint that is a keyed hash of them, password
included, so that a key never shows the password and a wrong password can never borrow a
connection that a right one opened.

The pools are bounded in number (the least recently used one is closed first) and in size;
idle connections are closed after a while, and a connection is checked before it is lent
again, so one the server has dropped is replaced.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import astuple, dataclass, field
from typing import Generic, TypeVar

from biconnector import metrics
from biconnector.errors import DatabaseTimeout
from biconnector.protocol.params import ConnectionSettings
from biconnector.settings import Settings

logger = logging.getLogger(__name__)

Conn = TypeVar("Conn")

# One key for the life of the process: fingerprints are compared, never stored.
_FINGERPRINT_KEY = secrets.token_bytes(32)


def fingerprint(engine: str, connection: ConnectionSettings) -> str:
    """A keyed hash of every connection setting, the password included."""
    material = "\x00".join(str(part) for part in (engine, *astuple(connection)))
    return hmac.new(_FINGERPRINT_KEY, material.encode(), hashlib.sha256).hexdigest()


@dataclass
class ConnectionHooks(Generic[Conn]):
    """What the pool needs to know of an engine's connections."""

    connect: Callable[[ConnectionSettings], Awaitable[Conn]]
    alive: Callable[[Conn], Awaitable[bool]]
    # Ends what the connection was left doing (a statement whose reader went away) and
    # tells whether it can serve another request.
    settle: Callable[[Conn, ConnectionSettings], Awaitable[bool]]
    close: Callable[[Conn], Awaitable[None]]


@dataclass
class _Pool(Generic[Conn]):
    slots: asyncio.Semaphore
    idle: list[tuple[float, Conn]] = field(default_factory=list)
    users: int = 0  # requests holding or waiting for one of its connections
    closed: bool = False


class Pools(Generic[Conn]):
    """Pools of one engine's connections, by fingerprint of their settings."""

    def __init__(
        self,
        engine: str,
        hooks: ConnectionHooks[Conn],
        *,
        size: int,
        idle_timeout: float,
        most: int,
        wait: float,
    ) -> None:
        self._engine = engine
        self._hooks = _counted(engine, hooks)
        self._size = size
        self._idle_timeout = idle_timeout
        self._most = most
        self._wait = wait
        self._pools: OrderedDict[str, _Pool[Conn]] = OrderedDict()
        self._reaper: asyncio.TimerHandle | None = None

    @classmethod
    def of(cls, engine: str, hooks: ConnectionHooks[Conn], settings: Settings) -> Pools[Conn]:
        """Pools sized and timed by the service's settings."""
        return cls(
            engine,
            hooks,
            size=settings.db_pool_size,
            idle_timeout=settings.db_pool_idle_timeout,
            most=settings.db_pools_max,
            wait=settings.db_connection_timeout,
        )

    @contextlib.asynccontextmanager
    async def connection(self, settings: ConnectionSettings) -> AsyncIterator[Conn]:
        """A connection for ``settings``: a pooled one that still answers, or a new one."""
        if self._size == 0:
            conn = await self._hooks.connect(settings)
            try:
                yield conn
            finally:
                await self._hooks.settle(conn, settings)
                await self._hooks.close(conn)
            return

        pool = await self._pool(fingerprint(self._engine, settings))
        pool.users += 1
        try:
            try:
                async with asyncio.timeout(self._wait):
                    await pool.slots.acquire()
            except TimeoutError as exc:
                raise DatabaseTimeout(
                    f"All {self._size} of this service's connections to {settings.host}:"
                    f"{settings.port} stayed busy for {self._wait:g} seconds; try again shortly."
                ) from exc
            try:
                conn = await self._borrow(pool, settings)
                try:
                    yield conn
                finally:
                    await self._give_back(pool, conn, settings)
            finally:
                pool.slots.release()
        finally:
            pool.users -= 1

    async def close(self) -> None:
        """Close every idle connection and forget the pools."""
        pools, self._pools = list(self._pools.values()), OrderedDict()
        metrics.POOLS.labels(self._engine).set(0)
        for pool in pools:
            await self._close_pool(pool)

    async def _pool(self, key: str) -> _Pool[Conn]:
        pool = self._pools.get(key)
        if pool is not None:
            self._pools.move_to_end(key)
            return pool
        pool = _Pool(asyncio.Semaphore(self._size))
        self._pools[key] = pool
        while len(self._pools) > self._most:
            _, oldest = self._pools.popitem(last=False)
            await self._close_pool(oldest)
        metrics.POOLS.labels(self._engine).set(len(self._pools))
        return pool

    async def _borrow(self, pool: _Pool[Conn], settings: ConnectionSettings) -> Conn:
        while pool.idle:
            _, conn = pool.idle.pop()
            if await self._hooks.alive(conn):
                return conn
            logger.debug("a pooled %s connection no longer answers; replacing it", self._engine)
            await self._hooks.close(conn)
        return await self._hooks.connect(settings)

    async def _give_back(self, pool: _Pool[Conn], conn: Conn, settings: ConnectionSettings) -> None:
        if not await self._hooks.settle(conn, settings) or pool.closed:
            await self._hooks.close(conn)
            return
        pool.idle.append((time.monotonic(), conn))
        self._schedule_reaping()

    async def _close_pool(self, pool: _Pool[Conn]) -> None:
        pool.closed = True
        idle, pool.idle = pool.idle, []
        for _, conn in idle:
            await self._hooks.close(conn)

    def _schedule_reaping(self) -> None:
        if self._reaper is None:
            loop = asyncio.get_running_loop()
            self._reaper = loop.call_later(self._idle_timeout, self._start_reaping)

    def _start_reaping(self) -> None:
        self._reaper = None
        task = asyncio.ensure_future(self._reap())
        task.add_done_callback(_log_failure)

    async def _reap(self) -> None:
        """Close the connections idle for longer than the timeout; forget empty pools."""
        deadline = time.monotonic() - self._idle_timeout
        for key, pool in list(self._pools.items()):
            stale = [conn for since, conn in pool.idle if since <= deadline]
            pool.idle = [(since, conn) for since, conn in pool.idle if since > deadline]
            for conn in stale:
                await self._hooks.close(conn)
            if not pool.idle and not pool.users:
                del self._pools[key]
        metrics.POOLS.labels(self._engine).set(len(self._pools))
        if any(pool.idle for pool in self._pools.values()):
            self._schedule_reaping()


def _counted(engine: str, hooks: ConnectionHooks[Conn]) -> ConnectionHooks[Conn]:
    """The hooks, with every connection opened and closed counted in the metrics."""
    gauge = metrics.CONNECTIONS.labels(engine)

    async def connect(settings: ConnectionSettings) -> Conn:
        conn = await hooks.connect(settings)
        gauge.inc()
        return conn

    async def close(conn: Conn) -> None:
        try:
            await hooks.close(conn)
        finally:
            gauge.dec()

    return ConnectionHooks(connect, hooks.alive, hooks.settle, close)


def _log_failure(task: asyncio.Future[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.warning("closing idle connections failed", exc_info=task.exception())
