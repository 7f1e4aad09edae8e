"""The data endpoint's SELECT, built once for every engine from its `SqlDialect`.

Values never enter the SQL text: each one is a ``%s`` placeholder (the style both drivers
use) with its value in the parameter list. Identifiers are quoted by the dialect, which also
doubles any ``%`` in them, so every statement is always executed with a parameter list.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from biconnector.engines.base import ColumnInfo, Ordering, Predicate, Query, Where
from biconnector.protocol.filters import Operator
from biconnector.protocol.naming import TableName

logger = logging.getLogger(__name__)

# The escape character of every LIKE pattern the service writes. Not the backslash, whose
# meaning inside string literals depends on MySQL's sql_mode.
LIKE_ESCAPE = "!"

_COMPARISONS = {
    Operator.LESS: "<",
    Operator.LESS_OR_EQUAL: "<=",
    Operator.GREATER: ">",
    Operator.GREATER_OR_EQUAL: ">=",
}
_SECOND = timedelta(seconds=1)
# Each comparison of a date-time as (SQL operator, compare with the next whole second).
_DATETIME_RULES = {
    Operator.LESS: ("<", False),
    Operator.LESS_OR_EQUAL: ("<", True),
    Operator.GREATER: (">=", True),
    Operator.GREATER_OR_EQUAL: (">=", False),
}


class SqlDialect(ABC):
    """How one engine writes the parts of a SELECT that differ between engines."""

    @abstractmethod
    def quote(self, identifier: str) -> str:
        """The identifier quoted, with ``%`` doubled for the driver's placeholder syntax."""

    @abstractmethod
    def table(self, name: TableName) -> str:
        """The table's qualified, quoted name."""

    @abstractmethod
    def export(self, column: ColumnInfo) -> str:
        """The expression the SELECT list reads the column through."""

    @abstractmethod
    def operand(self, column: ColumnInfo) -> str:
        """The expression comparisons and ORDER BY use: the column in its own type."""

    @abstractmethod
    def text(self, column: ColumnInfo) -> str:
        """The column as text, as contains and LIKE see it."""

    @abstractmethod
    def like(self, text: str) -> str:
        """A case-insensitive, accent-exact LIKE of ``text`` against one placeholder."""

    @abstractmethod
    def bounds(self, limit: int | None, offset: int | None) -> str:
        """The LIMIT and OFFSET clause, or an empty string."""

    def parameter(self, column: ColumnInfo, value: Any) -> Any:
        """The value as the driver should bind it for a comparison with the column."""
        return value

    def valid(self, column: ColumnInfo) -> str | None:
        """A condition false for the values the export writes as null though they are not
        NULL (NaN, infinities, impossible dates); None when only NULL is exported as null."""
        return None

    def tiebreak(self, column: ColumnInfo) -> str:
        """An expression that orders the column's values totally, for deterministic pages."""
        return self.operand(column)


def select(
    dialect: SqlDialect, query: Query, expressions: Sequence[str] | None = None
) -> tuple[str, list[Any]]:
    """The statement that reads the query's rows, and its parameters.

    The SELECT list is each column's `SqlDialect.export`, or ``expressions`` when given.
    """
    params: list[Any] = []
    if expressions is None:
        expressions = [dialect.export(column) for column in query.columns]
    parts = ["SELECT " + ", ".join(expressions), "FROM " + dialect.table(query.table)]
    if query.where is not None and query.where.items:
        parts.append("WHERE " + _group(dialect, query.where, params))
    if query.order:
        parts.append("ORDER BY " + ", ".join(_ordering(dialect, item) for item in query.order))
    bounds = dialect.bounds(query.limit, query.offset)
    if bounds:
        parts.append(bounds)
    statement = " ".join(parts)
    # The values stay out of the log: a filter may hold anything a user typed.
    logger.debug("query with %d parameters (not shown): %s", len(params), statement)
    return statement, params


def contains_pattern(value: str) -> str:
    """A LIKE pattern matching ``value`` anywhere, its own wildcards taken literally."""
    return "%" + _escaped(value, "%_") + "%"


def like_pattern(value: str) -> str:
    """The client's LIKE pattern: ``%`` and ``_`` stay wildcards, all else is literal."""
    return _escaped(value, "")


