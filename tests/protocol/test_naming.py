import itertools
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from biconnector.protocol.naming import (
    FIELD_CODE_MAX,
    FIELD_CODE_RE,
    TABLE_CODE_MAX,
    TABLE_CODE_RE,
    TableName,
    display_name,
    field_codes,
    table_codes,
)

# No deadline: the first call into anyascii loads its tables and may be slow.
PROPERTY = settings(max_examples=300, deadline=None)

FIELD_HASH_RE = re.compile(r"^F_[0-9A-F]{6}$")
TABLE_HASH_RE = re.compile(r"^t_[0-9a-f]{6}$")
CREATED_AT_VARIANTS = ["created_at", "CreatedAt", "Created At", "CREATED_AT"]

# Names that collide with one another, mixed into generated text to make collisions common.
CLASHING = st.sampled_from(["a", "A", "a b", "a-b", "A_B", "a_b", "AB", "aB", "!", "", "1"])
NAMES = CLASHING | st.text(max_size=12)
SCHEMAS = st.none() | st.sampled_from(["public", "sales", "Sales", "a", ""]) | st.text(max_size=80)
TABLE_NAMES = st.builds(TableName, SCHEMAS, NAMES | st.text(max_size=80))


def field_code(name: str) -> str:
    return field_codes([name])[name]


def table_code(name: str, schema: str | None = None, default_schema: str | None = None) -> str:
    table = TableName(schema, name)
    return table_codes([table], default_schema)[table]


def assert_valid_fields(codes: dict[str, str]) -> None:
    for code in codes.values():
        assert FIELD_CODE_RE.match(code), code
        assert len(code) <= FIELD_CODE_MAX, code
    assert len(set(codes.values())) == len(codes)


def assert_valid_tables(codes: dict[TableName, str]) -> None:
    for code in codes.values():
        assert TABLE_CODE_RE.match(code), code
        assert len(code) <= TABLE_CODE_MAX, code
    assert len(set(codes.values())) == len(codes)


@pytest.mark.parametrize(
    ("real", "code"),
    [
        pytest.param("InvoiceLine", "INVOICE_LINE", id="camel-case"),
        pytest.param("HTTPServer", "HTTP_SERVER", id="acronym-then-word"),
        pytest.param("userID", "USER_ID", id="word-then-acronym"),
        pytest.param("ID2Name", "ID2_NAME", id="digit-then-capital"),
        pytest.param("first name", "FIRST_NAME", id="space"),
        pytest.param("  padded  ", "PADDED", id="outer-spaces-dropped"),
        pytest.param("order-items", "ORDER_ITEMS", id="hyphen"),
        pytest.param("a -- b", "A_B", id="separator-run-becomes-one-underscore"),
        pytest.param("__private", "PRIVATE", id="leading-underscores-dropped"),
        pytest.param("Имя", "IMYA", id="cyrillic"),
        pytest.param("ИмяКлиента", "IMYA_KLIENTA", id="cyrillic-camel-case"),
        pytest.param("ЩИТ", "SHCHIT", id="cyrillic-capitals-stay-one-word"),
        pytest.param("Café Crème", "CAFE_CREME", id="accents"),
        pytest.param("Straße", "STRASSE", id="sharp-s"),
        pytest.param("订单", "DINGDAN", id="chinese-pinyin"),
        pytest.param("😀", "GRINNING", id="emoji-named-by-anyascii"),
        pytest.param("1st", "F_1ST", id="leading-digit"),
        pytest.param("0", "F_0", id="zero"),
        pytest.param("select", "SELECT", id="reserved-word"),
    ],
)
def test_field_code_is_derived_from_the_real_name(real: str, code: str) -> None:
    assert field_code(real) == code


@pytest.mark.parametrize(
    ("real", "code"),
    [
        pytest.param("InvoiceLine", "invoice_line", id="camel-case"),
        pytest.param("HTTPServer", "http_server", id="acronym-then-word"),
        pytest.param("Users", "users", id="capitalised"),
        pytest.param("order-items", "order_items", id="hyphen"),
        pytest.param("sales 2024", "sales_2024", id="space"),
        pytest.param("Заказы", "zakazy", id="cyrillic"),
        pytest.param("Café Crème", "cafe_creme", id="accents"),
        pytest.param("Straße", "strasse", id="sharp-s"),
        pytest.param("订单 明细", "dingdan_mingxi", id="chinese-pinyin"),
        pytest.param("2024_sales", "t_2024_sales", id="leading-digit"),
    ],
)
def test_table_code_is_derived_from_the_real_name(real: str, code: str) -> None:
    assert table_code(real) == code


@pytest.mark.parametrize(
    "real", ["ID", "ORDER_ID", "A", "X1", "A__B", "SELECT", "FROM", "ORDER", "A" * 32]
)
def test_valid_field_code_is_kept(real: str) -> None:
    assert field_code(real) == real


@pytest.mark.parametrize(
    "real", ["orders", "order__items", "select", "from", "order", "t_", "a" * TABLE_CODE_MAX]
)
def test_valid_table_code_is_kept(real: str) -> None:
    assert table_code(real) == real


