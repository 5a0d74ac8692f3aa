from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.workdays import add_working_days, is_working_day, working_days_between

MONDAY = date(2026, 11, 23)
FRIDAY = date(2026, 11, 27)
SATURDAY = date(2026, 11, 28)
SUNDAY = date(2026, 11, 29)
NEXT_MONDAY = date(2026, 11, 30)
CHRISTMAS = date(2026, 12, 25)  # a Friday
NEW_YEAR = date(2027, 1, 1)  # a Friday
INDEPENDENCE_DAY = date(2026, 8, 17)  # a Monday


def test_weekdays_are_working_days() -> None:
    assert all(is_working_day(MONDAY + timedelta(days=i), set()) for i in range(5))


def test_saturday_and_sunday_are_not_working_days() -> None:
    assert not is_working_day(SATURDAY, set())
    assert not is_working_day(SUNDAY, set())


def test_a_holiday_on_a_weekday_is_not_a_working_day() -> None:
    assert not is_working_day(CHRISTMAS, {CHRISTMAS})


def test_holidays_default_to_none() -> None:
    assert is_working_day(CHRISTMAS)
    assert add_working_days(FRIDAY, 1) == NEXT_MONDAY
    assert working_days_between(FRIDAY, NEXT_MONDAY) == 1


def test_one_working_day_after_monday_is_tuesday() -> None:
    assert add_working_days(MONDAY, 1, set()) == date(2026, 11, 24)


def test_one_working_day_after_friday_is_the_next_monday() -> None:
    assert add_working_days(FRIDAY, 1, set()) == NEXT_MONDAY


def test_a_request_made_on_a_weekend_is_due_counting_from_monday() -> None:
    assert add_working_days(SATURDAY, 1, set()) == NEXT_MONDAY
    assert add_working_days(SUNDAY, 3, set()) == date(2026, 12, 2)


def test_five_working_days_after_monday_is_the_next_monday() -> None:
    assert add_working_days(MONDAY, 5, set()) == NEXT_MONDAY


def test_with_sla_zero_a_working_day_is_due_the_same_day() -> None:
    assert add_working_days(MONDAY, 0, set()) == MONDAY


def test_with_sla_zero_a_weekend_is_due_the_next_working_day() -> None:
    assert add_working_days(SATURDAY, 0, set()) == NEXT_MONDAY


def test_with_sla_zero_a_holiday_before_a_weekend_is_due_after_the_weekend() -> None:
    assert add_working_days(CHRISTMAS, 0, {CHRISTMAS}) == date(2026, 12, 28)


def test_holidays_are_skipped() -> None:
    assert add_working_days(date(2026, 8, 14), 1, {INDEPENDENCE_DAY}) == date(2026, 8, 18)


def test_the_year_end_with_christmas_and_new_year_is_skipped() -> None:
    holidays = {CHRISTMAS, NEW_YEAR}
    assert add_working_days(date(2026, 12, 24), 1, holidays) == date(2026, 12, 28)
    assert add_working_days(date(2026, 12, 31), 1, holidays) == date(2027, 1, 4)
    assert add_working_days(date(2026, 12, 24), 6, holidays) == date(2027, 1, 5)


def test_a_holiday_falling_on_a_weekend_changes_nothing() -> None:
    assert add_working_days(FRIDAY, 1, {SATURDAY}) == NEXT_MONDAY
    assert working_days_between(FRIDAY, NEXT_MONDAY, {SATURDAY, SUNDAY}) == 1


def test_holidays_may_be_any_collection_even_with_repeats() -> None:
    assert add_working_days(date(2026, 8, 14), 1, [INDEPENDENCE_DAY, INDEPENDENCE_DAY]) == date(2026, 8, 18)
    assert working_days_between(date(2026, 8, 14), date(2026, 8, 18), (INDEPENDENCE_DAY,) * 3) == 1


def test_a_negative_sla_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="negative"):
        add_working_days(MONDAY, -1, set())


def test_no_working_days_lie_between_a_day_and_itself() -> None:
    assert working_days_between(MONDAY, MONDAY, set()) == 0


