"""Throwaway servers for tests.

The shared PostgreSQL trusts every password and both shared servers listen on IPv4 only, so
tests that need a real password check, an IPv6 address or a server that never answers get one
of these instead. All of them listen on loopback addresses only.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import pwd
import secrets
import shlex
import shutil
import socket
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.tls import TlsFiles

logger = logging.getLogger(__name__)

_PG_ROOT = Path("/usr/lib/postgresql")
_PG_HOST = "127.0.0.1"
_PG_SYSTEM_USER = "postgres"
_START_ATTEMPTS = 5
_COMMAND_TIMEOUT = 120.0
# A Unix socket path may not exceed 107 bytes; the cluster directory holds the socket
# ".s.PGSQL.<port>.lock", so its parent must leave room for the random part and that name.
_MAX_PARENT_LENGTH = 60
_CONNECT_TIMEOUT = 5.0
_CHUNK = 65536


@dataclass(frozen=True)
class PasswordPostgres:
    """Where to reach a PostgreSQL cluster that checks passwords with SCRAM-SHA-256."""

    host: str
    port: int
    user: str
    password: str = field(repr=False)


@contextlib.contextmanager
def password_postgres(tls: TlsFiles | None = None) -> Iterator[PasswordPostgres]:
    """Run a private PostgreSQL cluster with password authentication until exit; with
    ``tls``, it also accepts TLS with that certificate."""
    base = Path(tempfile.mkdtemp(prefix="biconnector-pg-", dir=_cluster_parent()))
    data = base / "data"
    try:
        started = time.monotonic()
        _hand_to_postgres(base)
        password = secrets.token_urlsafe(18)
        _init_cluster(base, data, password)
        extra = _tls_options(base, tls) if tls is not None else ""
        port = _start_cluster(base, data, extra)
        logger.debug(
            "password cluster on port %d ready in %.2f s", port, time.monotonic() - started
        )
        yield PasswordPostgres(host=_PG_HOST, port=port, user="postgres", password=password)
    finally:
        try:
            _stop_cluster(data)
        finally:
            shutil.rmtree(base, ignore_errors=True)


def _cluster_parent() -> Path:
    preferred = Path(tempfile.gettempdir())
    if len(str(preferred)) <= _MAX_PARENT_LENGTH and _others_can_traverse(preferred):
        return preferred
    # The postgres user must reach the cluster directory and /tmp is world-traversable.
    return Path("/tmp")  # noqa: S108


def _others_can_traverse(path: Path) -> bool:
    return all(folder.stat().st_mode & stat.S_IXOTH for folder in (path, *path.parents))


def _hand_to_postgres(path: Path, mode: int = 0o700) -> None:
    owner = pwd.getpwnam(_PG_SYSTEM_USER)
    path.chmod(mode)
    shutil.chown(path, owner.pw_uid, owner.pw_gid)


def _init_cluster(base: Path, data: Path, password: str) -> None:
    pwfile = base / "pwfile"
    pwfile.write_text(password + "\n")
    _hand_to_postgres(pwfile, mode=0o600)
    command: list[str | Path] = [
        _pg_binary("initdb"),
        f"--pgdata={data}",
        "--username=postgres",
        f"--pwfile={pwfile}",
        "--auth=scram-sha-256",
        "--encoding=UTF8",
        "--locale=C.UTF-8",
        "--no-sync",
    ]
    result = _as_postgres(command, cwd=base)
    pwfile.unlink()
    if result.returncode != 0:
        raise RuntimeError(f"initdb failed: {result.stdout}{result.stderr}")


def _tls_options(base: Path, tls: TlsFiles) -> str:
    certificate, key = base / "server.pem", base / "server.key"
    shutil.copy(tls.certificate, certificate)
    shutil.copy(tls.key, key)
    _hand_to_postgres(certificate, mode=0o644)
    _hand_to_postgres(key, mode=0o600)
    return f" -c ssl=on -c ssl_cert_file={certificate} -c ssl_key_file={key}"


def _start_cluster(base: Path, data: Path, extra: str = "") -> int:
    for attempt in range(1, _START_ATTEMPTS + 1):
        port = _free_port(_PG_HOST)
        log = base / f"start-{attempt}.log"
        # fsync is pointless for a cluster that is deleted when the test ends.
        options = (
            f"-p {port} -k {shlex.quote(str(base))} -c listen_addresses={_PG_HOST} -c fsync=off"
            + extra
        )
        command: list[str | Path] = [
            "start",
            "-w",
            "-t",
            "60",
            "-D",
            data,
            "-l",
            log,
            "-o",
            options,
        ]
        result = _as_postgres([_pg_binary("pg_ctl"), *command], cwd=base)
        if result.returncode == 0:
            return port

        server_log = log.read_text() if log.exists() else ""
        if "already in use" not in server_log:
            raise RuntimeError(f"pg_ctl start failed: {result.stderr}{server_log}")
        logger.debug("port %d was taken, trying another", port)
    raise RuntimeError(f"PostgreSQL found no free port in {_START_ATTEMPTS} attempts")


def _stop_cluster(data: Path) -> None:
    if not (data / "postmaster.pid").exists():
        return

    command: list[str | Path] = [
        _pg_binary("pg_ctl"),
        "stop",
        "-m",
        "immediate",
        "-w",
        "-D",
        data,
    ]
    result = _as_postgres(command, cwd=data.parent)
    if result.returncode != 0:
        raise RuntimeError(f"pg_ctl stop failed: {result.stderr}")


def _pg_binary(name: str) -> Path:
    found = sorted(_PG_ROOT.glob(f"*/bin/{name}"), key=_major_version)
    if not found:
        raise RuntimeError(f"no {name} under {_PG_ROOT}/*/bin")
    return found[-1]


def _major_version(binary: Path) -> int:
    version = binary.parent.parent.name
    return int(version) if version.isdigit() else -1


def _as_postgres(command: Sequence[str | Path], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["runuser", "-u", _PG_SYSTEM_USER, "--", *map(str, command)],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=_COMMAND_TIMEOUT,
        check=False,
    )


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def tcp_forwarder(target_host: str, target_port: int, listen_host: str = "::1") -> Iterator[int]:
    """Forward every connection to listen_host on the yielded port to the target."""
    _require_loopback(target_host)
    forwarder = _Forwarder((target_host, target_port))
    server = _listen(listen_host)
    try:
        with _accepting(server, forwarder.connect):
            yield _port_of(server)
    finally:
        forwarder.close()


class _Forwarder:
    def __init__(self, target: tuple[str, int]) -> None:
        self._target = target
        self._links: list[_Link] = []
        self._threads: list[threading.Thread] = []

    def connect(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self._target, timeout=_CONNECT_TIMEOUT)
        except OSError:
            client.close()
            return

        upstream.settimeout(None)
        link = _Link(client, upstream)
        for source, sink in ((client, upstream), (upstream, client)):
            thread = threading.Thread(target=link.pump, args=(source, sink), daemon=True)
            self._threads.append(thread)
            thread.start()
        self._links.append(link)

    def close(self) -> None:
        """Cut every link; only call once no more connections are being accepted."""
        for link in self._links:
            link.abort()
        for thread in self._threads:
            thread.join()


class _Link:
    """One forwarded connection, closed by whichever of its two pumps finishes last."""

    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self._sockets = (client, upstream)
        self._lock = threading.Lock()
        self._running = 2

    def pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(_CHUNK):
                sink.sendall(chunk)
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            self.abort()
        finally:
            self._finish()

    def abort(self) -> None:
        # Shutting a socket down wakes a thread blocked on it, which closing does not.
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def _finish(self) -> None:
        with self._lock:
            self._running -= 1
            if self._running == 0:
                for sock in self._sockets:
                    sock.close()


class SilentListener:
    """A TCP server that accepts connections and never sends a byte on them."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._connections: list[socket.socket] = []
        self._changed = threading.Condition()

    @property
    def accepted(self) -> int:
        with self._changed:
            return len(self._connections)

    def wait_for(self, count: int, timeout: float = 5.0) -> bool:
        """Wait until at least count connections were accepted; False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: len(self._connections) >= count, timeout)

    def _keep(self, conn: socket.socket) -> None:
        with self._changed:
            self._connections.append(conn)
            self._changed.notify_all()

    def _close(self) -> None:
        with self._changed:
            for conn in self._connections:
                conn.close()


@contextlib.contextmanager
def silent_listener(host: str = "127.0.0.1") -> Iterator[SilentListener]:
    """Listen on host and hold every connection open, silently, until exit."""
    server = _listen(host)
    listener = SilentListener(_port_of(server))
    try:
        with _accepting(server, listener._keep):
            yield listener
    finally:
        listener._close()


def _require_loopback(host: str) -> None:
    for *_, address in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM):
        if not ipaddress.ip_address(address[0]).is_loopback:
            raise ValueError(f"tests may only use loopback addresses, not {host!r}")


def _listen(host: str) -> socket.socket:
    _require_loopback(host)
    family = socket.getaddrinfo(host, 0, type=socket.SOCK_STREAM)[0][0]
    return socket.create_server((host, 0), family=family)


def _port_of(server: socket.socket) -> int:
    return int(server.getsockname()[1])


@contextlib.contextmanager
def _accepting(server: socket.socket, handle: Callable[[socket.socket], None]) -> Iterator[None]:
    """Hand each connection to handle on a background thread; owns and closes server."""
    stopping = threading.Event()
    thread = threading.Thread(target=_accept_until, args=(server, handle, stopping), daemon=True)
    with server:
        thread.start()
        try:
            yield
        finally:
            stopping.set()
            _wake(server)
            thread.join()


def _accept_until(
    server: socket.socket, handle: Callable[[socket.socket], None], stopping: threading.Event
) -> None:
    while True:
        conn, _ = server.accept()
        if stopping.is_set():
            conn.close()
            return
        handle(conn)


def _wake(server: socket.socket) -> None:
    # Closing a listening socket does not reliably interrupt accept() in another thread,
    # but an incoming connection always does.
    host, port = server.getsockname()[:2]
    with socket.create_connection((host, port), timeout=_CONNECT_TIMEOUT):
        pass
