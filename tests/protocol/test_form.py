from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from biconnector.protocol.form import FormError, FormValue, parse_form
from tests.support.php import http_build_query


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(b"a=1", {"a": "1"}, id="scalar"),
        pytest.param(b"a[b]=1", {"a": {"b": "1"}}, id="bracket-key-makes-a-map"),
        pytest.param(b"a[b][c]=1", {"a": {"b": {"c": "1"}}}, id="brackets-nest"),
        pytest.param(b"a[]=x&a[]=y", {"a": {"0": "x", "1": "y"}}, id="empty-brackets-append"),
        pytest.param(
            b"a[0]=x&a[5]=y&a[]=z",
            {"a": {"0": "x", "5": "y", "6": "z"}},
            id="append-after-largest-integer-key",
        ),
        pytest.param(b"a[x]=1&a[]=2", {"a": {"x": "1", "0": "2"}}, id="append-ignores-text-keys"),
        pytest.param(
            b"a[05]=x&a[-0]=y&a[]=z",
            {"a": {"05": "x", "-0": "y", "0": "z"}},
            id="append-ignores-non-canonical-integers",
        ),
        pytest.param(
            b"a[9223372036854775808]=x&a[" + b"9" * 5000 + b"]=y&a[]=z",
            {"a": {"9223372036854775808": "x", "9" * 5000: "y", "0": "z"}},
            id="append-ignores-integers-beyond-64-bits",
        ),
        pytest.param(
            b"a[-5]=x&a[]=y", {"a": {"-5": "x", "-4": "y"}}, id="append-after-negative-key"
        ),
        pytest.param(
            b"a[][x]=1&a[][x]=2",
            {"a": {"0": {"x": "1"}, "1": {"x": "2"}}},
            id="append-inside-path-starts-a-new-map",
        ),
        pytest.param(b"a[+]=x", {"a": {"0": "x"}}, id="space-only-brackets-append"),
        pytest.param(b"a[+b]=x", {"a": {" b": "x"}}, id="space-before-key-is-kept"),
        pytest.param(b"a=1&a=2", {"a": "2"}, id="later-scalar-overwrites-scalar"),
        pytest.param(b"a=1&a[b]=2", {"a": {"b": "2"}}, id="map-replaces-scalar"),
        pytest.param(b"a[b]=1&a=2", {"a": "2"}, id="scalar-replaces-map"),
        pytest.param(
            b"a[b]=1&a[b][c]=2", {"a": {"b": {"c": "2"}}}, id="nested-map-replaces-scalar"
        ),
        pytest.param(b"a", {"a": ""}, id="pair-without-equals-is-empty"),
        pytest.param(b"a=", {"a": ""}, id="empty-value"),
        pytest.param(b"&&a=1&", {"a": "1"}, id="empty-pairs-skipped"),
        pytest.param(b"=1&[b]=2&+=3", {}, id="nameless-pairs-dropped"),
        pytest.param(b"a=b=c", {"a": "b=c"}, id="value-keeps-later-equals"),
        pytest.param(b"a.b=1&c+d=2", {"a_b": "1", "c_d": "2"}, id="top-name-dots-spaces"),
        pytest.param(b"++a=1", {"a": "1"}, id="top-name-leading-spaces-dropped"),
        pytest.param(b"a[b.c+d]=1", {"a": {"b.c d": "1"}}, id="bracket-key-kept-literally"),
        pytest.param(b"a[b=1", {"a_b": "1"}, id="unclosed-top-bracket-becomes-underscore"),
        pytest.param(b"a[b.c+d[e=1", {"a_b_c_d_e": "1"}, id="unclosed-top-bracket-mangles"),
        pytest.param(b"a[b][c=1", {"a": {"b": "1"}}, id="unclosed-inner-bracket-ignored"),
        pytest.param(b"a[b[c]=1", {"a": {"b[c": "1"}}, id="open-bracket-inside-key"),
        pytest.param(b"a[b]c=1", {"a": {"b": "1"}}, id="text-after-bracket-ignored"),
        pytest.param(b"a[b]c[d]=1", {"a": {"b": "1"}}, id="groups-after-text-ignored"),
        pytest.param(b"a]b=1", {"a]b": "1"}, id="lone-closing-bracket-kept"),
        pytest.param(b"q=deal+stages", {"q": "deal stages"}, id="plus-is-space"),
        pytest.param(b"q=1%2B1", {"q": "1+1"}, id="encoded-plus-is-plus"),
        pytest.param(b"q=%zz%4", {"q": "%zz%4"}, id="invalid-escape-kept"),
        pytest.param(
            b"a%5Bb%5D%5B%5D=1", {"a": {"b": {"0": "1"}}}, id="encoded-brackets-are-brackets"
        ),
    ],
)
def test_decodes_like_php(body: bytes, expected: dict[str, FormValue]) -> None:
    assert parse_form(body) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            b"connection[host]=db.example.com&connection[port]=5432",
            {"connection": {"host": "db.example.com", "port": "5432"}},
            id="connection",
        ),
        pytest.param(b"select[0]=ID", {"select": {"0": "ID"}}, id="select-list"),
        pytest.param(b"filter[0][LOGIC]=OR", {"filter": {"0": {"LOGIC": "OR"}}}, id="filter-group"),
        pytest.param(
            b"searchString=deal+stages", {"searchString": "deal stages"}, id="plus-as-space"
        ),
    ],
)
def test_reads_protocol_examples(body: bytes, expected: dict[str, FormValue]) -> None:
    assert parse_form(body) == expected


