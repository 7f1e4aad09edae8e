"""What the database holds, under the codes Bitrix24 accepts, and the way back to real names.

Codes are computed from the whole set of tables (or columns) on every call, so the same
database gives the same codes on every call and every replica.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from biconnector.engines.base import BitrixType, ColumnInfo, Session
from biconnector.errors import InvalidRequest, NotFound
from biconnector.protocol.naming import TableName, display_name, field_codes, table_codes


@dataclass(frozen=True)
class Table:
    name: TableName
    code: str
    title: str


@dataclass(frozen=True)
class Column:
    info: ColumnInfo
    code: str
    title: str

    @property
    def type(self) -> BitrixType:
        return self.info.type


async def list_tables(session: Session) -> list[Table]:
    names = await session.tables()
    codes = table_codes(names, session.default_schema)
    return [Table(name, codes[name], _title(name, session, codes[name])) for name in names]


def matches(code: str, title: str, text: str) -> bool:
    """Whether a table's code or title holds the search text, ignoring case."""
    needle = text.strip().casefold()
    return not needle or needle in code.casefold() or needle in title.casefold()


async def find_table(session: Session, wanted: str) -> Table:
    """The table whose code is `wanted`; its real name is accepted too, ignoring case."""
    tables = await list_tables(session)
    folded = wanted.casefold()
    for found in (
        [table for table in tables if table.code == wanted],
        [table for table in tables if table.title == wanted],
        [table for table in tables if table.title.casefold() == folded],
    ):
        if len(found) == 1:
            return found[0]
    raise NotFound(f"No table {wanted!r} in this database: call table_list for the codes.")


async def describe(session: Session, table: Table) -> list[Column]:
    infos = await session.columns(table.name)
    if not infos:
        raise NotFound(f"The table {table.code!r} has no columns this user may read.")
    codes = field_codes(info.name for info in infos)
    return [
        Column(info, codes[info.name], display_name(info.name, codes[info.name])) for info in infos
    ]


class Fields:
    """The way from a name a request uses to the column it means.

    A name is looked up as a dataset field name through `mapFields`, then as a field code,
    then as a real column name ignoring case.
    """

    def __init__(self, columns: Sequence[Column], map_fields: Mapping[str, str]) -> None:
        self.columns = list(columns)
        self._by_code = {column.code: column for column in columns}
        self._by_dataset_name = {
            name: self._by_code[code] for code, name in map_fields.items() if code in self._by_code
        }

    def find(self, name: str) -> Column | None:
        found = self._by_dataset_name.get(name) or self._by_code.get(name)
        if found is not None:
            return found
        folded = name.casefold()
        matches = [column for column in self.columns if column.info.name.casefold() == folded]
        return matches[0] if len(matches) == 1 else None


def resolve_select(fields: Fields, select: Sequence[str] | None) -> list[tuple[str, Column]]:
    """Pairs of (header name, column) for the requested fields, in the requested order."""
    if select is None:
        return [(column.code, column) for column in fields.columns]
    return [(name, _selected(fields, name)) for name in select]


def _selected(fields: Fields, name: str) -> Column:
    column = fields.find(name)
    if column is None:
        raise InvalidRequest(
            f"select names an unknown field {name!r}: use a code from table_description."
        )
    return column


def _title(name: TableName, session: Session, code: str) -> str:
    if name.schema is None or name.schema == session.default_schema:
        return display_name(name.name, code)
    return display_name(f"{name.schema}.{name.name}", code)
