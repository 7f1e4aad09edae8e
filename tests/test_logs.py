"""Logs: JSON lines, one INFO line per request with its facts, daily files shared by workers."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response

from biconnector.app import create_app, serve_app
from biconnector.logs import DailyFiles, JsonFormatter
from tests.conftest import make_settings
from tests.support.databases import Database
from tests.support.service import Portal, running_service


def record(message: str, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("biconnector.app", logging.INFO, __file__, 1, message, (), None)
    for name, value in extra.items():
        setattr(made, name, value)
    return made


def test_a_line_is_one_json_object_with_the_facts() -> None:
    line = JsonFormatter().format(record("POST /x 200", status=200, engine="mysql", cache="hit"))

    parsed = json.loads(line)
    assert "\n" not in line
    assert parsed["event"] == "POST /x 200"
    assert parsed["level"] == "INFO"
    assert (parsed["status"], parsed["engine"], parsed["cache"]) == (200, "mysql", "hit")
    assert parsed["time"].endswith("+00:00")


def test_a_traceback_stays_inside_the_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        failed = record("failed")
        failed.exc_info = sys.exc_info()

    parsed = json.loads(JsonFormatter().format(failed))

    assert "ValueError: boom" in parsed["traceback"]


def test_every_request_logs_one_line_with_its_facts(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    with running_service(make_settings(cache_ttl_table_list=60)) as url:
        Portal(url, "form").ok(db.engine, "table_list", {"connection": db.connection()})

    lines = [r for r in caplog.records if r.name == "biconnector.app" and hasattr(r, "status")]
    assert len(lines) == 1
    parsed = json.loads(JsonFormatter().format(lines[0]))
    assert parsed["engine"] == db.engine
    assert parsed["action"] == "table_list"
    assert parsed["status"] == 200
    assert parsed["cache"] == "miss"
    assert parsed["bytes"] > 2
    assert len(parsed["request_id"]) == 32


class Clock:
    def __init__(self) -> None:
        self.day = date(2026, 12, 1)

    def __call__(self) -> date:
        return self.day


def test_files_turn_over_daily_and_old_ones_are_removed(tmp_path: Path) -> None:
    clock = Clock()
    handler = DailyFiles(tmp_path, days=2, today=clock)
    handler.setFormatter(JsonFormatter())
    for day in (1, 2, 4):
        clock.day = date(2026, 12, day)
        handler.emit(record(f"on day {day}"))
    handler.close()

    # Kept two days: on the 4th, the 2nd is two days old and stays, the 1st goes.
    files = sorted(path.name for path in tmp_path.iterdir())
    assert files == ["biconnector-2026-12-02.log", "biconnector-2026-12-04.log"]
    assert json.loads((tmp_path / files[1]).read_text())["event"] == "on day 4"


_WRITER = """
import logging, sys
from pathlib import Path
from starlette.requests import Request
from starlette.responses import Response

from biconnector.app import create_app, serve_app
from biconnector.logs import DailyFiles, JsonFormatter
handler = DailyFiles(Path(sys.argv[1]), days=7)
handler.setFormatter(JsonFormatter())
for index in range(3000):
    handler.emit(logging.LogRecord("w", logging.INFO, "", 0, sys.argv[2] + " %d " + "x" * 200,
                                   (index,), None))
"""


def test_worker_processes_write_one_file_without_losing_or_mixing_lines(tmp_path: Path) -> None:
    writers = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path), name])
        for name in ("first", "second")
    ]
    for writer in writers:
        assert writer.wait(timeout=60) == 0

    (log,) = tmp_path.iterdir()
    events = [json.loads(line)["event"] for line in log.read_text().splitlines()]
    assert len(events) == 6000
    for name in ("first", "second"):
        assert sorted(int(e.split()[1]) for e in events if e.startswith(name)) == list(range(3000))


def test_a_data_call_logs_how_many_rows_it_sent(
    service: str, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    params = {"connection": db.connection(), "table": "users"}
    answer = Portal(service, "json").ok(db.engine, "data", params)

    def lines() -> list[logging.LogRecord]:
        return [
            r for r in caplog.records
            if getattr(r, "action", None) == "data" and hasattr(r, "status")
        ]  # fmt: skip

    # The line is written once the last byte has gone, which can be after the client has it.
    deadline = time.monotonic() + 5
    while not lines() and time.monotonic() < deadline:
        time.sleep(0.01)
    (line,) = lines()
    assert getattr(line, "rows", None) == len(answer) - 1
    assert getattr(line, "table", None) == "users"


def test_an_unexpected_error_is_a_500_whose_id_is_in_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def boom(request: Request) -> Response:
        raise RuntimeError("a bug")

    app = create_app(make_settings())
    app.router.add_route("/boom", boom)

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
            return await client.get("/boom")

    response = asyncio.run(call())

    request_id = response.headers["X-Request-ID"]
    assert response.status_code == 500
    assert response.json()["error"] == {
        "code": "internal_error",
        "message": "The service failed unexpectedly; its log has the details under this "
        "request's id.",
        "requestId": request_id,
    }
    assert "a bug" not in response.text
    (failure,) = [r for r in caplog.records if r.getMessage() == "unexpected error"]
    line = json.loads(JsonFormatter().format(failure))
    assert line["request_id"] == request_id
    assert "RuntimeError: a bug" in line["traceback"]


def test_each_worker_process_configures_its_own_logs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOG_PATH", str(tmp_path / "logs"))
    monkeypatch.setenv("STATE_DIR", str(tmp_path / "state"))
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        serve_app()
        assert any(isinstance(handler, DailyFiles) for handler in root.handlers)
    finally:
        for handler in list(root.handlers):
            if handler not in handlers:
                handler.close()
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)
