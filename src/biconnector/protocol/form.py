"""Form bodies decoded into the nested maps PHP builds for ``$_POST``.

Bitrix24 encodes every call with PHP's ``http_build_query``, so field names carry PHP's
bracket notation (``filter[0][LOGIC]=OR``). Reading them as PHP does keeps our view of a
request identical to the portal's.
"""

from __future__ import annotations

import re
from typing import TypeAlias
from urllib.parse import unquote_to_bytes

__all__ = ["FormError", "FormValue", "parse_form"]

FormValue: TypeAlias = str | dict[str, "FormValue"]

_PHP_INT_MIN, _PHP_INT_MAX = -(2**63), 2**63 - 1
# Keys PHP stores as integers: 64-bit, no sign "+", no leading zeros, and not "-0".
_INTEGER_KEY = re.compile(r"-?[1-9][0-9]{0,18}|0")
# PHP skips one C-locale whitespace character after "[", so "a[ ]" appends like "a[]".
_C_WHITESPACE = frozenset(" \t\n\v\f\r")
_NAME_MANGLING = str.maketrans(" .[", "___")


class FormError(ValueError):
    """A form body that cannot be decoded; the message names the offending field."""


def parse_form(body: bytes, *, max_depth: int = 32) -> dict[str, FormValue]:
    """Decode an ``application/x-www-form-urlencoded`` body as PHP fills ``$_POST``."""
    root = _PhpArray()
    for pair in body.split(b"&"):
        if not pair:
            continue
        name, value = _decode_pair(pair)
        path = _key_path(name)
        if path is None:
            continue
        top, keys = path
        if len(keys) > max_depth:
            raise FormError(
                f"Form field {_shown(name)} is nested {len(keys)} levels deep; "
                f"at most {max_depth} levels are accepted."
            )
        _insert(root, top, keys, value, name)
    return _plain(root)


class _PhpArray(dict[str, FormValue]):
    """A PHP array being built: a dict that knows the key ``[]`` appends at."""

    __slots__ = ("_largest_index",)

    def __init__(self) -> None:
        super().__init__()
        self._largest_index: int | None = None

    def next_key(self, field: str) -> str:
        """One past the largest integer key so far, or 0: PHP's next free element."""
        if self._largest_index is None:
            return "0"
        if self._largest_index == _PHP_INT_MAX:
            raise FormError(
                f"Form field {_shown(field)} appends with [] after the largest possible "
                "integer key; give the element an explicit key."
            )
        return str(self._largest_index + 1)

    def store(self, key: str, value: FormValue) -> None:
        index = _integer_key(key)
        if index is not None and (self._largest_index is None or index > self._largest_index):
            self._largest_index = index
        self[key] = value


def _decode_pair(pair: bytes) -> tuple[str, str]:
    raw_name, _, raw_value = pair.partition(b"=")
    name, value = _unquote(raw_name), _unquote(raw_value)
    try:
        return name.decode(), value.decode()
    except UnicodeDecodeError as exc:
        shown = _shown(name.decode(errors="replace"))
        raise FormError(
            f"Form field {shown} is not valid UTF-8; send the body encoded as UTF-8."
        ) from exc


def _unquote(raw: bytes) -> bytes:
    # Like PHP's urldecode, a "%" not followed by two hex digits stays as it is.
    return unquote_to_bytes(raw.replace(b"+", b" "))


def _key_path(name: str) -> tuple[str, list[str | None]] | None:
    """Split ``a[b][]`` into ``"a"`` and ``["b", None]``, None meaning append.

    Returns None for a name PHP discards because nothing is left before the first "[".
    """
    if "\0" in name:
        raise FormError(f"Form field {_shown(name)} contains a NUL character; remove it.")
    name = name.lstrip(" ")
    bracket = name.find("[")
    if not name or bracket == 0:
        return None
    if bracket < 0 or name.find("]", bracket) < 0:
        # A first "[" that is never closed opens no key: PHP keeps it in a flat, mangled name.
        return name.translate(_NAME_MANGLING), []
    return name[:bracket].translate(_NAME_MANGLING), _bracket_keys(name, bracket + 1)


def _bracket_keys(name: str, start: int) -> list[str | None]:
    """Read the bracketed keys of ``name``; ``start`` is just past its first "["."""
    keys: list[str | None] = []
    while True:
        first = start + 1 if name[start : start + 1] in _C_WHITESPACE else start
        close = name.find("]", first)
        if close < 0:
            # PHP drops an unclosed "[" that follows a complete key.
            return keys
        keys.append(None if close == first else name[start:close])
        if name[close + 1 : close + 2] != "[":
            # PHP ignores whatever follows a "]" unless it opens another key.
            return keys
        start = close + 2


def _insert(root: _PhpArray, top: str, keys: list[str | None], value: str, field: str) -> None:
    array, key = root, top
    for next_key in keys:
        array = _child_array(array, key)
        key = array.next_key(field) if next_key is None else next_key
    array.store(key, value)


def _child_array(array: _PhpArray, key: str) -> _PhpArray:
    """The array under ``key``, replacing a scalar there as PHP does."""
    existing = array.get(key)
    if isinstance(existing, _PhpArray):
        return existing
    child = _PhpArray()
    array.store(key, child)
    return child


def _integer_key(key: str) -> int | None:
    if not _INTEGER_KEY.fullmatch(key):
        return None
    number = int(key)
    return number if _PHP_INT_MIN <= number <= _PHP_INT_MAX else None


def _plain(array: _PhpArray) -> dict[str, FormValue]:
    return {
        key: _plain(value) if isinstance(value, _PhpArray) else value
        for key, value in array.items()
    }


def _shown(name: str) -> str:
    return repr(name if len(name) <= 80 else f"{name[:77]}...")
