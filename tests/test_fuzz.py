"""Arbitrary parameters never make the service fail but with its own errors (no 500s).

Hypothesis builds any nesting of maps, lists and scalars for a data call, reads it as the
endpoint does, resolves it against a table of every Bitrix24 type and compiles the SELECT
for both engines: the only exceptions allowed are the service's own, which become 4xx.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from biconnector import catalog, query, values
from biconnector.engines.base import ColumnInfo, Query
from biconnector.engines.mysql import MySQLSql
from biconnector.engines.postgresql import PostgresSql
from biconnector.engines.sql import select
from biconnector.errors import ConnectorError
from biconnector.protocol.filters import Operator, read_filter
from biconnector.protocol.naming import TableName
from biconnector.protocol.params import read_data_request
from tests.conftest import make_settings

COLUMNS = [
    catalog.Column(ColumnInfo("id", "int", "value", values.integer), "ID", "id"),
    catalog.Column(ColumnInfo("stage", "string", "value", values.text), "STAGE", "stage"),
    catalog.Column(ColumnInfo("amount", "double", "value", values.decimal), "AMOUNT", "amount"),
    catalog.Column(
        ColumnInfo("ratio", "double", "value", values.floating, float_bits=32), "RATIO", "ratio"
    ),
    catalog.Column(
        ColumnInfo("day", "date", "temporal", values.date_text, sql_type="date"), "DAY", "day"
    ),
    catalog.Column(
        ColumnInfo("at", "datetime", "instant", values.datetime_text, instant=True), "AT", "at"
    ),
]
FIELDS = ["ID", "STAGE", "AMOUNT", "RATIO", "DAY", "AT", "id", "nope"]
PREFIXES = ["", "=", "!", "!=", "<", "<=", ">", ">=", "><", "!><", "%", "!%", "=%", "%=", "@", "!@"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["0", "1", "1,5", "31.05.2025", "05/31/2025 11:59:59 pm", "2025-05-31T23:59Z"]),
)
keys = st.one_of(
    st.builds(lambda p, f: p + f, st.sampled_from(PREFIXES), st.sampled_from(FIELDS)),
    st.sampled_from(["LOGIC", "0", "1", "12"]),
    st.text(max_size=10),
)
trees = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=4)
    ),
    max_leaves=20,
)
params = st.fixed_dictionaries(
    {"table": st.just("deals")},
    optional={
        "filter": trees,
        "select": trees,
        "order": trees,
        "limit": scalars,
        "offset": scalars,
        "mapFields": trees,
    },
)


def read(raw: dict[str, Any]) -> Query | ConnectorError:
    """The query a data call asks for, or the service's own error refusing it."""
    try:
        request = read_data_request(raw)
        fields = catalog.Fields(COLUMNS, request.map_fields)
        chosen = catalog.resolve_select(fields, request.select)
        return Query(
            table=TableName(None, "deals"),
            columns=tuple(column.info for _, column in chosen),
            where=query.resolve_filter(request.filter, fields, make_settings()),
            order=query.resolve_order(request.order, fields),
            limit=request.limit,
            offset=request.offset,
        )
    except ConnectorError as error:
        return error


@settings(max_examples=400, deadline=None)
@given(params)
def test_any_data_call_is_read_resolved_and_compiled_or_refused(raw: dict[str, Any]) -> None:
    wanted = read(raw)

    if isinstance(wanted, ConnectorError):
        assert 400 <= wanted.status_code < 500
        return
    for dialect in (MySQLSql("shop"), PostgresSql("public")):
        statement, parameters = select(dialect, wanted)
        assert statement.count("%s") == len(parameters)


def test_every_operator_is_covered_by_the_prefixes() -> None:
    covered = {Operator.IS_NULL}
    for prefix in PREFIXES:
        tree = read_filter({prefix + "X": ["1", "2"]})
        assert tree is not None
        covered.update(item.operator for item in tree.items if hasattr(item, "operator"))
    assert covered == set(Operator)