@pytest.mark.parametrize(
    "real",
    [
        pytest.param("", id="empty"),
        pytest.param("!!!", id="punctuation"),
        pytest.param("___", id="underscores"),
        pytest.param("   ", id="spaces"),
        pytest.param("\ue000", id="unmapped-private-use"),
    ],
)
def test_name_without_letters_or_digits_gets_a_hashed_code(real: str) -> None:
    assert FIELD_HASH_RE.match(field_code(real))
    assert TABLE_HASH_RE.match(table_code(real))


def test_names_without_letters_get_distinct_codes() -> None:
    codes = field_codes(["", "!!!", "___", "?"])

    assert_valid_fields(codes)


@pytest.mark.parametrize("real", ["🎉🎉", "🇩🇪", "💩 !"])
def test_emoji_name_gets_a_valid_code(real: str) -> None:
    assert FIELD_CODE_RE.match(field_code(real))
    assert TABLE_CODE_RE.match(table_code(real))


@pytest.mark.parametrize(
    "real",
    [
        pytest.param("a" * 33, id="just-too-long"),
        pytest.param("Очень длинное название столбца таблицы", id="cyrillic"),
        pytest.param("x" * 500, id="very-long"),
    ],
)
def test_long_field_name_is_cut_and_hashed(real: str) -> None:
    code = field_code(real)

    assert len(code) <= FIELD_CODE_MAX
    assert FIELD_CODE_RE.match(code)
    assert re.search(r"_[0-9A-F]{6}$", code)
    assert code == field_code(real)


@pytest.mark.parametrize(
    "real", ["a" * 64, "Very long table name " * 5, "ж" * 64, "order" + "_" * 60 + "x"]
)
def test_long_table_name_is_cut_and_hashed(real: str) -> None:
    code = table_code(real)

    assert len(code) <= TABLE_CODE_MAX
    assert TABLE_CODE_RE.match(code)
    assert re.search(r"[^_]_[0-9a-f]{6}$", code)
    assert code == table_code(real)


def test_long_names_sharing_a_prefix_get_distinct_codes() -> None:
    prefix = "customer_lifetime_value_projection_"
    fields = field_codes([prefix + "low", prefix + "high"])
    tables = table_codes(
        [TableName(None, prefix * 2 + "low"), TableName(None, prefix * 2 + "high")]
    )

    assert_valid_fields(fields)
    assert_valid_tables(tables)


def test_code_of_a_qualified_table_fits_under_64_characters() -> None:
    table = TableName("s" * 40, "t" * 40)
    code = table_codes([table], "public")[table]

    assert len(code) <= TABLE_CODE_MAX
    assert TABLE_CODE_RE.match(code)


def test_exact_owner_keeps_the_code_among_colliding_columns() -> None:
    codes = field_codes(CREATED_AT_VARIANTS)

    assert codes["CREATED_AT"] == "CREATED_AT"
    assert all(
        re.match(r"^CREATED_AT_[0-9A-F]{6}$", codes[name]) for name in codes.keys() - {"CREATED_AT"}
    )
    assert_valid_fields(codes)


def test_case_variant_owns_the_code_when_the_exact_name_is_absent() -> None:
    codes = field_codes(["CreatedAt", "Created At", "created_at"])

    assert codes["created_at"] == "CREATED_AT"


def test_first_real_name_owns_the_code_when_no_name_matches_it() -> None:
    codes = field_codes(["CreatedAt", "Created At"])

    assert codes["Created At"] == "CREATED_AT"  # " " sorts before "A"
    assert codes["CreatedAt"].startswith("CREATED_AT_")


def test_table_variants_differing_in_case_get_distinct_codes() -> None:
    tables = [TableName(None, name) for name in ["Users", "users", "USERS"]]
    codes = table_codes(tables)

    assert codes[TableName(None, "users")] == "users"
    assert_valid_tables(codes)


@pytest.mark.parametrize(
    "names",
    [
        pytest.param(tuple(permutation), id=",".join(permutation))
        for permutation in itertools.permutations(
            ["created_at", "CreatedAt", "Created At", "created-at"]
        )
    ],
)
def test_field_codes_do_not_depend_on_column_order(names: tuple[str, ...]) -> None:
    assert field_codes(names) == field_codes(sorted(names))


@PROPERTY
@given(st.lists(NAMES, unique=True).flatmap(st.permutations))
def test_field_codes_of_a_set_of_names_are_the_same_in_any_order(names: list[str]) -> None:
    assert field_codes(names) == field_codes(sorted(names))


@PROPERTY
@given(st.lists(TABLE_NAMES, unique=True).flatmap(st.permutations))
def test_table_codes_of_a_set_of_tables_are_the_same_in_any_order(
    tables: list[TableName],
) -> None:
    reordered = sorted(tables, key=repr)

    assert table_codes(tables, "public") == table_codes(reordered, "public")
    assert table_codes(tables) == table_codes(reordered)


def test_adding_an_unrelated_column_renames_nothing() -> None:
    before = field_codes(CREATED_AT_VARIANTS)
    after = field_codes([*CREATED_AT_VARIANTS, "updated_at"])

    assert {name: after[name] for name in before} == before


