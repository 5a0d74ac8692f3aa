from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.errors import DomainError
from app.domain.letters import (
    DEFAULT_PATTERN,
    ROMAN_MONTHS,
    format_letter_number,
    to_roman_month,
    validate_number_pattern,
)

ISSUED = date(2026, 11, 23)


def number(pattern: str = DEFAULT_PATTERN, **overrides: object) -> str:
    fields: dict = {"classification": "470", "seq": 12, "village_code": "HNR", "issued": ISSUED}
    fields.update(overrides)
    return format_letter_number(pattern, **fields)


def test_roman_months_run_from_i_to_xii() -> None:
    assert ROMAN_MONTHS == ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII")


@pytest.mark.parametrize(("month", "roman"), [(1, "I"), (4, "IV"), (9, "IX"), (11, "XI"), (12, "XII")])
def test_to_roman_month_gives_the_roman_numeral(month: int, roman: str) -> None:
    assert to_roman_month(month) == roman


@pytest.mark.parametrize("month", [0, 13, -1])
def test_to_roman_month_refuses_a_month_that_does_not_exist(month: int) -> None:
    with pytest.raises(ValueError, match="month"):
        to_roman_month(month)


def test_the_default_pattern_gives_the_usual_village_letter_number() -> None:
    assert number() == "470/012/HNR/XI/2026"


@pytest.mark.parametrize(
    ("seq", "shown"), [(1, "001"), (99, "099"), (999, "999"), (1000, "1000"), (12345, "12345")]
)
def test_the_sequence_number_is_padded_to_three_digits(seq: int, shown: str) -> None:
    assert number("{nomor}", seq=seq) == shown


def test_a_sequence_number_below_one_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="start at 1"):
        number(seq=0)


def test_the_month_and_year_come_from_the_issue_date() -> None:
    assert number(issued=date(2027, 1, 2)) == "470/012/HNR/I/2027"


def test_codes_are_stripped_of_surrounding_spaces() -> None:
    assert number(classification=" 474.1 ", village_code=" HNR ") == "474.1/012/HNR/XI/2026"


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("{nomor}/{kode_desa}/{tahun}", "012/HNR/2026"),
        ("SK-{nomor}", "SK-012"),
        ("{klasifikasi}.{nomor} - {bulan}.{tahun}", "470.012 - XI.2026"),
        ("{nomor}/{nomor}", "012/012"),
    ],
)
def test_custom_patterns_may_use_any_of_the_five_placeholders(pattern: str, expected: str) -> None:
    validate_number_pattern(pattern)
    assert number(pattern) == expected


def test_a_pattern_without_the_village_code_does_not_need_one() -> None:
    assert number("{klasifikasi}/{nomor}", village_code="") == "470/012"


def test_a_missing_classification_is_refused_when_the_pattern_uses_it() -> None:
    with pytest.raises(DomainError, match="klasifikasi"):
        number(classification="  ")


def test_a_missing_village_code_is_refused_when_the_pattern_uses_it() -> None:
    with pytest.raises(DomainError, match="Kode desa"):
        number(village_code="")


def test_values_that_look_like_placeholders_are_not_expanded() -> None:
    assert number("{kode_desa}-{nomor}", village_code="{nomor}") == "{nomor}-012"


def test_a_pattern_without_nomor_is_refused() -> None:
    with pytest.raises(DomainError) as caught:
        validate_number_pattern("{klasifikasi}/{kode_desa}/{tahun}")
    assert "{nomor}" in caught.value.message
    assert caught.value.params == {"example": DEFAULT_PATTERN}


@pytest.mark.parametrize("pattern", ["", "   "])
def test_an_empty_pattern_is_refused(pattern: str) -> None:
    with pytest.raises(DomainError, match="belum diisi"):
        validate_number_pattern(pattern)


@pytest.mark.parametrize(
    ("pattern", "field"),
    [
        ("{nomer}/{tahun}", "{nomer}"),
        ("{nomor}/{desa}", "{desa}"),
        ("{nomor}/{ tahun }", "{ tahun }"),
        ("{nomor}/{Tahun}", "{Tahun}"),
        ("{nomor}/{}", "{}"),
        ("{nomor}/{0}", "{0}"),
        ("{nomor.__class__}", "{nomor.__class__}"),
        ("{nomor:05d}", "{nomor:05d}"),
    ],
)
def test_unknown_placeholders_are_refused_by_name(pattern: str, field: str) -> None:
    with pytest.raises(DomainError) as caught:
        validate_number_pattern(pattern)
    assert caught.value.params["field"] == field
    assert "{nomor}" in caught.value.params["known"]
    assert str(caught.value)


@pytest.mark.parametrize(
    "pattern", ["{nomor}/{tahun", "{nomor}}", "{{nomor}}", "nomor}/{nomor}", "{nomor}/{"]
)
def test_unbalanced_braces_are_refused(pattern: str) -> None:
    with pytest.raises(DomainError, match="Kurung kurawal"):
        validate_number_pattern(pattern)


def test_the_default_pattern_is_valid() -> None:
    validate_number_pattern(DEFAULT_PATTERN)


@given(
    seq=st.integers(1, 99_999),
    issued=st.dates(min_value=date(2000, 1, 1), max_value=date(2999, 12, 31)),
    classification=st.from_regex(r"[0-9]{3}(\.[0-9]{1,2})?", fullmatch=True),
    village_code=st.from_regex(r"[A-Z]{2,5}", fullmatch=True),
)
def test_the_default_pattern_puts_each_part_in_its_place(
    seq: int, issued: date, classification: str, village_code: str
) -> None:
    result = format_letter_number(
        DEFAULT_PATTERN, classification=classification, seq=seq, village_code=village_code, issued=issued
    )
    parts = result.split("/")
    assert parts[0] == classification
    assert int(parts[1]) == seq
    assert len(parts[1]) >= 3
    assert parts[2:] == [village_code, ROMAN_MONTHS[issued.month - 1], str(issued.year)]


@given(st.text(alphabet="{}/-.nomrtahu_ ", max_size=25))
def test_any_pattern_is_either_valid_or_refused_with_a_domain_error(pattern: str) -> None:
    try:
        validate_number_pattern(pattern)
    except DomainError as error:
        assert str(error)
        return
    result = number(pattern)
    assert "012" in result
    assert "{" not in result
    assert "}" not in result
