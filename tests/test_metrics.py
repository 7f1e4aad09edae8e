"""Prometheus metrics at /metrics: requests, durations, rows and bytes, pools, the cache, and
their sums over worker processes; and a stopping service that lets its exports finish."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import make_settings
from tests.support.databases import Database, created
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
    view = (
        "CREATE VIEW slower AS SELECT pg_sleep(2)::text AS waited, n"
        " FROM generate_series(1, 3) AS n"
    )
    with created(pg_db, [view], ["DROP VIEW slower"]):
        yield "slower"


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_stopping_service_lets_its_running_export_finish(
    tmp_path: Path, pg_db: Database, slow_view: str, workers: str
) -> None:
    with service_process(tmp_path, SHUTDOWN_TIMEOUT="30", WORKERS=workers) as (url, process):
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
        # Refused at once, so that a proxy takes the request elsewhere.
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{url}/health", timeout=2)
        exporting.join(timeout=60)
        # uvicorn exits by the signal it caught, once it has shut down cleanly.
        assert process.wait(timeout=30) in (0, -signal.SIGTERM)

    assert answer["data"].status_code == 200
    assert json.loads(answer["data"].content)[1:] == [["", 1], ["", 2], ["", 3]]


def test_an_export_longer_than_the_shutdown_timeout_is_cut(
    tmp_path: Path, pg_db: Database, slow_view: str
) -> None:
    settings = {"SHUTDOWN_TIMEOUT": "1", "DATA_KEEPALIVE_INTERVAL": "0.2"}
    with service_process(tmp_path, **settings) as (url, process):
        answer: dict[str, Any] = {"data": b""}

        def export() -> None:
            body = {"connection": pg_db.connection(), "table": slow_view, "select": ["n"]}
            with (
                contextlib.suppress(httpx.TransportError),
                httpx.stream(
                    "POST", f"{url}/connectors/postgresql/data", json=body, timeout=60
                ) as response,
            ):
                answer["status"] = response.status_code
                for chunk in response.iter_raw():
                    answer["data"] += chunk

        exporting = threading.Thread(target=export)
        exporting.start()
        time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        exporting.join(timeout=30)

    # The export had begun (its status and header had gone out), and the process left before
    # its 6 seconds were up: its answer was cut short.
    assert answer["status"] == 200
    assert answer["data"].startswith(b'[["n"]')
    with pytest.raises(ValueError):  # noqa: PT011 - whatever arrived is not a whole answer
        json.loads(answer["data"])


@pytest.fixture
def breaking_view(pg_db: Database) -> Iterator[str]:
    view = (
        "CREATE VIEW breaking AS SELECT n, 1 / (n - 150000) AS inverse"
        " FROM generate_series(1, 200000) AS n"
    )
    with created(pg_db, [view], ["DROP VIEW breaking"]):
        yield "breaking"


def test_an_export_that_fails_midway_is_counted_as_cut(pg_db: Database, breaking_view: str) -> None:
    with running_service(make_settings()) as url:
        before = figures(url)
        body = {"connection": pg_db.connection(), "table": breaking_view}
        with (
            contextlib.suppress(httpx.TransportError),
            httpx.stream(
                "POST", f"{url}/connectors/postgresql/data", json=body, timeout=60
            ) as response,
        ):
            assert response.status_code == 200
            for _ in response.iter_raw():
                pass
        deadline = time.monotonic() + 5
        while True:
            after = figures(url)
            cut = value(after, "biconnector_requests_total", endpoint="postgresql/data",
                        status="cut")  # fmt: skip
            if cut > value(before, "biconnector_requests_total", endpoint="postgresql/data",
                           status="cut") or time.monotonic() > deadline:  # fmt: skip
                break
            time.sleep(0.05)

    grew = cut - value(before, "biconnector_requests_total", endpoint="postgresql/data",
                       status="cut")  # fmt: skip
    assert grew == 1
    assert value(after, "biconnector_export_rows_total", engine="postgresql") == value(
        before, "biconnector_export_rows_total", engine="postgresql"
    )


def test_a_worker_that_dies_is_replaced_and_its_gauges_dropped(tmp_path: Path) -> None:
    # Named by the operator (who creates it, as prometheus_client wants), so that the test
    # can watch the workers' files.
    figures_dir = tmp_path / "figures"
    figures_dir.mkdir()
    with service_process(tmp_path, WORKERS="2", PROMETHEUS_MULTIPROC_DIR=str(figures_dir)) as (
        url,
        process,
    ):
        deadline = time.monotonic() + 20
        while len(_workers(process.pid)) < 2:
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.2)
        first = _workers(process.pid)
        dead = first[0]
        os.kill(dead, signal.SIGKILL)

        deadline = time.monotonic() + 30
        while True:
            replacements = set(_workers(process.pid)) - set(first)
            started = [pid for pid in replacements
                       if (figures_dir / f"gauge_livesum_{pid}.db").exists()]  # fmt: skip
            if started and value(figures(url), "biconnector_worker_processes") == 2:
                break
            assert time.monotonic() < deadline, "no replacement was counted"
            time.sleep(0.2)

        assert not (figures_dir / f"gauge_livesum_{dead}.db").exists()
        assert value(figures(url), "biconnector_worker_processes") == 2


def _workers(supervisor: int) -> list[int]:
    children = Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()
    return [pid for pid in map(int, children) if _is_worker(pid)]


def _is_worker(pid: int) -> bool:
    # uvicorn's workers are spawned multiprocessing children (not its resource tracker).
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:  # it has just ended
        return False
    return b"spawn_main" in command