def test_reads_a_portal_data_call() -> None:
    call = {
        "table": "crm_deal",
        "connection": {"host": "db.example.com", "port": 5432, "password": None},
        "select": ["ID", "STAGE_ID"],
        "filter": {
            ">=DATE_CREATE": "01.05.2025 00:00:00",
            0: {"LOGIC": "OR", 0: {"=STAGE_ID": ["WON", "LOST"]}},
            "=CLOSED_AT": False,
        },
        "limit": 20,
        "mapFields": {"stage_id": "STAGE_ID"},
    }

    assert parse_form(http_build_query(call).encode()) == {
        "table": "crm_deal",
        "connection": {"host": "db.example.com", "port": "5432"},
        "select": {"0": "ID", "1": "STAGE_ID"},
        "filter": {
            ">=DATE_CREATE": "01.05.2025 00:00:00",
            "0": {"LOGIC": "OR", "0": {"=STAGE_ID": {"0": "WON", "1": "LOST"}}},
            "=CLOSED_AT": "0",
        },
        "limit": "20",
        "mapFields": {"stage_id": "STAGE_ID"},
    }


def test_reads_cyrillic_and_escaped_separators() -> None:
    body = http_build_query({"connection": {"database": "Продажи", "password": "a&b=c d+e"}})

    assert parse_form(body.encode()) == {
        "connection": {"database": "Продажи", "password": "a&b=c d+e"}
    }


def test_reads_unescaped_utf8_bytes() -> None:
    assert parse_form("name=Сделка&город[0]=Москва".encode()) == {
        "name": "Сделка",
        "город": {"0": "Москва"},
    }


def test_keeps_the_order_of_first_appearance() -> None:
    form = parse_form(b"b=1&a[y]=2&c=3&a[x]=4&b=5&a[y]=6")

    assert list(form) == ["b", "a", "c"]
    assert form["a"] == {"y": "6", "x": "4"}
    assert list(form["a"]) == ["y", "x"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param(b"connection[host]=%FF", "'connection[host]'", id="value-not-utf8"),
        pytest.param(b"table=\xc3", "'table'", id="raw-value-not-utf8"),
        pytest.param(b"conn%FF[host]=x", "'conn\ufffd[host]'", id="name-not-utf8"),
        pytest.param(b"table%00x=1", "'table\\x00x'", id="name-with-nul"),
        pytest.param(b"a" + b"[b]" * 33 + b"=1", "'a[b][b]", id="nested-too-deep"),
        pytest.param(b"a[9223372036854775807]=x&a[]=y", "'a[]'", id="append-after-largest-integer"),
    ],
)
def test_rejects_unreadable_fields_naming_them(body: bytes, field: str) -> None:
    with pytest.raises(FormError, match=re.escape(f"Form field {field}")):
        parse_form(body)


