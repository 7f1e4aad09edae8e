"""Export speed and memory of the data endpoint, next to the baselines measured in the same run.

For each engine it prints: the engine's own command-line export of the table (the floor), a
bare Python loop fetching the same rows with each driver, the service's export over HTTP,
their ratios, the service process's peak memory during the export, and the median latency
of table_list and table_description. Run it with `make bench`, or for one engine with
`.venv/bin/python -m bench.run mysql`.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from bench import tables
from biconnector.portal.store import Portal, Portals, Tokens
from biconnector.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
# The service runs in production, as deployed; loopback and unsigned calls are allowed for
# the baselines, and a portal is installed in its state so that signed calls are measured.
STATE_DIR = Path(tempfile.mkdtemp(prefix="biconnector-bench-"))
SERVICE_ENV = {
    "APP_ENV": "production",
    # Plain HTTP is allowed in production for a proxy on the same host only.
    "APP_DOMAIN": "http://127.0.0.1:8000",
    "LOG_LEVEL": "WARNING",
    "DB_ALLOW_LOOPBACK": "true",
    "ALLOW_UNSIGNED_CALLS": "true",
    "APP_SECRET": "bench-secret-not-for-production-0123456789",
    "BITRIX24_CLIENT_ID": "local.bench",
    "BITRIX24_CLIENT_SECRET": "bench-client-secret",
    "STATE_DIR": str(STATE_DIR),
}
CONNECTIONS = {
    "postgresql": {"host": "127.0.0.1", "database": tables.DATABASE, "username": "postgres"},
    "mysql": {"host": "127.0.0.1", "database": tables.DATABASE, "username": "root"},
}
SELECT = f"SELECT * FROM {tables.TABLE}"


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def cli_export(engine: str) -> float:
    if engine == "postgresql":
        copy = f"COPY {tables.TABLE} TO STDOUT"
        return timed(["psql", "-h", "127.0.0.1", "-U", "postgres", tables.DATABASE, "-c", copy])
    return timed(
        ["mariadb", "-h", "127.0.0.1", "-u", "root", "--quick", tables.DATABASE, "-e", SELECT]
    )


async def psycopg_loop() -> int:
    import psycopg

    conn = await psycopg.AsyncConnection.connect(
        host="127.0.0.1", user="postgres", dbname=tables.DATABASE
    )
    count = 0
    async with conn, conn.cursor(name="bench") as cursor:
        await cursor.execute(SELECT)
        while batch := await cursor.fetchmany(2000):
            count += len(batch)
    return count


async def asyncpg_loop() -> int:
    import asyncpg

    conn = await asyncpg.connect(host="127.0.0.1", user="postgres", database=tables.DATABASE)
    count = 0
    try:
        async with conn.transaction():
            cursor = await conn.cursor(SELECT)
            while batch := await cursor.fetch(2000):
                count += len(batch)
    finally:
        await conn.close()
    return count


async def asyncmy_loop() -> int:
    import asyncmy
    from asyncmy.cursors import SSCursor

    conn = await asyncmy.connect(host="127.0.0.1", user="root", db=tables.DATABASE)
    count = 0
    cursor = conn.cursor(SSCursor)
    await cursor.execute(SELECT)
    while batch := await cursor.fetchmany(2000):
        count += len(batch)
    await cursor.close()
    conn.close()
    return count


async def aiomysql_loop() -> int:
    import aiomysql

    conn = await aiomysql.connect(host="127.0.0.1", user="root", db=tables.DATABASE)
    count = 0
    async with conn.cursor(aiomysql.SSCursor) as cursor:
        await cursor.execute(SELECT)
        while batch := await cursor.fetchmany(2000):
            count += len(batch)
    conn.close()
    return count


LOOPS: dict[str, list[tuple[str, Callable[[], Coroutine[Any, Any, int]]]]] = {
    "postgresql": [("psycopg", psycopg_loop), ("asyncpg", asyncpg_loop)],
    "mysql": [("asyncmy", asyncmy_loop), ("aiomysql", aiomysql_loop)],
}


def bare_loop(loop: Callable[[], Coroutine[Any, Any, int]]) -> float | None:
    started = time.perf_counter()
    try:
        count = asyncio.run(loop())
    except ImportError:
        return None
    assert count == tables.ROWS, count
    return time.perf_counter() - started


@dataclass
class Service:
    url: str
    process: subprocess.Popen[bytes]

    def resident_mb(self) -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        line = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
        return int(line.split()[1]) / 1024


def start_service() -> Service:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, **SERVICE_ENV, "BIND_PORT": str(port)}
    command = [str(ROOT / ".venv/bin/biconnector"), "serve"]
    process = subprocess.Popen(command, env=env, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            httpx.get(f"{url}/health", timeout=1)
            return Service(url, process)
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the service did not start")


def http_export(service: Service, engine: str) -> tuple[float, float, int]:
    """Seconds for the whole body through curl, the peak memory (MB), and the bytes."""
    body = f'{{"connection": {_json(CONNECTIONS[engine])}, "table": "{tables.TABLE}"}}'
    peak = service.resident_mb()
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.02):
            peak = max(peak, service.resident_mb())

    sampler = threading.Thread(target=sample)
    sampler.start()
    started = time.perf_counter()
    result = subprocess.run(
        ["curl", "-sS", "-o", "/dev/null", "-w", "%{size_download}", "-X", "POST",
         "-H", "Content-Type: application/json", "--data-binary", body,
         f"{service.url}/connectors/{engine}/data"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    done.set()
    sampler.join()
    return elapsed, peak, int(result.stdout)


def signed_query() -> str:
    """The credential of a portal installed in the service's state, as a query string."""
    settings = Settings(
        _env_file=None,
        app_env="production",
        app_domain=SERVICE_ENV["APP_DOMAIN"],
        app_secret=SERVICE_ENV["APP_SECRET"],
        bitrix24_client_id=SERVICE_ENV["BITRIX24_CLIENT_ID"],
        bitrix24_client_secret=SERVICE_ENV["BITRIX24_CLIENT_SECRET"],
        state_dir=STATE_DIR,
    )
    portals = Portals.of(settings)
    portals.upgrade()
    portal = Portal(
        member_id="be0c4be0c4be0c4be0c4be0c4be0c4be",
        domain="bench.bitrix24.com",
        client_endpoint="https://bench.bitrix24.com/rest/",
        scope="biconnector",
        tokens=Tokens("access", "refresh", int(time.time()) + 3600),
        installed_at=datetime.datetime.now(datetime.UTC),
    )
    portals.save(portal, "bench-application-token")
    query = urlencode(portals.keys.credential(portal.member_id))
    portals.close()
    return query


