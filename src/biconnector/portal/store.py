"""The application's own state: the portals that installed it and their tokens.

A SQL database through SQLAlchemy: a SQLite file by default, PostgreSQL or MySQL when
APP_DATABASE_URL names one, so that several hosts can share it. The schema is Alembic's
(migrations/); tokens are stored encrypted, application tokens only as fingerprints.
"""

from __future__ import annotations

import datetime
import hmac
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    Engine,
    MetaData,
    Row,
    String,
    Table,
    Text,
    create_engine,
    delete,
    event,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.engine import make_url

from biconnector.portal.keys import Keys
from biconnector.settings import Settings

# The newest migration in migrations/versions; a test keeps the two equal.
SCHEMA_REVISION = "0001"

# An access token this close to its end is renewed before use rather than after a refusal.
EXPIRY_MARGIN = 60
# An access token lives an hour unless Bitrix24 says otherwise.
DEFAULT_LIFETIME = 3600

metadata = MetaData()

portals = Table(
    "portals",
    metadata,
    Column("member_id", String(64), primary_key=True),
    Column("domain", String(255), nullable=False),
    Column("client_endpoint", String(512), nullable=False),
    Column("scope", String(512), nullable=False),
    Column("access_token", Text, nullable=False),
    Column("refresh_token", Text, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("application_token", String(64), nullable=False),
    Column("installed_at", DateTime(timezone=True), nullable=False),
    Column("renewed_at", DateTime(timezone=True), nullable=True),
)


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str
    expires_at: int

    @classmethod
    def read(cls, fields: Mapping[str, Any], issued: Any = None) -> Tokens:
        """The pair as Bitrix24 writes it, in an install event's auth[...] or in the OAuth
        server's answer to a renewal: `expires` when given, else `issued` (the event's `ts`,
        or now) plus `expires_in` (an hour when absent). KeyError names a missing token."""
        lifetime = _seconds(fields.get("expires_in"), DEFAULT_LIFETIME)
        expires = _seconds(fields.get("expires"), _seconds(issued, int(time.time())) + lifetime)
        return cls(_token(fields, "access_token"), _token(fields, "refresh_token"), expires)

    def expired(self) -> bool:
        return time.time() >= self.expires_at - EXPIRY_MARGIN


@dataclass(frozen=True)
class Portal:
    """A portal that has the application installed."""

    member_id: str
    domain: str
    client_endpoint: str
    scope: str
    tokens: Tokens
    installed_at: datetime.datetime


class PortalMissing(LookupError):
    """The portal has uninstalled the application (or never installed it)."""


class Portals:
    """The installed portals, in the database at `url`."""

    def __init__(self, url: str, keys: Keys) -> None:
        self.keys = keys
        self._engine = _engine(url)

    @classmethod
    def of(cls, settings: Settings) -> Portals:
        return cls(settings.database_url, Keys(settings.app_secret_bytes()))

    def current(self) -> bool:
        """Whether the schema is at the newest migration."""
        with self._engine.connect() as connection:
            return _at_head(connection)

    def upgrade(self) -> None:
        """Bring the schema to the newest migration; nothing happens when it is there.

        Workers and replicas that start together all call this: the first takes a lock
        (an advisory lock on PostgreSQL, GET_LOCK on MySQL, the write lock on SQLite), the
        others wait for it and then find the schema current.
        """
        if self.current():
            return
        # Alembic (and Mako under it) cost every worker about 10 MB; they are loaded only
        # when there is a migration to run.
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
        with self._locked() as connection, _migrating(connection):
            if _at_head(connection):
                return
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def close(self) -> None:
        self._engine.dispose()

    def save(self, portal: Portal, application_token: str) -> None:
        """Keep the portal, replacing what an earlier installation left."""
        values = self._row(portal) | {
            "application_token": self.keys.fingerprint(application_token),
        }
        with self._locked() as connection:
            # One statement, so that two installs of a new portal at once cannot both insert.
            connection.execute(_upsert(connection.dialect.name, values))

    def get(self, member_id: str) -> Portal | None:
        with self._engine.connect() as connection:
            row = connection.execute(select(portals).where(portals.c.member_id == member_id))
            found = row.first()
        return None if found is None else self._portal(found)

    def installed(self, member_id: str) -> bool:
        with self._engine.connect() as connection:
            found = connection.execute(
                select(portals.c.member_id).where(portals.c.member_id == member_id)
            ).first()
        return found is not None

    def all(self) -> list[Portal]:
        with self._engine.connect() as connection:
            rows = connection.execute(select(portals).order_by(portals.c.domain)).all()
        return [self._portal(row) for row in rows]

    def has_application_token(self, member_id: str, application_token: str) -> bool:
        with self._engine.connect() as connection:
            kept = connection.execute(
                select(portals.c.application_token).where(portals.c.member_id == member_id)
            ).scalar()
        return kept is not None and _same(kept, self.keys.fingerprint(application_token))

    def forget(self, member_id: str) -> bool:
        with self._engine.begin() as connection:
            removed = connection.execute(delete(portals).where(portals.c.member_id == member_id))
        return bool(removed.rowcount)

    def renew(self, member_id: str, used: str, refresh: Callable[[str], Tokens]) -> Tokens:
        """Fresh tokens for the portal whose access token `used` has expired.

        The portal's row stays locked while the OAuth server is asked, so that of several
        workers that find the token expired at once only one spends the refresh token (each
        one works once); the others wait and take the pair it stored.
        """
        with self._locked() as connection:
            row = connection.execute(
                select(portals).where(portals.c.member_id == member_id).with_for_update()
            ).first()
            if row is None:
                raise PortalMissing(member_id)
            kept = self._portal(row).tokens
            if kept.access_token != used and not kept.expired():
                return kept
            # The domain stays: a renewal's answer names the OAuth server, not the portal.
            fresh = refresh(kept.refresh_token)
            values: dict[str, Any] = {
                "access_token": self.keys.encrypt(fresh.access_token),
                "refresh_token": self.keys.encrypt(fresh.refresh_token),
                "expires_at": fresh.expires_at,
                "renewed_at": _now(),
            }
            connection.execute(
                update(portals).where(portals.c.member_id == member_id).values(values)
            )
        return fresh

    @contextmanager
    def _locked(self) -> Iterator[Connection]:
        """A transaction that holds a write lock: rows selected FOR UPDATE on PostgreSQL
        and MySQL, the whole database on SQLite (BEGIN IMMEDIATE)."""
        with self._engine.connect() as connection:
            connection = connection.execution_options(biconnector_immediate=True)
            with connection.begin():
                yield connection

    def _row(self, portal: Portal) -> dict[str, Any]:
        return {
            "member_id": portal.member_id,
            "domain": portal.domain,
            "client_endpoint": portal.client_endpoint,
            "scope": portal.scope,
            "access_token": self.keys.encrypt(portal.tokens.access_token),
            "refresh_token": self.keys.encrypt(portal.tokens.refresh_token),
            "expires_at": portal.tokens.expires_at,
            "installed_at": portal.installed_at,
            "renewed_at": None,
        }

    def _portal(self, row: Row[Any]) -> Portal:
        return Portal(
            member_id=row.member_id,
            domain=row.domain,
            client_endpoint=row.client_endpoint,
            scope=row.scope,
            tokens=Tokens(
                access_token=self.keys.decrypt(row.access_token),
                refresh_token=self.keys.decrypt(row.refresh_token),
                expires_at=int(row.expires_at),
            ),
            installed_at=_utc(row.installed_at),
        )


def _at_head(connection: Connection) -> bool:
    if not inspect(connection).has_table("alembic_version"):
        return False
    revision = connection.execute(text("SELECT version_num FROM alembic_version"))
    return bool(revision.scalar() == SCHEMA_REVISION)


# Any number, the same in every process: the key of the migration lock.
_MIGRATION_LOCK = 0x6269636F


@contextmanager
def _migrating(connection: Connection) -> Iterator[None]:
    """Hold the migration lock; SQLite's BEGIN IMMEDIATE is already one."""
    dialect = connection.dialect.name
    if dialect == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
    elif dialect in ("mysql", "mariadb"):
        connection.execute(text("SELECT GET_LOCK('biconnector_migrations', 300)"))
    try:
        yield
    finally:
        if dialect in ("mysql", "mariadb"):
            connection.execute(text("SELECT RELEASE_LOCK('biconnector_migrations')"))


def _upsert(dialect: str, values: dict[str, Any]) -> Any:
    """INSERT of a portal's row that updates it when the member id is there already."""
    # Each dialect's INSERT ... ON CONFLICT lives in its own module; only installs need one.
    from sqlalchemy.dialects import mysql, postgresql, sqlite

    changed = [name for name in values if name != "member_id"]
    if dialect == "postgresql":
        upsert = postgresql.insert(portals).values(values)
        return upsert.on_conflict_do_update(
            index_elements=[portals.c.member_id],
            set_={name: upsert.excluded[name] for name in changed},
        )
    if dialect == "sqlite":
        lite = sqlite.insert(portals).values(values)
        return lite.on_conflict_do_update(
            index_elements=[portals.c.member_id],
            set_={name: lite.excluded[name] for name in changed},
        )
    duplicate = mysql.insert(portals).values(values)
    return duplicate.on_duplicate_key_update({name: duplicate.inserted[name] for name in changed})


def _same(left: str, right: str) -> bool:
    return hmac.compare_digest(left, right)


def _token(fields: Mapping[str, Any], name: str) -> str:
    value = fields.get(name)
    if not isinstance(value, str) or not value.strip():
        raise KeyError(name)
    return value.strip()


def _seconds(value: Any, default: int) -> int:
    if isinstance(value, int | str) and str(value).strip().isdigit():
        return int(value)
    return default


def _utc(moment: datetime.datetime) -> datetime.datetime:
    # SQLite and MySQL's DATETIME keep no zone; what is stored is always UTC.
    if moment.tzinfo is None:
        return moment.replace(tzinfo=datetime.UTC)
    return moment.astimezone(datetime.UTC)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, pool_size=2, max_overflow=8)
    if parsed.database:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30})

    # SQLite takes its write lock lazily, which lets two workers read the same refresh token
    # and both spend it; the application begins its transactions itself instead
    # (SQLAlchemy's documented recipe), immediately where a lock is wanted.
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get("biconnector_immediate")
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine
