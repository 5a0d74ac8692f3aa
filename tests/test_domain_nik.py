from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.errors import DomainError
from app.domain.nik import PROVINCE_CODES, NikInfo, clean_nik, mask_nik, parse_nik

TODAY = date(2026, 11, 23)

# The 38 codes of shared/data/wilayah/provinces.csv, written out again so a slip in either copy shows.
EXPECTED_PROVINCES = {
    "11", "12", "13", "14", "15", "16", "17", "18", "19", "21",
    "31", "32", "33", "34", "35", "36", "51", "52", "53",
    "61", "62", "63", "64", "65", "71", "72", "73", "74", "75", "76",
    "81", "82", "91", "92", "93", "94", "95", "96",
}  # fmt: skip


def make_nik(
    province: str = "18",
    regency: str = "09",
    district: str = "01",
    dd: str = "12",
    mm: str = "11",
    yy: str = "90",
    serial: str = "0001",
) -> str:
    return province + regency + district + dd + mm + yy + serial


def refusal(raw: str, today: date = TODAY) -> DomainError:
    with pytest.raises(DomainError) as caught:
        parse_nik(raw, today=today)
    # Every message must format cleanly with its own slots.
    assert str(caught.value)
    return caught.value


def test_a_valid_nik_tells_region_birth_date_sex_and_serial() -> None:
    info = parse_nik(make_nik(), today=TODAY)
    assert info == NikInfo(
        nik="1809011211900001",
        province_code="18",
        regency_code="18.09",
        district_code="18.09.01",
        birth_date=date(1990, 11, 12),
        sex="L",
        serial="0001",
    )


@pytest.mark.parametrize(
    "typed",
    [
        "1809011211900001",
        "1809 0112 1190 0001",
        "1809.01.121190.0001",
        "1809-01-121190-0001",
        "  1809011211900001  ",
        "18.09.01 - 121190 - 0001",
    ],
)
def test_spaces_dots_and_dashes_typed_by_users_are_ignored(typed: str) -> None:
    assert parse_nik(typed, today=TODAY).nik == "1809011211900001"


def test_clean_nik_removes_only_separators() -> None:
    assert clean_nik(" 18.09-01 12 ") == "18090112"


def test_nik_with_day_plus_40_is_a_woman() -> None:
    info = parse_nik(make_nik(dd="52"), today=TODAY)
    assert info.sex == "P"
    assert info.birth_date == date(1990, 11, 12)


@pytest.mark.parametrize(
    ("dd", "sex", "day"), [("01", "L", 1), ("31", "L", 31), ("41", "P", 1), ("71", "P", 31)]
)
def test_day_codes_at_the_edges_are_accepted(dd: str, sex: str, day: int) -> None:
    info = parse_nik(make_nik(dd=dd, mm="01"), today=TODAY)
    assert (info.sex, info.birth_date.day) == (sex, day)


@pytest.mark.parametrize("dd", ["00", "32", "39", "40", "72", "99"])
def test_day_codes_outside_both_ranges_are_refused_naming_the_birth_date(dd: str) -> None:
    error = refusal(make_nik(dd=dd))
    assert "tanggal lahir" in error.message
    assert error.params == {"dd": dd}


@pytest.mark.parametrize("mm", ["00", "13", "99"])
def test_month_outside_1_to_12_is_refused_naming_the_birth_month(mm: str) -> None:
    error = refusal(make_nik(mm=mm))
    assert "bulan lahir" in error.message
    assert error.params == {"mm": mm}


@pytest.mark.parametrize(
    ("dd", "mm", "yy", "shown"),
    [
        ("30", "02", "90", "30-02-1990"),
        ("31", "04", "90", "31-04-1990"),
        ("29", "02", "23", "29-02-2023"),
        ("69", "02", "23", "29-02-2023"),
        ("29", "02", "90", "29-02-1990"),
    ],
)
def test_days_missing_from_the_calendar_are_refused(dd: str, mm: str, yy: str, shown: str) -> None:
    error = refusal(make_nik(dd=dd, mm=mm, yy=yy))
    assert "kalender" in error.message
    assert error.params == {"date": shown}


def test_29_february_is_accepted_in_a_leap_year() -> None:
    assert parse_nik(make_nik(dd="29", mm="02", yy="24"), today=TODAY).birth_date == date(2024, 2, 29)


def test_29_february_of_year_00_is_read_as_2000_which_was_a_leap_year() -> None:
    assert parse_nik(make_nik(dd="29", mm="02", yy="00"), today=TODAY).birth_date == date(2000, 2, 29)


def test_29_february_1900_is_refused_because_1900_was_not_a_leap_year() -> None:
    error = refusal(make_nik(dd="29", mm="02", yy="00"), today=date(1999, 6, 1))
    assert error.params == {"date": "29-02-1900"}


