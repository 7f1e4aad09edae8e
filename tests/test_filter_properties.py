"""Random filter trees: the service's rows equal the same filter evaluated in Python.

Hypothesis builds trees of AND and OR groups over the `deals` table, with every operator,
negation and IS NULL, sends them as JSON, and compares the ids that come back with those an
evaluation over `tests.support.deals.ROWS` selects. Values are drawn so that the databases'
collations cannot disagree with Python (no two values differ only by case or accents where
equality or order decides).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.databases import Database
from tests.support.deals import COLUMNS, ROWS, deals_tables
from tests.support.service import Portal


@pytest.fixture(scope="module", autouse=True)
def deals(pg_db: Database, mysql_db: Database) -> Iterator[None]:
    with deals_tables(pg_db, mysql_db):
        yield


@dataclass(frozen=True)
class Cond:
    field: str
    prefix: str  # "=", "<", "><", "%", "=%", "@" ... or "null"
    negated: bool
    wire: Any  # what the request carries
    typed: tuple[Any, ...]  # the same values as Python compares them

    @property
    def key(self) -> str:
        prefix = "=" if self.prefix == "null" else self.prefix
        return ("!" if self.negated else "") + prefix + self.field


@dataclass(frozen=True)
class Grp:
    any_of: bool
    items: tuple[Cond | Grp, ...]


STAGES = ["WON", "LOST", "NEW", "Café", "XYZ"]
FRAGMENTS = ["o", "O", "wo", "é", "É", "%", "_", "!", "x", "N"]
PATTERNS = ["w%", "%N", "_O_", "%!", "%", "c_f%", "%o%"]
AMOUNTS = ["0", "5.55", "20", "100.5", "999999.99", "50"]
DAYS = {
    "2024-12-31": date(2024, 12, 31),
    "01.05.2025": date(2025, 5, 1),
    "2025-05-15": date(2025, 5, 15),
    "05/31/2025": date(2025, 5, 31),
    "31.05.2025 23:59:59": date(2025, 5, 31),
    "2025-06-01": date(2025, 6, 1),
}
MOMENTS = {
    "2024-12-31 12:30:45": datetime(2024, 12, 31, 12, 30, 45),
    "01.05.2025 10:00:00": datetime(2025, 5, 1, 10),
    "2025-05-15T08:00:00": datetime(2025, 5, 15, 8),
    "31.05.2025 23:59:59": datetime(2025, 5, 31, 23, 59, 59),
    "2025-06-01": datetime(2025, 6, 1),
    "2025-05-20 00:00:00": datetime(2025, 5, 20),
}
# The service exports in UTC, so a wall-clock time is the UTC moment; offsets shift it.
INSTANTS = {
    "2025-05-01 10:00:00": datetime(2025, 5, 1, 10),
    "2025-05-31T21:00:00Z": datetime(2025, 5, 31, 21),
    "2025-06-01T03:00:00+03:00": datetime(2025, 6, 1),
    "15.05.2025 08:00:00": datetime(2025, 5, 15, 8),
    "2024-12-31 12:30:45": datetime(2024, 12, 31, 12, 30, 45),
    "2025-05-20": datetime(2025, 5, 20),
}
ORDERED = ["=", "<", "<=", ">", ">=", "><", "@"]


def _conditions_of(
    field: str, prefixes: list[str], values: st.SearchStrategy[tuple[Any, Any]]
) -> st.SearchStrategy[Cond]:
    @st.composite
    def build(draw: st.DrawFn) -> Cond:
        prefix = draw(st.sampled_from(prefixes))
        negated = draw(st.booleans())
        count = 2 if prefix == "><" else draw(st.integers(1, 3))
        pairs = [draw(values) for _ in range(count)]
        wire: Any = [wire for wire, _ in pairs]
        if prefix != "><" and count == 1 and draw(st.booleans()):
            wire = wire[0]
        return Cond(field, prefix, negated, wire, tuple(typed for _, typed in pairs))

    return build()


def _pairs(mapping: dict[str, Any]) -> st.SearchStrategy[tuple[Any, Any]]:
    return st.sampled_from(list(mapping.items()))


def _same(values: list[Any]) -> st.SearchStrategy[tuple[Any, Any]]:
    return st.sampled_from([(value, value) for value in values])


NULL_CHECKS = st.builds(
    lambda field, negated: Cond(field, "null", negated, False, ()),
    st.sampled_from(["STAGE", "QTY", "AMOUNT", "DAY", "MOMENT", "INSTANT", "FLAG", "NOTE"]),
    st.booleans(),
)

CONDITIONS = st.one_of(
    _conditions_of("STAGE", ["=", "@"], _same(STAGES)),
    _conditions_of("STAGE", ["%"], _same(FRAGMENTS)),
    _conditions_of("NOTE", ["%"], _same(FRAGMENTS)),
    _conditions_of("STAGE", ["=%"], _same(PATTERNS)),
    _conditions_of("QTY", ORDERED, st.integers(-8, 11).map(lambda n: (n, n))),
    # A scalar "0" inside a group is IS NULL (README): amounts travel as JSON numbers.
    _conditions_of("AMOUNT", ORDERED, st.sampled_from([(float(a), Decimal(a)) for a in AMOUNTS])),
    _conditions_of("DAY", ORDERED, _pairs(DAYS)),
    _conditions_of("MOMENT", ORDERED, _pairs(MOMENTS)),
    _conditions_of("INSTANT", ORDERED, _pairs(INSTANTS)),
    _conditions_of("FLAG", ["="], _same([0, 1])),
    NULL_CHECKS,
)

TREES = st.recursive(
    CONDITIONS,
    lambda children: st.builds(
        lambda any_of, items: Grp(any_of, tuple(items)),
        st.booleans(),
        st.lists(children, min_size=1, max_size=4),
    ),
    max_leaves=8,
)


def wire(node: Cond | Grp) -> dict[str, Any]:
    """The request's map for a group: conditions by key, groups (and repeated keys) by index."""
    if isinstance(node, Cond):
        return {node.key: node.wire}
    result: dict[str, Any] = {"LOGIC": "OR"} if node.any_of else {}
    for index, item in enumerate(node.items):
        if isinstance(item, Cond) and item.key not in result:
            result[item.key] = item.wire
        else:
            result[str(index)] = wire(item)
    return result