def _escaped(value: str, specials: str) -> str:
    return "".join(
        LIKE_ESCAPE + char if char == LIKE_ESCAPE or char in specials else char for char in value
    )


def _ordering(dialect: SqlDialect, item: Ordering) -> str:
    # NULLs sort first ascending and last descending on both engines, written out because
    # PostgreSQL's own default is the opposite of MySQL's.
    operand = (dialect.tiebreak if item.tiebreak else dialect.operand)(item.column)
    if item.descending:
        return f"{operand} IS NULL, {operand} DESC"
    return f"{operand} IS NOT NULL, {operand}"


def _group(dialect: SqlDialect, where: Where, params: list[Any]) -> str:
    joiner = " OR " if where.any_of else " AND "
    parts = [
        _group(dialect, item, params)
        if isinstance(item, Where)
        else _predicate(dialect, item, params)
        for item in where.items
    ]
    if not parts:
        return "1 = 1"
    return "(" + joiner.join(parts) + ")"


def _predicate(dialect: SqlDialect, predicate: Predicate, params: list[Any]) -> str:
    column = predicate.column
    operand, valid = dialect.operand(column), dialect.valid(column)
    # What the export writes as null counts as NULL: IS NULL finds it, and no comparison
    # matches it.
    if predicate.operator is Operator.IS_NULL:
        if valid is None:
            return f"{operand} IS {'NOT ' if predicate.negated else ''}NULL"
        if predicate.negated:
            return f"({operand} IS NOT NULL AND {valid})"
        return f"({operand} IS NULL OR NOT ({valid}))"
    condition = _condition(dialect, predicate, params)
    if valid is not None:
        condition = f"({condition}) AND {valid}"
    # A row whose field is NULL does not match the condition, so its negation keeps it
    # (PROTOCOL.md): NOT would leave NULL, which drops the row; IS NOT TRUE keeps it.
    return f"(({condition}) IS NOT TRUE)" if predicate.negated else f"({condition})"


def _condition(dialect: SqlDialect, predicate: Predicate, params: list[Any]) -> str:
    column, operator, values = predicate.column, predicate.operator, predicate.values
    if operator in (Operator.CONTAINS, Operator.LIKE):
        pattern = contains_pattern if operator is Operator.CONTAINS else like_pattern
        params.extend(pattern(value) for value in values)
        return _any([dialect.like(dialect.text(column))] * len(values))
    if column.type == "datetime":
        return _datetime_condition(dialect, predicate, params)

    operand = dialect.operand(column)
    bound = [dialect.parameter(column, value) for value in values]
    params.extend(bound)
    if operator in (Operator.EQUAL, Operator.IN):
        if len(bound) == 1:
            return f"{operand} = %s"
        return f"{operand} IN ({', '.join(['%s'] * len(bound))})"
    if operator is Operator.BETWEEN:
        return f"{operand} >= %s AND {operand} <= %s"
    return _any([f"{operand} {_COMPARISONS[operator]} %s"] * len(bound))


def _datetime_condition(dialect: SqlDialect, predicate: Predicate, params: list[Any]) -> str:
    """Comparisons as the exported values see them: stored fractions of a second are cut.

    A stored 23:59:59.5 is exported as 23:59:59, so it must equal 23:59:59 and not exceed
    it; each bound is therefore a half-open range of whole seconds.
    """
    column, operator, values = predicate.column, predicate.operator, predicate.values
    operand = dialect.operand(column)

    def compare(sign: str, moment: datetime, next_second: bool = False) -> str:
        if next_second:
            try:
                moment += _SECOND
            except OverflowError:  # past 9999-12-31 23:59:59: every value is below it
                return f"{operand} IS NOT NULL" if sign == "<" else "1 = 0"
        params.append(dialect.parameter(column, moment))
        return f"{operand} {sign} %s"

    if operator in (Operator.EQUAL, Operator.IN):
        return _any([f"{compare('>=', value)} AND {compare('<', value, True)}" for value in values])
    if operator is Operator.BETWEEN:
        low, high = values
        return f"{compare('>=', low)} AND {compare('<', high, True)}"
    sign, next_second = _DATETIME_RULES[operator]
    return _any([compare(sign, value, next_second) for value in values])


def _any(conditions: Sequence[str]) -> str:
    if len(conditions) == 1:
        return conditions[0]
    return " OR ".join(f"({condition})" for condition in conditions)