@pytest.mark.parametrize(
    ("dd", "mm", "yy", "born"),
    [
        ("23", "11", "26", date(2026, 11, 23)),
        ("24", "11", "26", date(1926, 11, 24)),
        ("01", "01", "25", date(2025, 1, 1)),
        ("31", "12", "99", date(1999, 12, 31)),
        ("01", "01", "00", date(2000, 1, 1)),
    ],
)
def test_the_century_is_20yy_unless_that_is_after_today(dd: str, mm: str, yy: str, born: date) -> None:
    assert parse_nik(make_nik(dd=dd, mm=mm, yy=yy), today=TODAY).birth_date == born


def test_a_birth_date_in_the_future_is_refused() -> None:
    error = refusal(make_nik(dd="01", mm="01", yy="99"), today=date(1995, 1, 1))
    assert "belum terjadi" in error.message
    assert error.params == {"date": "01-01-1999"}


def test_today_defaults_to_the_real_date() -> None:
    assert parse_nik(make_nik()).birth_date == date(1990, 11, 12)


def test_an_empty_nik_is_refused_as_not_filled_in() -> None:
    assert refusal("  ").message == "NIK belum diisi."


@pytest.mark.parametrize(("typed", "n"), [("1809", 4), ("180901121190000", 15), ("18090112119000011", 17)])
def test_a_nik_must_have_16_digits_and_the_message_says_how_many_were_typed(typed: str, n: int) -> None:
    error = refusal(typed)
    assert "16 angka" in error.message
    assert error.params == {"n": n}


@pytest.mark.parametrize(
    ("typed", "char"), [("18090112119O0001", "O"), ("1809011211900001a", "a"), ("1809/01", "/")]
)
def test_letters_and_other_signs_are_refused_naming_the_character(typed: str, char: str) -> None:
    error = refusal(typed)
    assert "angka" in error.message
    assert error.params == {"char": char}


@pytest.mark.parametrize("province", ["00", "10", "20", "37", "54", "97", "99"])
def test_first_two_digits_must_be_an_existing_province(province: str) -> None:
    error = refusal(make_nik(province=province))
    assert "provinsi" in error.message
    assert error.params == {"code": province}


def test_province_codes_are_exactly_those_of_the_wilayah_data() -> None:
    assert set(PROVINCE_CODES) == EXPECTED_PROVINCES
    assert len(PROVINCE_CODES) == 38


@pytest.mark.parametrize("province", sorted(EXPECTED_PROVINCES))
def test_every_province_code_is_accepted(province: str) -> None:
    assert parse_nik(make_nik(province=province), today=TODAY).province_code == province


def test_regency_code_00_is_refused() -> None:
    assert "kabupaten" in refusal(make_nik(regency="00")).message


def test_district_code_00_is_refused() -> None:
    assert "kecamatan" in refusal(make_nik(district="00")).message


def test_serial_0000_is_refused() -> None:
    assert "nomor urut" in refusal(make_nik(serial="0000")).message


@pytest.mark.parametrize("serial", ["0001", "0100", "9999"])
def test_any_other_serial_is_accepted(serial: str) -> None:
    assert parse_nik(make_nik(serial=serial), today=TODAY).serial == serial


def test_mask_nik_shows_only_the_first_4_and_last_2_digits() -> None:
    assert mask_nik("1809011211900001") == "1809**********01"


def test_mask_nik_ignores_separators() -> None:
    assert mask_nik("1809 0112 1190 0001") == "1809**********01"


def test_mask_nik_hides_everything_when_too_short_to_keep_anything_private() -> None:
    assert mask_nik("123456") == "******"
    assert mask_nik("") == ""


OLDEST = TODAY - timedelta(days=36523)


@given(
    province=st.sampled_from(sorted(EXPECTED_PROVINCES)),
    regency=st.integers(1, 99),
    district=st.integers(1, 99),
    born=st.dates(min_value=OLDEST + timedelta(days=1), max_value=TODAY),
    female=st.booleans(),
    serial=st.integers(1, 9999),
)
def test_any_well_formed_nik_round_trips_through_parse(
    province: str, regency: int, district: int, born: date, female: bool, serial: int
) -> None:
    day = born.day + 40 if female else born.day
    nik = f"{province}{regency:02d}{district:02d}{day:02d}{born.month:02d}{born.year % 100:02d}{serial:04d}"
    info = parse_nik(nik, today=TODAY)
    assert info.nik == nik
    assert info.birth_date == born
    assert info.sex == ("P" if female else "L")
    assert info.regency_code == f"{province}.{regency:02d}"
    assert info.district_code == f"{province}.{regency:02d}.{district:02d}"
    assert info.serial == f"{serial:04d}"
    assert mask_nik(nik) == nik[:4] + "*" * 10 + nik[-2:]


@given(st.text())
def test_any_text_either_parses_or_raises_a_domain_error(raw: str) -> None:
    try:
        info = parse_nik(raw, today=TODAY)
    except DomainError as error:
        assert str(error)
    else:
        assert len(info.nik) == 16


@given(st.from_regex(r"[0-9]{16}", fullmatch=True))
def test_any_16_digits_either_parse_or_raise_a_domain_error(raw: str) -> None:
    try:
        info = parse_nik(raw, today=TODAY)
    except DomainError as error:
        assert str(error)
    else:
        assert info.birth_date <= TODAY
        assert info.province_code in EXPECTED_PROVINCES
