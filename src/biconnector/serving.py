"""`biconnector serve`: the migrations first, then one process, or a supervisor of WORKERS
worker processes."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from typing import Any

import uvicorn
from uvicorn.supervisors import Multiprocess

from biconnector import metrics
from biconnector.settings import Settings


def serve(settings: Settings, host: str | None, port: int | None) -> int:
    migrated = _migrate()
    if migrated:
        return migrated
    options: dict[str, Any] = {
        "factory": True,
        "host": host or settings.bind_host,
        "port": port or settings.bind_port,
        "workers": settings.workers,
        "timeout_graceful_shutdown": settings.shutdown_timeout,
        "log_config": None,
        "access_log": False,
    }
    if settings.workers == 1:
        uvicorn.run("biconnector.app:serve_app", **options)
        return 0
    made = metrics.prepare_multiprocess()
    try:
        config = uvicorn.Config("biconnector.app:serve_app", **options)
        _Supervisor(config, sockets=[config.bind_socket()]).run()
    finally:
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)
    return 0


def _migrate() -> int:
    """Migrations run once, before any worker starts, and in a process of their own:
    Alembic would otherwise stay in the memory of the process that goes on to serve. A
    SIGTERM meanwhile (`docker stop`) is passed on to it."""
    child = subprocess.Popen([sys.executable, "-m", "biconnector", "db", "upgrade", "--quiet"])
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: child.terminate())
    try:
        code = child.wait()
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 128 - code if code < 0 else code


class _Supervisor(Multiprocess):
    """uvicorn's supervisor of worker processes, with two differences."""

    def terminate_all(self) -> None:
        # Its own copy of the listening socket would keep taking connections that no worker
        # answers any more; closed first, new connections are refused at once and a proxy
        # sends them to another replica, as with a single process.
        for sock in self.sockets:
            sock.close()
        super().terminate_all()

    def keep_subprocess_alive(self) -> None:
        before = {process.pid for process in self.processes}
        super().keep_subprocess_alive()
        # A worker that died (the OOM killer, say) is replaced; its live gauges go.
        for pid in before - {process.pid for process in self.processes}:
            if pid is not None:
                metrics.worker_died(pid)
