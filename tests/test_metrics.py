"""Prometheus metrics at /metrics: requests, durations, rows and bytes, pools, the cache, and
their sums over worker processes; and a stopping service that lets its exports finish."""

from __future__ import annotations

import contextlib
import json
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import make_settings
from tests.support.databases import Database, execute
from tests.support.service import running_service, service_process

Figures = dict[tuple[str, frozenset[tuple[str, str]]], float]


def figures(url: str) -> Figures:
    response = httpx.get(f"{url}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(found: Figures, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def test_requests_rows_bytes_and_the_cache_are_counted(db: Database, tmp_path: Path) -> None:
    settings = make_settings(cache_ttl_table_list=60, cache_dir=tmp_path / "cache")
    with running_service(settings) as url:
        before = figures(url)
        connection = {"connection": db.connection()}
        for _ in range(3):
            assert httpx.post(f"{url}/connectors/{db.engine}/table_list", json=connection)
        data = httpx.post(
            f"{url}/connectors/{db.engine}/data", json={**connection, "table": "users"}
        )
        assert data.status_code == 200
        httpx.post(f"{url}/connectors/{db.engine}/nothing", json=connection)
        after = figures(url)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    endpoint = f"{db.engine}/table_list"
    assert grew("biconnector_requests_total", endpoint=endpoint, status="200") == 3
    assert grew("biconnector_request_duration_seconds_count", endpoint=endpoint) == 3
    assert grew("biconnector_cache_lookups_total", result="miss") >= 1
    assert grew("biconnector_cache_lookups_total", result="hit") >= 2
    assert grew("biconnector_export_rows_total", engine=db.engine) == len(data.json()) - 1
    assert grew("biconnector_export_bytes_total", engine=db.engine) == len(data.content)
    assert grew("biconnector_requests_total", endpoint="other", status="404") == 1
    assert value(after, "biconnector_pools", engine=db.engine) >= 1
    assert value(after, "biconnector_pool_connections", engine=db.engine) >= 1
    assert value(after, "biconnector_exports_running", engine=db.engine) == 0


def test_metrics_are_summed_over_the_worker_processes(tmp_path: Path) -> None:
    with service_process(tmp_path, WORKERS="2") as (url, _):
        deadline = time.monotonic() + 20
        while value(figures(url), "biconnector_worker_processes") < 2:
            assert time.monotonic() < deadline, "the second worker did not start"
            time.sleep(0.2)
        with httpx.Client() as client:  # one connection after another: any worker may answer
            for _ in range(30):
                client.get(f"{url}/health", headers={"Connection": "close"})

        answers = [figures(url) for _ in range(4)]

    for found in answers:
        assert value(found, "biconnector_worker_processes") == 2
        assert value(found, "biconnector_requests_total", endpoint="/health", status="200") >= 30


@pytest.fixture
def slow_view(pg_db: Database) -> Iterator[str]:
    execute(pg_db, "CREATE VIEW slower AS SELECT pg_sleep(2)::text AS waited, n"
                   " FROM generate_series(1, 3) AS n")  # fmt: skip
    try:
        yield "slower"
    finally:
        execute(pg_db, "DROP VIEW slower")


def test_a_stopping_service_lets_its_running_export_finish(
    tmp_path: Path, pg_db: Database, slow_view: str
) -> None:
    with service_process(tmp_path, SHUTDOWN_TIMEOUT="30") as (url, process):
        answer: dict[str, httpx.Response] = {}

        def export() -> None:
            answer["data"] = httpx.post(
                f"{url}/connectors/postgresql/data",
                json={"connection": pg_db.connection(), "table": slow_view},
                timeout=60,
            )

        exporting = threading.Thread(target=export)
        exporting.start()
        time.sleep(0.5)  # the export is under way
        process.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{url}/health", timeout=2)  # no new requests once stopping
        exporting.join(timeout=60)
        # uvicorn exits by the signal it caught, once it has shut down cleanly.
        assert process.wait(timeout=30) in (0, -signal.SIGTERM)

    assert answer["data"].status_code == 200
    assert json.loads(answer["data"].content)[1:] == [["", 1], ["", 2], ["", 3]]


def test_an_export_longer_than_the_shutdown_timeout_is_cut(
    tmp_path: Path, pg_db: Database, slow_view: str
) -> None:
    with service_process(tmp_path, SHUTDOWN_TIMEOUT="1") as (url, process):
        answer: dict[str, bytes] = {}

        def export() -> None:
            body = {"connection": pg_db.connection(), "table": slow_view}
            with (
                contextlib.suppress(httpx.TransportError),
                httpx.stream(
                    "POST", f"{url}/connectors/postgresql/data", json=body, timeout=60
                ) as response,
            ):
                answer["data"] = b"".join(response.iter_raw())

        exporting = threading.Thread(target=export)
        exporting.start()
        time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        exporting.join(timeout=30)

    # The process left before the export's 6 seconds were up: its answer was cut short.
    with pytest.raises(ValueError):  # noqa: PT011 - whatever arrived is not a whole answer
        json.loads(answer.get("data", b""))