def test_the_start_day_is_not_counted_but_the_end_day_is() -> None:
    assert working_days_between(MONDAY, FRIDAY, set()) == 4
    assert working_days_between(date(2026, 11, 22), MONDAY, set()) == 1


def test_a_weekend_adds_no_working_days() -> None:
    assert working_days_between(FRIDAY, SUNDAY, set()) == 0
    assert working_days_between(FRIDAY, NEXT_MONDAY, set()) == 1


def test_counting_backwards_gives_a_negative_number() -> None:
    assert working_days_between(NEXT_MONDAY, MONDAY, set()) == -5
    assert working_days_between(NEXT_MONDAY, FRIDAY, set()) == -1


def test_holidays_are_not_counted() -> None:
    assert working_days_between(date(2026, 12, 24), date(2026, 12, 31), {CHRISTMAS}) == 4
    assert working_days_between(date(2026, 12, 31), date(2026, 12, 24), {CHRISTMAS}) == -4


def test_holidays_outside_the_range_are_not_subtracted() -> None:
    assert working_days_between(CHRISTMAS, date(2026, 12, 28), {CHRISTMAS, NEW_YEAR}) == 1


def test_a_whole_year_has_the_expected_number_of_weekdays() -> None:
    assert working_days_between(date(2025, 12, 31), date(2026, 12, 31), set()) == 261


def brute_force_between(a: date, b: date, holidays: set[date]) -> int:
    low, high, sign = (a, b, 1) if a <= b else (b, a, -1)
    days = (low + timedelta(days=i) for i in range(1, (high - low).days + 1))
    return sign * sum(1 for d in days if d.weekday() < 5 and d not in holidays)


DATES = st.dates(min_value=date(1999, 1, 1), max_value=date(2101, 1, 1))


@st.composite
def start_and_holidays(draw: st.DrawFn) -> tuple[date, set[date]]:
    start = draw(DATES)
    offsets = draw(st.lists(st.integers(-30, 120), max_size=25))
    return start, {start + timedelta(days=offset) for offset in offsets}


@given(start_and_holidays(), st.integers(1, 60))
def test_adding_then_counting_working_days_round_trips(case: tuple[date, set[date]], n: int) -> None:
    start, holidays = case
    due = add_working_days(start, n, holidays)
    assert is_working_day(due, holidays)
    assert working_days_between(start, due, holidays) == n
    assert working_days_between(start, due - timedelta(days=1), holidays) == n - 1


@given(start_and_holidays())
def test_sla_zero_gives_the_first_working_day_from_the_start(case: tuple[date, set[date]]) -> None:
    start, holidays = case
    due = add_working_days(start, 0, holidays)
    assert is_working_day(due, holidays)
    assert (due == start) == is_working_day(start, holidays)
    if due > start:
        assert working_days_between(start, due - timedelta(days=1), holidays) == 0


@given(start_and_holidays(), st.integers(1, 40))
def test_each_extra_day_of_sla_moves_the_due_date_later(case: tuple[date, set[date]], n: int) -> None:
    start, holidays = case
    assert add_working_days(start, n + 1, holidays) > add_working_days(start, n, holidays)


@given(start_and_holidays())
def test_sla_zero_and_one_coincide_only_when_the_start_is_not_a_working_day(
    case: tuple[date, set[date]],
) -> None:
    start, holidays = case
    same = add_working_days(start, 0, holidays) == add_working_days(start, 1, holidays)
    assert same == (not is_working_day(start, holidays))


@given(start_and_holidays(), st.integers(-200, 200))
def test_counting_matches_checking_every_day(case: tuple[date, set[date]], span: int) -> None:
    start, holidays = case
    end = start + timedelta(days=span)
    assert working_days_between(start, end, holidays) == brute_force_between(start, end, holidays)


@given(DATES, DATES, DATES, st.sets(DATES, max_size=10))
def test_counting_is_antisymmetric_and_adds_up(a: date, b: date, c: date, holidays: set[date]) -> None:
    a_to_b = working_days_between(a, b, holidays)
    assert a_to_b == -working_days_between(b, a, holidays)
    assert a_to_b + working_days_between(b, c, holidays) == working_days_between(a, c, holidays)
