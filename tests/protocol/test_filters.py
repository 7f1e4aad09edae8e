"""Reading the `filter` parameter into a tree: prefixes, groups, IS_NULL, bounds."""

from __future__ import annotations

from typing import Any

import pytest

from biconnector.errors import InvalidRequest
from biconnector.protocol.filters import (
    MAX_CONDITIONS,
    MAX_DEPTH,
    MAX_VALUES,
    Condition,
    Group,
    Operator,
    read_filter,
)
from biconnector.protocol.form import parse_form
from tests.support.php import http_build_query


def only_condition(filter_: Any) -> Condition:
    tree = read_filter(filter_)
    assert tree is not None
    (condition,) = tree.items
    assert isinstance(condition, Condition)
    return condition


@pytest.mark.parametrize("empty", [None, "", {}, []], ids=["null", "text", "map", "list"])
def test_an_empty_filter_is_no_filter(empty: Any) -> None:
    assert read_filter(empty) is None


@pytest.mark.parametrize(
    ("key", "operator", "negated"),
    [
        pytest.param("STAGE", Operator.EQUAL, False, id="none"),
        pytest.param("=STAGE", Operator.EQUAL, False, id="equal"),
        pytest.param("!STAGE", Operator.EQUAL, True, id="not"),
        pytest.param("!=STAGE", Operator.EQUAL, True, id="not-equal"),
        pytest.param(">STAGE", Operator.GREATER, False, id="greater"),
        pytest.param(">=STAGE", Operator.GREATER_OR_EQUAL, False, id="greater-or-equal"),
        pytest.param("<STAGE", Operator.LESS, False, id="less"),
        pytest.param("<=STAGE", Operator.LESS_OR_EQUAL, False, id="less-or-equal"),
        pytest.param("!>STAGE", Operator.GREATER, True, id="not-greater"),
        pytest.param("!<=STAGE", Operator.LESS_OR_EQUAL, True, id="not-less-or-equal"),
        pytest.param("%STAGE", Operator.CONTAINS, False, id="contains"),
        pytest.param("!%STAGE", Operator.CONTAINS, True, id="not-contains"),
        pytest.param("=%STAGE", Operator.LIKE, False, id="like"),
        pytest.param("%=STAGE", Operator.LIKE, False, id="like-other-spelling"),
        pytest.param("!=%STAGE", Operator.LIKE, True, id="not-like"),
        pytest.param("@STAGE", Operator.IN, False, id="in"),
        pytest.param("!@STAGE", Operator.IN, True, id="not-in"),
    ],
)
def test_every_prefix_is_read(key: str, operator: Operator, negated: bool) -> None:
    condition = only_condition({key: "x"})

    assert (condition.field, condition.operator, condition.negated) == ("STAGE", operator, negated)
    assert condition.values == ("x",)
    assert condition.path == f"filter[{key}]"


@pytest.mark.parametrize("negated", [False, True], ids=["between", "not-between"])
def test_between_takes_exactly_two_values(negated: bool) -> None:
    key = ("!" if negated else "") + "><AMOUNT"
    condition = only_condition({key: ["1", "5"]})

    assert condition.operator is Operator.BETWEEN
    assert condition.negated is negated
    assert condition.values == ("1", "5")
    with pytest.raises(InvalidRequest, match=r"filter\[><AMOUNT\].*exactly two"):
        read_filter({"><AMOUNT": ["1"]})


def test_keys_of_one_map_are_and_ed_unless_logic_is_or() -> None:
    assert read_filter({"=A": "1", "=B": "2"}) == Group(
        False,
        (
            Condition("filter[=A]", "A", Operator.EQUAL, False, ("1",)),
            Condition("filter[=B]", "B", Operator.EQUAL, False, ("2",)),
        ),
    )
    tree = read_filter({"LOGIC": "or", "=A": "1", "=B": "2"})
    assert tree is not None
    assert tree.any_of


def test_integer_keys_hold_nested_groups_at_any_depth() -> None:
    tree = read_filter({"0": {"LOGIC": "OR", "0": {"1": {"=A": ["1", "2"]}}}, "=B": "x"})

    assert tree is not None
    group, condition = tree.items
    assert isinstance(group, Group)
    assert group.any_of
    assert isinstance(condition, Condition)
    assert condition.field == "B"
    (inner,) = group.items
    assert isinstance(inner, Group)
    (deepest,) = inner.items
    assert isinstance(deepest, Group)
    assert deepest.items == (
        Condition("filter[0][0][1][=A]", "A", Operator.EQUAL, False, ("1", "2")),
    )


