"""The metadata cache: table_list and table_description answers, kept for a while.

A portal asks for the same lists again and again, and on a large database they cost the
server more than anything else the service asks. Answers are kept under a key made of the
engine, where the database is, who asks, and a keyed one-way fingerprint of the password:
a wrong password never finds the answer a right one got, and no key shows a password.

Two backends: files in a directory (the default, shared by every worker process of one
host) and Redis (``CACHE_URL=redis://...``, shared by many hosts).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import tempfile
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import anyio
import redis.asyncio as redis

from biconnector.protocol.params import ConnectionSettings
from biconnector.settings import Settings

logger = logging.getLogger(__name__)

_PREFIX = "biconnector:meta:"
# Seconds a Redis call may take; a cache slower than that is a miss, not a slow answer.
_REDIS_TIMEOUT = 0.5
# Cache files are named by a SHA-256 in hex; nothing else in the directory is ever deleted.
_ANSWER = re.compile(r"^[0-9a-f]{64}$")
# Seconds between sweeps of expired files, done by a write.
_SWEEP_INTERVAL = 60.0


class Cache(ABC):
    """Bytes under string keys, each kept for its own time."""

    @abstractmethod
    async def get(self, key: str) -> bytes | None: ...

    @abstractmethod
    async def set(self, key: str, value: bytes, ttl: float) -> None: ...

    @abstractmethod
    async def clear(self) -> int:
        """Forget every answer; returns how many there were."""

    @abstractmethod
    async def ready(self) -> None:
        """Raise when the backend cannot be used."""

    async def close(self) -> None:
        return None


class FileCache(Cache):
    """One file per answer: its expiry time on the first line, then the answer."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._swept = time.monotonic()

    async def get(self, key: str) -> bytes | None:
        return await anyio.to_thread.run_sync(self._read, self._path(key))

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        await anyio.to_thread.run_sync(self._write, self._path(key), value, time.time() + ttl)

    async def clear(self) -> int:
        return await anyio.to_thread.run_sync(self._remove_all)

    async def ready(self) -> None:
        await anyio.to_thread.run_sync(self._check_writable)

    def _path(self, key: str) -> Path:
        return self._directory / hashlib.sha256(key.encode()).hexdigest()

    def _read(self, path: Path) -> bytes | None:
        try:
            content = path.read_bytes()
        except FileNotFoundError:
            return None
        expiry, _, value = content.partition(b"\n")
        try:
            fresh = float(expiry) > time.time()
        except ValueError:
            fresh = False
        if not fresh:
            path.unlink(missing_ok=True)
            return None
        return value

    def _write(self, path: Path, value: bytes, expiry: float) -> None:
        # Written aside and renamed, so that another process reads the old answer or the new
        # one, never half of one.
        self._directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        handle, temporary = tempfile.mkstemp(dir=self._directory, prefix=".tmp-")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(f"{expiry!r}\n".encode() + value)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        if time.monotonic() - self._swept > _SWEEP_INTERVAL:
            self._swept = time.monotonic()
            self._sweep()

    def _answers(self) -> list[Path]:
        if not self._directory.is_dir():
            return []
        return [path for path in self._directory.iterdir() if _ANSWER.match(path.name)]

    def _sweep(self) -> None:
        """Delete the answers whose time is up, which no later read may come to delete."""
        for path in self._answers():
            self._read(path)

    def _remove_all(self) -> int:
        answers = self._answers()
        for path in answers:
            path.unlink(missing_ok=True)
        return len(answers)

    def _check_writable(self) -> None:
        self._directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        with tempfile.TemporaryFile(dir=self._directory):
            pass


class RedisCache(Cache):
    """Answers as Redis strings with an expiry, under one prefix."""

    def __init__(self, url: str) -> None:
        self._client: Any = redis.from_url(
            url, socket_timeout=_REDIS_TIMEOUT, socket_connect_timeout=_REDIS_TIMEOUT
        )

    async def get(self, key: str) -> bytes | None:
        value = await self._client.get(_PREFIX + key)
        return None if value is None else bytes(value)

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        await self._client.set(_PREFIX + key, value, px=max(1, round(ttl * 1000)))

    async def clear(self) -> int:
        removed = 0
        async for key in self._client.scan_iter(match=_PREFIX + "*", count=500):
            removed += await self._client.delete(key)
        return removed

    async def ready(self) -> None:
        await self._client.ping()

    async def close(self) -> None:
        await self._client.aclose()


def open_cache(settings: Settings) -> Cache:
    if settings.cache_url is not None:
        return RedisCache(settings.cache_url.get_secret_value())
    return FileCache(settings.cache_directory)


class Answers:
    """The cached answers of one service: keys, lifetimes, and failures that never fail a
    request (a cache that cannot be reached is a miss)."""

    def __init__(self, cache: Cache, settings: Settings) -> None:
        self._cache = cache
        self._secret = settings.cache_secret_bytes()
        self._ttl = {
            "table_list": settings.cache_ttl_table_list,
            "table_description": settings.cache_ttl_table_description,
        }

    def key(self, engine: str, action: str, connection: ConnectionSettings, detail: str) -> str:
        password = hmac.new(self._secret, connection.password.encode(), hashlib.sha256)
        parts = [
            engine,
            action,
            connection.host,
            str(connection.port),
            connection.database,
            connection.schema or "",
            connection.username,
            connection.sslmode,
            password.hexdigest(),
            detail,
        ]
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()

    def enabled(self, action: str) -> bool:
        return self._ttl.get(action, 0) > 0

    async def get(self, key: str) -> bytes | None:
        try:
            return await self._cache.get(key)
        except (OSError, redis.RedisError) as exc:
            logger.warning("the metadata cache could not be read: %s", exc)
            return None

    async def set(self, action: str, key: str, value: bytes) -> None:
        try:
            await self._cache.set(key, value, self._ttl[action])
        except (OSError, redis.RedisError) as exc:
            logger.warning("the metadata cache could not be written: %s", exc)

    async def ready(self) -> None:
        await self._cache.ready()

    async def clear(self) -> int:
        return await self._cache.clear()

    async def close(self) -> None:
        await self._cache.close()
