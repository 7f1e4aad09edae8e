"""The service running for real: uvicorn on a loopback port, in a background thread."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import httpx
import uvicorn

from biconnector.app import create_app
from biconnector.settings import Settings
from tests.support.php import http_build_query

Encoding = Literal["form", "json"]

# Every password a portal sent, so that the suite can look for it in the service's log.
# Shorter ones would match ordinary words.
SENT_PASSWORDS: set[str] = set()
_MEMORABLE = 6


@contextlib.contextmanager
def running_service(settings: Settings, port: int = 0) -> Iterator[str]:
    """Serve the application on 127.0.0.1 (on `port`, or any free one) and yield its base
    URL until exit."""
    config = uvicorn.Config(
        create_app(settings),
        host="127.0.0.1",
        port=port,
        log_config=None,
        lifespan="on",
        access_log=False,  # as `biconnector serve` runs it: its lines hold query strings
    )
    server = uvicorn.Server(config)
    # Server.run picks the event loop the way `biconnector serve` does (uvloop when installed).
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the service did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


class Portal:
    """Calls the service the way a Bitrix24 portal does, in either encoding."""

    def __init__(self, base_url: str, encoding: Encoding = "form") -> None:
        self.base_url = base_url
        self.encoding = encoding

    def call(
        self, engine: str, action: str, params: Mapping[str, Any], *, legacy: bool = False
    ) -> httpx.Response:
        _remember_password(params)
        if legacy:
            url = f"{self.base_url}/?connection_type={engine}&action={action}"
        else:
            url = f"{self.base_url}/connectors/{engine}/{action}"
        if self.encoding == "json":
            content = json.dumps(params).encode()
            headers = {"Content-Type": "application/json"}
        else:
            content = http_build_query(params).encode()
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
        return httpx.post(url, content=content, headers=headers, timeout=60)

    def ok(self, engine: str, action: str, params: Mapping[str, Any]) -> Any:
        """The decoded answer of a call that must succeed the way Bitrix24 counts success."""
        response = self.call(engine, action, params)
        assert response.status_code == 200, response.text
        assert response.content, "Bitrix24 counts an empty body as a failure"
        return response.json()


def _remember_password(params: Mapping[str, Any]) -> None:
    connection = params.get("connection")
    password = connection.get("password") if isinstance(connection, Mapping) else None
    if isinstance(password, str) and len(password) >= _MEMORABLE:
        SENT_PASSWORDS.add(password)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@contextlib.contextmanager
def service_process(directory: Path, **env: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`biconnector serve` in its own process (or processes), as deployed, with only the
    environment given (and PATH); yields its URL and process."""
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    variables = {
        "PATH": os.environ["PATH"],
        "APP_ENV": "development",
        "LOG_LEVEL": "WARNING",
        "BIND_PORT": str(port),
        "STATE_DIR": str(directory / "state"),
        **env,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "biconnector", "serve"], env=variables, cwd=directory
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            assert process.poll() is None, "the service stopped"
            assert time.monotonic() < deadline, "the service did not start"
            time.sleep(0.1)
        yield url, process
    finally:
        if process.poll() is None:
            process.terminate()
        process.wait(timeout=30)