def median_latency_ms(
    service: Service, engine: str, action: str, query: str = "", count: int = 200
) -> float:
    params: dict[str, object] = {"connection": CONNECTIONS[engine], "table": tables.TABLE}
    times = []
    path = f"/connectors/{engine}/{action}" + (f"?{query}" if query else "")
    with httpx.Client(base_url=service.url, timeout=30) as client:
        for _ in range(count):
            started = time.perf_counter()
            client.post(path, json=params).raise_for_status()
            times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def cached_rate(service: Service, engine: str, query: str = "") -> float | None:
    """Cached table_list answers per second under wrk (2 threads, 16 connections, 5 s)."""
    if shutil.which("wrk") is None:
        return None
    body = json.dumps({"connection": CONNECTIONS[engine]})
    script = (
        f'wrk.method = "POST"\nwrk.body = {json.dumps(body)}\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as file:
        file.write(script)
        file.flush()
        result = subprocess.run(
            ["wrk", "-t2", "-c16", "-d5s", "-s", file.name,
             f"{service.url}/connectors/{engine}/table_list" + (f"?{query}" if query else "")],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
    line = next(line for line in result.stdout.splitlines() if line.startswith("Requests/sec:"))
    return float(line.split()[1])


def _json(value: dict[str, str]) -> str:
    return json.dumps(value)


def main(engines: list[str]) -> None:
    print("building the tables (once)...", flush=True)
    tables.ensure_postgres()
    tables.ensure_mysql()
    service = start_service()
    query = signed_query()
    try:
        for engine in engines or ["postgresql", "mysql"]:
            report(service, engine, query)
    finally:
        service.process.terminate()
        service.process.wait(timeout=10)
        shutil.rmtree(STATE_DIR, ignore_errors=True)


def report(service: Service, engine: str, signed: str) -> None:
    rows = tables.ROWS
    cli = min(cli_export(engine) for _ in range(2))
    loops = {name: bare_loop(loop) for name, loop in LOOPS[engine]}
    http_export(service, engine)  # warm the server's caches
    runs = [http_export(service, engine) for _ in range(3)]
    seconds = min(run[0] for run in runs)
    peak = max(run[1] for run in runs)
    print(f"\n{engine}: {rows:,} rows, {runs[0][2] / 2**20:.0f} MB of JSON")
    print(f"  command-line export     {cli:6.2f} s   (the floor)")
    driver = LOOPS[engine][0][0]
    for name, elapsed in loops.items():
        if elapsed is None:
            print(f"  bare loop, {name:<12} not installed (pip install -e '.[bench]')")
        else:
            print(f"  bare loop, {name:<12} {elapsed:6.2f} s   {rows / elapsed:>12,.0f} rows/s")
    print(f"  service over HTTP       {seconds:6.2f} s   {rows / seconds:>12,.0f} rows/s")
    print(f"  service / command line  {seconds / cli:6.2f} x   (target: at most 2)")
    bare = loops[driver]
    if bare is not None:
        print(f"  service / bare {driver:<8} {seconds / bare:6.2f} x   (target: at most 1)")
    print(f"  peak memory of the service during the export: {peak:.0f} MB (target: under 100)")
    for action in ("table_list", "table_description"):
        latency = median_latency_ms(service, engine, action)
        print(f"  {action:<18} median {latency:6.2f} ms (cached after the first call)")
    latency = median_latency_ms(service, engine, "table_list", signed)
    print(f"  table_list, signed URL median {latency:6.2f} ms (the credential checked)")
    for label, query in (("unsigned", ""), ("signed", signed)):
        rate = cached_rate(service, engine, query)
        if rate is None:
            print("  cached table_list rate: wrk is not installed (apt-get install wrk)")
            break
        print(
            f"  cached table_list, {label:<8} wrk -c16: {rate:,.0f} answers/s "
            "(target: at least 2,000)"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
