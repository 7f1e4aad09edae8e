"""PHP's ``http_build_query``, for building the bodies Bitrix24 really sends."""

from __future__ import annotations

import string
from collections.abc import Iterator, Mapping
from typing import Any

# PHP's urlencode leaves only these bytes alone; unlike Python's quote it encodes "~".
_UNRESERVED = frozenset((string.ascii_letters + string.digits + "_.-").encode())


def http_build_query(data: Mapping[str, Any]) -> str:
    """Encode ``data`` as PHP's ``http_build_query`` does with its default settings."""
    return "&".join(_fields(data, prefix=None))


def urlencode(text: str) -> str:
    """PHP's ``urlencode``: spaces become "+", every other reserved byte ``%XX``."""
    return "".join(_encoded_byte(byte) for byte in text.encode())


def _fields(
    data: Mapping[Any, Any] | list[Any] | tuple[Any, ...], prefix: str | None
) -> Iterator[str]:
    items = data.items() if isinstance(data, Mapping) else enumerate(data)
    for key, value in items:
        name = urlencode(str(key))
        if prefix is not None:
            name = f"{prefix}%5B{name}%5D"
        if isinstance(value, Mapping | list | tuple):
            yield from _fields(value, name)
        elif value is not None:
            yield f"{name}={_scalar(value)}"


def _scalar(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return urlencode(_php_float(value))
    if isinstance(value, str):
        return urlencode(value)
    raise TypeError(f"http_build_query cannot encode {type(value).__name__}")


def _php_float(number: float) -> str:
    # PHP turns a float into a string with 14 significant digits (the `precision` setting),
    # and writes exponents as "1.0E+25" where Python writes "1E+25".
    text = format(number, ".14G")
    mantissa, exponent_mark, exponent = text.partition("E")
    if not exponent_mark:
        return text
    if "." not in mantissa:
        mantissa += ".0"
    return f"{mantissa}E{exponent[0]}{int(exponent[1:])}"


def _encoded_byte(byte: int) -> str:
    if byte in _UNRESERVED:
        return chr(byte)
    if byte == ord(" "):
        return "+"
    return f"%{byte:02X}"
