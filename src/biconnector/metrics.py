"""Prometheus metrics, served at GET /metrics.

With several worker processes (WORKERS), `biconnector serve` points PROMETHEUS_MULTIPROC_DIR
at a directory of its own before the workers start (a new temporary one, unless the operator
named one), and each worker writes its figures there (prometheus_client's multiprocess
mode); whichever worker answers /metrics reports the sum over all of them.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST

REQUESTS = Counter(
    "biconnector_requests_total", "Requests answered, by endpoint and status.",
    ["endpoint", "status"],
)  # fmt: skip
DURATION = Histogram(
    "biconnector_request_duration_seconds",
    "Time from a request's arrival to the last byte of its answer, by endpoint.",
    ["endpoint"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
ROWS = Counter("biconnector_export_rows_total", "Rows exported by data calls.", ["engine"])
BYTES = Counter("biconnector_export_bytes_total", "Bytes of data call answers.", ["engine"])
CACHE = Counter(
    "biconnector_cache_lookups_total", "Metadata cache lookups, by result (hit, miss).",
    ["result"],
)  # fmt: skip
RENEWALS = Counter(
    "biconnector_token_renewals_total",
    "Portal access tokens renewed with the OAuth server, by outcome (renewed, failed).",
    ["outcome"],
)
POOLS = Gauge(
    "biconnector_pools", "Connection pools open, one per source.", ["engine"],
    multiprocess_mode="livesum",
)  # fmt: skip
CONNECTIONS = Gauge(
    "biconnector_pool_connections", "Database connections open, idle or in use.", ["engine"],
    multiprocess_mode="livesum",
)  # fmt: skip
EXPORTS = Gauge(
    "biconnector_exports_running", "Data exports streaming now.", ["engine"],
    multiprocess_mode="livesum",
)  # fmt: skip

WORKERS = Gauge(
    "biconnector_worker_processes", "Worker processes serving.", multiprocess_mode="livesum"
)

# Paths reported under their own name; any other is "other", so that probes of random
# paths cannot grow the number of series.
_NAMED = frozenset({"/install", "/install.php", "/uninstall", "/health", "/ready", "/metrics"})


def endpoint(path: str, facts: Mapping[str, Any]) -> str:
    if "engine" in facts and "action" in facts:
        return f"{facts['engine']}/{facts['action']}"
    return path if path in _NAMED else "other"


def observe(path: str, status: int, seconds: float, sent: int, facts: Mapping[str, Any]) -> None:
    """Count one answered request from the facts its log line reports."""
    name = endpoint(path, facts)
    label = str(status)
    if facts.get("action") == "data" and status == 200:
        if facts.get("complete"):
            ROWS.labels(facts["engine"]).inc(facts.get("rows", 0))
            BYTES.labels(facts["engine"]).inc(sent)
        else:
            # Its 200 had gone out, but not its last row: failed in the database, cut by a
            # shutdown, or left by its client.
            label = "cut"
    REQUESTS.labels(name, label).inc()
    DURATION.labels(name).observe(seconds)
    if facts.get("cache") in ("hit", "miss"):
        CACHE.labels(facts["cache"]).inc()


def render() -> bytes:
    if os.environ.get(MULTIPROCESS_VARIABLE):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def prepare_multiprocess() -> Path | None:
    """Called by `biconnector serve` before its workers start: an empty directory for their
    figures, named in the environment they inherit. PROMETHEUS_MULTIPROC_DIR when the
    operator set it (emptied), else a new temporary one, which is returned for the caller
    to remove."""
    given = os.environ.get(MULTIPROCESS_VARIABLE)
    if given:
        for stale in Path(given).glob("*.db"):
            stale.unlink()
        return None
    made = tempfile.mkdtemp(prefix="biconnector-metrics-")
    os.environ[MULTIPROCESS_VARIABLE] = made
    return Path(made)


def worker_died(pid: int) -> None:
    """Drop the live gauges of a worker that died without stopping (its supervisor starts
    another)."""
    multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


def worker_started() -> None:
    WORKERS.set(1)


def worker_stopped() -> None:
    """Drop a stopping worker's live gauges from the sums."""
    WORKERS.set(0)
    if os.environ.get(MULTIPROCESS_VARIABLE):
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