def _like(pattern: str) -> Callable[[str], bool]:
    regex = "".join(
        ".*" if char == "%" else "." if char == "_" else re.escape(char) for char in pattern
    )
    compiled = re.compile(regex, re.DOTALL)
    return lambda text: compiled.fullmatch(text.lower()) is not None


def _value(row: tuple[Any, ...], field: str) -> Any:
    value = row[COLUMNS.index(field.lower())]
    if isinstance(value, datetime):
        return value.replace(microsecond=0)  # the export and the filter see whole seconds
    return value


def _matches(cond: Cond, value: Any) -> bool:
    if cond.prefix == "%":
        return any(fragment.lower() in str(value).lower() for fragment in cond.typed)
    if cond.prefix == "=%":
        return any(_like(pattern.lower())(str(value)) for pattern in cond.typed)
    if cond.prefix in ("=", "@"):
        return value in cond.typed
    if cond.prefix == "><":
        low, high = cond.typed
        return bool(low <= value <= high)
    compare: dict[str, Callable[[Any, Any], bool]] = {
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
    }
    return any(compare[cond.prefix](value, bound) for bound in cond.typed)


def holds(node: Cond | Grp, row: tuple[Any, ...]) -> bool:
    if isinstance(node, Grp):
        results = (holds(item, row) for item in node.items)
        return any(results) if node.any_of else all(results)
    value = _value(row, node.field)
    if node.prefix == "null":
        return (value is not None) if node.negated else (value is None)
    matched = value is not None and _matches(node, value)
    return not matched if node.negated else matched


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(tree=TREES)
def test_random_filters_select_what_python_selects(
    service: str, db: Database, tree: Cond | Grp
) -> None:
    filter_ = wire(tree)
    params = {"connection": db.connection(), "table": "deals", "select": ["ID"], "filter": filter_}

    response = Portal(service, "json").call(db.engine, "data", params)

    assert response.status_code == 200, response.text
    found = sorted(row[0] for row in response.json()[1:])
    expected = sorted(row[0] for row in ROWS if holds(tree, row))
    assert found == expected, filter_
