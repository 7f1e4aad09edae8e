"""nginx from Debian as the load balancer in front of several replicas, on loopback."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx

from tests.support.service import free_port

# Round robin; a replica that refuses the connection (it is stopping) is skipped, and the
# request goes to the next one. Answers stream through unbuffered, as exports need.
_CONFIG = """
worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {directory}/body;
    proxy_temp_path {directory}/proxy;
    fastcgi_temp_path {directory}/fastcgi;
    uwsgi_temp_path {directory}/uwsgi;
    scgi_temp_path {directory}/scgi;
    upstream replicas {{
{servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://replicas;
            proxy_buffering off;
            proxy_read_timeout 300s;
            proxy_next_upstream error timeout;
            proxy_set_header Host $host;
        }}
    }}
}}
"""


@contextlib.contextmanager
def nginx(directory: Path, upstreams: Sequence[str], port: int | None = None) -> Iterator[str]:
    """nginx on `port` (or a free one) balancing over `upstreams` (host:port); yields its
    URL."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    directory.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    servers = "\n".join(f"        server {upstream} max_fails=1 fail_timeout=30s;"
                        for upstream in upstreams)  # fmt: skip
    config = directory / "nginx.conf"
    config.write_text(_CONFIG.format(directory=directory, servers=servers, port=port))
    process = subprocess.Popen(
        [binary, "-p", str(directory), "-c", str(config), "-g", "daemon off;"]
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(httpx.TransportError):
                httpx.get(f"{url}/health", timeout=1)
                break
            assert process.poll() is None, (directory / "error.log").read_text()
            assert time.monotonic() < deadline, "nginx did not start"
            time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
