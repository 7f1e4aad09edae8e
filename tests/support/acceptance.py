"""What a Bitrix24 portal checks before it accepts an answer (PROTOCOL.md).

Each function fails with the reason a portal would reject the answer: an empty (PHP
`empty()`) code or title, a code that breaks the dataset naming rules, a preview whose rows
do not pair with its header, a value the declared type cannot parse.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

TABLE_CODE = re.compile(r"^[a-z][a-z0-9_]*\Z")
FIELD_CODE = re.compile(r"^[A-Z][A-Z0-9_]*\Z")
TYPES = {"int", "string", "double", "date", "datetime"}
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}\Z")
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\Z")
NUMBER_TEXT = re.compile(r"^-?\d+(\.\d+)?\Z")


def php_empty(value: Any) -> bool:
    return value in (None, "", "0", 0, False, [], {})


def check_table_list(items: Any) -> None:
    assert isinstance(items, list)
    for item in items:
        assert not php_empty(item.get("code")), item
        assert not php_empty(item.get("title")), item
        assert TABLE_CODE.match(item["code"]), item
        assert len(item["code"]) < 64, item
    codes = [item["code"] for item in items]
    assert len(codes) == len(set(codes)), "table codes must be unique"


def check_description(fields: Any) -> None:
    assert isinstance(fields, list)
    assert fields, "Bitrix24 refuses an empty description"
    for item in fields:
        for key in ("code", "name", "type"):
            assert not php_empty(item.get(key)), item
        assert FIELD_CODE.match(item["code"]), item
        assert len(item["code"]) <= 32, item
        assert item["type"] in TYPES, item
    codes = [item["code"] for item in fields]
    assert len(codes) == len(set(codes)), "field codes must be unique"


def check_preview(fields: list[dict[str, str]], answer: Any) -> None:
    """The portal pairs the header with each row and reads every described code from it."""
    assert isinstance(answer, list)
    assert answer, "the header must be present"
    header, rows = answer[0], answer[1:]
    assert set(header) >= {field["code"] for field in fields}
    types = {field["code"]: field["type"] for field in fields}
    for row in rows:
        assert isinstance(row, list)
        assert len(row) == len(header), "array_combine fails when the lengths differ"
        for code, value in zip(header, row, strict=True):
            check_value(types[code], value)


def check_value(type_name: str, value: Any) -> None:
    if value is None:
        return
    if type_name == "int":
        # Integers beyond PHP's range travel as strings of digits (README).
        assert (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, str) and re.fullmatch(r"-?\d+", value)
        ), value
    elif type_name == "double":
        assert isinstance(value, int | float) or NUMBER_TEXT.match(value), value
    elif type_name == "date":
        assert DATE.match(str(value)), value
        date.fromisoformat(value)  # a day that exists
    elif type_name == "datetime":
        assert DATETIME.match(str(value)), value
        datetime.fromisoformat(value)
    else:
        assert isinstance(value, str), value
