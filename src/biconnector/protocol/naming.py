"""Codes Bitrix24 accepts, derived from any real table or column name.

Bitrix24 turns a table code into a dataset name and a field code into a dataset field name, and
refuses both unless they follow its rules: a table code is ``[a-z][a-z0-9_]*`` and shorter than
64 characters, a field code is ``[A-Z][A-Z0-9_]*`` and at most 32 characters (PROTOCOL.md,
table_list and table_description). Real names are mapped to codes like this:

- A name that already is a valid code keeps it: ``orders``, ``order__items``, ``ID``,
  ``ORDER_ID``. For a table this holds only in the default schema.
- Otherwise CamelCase is split on the original text, before transliteration, so that
  ``InvoiceLine`` gives ``invoice_line``, ``HTTPServer`` gives ``http_server`` and
  ``ИмяКлиента`` gives ``imya_klienta`` while an all-capitals word such as ``ЩИТ`` stays one
  word. The text is then transliterated to ASCII with ``anyascii``, each run of anything but
  ASCII letters and digits becomes one ``_`` and the result is lower-cased for tables,
  upper-cased for fields.
- A table outside the default schema (``None`` for MySQL, usually ``public`` for PostgreSQL) is
  coded ``schema__name``.
- A code that would start with a digit or ``_`` gets the prefix ``t_`` (tables) or ``F_``
  (fields); a name with nothing left after transliteration (``!!!``) becomes that prefix and a
  short hash of the name.
- A code that is too long is cut and ends with ``_`` and a short hash of the real name.

Hashes are the first hex digits of BLAKE2b over the UTF-8 real name; for a table's length and
collision suffixes, over its schema and name together (as a JSON pair, so that no two tables
share the input). They are the same on every call and every replica.

When several real names give the same code, the code goes to the best of them: first the name
that is exactly the code, then a name that differs from it only in ASCII case (``created_at``
for ``CREATED_AT``), then the others in code-point order of their real names (schema first,
then name). Every other contender gets ``_`` and a hash of its own real name; if such a code
still clashes with another, its hash is lengthened until all codes differ. Codes therefore
depend on the set of real names only, never on their order.

As a consequence, adding a column never renames an existing one, unless the new column derives
the same code and ranks before the column that held it: it is exactly the code, a case-only
variant of it, or sorts first. The former holder then moves to its suffixed code. (A new column
whose name is literally another column's suffixed code would also push that one to a longer
hash; the odds of meeting this by accident are negligible.)
"""

import hashlib
import json
import re
from collections import Counter
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from anyascii import anyascii

TABLE_CODE_MAX = 63
FIELD_CODE_MAX = 32
# \Z rather than $: "$" would also accept a name ending in a newline.
TABLE_CODE_RE = re.compile(r"^[a-z][a-z0-9_]*\Z")
FIELD_CODE_RE = re.compile(r"^[A-Z][A-Z0-9_]*\Z")

_HASH_LENGTH = 6
_NOT_ALPHANUMERIC = re.compile(r"[^A-Za-z0-9]+")

_Key = TypeVar("_Key", bound=Hashable)


@dataclass(frozen=True)
class TableName:
    """A table as the database names it; ``schema`` is None for MySQL (one database)."""

    schema: str | None
    name: str


@dataclass(frozen=True)
class _Style:
    """How codes of one kind are spelled."""

    pattern: re.Pattern[str]
    prefix: str
    max_length: int
    upper: bool

    def case(self, text: str) -> str:
        return text.upper() if self.upper else text.lower()


_TABLE = _Style(TABLE_CODE_RE, "t_", TABLE_CODE_MAX, upper=False)
_FIELD = _Style(FIELD_CODE_RE, "F_", FIELD_CODE_MAX, upper=True)


@dataclass(frozen=True)
class _Claim(Generic[_Key]):
    """One real name's claim on a code, and what decides whether it gets it."""

    key: _Key
    code: str
    rank: tuple[int, tuple[str, ...]]
    source: str  # the real name as hashed for suffixes


def table_codes(
    tables: Iterable[TableName], default_schema: str | None = None
) -> dict[TableName, str]:
    """Map each table to a valid, unique table code; tables come back in input order."""
    claims = [_table_claim(table, default_schema) for table in dict.fromkeys(tables)]
    return _settle(claims, _TABLE)


def field_codes(columns: Iterable[str]) -> dict[str, str]:
    """Map each column name to a valid field code, unique within the given columns."""
    claims = [_field_claim(column) for column in dict.fromkeys(columns)]
    return _settle(claims, _FIELD)