@pytest.mark.parametrize(
    ("depth", "max_depth", "accepted"),
    [
        pytest.param(32, 32, True, id="default-limit-reached"),
        pytest.param(33, 32, False, id="default-limit-exceeded"),
        pytest.param(2, 2, True, id="custom-limit-reached"),
        pytest.param(3, 2, False, id="custom-limit-exceeded"),
        pytest.param(0, 0, True, id="flat-names-need-no-depth"),
    ],
)
def test_limits_nesting_depth(depth: int, max_depth: int, accepted: bool) -> None:
    body = b"a" + b"[]" * depth + b"=1"

    if accepted:
        assert parse_form(body, max_depth=max_depth)
    else:
        with pytest.raises(FormError, match=f"nested {depth} levels deep; at most {max_depth}"):
            parse_form(body, max_depth=max_depth)


@pytest.mark.parametrize(
    ("data", "query"),
    [
        pytest.param({"a": {"b": 1}}, "a%5Bb%5D=1", id="nested-map"),
        pytest.param(
            {"select": ["ID", "TITLE"]}, "select%5B0%5D=ID&select%5B1%5D=TITLE", id="list"
        ),
        pytest.param({"on": True, "off": False, "no": None}, "on=1&off=0", id="bool-and-null"),
        pytest.param({"a": [], "b": {}, "c": [[]]}, "", id="empty-containers"),
        pytest.param({"q": "a b~c*"}, "q=a+b%7Ec%2A", id="urlencode"),
        pytest.param({"name": "Привет"}, "name=%D0%9F%D1%80%D0%B8%D0%B2%D0%B5%D1%82", id="utf8"),
        pytest.param({"a b": {"c d": "e"}}, "a+b%5Bc+d%5D=e", id="encoded-keys"),
        pytest.param(
            {"x": 1.5, "y": 0.1 + 0.2, "z": 1e25, "w": 1.0, "v": 1e-5},
            "x=1.5&y=0.3&z=1.0E%2B25&w=1&v=1.0E-5",
            id="floats",
        ),
        pytest.param(
            {"filter": {0: {"LOGIC": "OR", 0: {"=STAGE": ["WON"]}}}},
            "filter%5B0%5D%5BLOGIC%5D=OR&filter%5B0%5D%5B0%5D%5B%3DSTAGE%5D%5B0%5D=WON",
            id="dimension-filter",
        ),
    ],
)
def test_php_helper_matches_http_build_query(data: dict[str, Any], query: str) -> None:
    assert http_build_query(data) == query


# PHP mangles these in top-level names and reads them as brackets or a NUL-terminated name.
_TOP_KEYS = st.text(st.characters(codec="utf-8", exclude_characters="\0 .["), min_size=1)
# A lone C whitespace character between brackets means "append" to PHP, like "[]".
_NESTED_KEYS = st.text(
    st.characters(codec="utf-8", exclude_characters="\0]"), min_size=1, max_size=8
).filter(lambda key: key not in {" ", "\t", "\n", "\v", "\f", "\r"})
_TREES = st.recursive(
    st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(_NESTED_KEYS, children, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=200, deadline=None, database=None)
@given(st.dictionaries(_TOP_KEYS, _TREES, max_size=4))
def test_reads_back_what_http_build_query_writes(data: dict[str, Any]) -> None:
    form = parse_form(http_build_query(data).encode())

    assert _ordered(form) == _ordered(_as_php_reads_it(data))


def _as_php_reads_it(value: Any) -> Any:
    """Lists become maps keyed by index; empty containers vanish, as PHP emits nothing."""
    if isinstance(value, str):
        return value
    items = value.items() if isinstance(value, dict) else enumerate(value)
    read = {str(key): _as_php_reads_it(item) for key, item in items}
    return {key: item for key, item in read.items() if item != {}}


def _ordered(value: FormValue) -> object:
    if isinstance(value, str):
        return value
    return [(key, _ordered(item)) for key, item in value.items()]
