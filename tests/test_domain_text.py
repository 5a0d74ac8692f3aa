import re
from datetime import date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.errors import DomainError
from app.domain.text import (
    MAX_RUPIAH,
    MONTHS_ID,
    format_date_id,
    format_datetime_id,
    format_rupiah,
    mask_name,
    parse_rupiah,
    slugify,
)


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("Siti Wulandari", "S*** W********"),
        ("Budi", "B***"),
        ("A", "A"),
        ("I Made Wirawan", "I M*** W******"),
        ("  Siti   Wulandari  ", "S*** W********"),
        ("", ""),
    ],
)
def test_mask_name_keeps_only_the_first_letter_of_each_word(name: str, masked: str) -> None:
    assert mask_name(name) == masked


@given(
    st.lists(
        st.text(st.characters(blacklist_categories=("Zs", "Cc", "Zl", "Zp", "Cs")), min_size=1), max_size=5
    )
)
def test_mask_name_keeps_word_count_lengths_and_initials(words: list[str]) -> None:
    masked = mask_name(" ".join(words)).split()
    originals = " ".join(words).split()
    assert len(masked) == len(originals)
    for word, hidden in zip(originals, masked, strict=True):
        assert len(hidden) == len(word)
        assert hidden[0] == word[0]
        assert set(hidden[1:]) <= {"*"}


@pytest.mark.parametrize(
    ("amount", "shown"),
    [
        (0, "Rp 0"),
        (5, "Rp 5"),
        (999, "Rp 999"),
        (1000, "Rp 1.000"),
        (25000, "Rp 25.000"),
        (1_500_000, "Rp 1.500.000"),
        (1_000_000_000, "Rp 1.000.000.000"),
        (-25000, "-Rp 25.000"),
    ],
)
def test_format_rupiah_separates_thousands_with_dots(amount: int, shown: str) -> None:
    assert format_rupiah(amount) == shown


@pytest.mark.parametrize(
    "typed",
    [
        "25000",
        "25.000",
        "Rp 25.000",
        "Rp25.000",
        "rp 25.000",
        "RP 25000",
        "Rp. 25.000",
        "Rp 25.000,-",
        " 25000 ",
    ],
)
def test_parse_rupiah_accepts_the_usual_ways_of_writing_a_price(typed: str) -> None:
    assert parse_rupiah(typed) == 25000


def test_parse_rupiah_accepts_the_largest_allowed_amount() -> None:
    assert parse_rupiah("1.000.000.000") == MAX_RUPIAH


def refusal(typed: str, **kwargs: bool) -> DomainError:
    with pytest.raises(DomainError) as caught:
        parse_rupiah(typed, **kwargs)
    assert str(caught.value)
    return caught.value


@pytest.mark.parametrize("typed", ["", "   ", "Rp", "Rp. "])
def test_an_empty_price_is_refused_as_not_filled_in(typed: str) -> None:
    assert refusal(typed).message == "Harga belum diisi."


@pytest.mark.parametrize("typed", ["-25000", "-25.000", "Rp -25.000", "-Rp 25.000"])
def test_a_negative_price_is_refused(typed: str) -> None:
    assert "kurang dari nol" in refusal(typed).message


@pytest.mark.parametrize("typed", ["25.000,50", "25000.5", "25000,5", "25.00", "Rp 1.000,00"])
def test_a_price_with_cents_is_refused(typed: str) -> None:
    assert "tanpa sen" in refusal(typed).message


@pytest.mark.parametrize("typed", ["2.50.000", "25,000", "25..000", ".25000", "25.000."])
def test_a_price_with_misplaced_separators_is_refused_as_unclear(typed: str) -> None:
    assert "tidak jelas" in refusal(typed).message


@pytest.mark.parametrize("typed", ["abc", "25rb", "dua puluh ribu", "25 000", "２５０００", "1e6", "USD 5"])
def test_something_that_is_not_a_number_is_refused(typed: str) -> None:
    assert "berupa angka" in refusal(typed).message


def test_zero_is_refused_unless_explicitly_allowed() -> None:
    assert "paling sedikit" in refusal("0").message
    assert parse_rupiah("0", allow_zero=True) == 0
    assert parse_rupiah("Rp 0", allow_zero=True) == 0


def test_an_absurdly_large_price_is_refused_naming_the_limit() -> None:
    error = refusal("1.000.000.001")
    assert "terlalu besar" in error.message
    assert error.params == {"max": "Rp 1.000.000.000"}


@given(st.integers(1, MAX_RUPIAH))
def test_formatting_then_parsing_gives_the_same_amount(amount: int) -> None:
    assert parse_rupiah(format_rupiah(amount)) == amount
    assert parse_rupiah(str(amount)) == amount


@given(st.one_of(st.text(max_size=20), st.text(alphabet="Rp0123456789.,- ", max_size=20)))
def test_any_text_either_parses_to_an_allowed_amount_or_raises_a_domain_error(raw: str) -> None:
    try:
        amount = parse_rupiah(raw)
    except DomainError as error:
        assert str(error)
    else:
        assert 1 <= amount <= MAX_RUPIAH


def test_month_names_are_indonesian() -> None:
    assert MONTHS_ID[0] == "Januari"
    assert MONTHS_ID[7] == "Agustus"
    assert MONTHS_ID[11] == "Desember"
    assert len(MONTHS_ID) == 12


@pytest.mark.parametrize(
    ("d", "shown"),
    [
        (date(2026, 11, 23), "23 November 2026"),
        (date(2026, 1, 3), "3 Januari 2026"),
        (date(2024, 2, 29), "29 Februari 2024"),
        (date(1945, 8, 17), "17 Agustus 1945"),
        (date(2026, 5, 1), "1 Mei 2026"),
    ],
)
def test_format_date_id_writes_day_month_name_and_year(d: date, shown: str) -> None:
    assert format_date_id(d) == shown


@pytest.mark.parametrize(
    ("dt", "shown"),
    [
        (datetime(2026, 11, 23, 14, 5), "23 November 2026 14.05"),
        (datetime(2026, 1, 1, 0, 0, 59), "1 Januari 2026 00.00"),
        (datetime(2026, 12, 31, 23, 59), "31 Desember 2026 23.59"),
    ],
)
def test_format_datetime_id_uses_a_dot_between_hours_and_minutes(dt: datetime, shown: str) -> None:
    assert format_datetime_id(dt) == shown


@given(st.dates())
def test_every_date_is_written_with_its_indonesian_month_name(d: date) -> None:
    day, month, year = format_date_id(d).split(" ")
    assert (int(day), MONTHS_ID.index(month) + 1, int(year)) == (d.day, d.month, d.year)


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("Desa Hanura", "desa-hanura"),
        ("Kopi Robusta Lampung (250 gr)", "kopi-robusta-lampung-250-gr"),
        ("Café Désa Sukarame", "cafe-desa-sukarame"),
        ("Keripik Ma'ruf", "keripik-maruf"),
        ("Keripik Ma’ruf", "keripik-maruf"),
        ("  --Gula__Aren--  ", "gula-aren"),
        ("Batik & Tapis!!", "batik-tapis"),
        ("", ""),
        ("!!!", ""),
    ],
)
def test_slugify_makes_lowercase_ascii_words_joined_by_hyphens(text: str, slug: str) -> None:
    assert slugify(text) == slug


@given(st.text())
def test_slugs_are_always_url_safe_and_stable(text: str) -> None:
    slug = slugify(text)
    assert slug == "" or re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", slug)
    assert slugify(slug) == slug
