"""What every database engine provides, and the shapes it hands to the protocol layer."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Literal

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
    """A column as the engine sees it: its real name and how its values are read."""

    name: str
    type: BitrixType
    kind: str
    encode: Encoder


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
    def rows(
        self, table: TableName, columns: Sequence[ColumnInfo], limit: int | None
    ) -> AsyncGenerator[Sequence[Sequence[Any]], None]:
        """The table's rows as batches, each value still in the driver's own type."""


class Engine(ABC):
    """A database engine: how to open a session with a source's settings."""

    name: str
    default_port: int
    driver_errors: tuple[type[Exception], ...]

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @abstractmethod
    def session(self, connection: ConnectionSettings) -> AbstractAsyncContextManager[Session]:
        """Connect, log in and prepare a read-only session, bounded by the connect timeout."""