def test_adding_a_colliding_column_that_ranks_last_renames_nothing() -> None:
    before = field_codes(["created_at", "Created At"])
    after = field_codes(["created_at", "Created At", "CreatedAt"])

    assert {name: after[name] for name in before} == before
    assert after["CreatedAt"].startswith("CREATED_AT_")


def test_adding_the_exact_code_moves_its_former_holder_to_a_suffixed_code() -> None:
    before = field_codes(["created_at", "Created At"])
    after = field_codes(["created_at", "Created At", "CREATED_AT"])

    assert before["created_at"] == "CREATED_AT"
    assert after["CREATED_AT"] == "CREATED_AT"
    assert after["created_at"] == field_codes(["created_at", "CREATED_AT"])["created_at"]
    assert after["Created At"] == before["Created At"]


@PROPERTY
@given(st.lists(NAMES, unique=True), NAMES)
def test_a_new_column_renames_at_most_the_holder_of_its_code(existing: list[str], new: str) -> None:
    before = field_codes(existing)
    after = field_codes([*existing, new])

    renamed = [name for name in before if name != new and after[name] != before[name]]
    assert len(renamed) <= 1
    assert all(after[new] == before[name] for name in renamed)


def test_suffixed_code_never_takes_the_code_of_a_real_column() -> None:
    suffixed = field_codes(["A", "a"])["a"]
    codes = field_codes(["A", "a", suffixed])

    assert codes[suffixed] == suffixed
    assert re.match(r"^A_[0-9A-F]{7}$", codes["a"])


def test_suffixes_that_clash_are_lengthened_until_unique() -> None:
    # Two names whose hashes share their first six hex digits (found by search).
    first, second = "created" + "-" * 1775 + "at", "created" + "-" * 2233 + "at"
    codes = field_codes(["CREATED_AT", first, second])

    assert re.match(r"^CREATED_AT_[0-9A-F]{7}$", codes[first])
    assert re.match(r"^CREATED_AT_[0-9A-F]{7}$", codes[second])
    assert_valid_fields(codes)


@pytest.mark.parametrize(
    ("table", "default_schema", "code"),
    [
        pytest.param(TableName("public", "orders"), "public", "orders", id="default-schema"),
        pytest.param(TableName("sales", "orders"), "public", "sales__orders", id="other-schema"),
        pytest.param(
            TableName("Sales", "OrderItems"), "public", "sales__order_items", id="derived-parts"
        ),
        pytest.param(TableName("2024", "orders"), "public", "t_2024__orders", id="digit-schema"),
        pytest.param(
            TableName("public", "orders"), "sales", "public__orders", id="configured-schema"
        ),
        pytest.param(TableName(None, "orders"), None, "orders", id="mysql"),
        pytest.param(
            TableName("shop", "orders"), None, "shop__orders", id="schema-without-default"
        ),
    ],
)
def test_schema_appears_in_codes_outside_the_default_schema(
    table: TableName, default_schema: str | None, code: str
) -> None:
    assert table_codes([table], default_schema)[table] == code


def test_qualified_table_does_not_take_the_code_of_a_default_schema_table() -> None:
    tables = [TableName("sales", "orders"), TableName("public", "sales__orders")]
    codes = table_codes(tables, "public")

    assert codes[TableName("public", "sales__orders")] == "sales__orders"
    assert codes[TableName("sales", "orders")].startswith("sales__orders_")


def test_same_name_in_two_schemas_gets_two_codes() -> None:
    tables = [
        TableName("public", "orders"),
        TableName("sales", "orders"),
        TableName("hr", "orders"),
    ]

    assert table_codes(tables, "public") == {
        tables[0]: "orders",
        tables[1]: "sales__orders",
        tables[2]: "hr__orders",
    }


def test_codes_come_back_in_input_order() -> None:
    names = ["b", "A", "a", "c"]

    assert list(field_codes(names)) == names


@PROPERTY
@given(st.lists(NAMES | st.text(), unique=True))
def test_any_column_names_get_valid_unique_field_codes(names: list[str]) -> None:
    codes = field_codes(names)

    assert list(codes) == names
    assert_valid_fields(codes)


@PROPERTY
@given(st.lists(TABLE_NAMES, unique=True), st.none() | st.just("public"))
def test_any_tables_get_valid_unique_table_codes(
    names: list[TableName], default_schema: str | None
) -> None:
    codes = table_codes(names, default_schema)

    assert list(codes) == names
    assert_valid_tables(codes)


@pytest.mark.parametrize(
    ("real", "shown"),
    [
        pytest.param("Orders", "Orders", id="ordinary"),
        pytest.param("0", "fallback", id="zero"),
        pytest.param("", "fallback", id="empty"),
        pytest.param(" \t", "fallback", id="whitespace"),
        pytest.param("00", "00", id="double-zero"),
        pytest.param(" 0 ", " 0 ", id="padded-zero"),
    ],
)
def test_display_name_replaces_what_bitrix24_takes_for_empty(real: str, shown: str) -> None:
    assert display_name(real, "fallback") == shown
