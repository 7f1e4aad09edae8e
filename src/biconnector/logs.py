"""Logs: one JSON object per line, to standard output and, with LOG_PATH, to daily files.

Several worker processes may write the same directory. Each line goes out in one
``write`` to a file opened for appending, which the kernel never interleaves with another
process's, and a day's file is never renamed: rotation means starting the next day's file
and deleting those older than LOG_ROTATION_DAYS, so no process can lose lines to another's
rotation.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from biconnector.settings import Settings

# Facts a log call may pass with ``extra``; they become keys of the line.
FIELDS = ("request_id", "method", "path", "portal", "engine", "action", "table", "status",
          "duration_ms", "rows", "bytes", "cache")  # fmt: skip

# The facts of the request being served, which the INFO line at its end reports.
_facts: ContextVar[dict[str, Any] | None] = ContextVar("biconnector_request_facts", default=None)
_request_id: ContextVar[str | None] = ContextVar("biconnector_request_id", default=None)

_PREFIX = "biconnector-"
_DAY_FILE = re.compile(r"^biconnector-(\d{4}-\d{2}-\d{2})\.log$")


def _record_with_request_id(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record = _make_record(*args, **kwargs)
    request_id = _request_id.get()
    if request_id is not None:
        record.request_id = request_id
    return record


# Every record made while a request is served carries its id, whatever logger made it and
# whichever handler formats it, later or elsewhere.
_make_record = logging.getLogRecordFactory()
logging.setLogRecordFactory(_record_with_request_id)


def start_request(request_id: str) -> dict[str, Any]:
    """Begin a request's facts; every line logged while it is served carries its id."""
    facts: dict[str, Any] = {}
    _facts.set(facts)
    _request_id.set(request_id)
    return facts


def note(**facts: Any) -> None:
    """Add facts to the request's log line (engine, action, table, cache...)."""
    current = _facts.get()
    if current is not None:
        current.update(facts)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "event": record.getMessage(),
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["traceback"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class DailyFiles(logging.Handler):
    """``biconnector-YYYY-MM-DD.log`` in a directory, one per day (UTC) of the record,
    deleted once older than ``days`` days."""

    def __init__(self, directory: Path, days: int, today: Callable[[], date] | None = None) -> None:
        super().__init__()
        self._directory = directory
        self._days = days
        self._today = today
        self._day: date | None = None
        self._fd: int | None = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = (self.format(record) + "\n").encode()
            os.write(self._file(self._day_of(record)), line)
        except Exception:  # a log that cannot be written must not fail the request
            self.handleError(record)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        super().close()

    def _day_of(self, record: logging.LogRecord) -> date:
        if self._today is not None:
            return self._today()
        return datetime.fromtimestamp(record.created, UTC).date()

    def _file(self, today: date) -> int:
        if self._fd is None or today != self._day:
            if self._fd is not None:
                os.close(self._fd)
            self._directory.mkdir(parents=True, exist_ok=True)
            path = self._directory / f"{_PREFIX}{today.isoformat()}.log"
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            self._day = today
            self._remove_old(today)
        return self._fd

    def _remove_old(self, today: date) -> None:
        for path in self._directory.iterdir():
            match = _DAY_FILE.match(path.name)
            if match and (today - date.fromisoformat(match.group(1))).days > self._days:
                path.unlink(missing_ok=True)


def configure(settings: Settings) -> None:
    """Send the service's logs where the settings say, one JSON object per line."""
    formatter = JsonFormatter()
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stdout)]
    if settings.log_path is not None:
        handlers.append(DailyFiles(settings.log_path, settings.log_rotation_days))
    for handler in handlers:
        handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(settings.logging_level)
    # Alembic reports every migration context at INFO; its warnings are what matters.
    logging.getLogger("alembic").setLevel(max(settings.logging_level, logging.WARNING))