def test_a_json_list_of_groups_reads_like_integer_keys() -> None:
    assert read_filter([{"=A": ["1"]}]) == read_filter({"0": {"=A": ["1"]}})


def test_form_lists_and_json_lists_give_the_same_values() -> None:
    filter_ = {"0": {"LOGIC": "OR", "0": {"=STAGE": ["WON", "LOST"]}}}
    form = parse_form(http_build_query({"filter": filter_}).encode())

    assert read_filter(form["filter"]) == read_filter(filter_)


class TestIsNull:
    """PROTOCOL.md: IS_NULL is ``=FIELD => false``; PHP's form writes false as ``0``."""

    def test_json_false_is_null_anywhere(self) -> None:
        assert only_condition({"=QTY": False}).operator is Operator.IS_NULL

    def test_json_null_is_null(self) -> None:
        assert only_condition({"QTY": None}).operator is Operator.IS_NULL

    def test_a_scalar_zero_in_a_dimension_group_is_null(self) -> None:
        tree = read_filter({"0": {"LOGIC": "OR", "0": {"=QTY": "0"}}})

        assert tree is not None
        (group,) = tree.items
        assert isinstance(group, Group)
        (inner,) = group.items
        assert isinstance(inner, Group)
        assert inner.items == (Condition("filter[0][0][=QTY]", "QTY", Operator.IS_NULL, False, ()),)

    def test_a_scalar_zero_at_the_top_level_is_equal_to_zero(self) -> None:
        condition = only_condition({"=QTY": "0"})

        assert (condition.operator, condition.values) == (Operator.EQUAL, ("0",))

    def test_a_list_holding_zero_in_a_group_is_equal_to_zero(self) -> None:
        tree = read_filter({"0": {"=QTY": {"0": "0"}}})

        assert tree is not None
        (group,) = tree.items
        assert isinstance(group, Group)
        assert group.items == (Condition("filter[0][=QTY]", "QTY", Operator.EQUAL, False, ("0",)),)

    def test_exclude_is_null_is_negated(self) -> None:
        tree = read_filter({"0": {"!=QTY": "0"}})

        assert tree is not None
        (group,) = tree.items
        assert isinstance(group, Group)
        assert group.items == (Condition("filter[0][!=QTY]", "QTY", Operator.IS_NULL, True, ()),)

    def test_zero_with_another_operator_is_a_value(self) -> None:
        tree = read_filter({"0": {">QTY": "0"}})

        assert tree is not None
        (group,) = tree.items
        assert isinstance(group, Group)
        assert group.items == (
            Condition("filter[0][>QTY]", "QTY", Operator.GREATER, False, ("0",)),
        )


@pytest.mark.parametrize(
    ("filter_", "named"),
    [
        pytest.param({"=": "1"}, r"filter\[=\] names no field", id="no-field"),
        pytest.param({"=A": []}, r"filter\[=A\] has an empty list", id="empty-list"),
        pytest.param({"=A": [["1"]]}, r"filter\[=A\] must hold single values", id="nested-value"),
        pytest.param({"=A": ["1", None]}, r"filter\[=A\] holds null", id="null-in-list"),
        pytest.param({"LOGIC": "XOR"}, r"filter\[LOGIC\] must be AND or OR", id="bad-logic"),
        pytest.param({"0": "x"}, r"filter\[0\] must be a map", id="group-not-a-map"),
        pytest.param("x", r"filter must be a map", id="filter-not-a-map"),
    ],
)
def test_malformed_filters_are_refused_naming_the_key(filter_: Any, named: str) -> None:
    with pytest.raises(InvalidRequest, match=named):
        read_filter(filter_)


def test_a_filter_deeper_than_the_bound_is_refused() -> None:
    filter_: dict[str, Any] = {"=A": "1"}
    for _ in range(MAX_DEPTH):
        filter_ = {"0": filter_}
    assert read_filter(filter_) is not None

    with pytest.raises(InvalidRequest, match=f"deeper than {MAX_DEPTH}"):
        read_filter({"0": filter_})


def test_a_filter_with_too_many_conditions_is_refused() -> None:
    filter_ = {str(index): {"=A": "1"} for index in range(MAX_CONDITIONS + 1)}

    with pytest.raises(InvalidRequest, match=rf"more than {MAX_CONDITIONS} conditions"):
        read_filter(filter_)


def test_a_filter_with_too_many_values_is_refused() -> None:
    with pytest.raises(InvalidRequest, match=rf"more than {MAX_VALUES} values"):
        read_filter({"@A": [str(index) for index in range(MAX_VALUES + 1)]})
