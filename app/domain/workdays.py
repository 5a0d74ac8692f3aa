"""Working-day arithmetic for service deadlines: Monday to Friday, minus public holidays."""

from collections.abc import Collection
from datetime import date, timedelta

_ONE_DAY = timedelta(days=1)
_SATURDAY = 5


def is_working_day(d: date, holidays: Collection[date] = frozenset()) -> bool:
    """Whether ``d`` is a weekday that is not a holiday."""
    return d.weekday() < _SATURDAY and d not in holidays


def add_working_days(start: date, n: int, holidays: Collection[date] = frozenset()) -> date:
    """The n-th working day after ``start``; for n == 0, ``start`` itself or the next working day."""
    if n < 0:
        raise ValueError(f"n must not be negative, got {n}")
    holidays = _as_set(holidays)
    day = start
    if n == 0:
        while not is_working_day(day, holidays):
            day += _ONE_DAY
        return day
    remaining = n
    while remaining:
        day += _ONE_DAY
        if is_working_day(day, holidays):
            remaining -= 1
    return day


def working_days_between(a: date, b: date, holidays: Collection[date] = frozenset()) -> int:
    """Working days after ``a`` up to and including ``b``; negative when ``b`` is before ``a``."""
    if b < a:
        return -working_days_between(b, a, holidays)
    weekdays = _weekdays_up_to(b) - _weekdays_up_to(a)
    holidays_on_weekdays = sum(1 for h in _as_set(holidays) if a < h <= b and h.weekday() < _SATURDAY)
    return weekdays - holidays_on_weekdays


def _weekdays_up_to(d: date) -> int:
    # Ordinal 1 (0001-01-01) is a Monday, so each run of 7 ordinals starts on Monday and holds 5 weekdays.
    weeks, rest = divmod(d.toordinal(), 7)
    return weeks * 5 + min(rest, 5)


def _as_set(holidays: Collection[date]) -> set[date] | frozenset[date]:
    # Membership is tested once per day and lists may repeat a date; a set fixes both.
    return holidays if isinstance(holidays, set | frozenset) else frozenset(holidays)