def display_name(real: str, fallback: str) -> str:
    """Return ``real``, or ``fallback`` where Bitrix24 would take ``real`` for empty.

    Bitrix24 checks titles and names with PHP's ``empty()``, which rejects "" and "0".
    """
    if not real.strip() or real == "0":
        return fallback
    return real


def _table_claim(table: TableName, default_schema: str | None) -> _Claim[TableName]:
    source = json.dumps([table.schema, table.name], ensure_ascii=False)
    order = (table.name,) if table.schema is None else (table.schema, table.name)
    if table.schema is None or table.schema == default_schema:
        code = _finish(_part(table.name, _TABLE), source, _TABLE)
        return _Claim(table, code, (_rank(table.name, code), order), source)

    qualified = f"{_part(table.schema, _TABLE)}__{_part(table.name, _TABLE)}"
    code = _finish(qualified, source, _TABLE)
    return _Claim(table, code, (_rank(None, code), order), source)


def _field_claim(column: str) -> _Claim[str]:
    code = _finish(_part(column, _FIELD), column, _FIELD)
    return _Claim(column, code, (_rank(column, code), (column,)), column)


def _rank(spelling: str | None, code: str) -> int:
    """Rank a claim on ``code``: 0 is the exact code, 1 a case variant, 2 anything else."""
    if spelling == code:
        return 0
    if spelling is not None and spelling.isascii() and spelling.lower() == code.lower():
        return 1
    return 2


def _part(text: str, style: _Style) -> str:
    """Derive a code from one name, or from a hash of it when nothing would be left."""
    if style.pattern.match(text):
        return text
    derived = style.case(_derive(text))
    return derived or style.prefix + style.case(_digest(text, _HASH_LENGTH))


def _finish(code: str, source: str, style: _Style) -> str:
    """Make a non-empty derived code start with a letter and fit the maximum length."""
    if not code[0].isalpha():
        code = style.prefix + code
    if len(code) > style.max_length:
        code = _suffixed(code, source, _HASH_LENGTH, style)
    return code


def _derive(text: str) -> str:
    """Split CamelCase, transliterate to ASCII and join the words with single underscores."""
    ascii_text = anyascii(_split_camel_case(text))
    return _NOT_ALPHANUMERIC.sub("_", ascii_text).strip("_")


def _split_camel_case(text: str) -> str:
    """Put a space before each CamelCase word, judged on the original letters."""
    return "".join(
        " " + char if index and _starts_word(text, index) else char
        for index, char in enumerate(text)
    )


def _starts_word(text: str, index: int) -> bool:
    before, char, after = text[index - 1], text[index], text[index + 1 : index + 2]
    if not char.isupper():
        return False
    return before.islower() or before.isdigit() or (before.isupper() and after.islower())


def _digest(text: str, length: int) -> str:
    # surrogatepass keeps the encoding one-to-one even for text no database would hold.
    data = text.encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, digest_size=32).hexdigest()[:length]


def _suffixed(code: str, source: str, length: int, style: _Style) -> str:
    """Cut ``code`` so that ``_`` and a hash of ``source`` fit, and append them."""
    head = code[: style.max_length - length - 1].rstrip("_")
    return f"{head}_{style.case(_digest(source, length))}"


def _settle(claims: list[_Claim[_Key]], style: _Style) -> dict[_Key, str]:
    """Give each code to its best-ranked claimant and a suffixed code to every other one."""
    codes: dict[_Key, str] = {}
    taken: set[str] = set()
    losers: list[_Claim[_Key]] = []
    for claim in sorted(claims, key=lambda item: item.rank):
        if claim.code in taken:
            losers.append(claim)
        else:
            codes[claim.key] = claim.code
            taken.add(claim.code)

    codes.update(_suffix_losers(losers, taken, style))
    return {claim.key: codes[claim.key] for claim in claims}


def _suffix_losers(losers: list[_Claim[_Key]], taken: set[str], style: _Style) -> dict[_Key, str]:
    """Suffix each loser with its own hash, lengthening hashes until no code is shared."""
    lengths = dict.fromkeys((loser.key for loser in losers), _HASH_LENGTH)
    while True:
        codes = {
            loser.key: _suffixed(loser.code, loser.source, lengths[loser.key], style)
            for loser in losers
        }
        counts = Counter(codes.values())
        clashing = [key for key, code in codes.items() if code in taken or counts[code] > 1]
        if not clashing:
            return codes
        for key in clashing:
            lengths[key] += 1
            if lengths[key] > style.max_length - 2:
                raise RuntimeError("BLAKE2b prefixes collided; no unique code can be made")
