"""What every database engine provides, and the shapes it hands to the protocol layer."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager, aclosing
from dataclasses import dataclass
from typing import Any, Literal

from biconnector.engines.hosts import HostGuard
from biconnector.errors import TooManyExports
from biconnector.limits import Slots
from biconnector.protocol.filters import Operator
from biconnector.protocol.naming import TableName
from biconnector.protocol.params import ConnectionSettings
from biconnector.settings import Settings
from biconnector.values import Encoder

BitrixType = Literal["int", "double", "string", "date", "datetime"]

# Rows travel from the database in batches of this size: large enough that per-batch costs
# vanish, small enough that a batch of wide rows stays a few megabytes.
BATCH_SIZE = 2000


@dataclass(frozen=True)
class ColumnInfo:
    """A column as the engine sees it: its real name and how its values are read.

    ``kind``, ``sql_type`` (the database's own type name) and ``traits`` (facts such as
    "unsigned" that only the engine reads) are for the engine. The rest is
    for every layer: ``exact_order`` is false for types the database sorts by a prefix only
    (MySQL's TEXT, BLOB and long VARCHAR), which cannot make a page of rows deterministic;
    binary columns are exported as base64 and take no filter but IS NULL; an ``instant``
    holds a moment in time (timestamptz, MySQL TIMESTAMP) shown in the export time zone;
    ``float_bits`` is 32 or 64 for binary floating-point columns; ``precision`` is the
    declared number of digits of a decimal column, when it has one.
    """

    name: str
    type: BitrixType
    kind: str
    encode: Encoder
    exact_order: bool = True
    binary: bool = False
    sql_type: str = ""
    instant: bool = False
    float_bits: int | None = None
    precision: int | None = None
    nullable: bool = True
    traits: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Predicate:
    """One condition of a filter on one column, its values already of the column's type."""

    path: str
    column: ColumnInfo
    operator: Operator
    negated: bool
    values: tuple[Any, ...]


@dataclass(frozen=True)
class Where:
    """Predicates and nested groups, all of which (or, with ``any_of``, one of which) hold."""

    any_of: bool
    items: tuple[Predicate | Where, ...]


@dataclass(frozen=True)
class Ordering:
    """One key of ORDER BY; a ``tiebreak`` key orders by the exact value, bytes for text."""

    column: ColumnInfo
    descending: bool = False
    tiebreak: bool = False


@dataclass(frozen=True)
class Query:
    """The rows one data call reads: which columns, which rows, in which order, how many."""

    table: TableName
    columns: tuple[ColumnInfo, ...]
    where: Where | None = None
    order: tuple[Ordering, ...] = ()
    limit: int | None = None
    offset: int | None = None


class Session(ABC):
    """One open, read-only connection to a customer's database."""

    default_schema: str | None

    @abstractmethod
    async def ping(self) -> None:
        """Prove that the connection can run a query."""

    @abstractmethod
    async def tables(self) -> list[TableName]:
        """Every table, view, materialized view and partitioned parent the user may read."""

    @abstractmethod
    async def columns(self, table: TableName) -> list[ColumnInfo]:
        """The table's columns in their order; empty when the table does not exist."""

    @abstractmethod
    async def primary_key(self, table: TableName) -> list[str]:
        """The real names of the table's primary key columns in key order; empty without one."""

    @abstractmethod
    def rows(self, query: Query) -> AsyncGenerator[Sequence[Sequence[Any]], None]:
        """The query's rows as batches, each value still in the driver's own type."""

    def json_rows(self, query: Query) -> AsyncGenerator[RowChunk, None]:
        """The query's rows as JSON arrays joined by commas, one chunk per batch.

        Engines override this with a path on which the database writes the JSON itself;
        this one encodes every value in Python, and is the reference the fast paths are
        tested against.
        """
        return self.encoded_rows(query)

    async def encoded_rows(self, query: Query) -> AsyncGenerator[RowChunk, None]:
        """`json_rows`, with every value encoded in Python by its column's encoder."""
        encoders = [column.encode for column in query.columns]
        async with aclosing(self.rows(query)) as batches:
            async for batch in batches:
                if batch:
                    yield RowChunk.of(encode_batch(batch, encoders).encode(), len(batch))


class RowChunk(bytes):
    """Rows as JSON arrays joined by commas, which know how many rows they hold."""

    rows: int

    @classmethod
    def of(cls, text: bytes, rows: int) -> RowChunk:
        chunk = cls(text)
        chunk.rows = rows
        return chunk


def encode_batch(rows: Iterable[Sequence[Any]], encoders: Sequence[Encoder]) -> str:
    return ",".join(
        "[" + ",".join(encode(value) for encode, value in zip(encoders, row, strict=True)) + "]"
        for row in rows
    )


class Engine(ABC):
    """A database engine: how to open a session with a source's settings."""

    name: str
    default_port: int
    driver_errors: tuple[type[Exception], ...]

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.hosts = HostGuard.of(settings)
        most = settings.max_exports_per_host
        self.exports = Slots(
            most,
            lambda host: TooManyExports(
                f"{most} exports from {host} are running in this service process already "
                "(MAX_EXPORTS_PER_HOST); try again when one has finished."
            ),
        )

    def export_slot(self, host: str) -> AbstractContextManager[None]:
        """Hold one of the host's export slots for as long as an export runs."""
        return self.exports.hold(host)

    @abstractmethod
    def session(self, connection: ConnectionSettings) -> AbstractAsyncContextManager[Session]:
        """A read-only session: a pooled connection, or a new one logged in and prepared
        within the connect timeout."""

    @abstractmethod
    async def close(self) -> None:
        """Close the connections the engine keeps between requests."""
