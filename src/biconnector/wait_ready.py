"""Wait until the service started by `make start` answers `/health`, then print its address."""

from __future__ import annotations

import http.client
import sys
import time

from biconnector.settings import Settings


def main(timeout: float = 15.0) -> int:
    settings = Settings()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _healthy(settings.bind_host, settings.bind_port):
            print(f"biconnector is listening on http://{settings.bind_host}:{settings.bind_port}")
            return 0
        time.sleep(0.2)
    print(f"biconnector did not answer /health within {timeout:g} seconds", file=sys.stderr)
    return 1


def _healthy(host: str, port: int) -> bool:
    connection = http.client.HTTPConnection(host, port, timeout=1)
    try:
        connection.request("GET", "/health")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


if __name__ == "__main__":
    sys.exit(main())
