"""Attendance at the balai: office hours, check-in codes, location proof, lateness and monthly sheets.

No HTTP and no database here: times are village-local (Asia/Jakarta) ``datetime``s, keys are bytes.

Check-in codes. The TV at the balai shows a code that changes every ``SLOT_SECONDS``; it is an HMAC
over the kind, the village id, the time slot and the village's own random nonce, so it cannot be
forged, names its village, and is accepted only in its own slot and the one after (a photo of it is
useless a minute later). A printed poster, for villages without a TV, carries a code of the poster's
version instead of a slot: it stays valid until the village prints a new one, so it always needs
the location proof too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
from calendar import monthrange
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time

from app.domain.errors import N_, DomainError

SLOT_SECONDS = 30
SCREEN, POSTER = "s", "p"
MAC_BYTES = 12  # 96 bits: a forged code is out of reach, and the QR stays small
WEEKDAYS = (
    N_("Senin"),
    N_("Selasa"),
    N_("Rabu"),
    N_("Kamis"),
    N_("Jumat"),
    N_("Sabtu"),
    N_("Minggu"),
)
WEEKDAY_NAMES = dict(enumerate(WEEKDAYS))  # by date.weekday()
# Mon-Thu 08.00-15.00, Fri 08.00-11.00, closed at the weekend (the usual hours of a Lampung balai desa).
DEFAULT_HOURS: tuple[tuple[str, str] | None, ...] = (
    ("08:00", "15:00"),
    ("08:00", "15:00"),
    ("08:00", "15:00"),
    ("08:00", "15:00"),
    ("08:00", "11:00"),
    None,
    None,
)
DEFAULT_RADIUS_M = 150
MAX_RADIUS_M = 5000
EARTH_RADIUS_M = 6_371_008.8
_CODE = re.compile(r"([sp])(\d{1,9})\.(\d{1,12})\.([A-Za-z0-9_-]{16})\Z")
_HHMM = re.compile(r"([01]?\d|2[0-3])[:.]([0-5]\d)\Z")


class CodeError(DomainError):
    """A check-in code that cannot be used."""


class InvalidCode(CodeError):
    """Not a code this server made (mistyped, cut short or forged)."""


class ExpiredCode(CodeError):
    """A real code, but its time has passed (or its poster was replaced)."""


# --- office hours -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DayHours:
    opens: time
    closes: time

    def label(self) -> str:
        """E.g. "08.00–15.00"."""
        return f"{format_time(self.opens)}–{format_time(self.closes)}"


@dataclass(frozen=True)
class DayStatus:
    """What a given date is at the balai: open with these hours, or closed (and why)."""

    day: date
    hours: DayHours | None
    holiday: str | None = None  # the holiday's name when a holiday closes the office

    @property
    def is_open(self) -> bool:
        return self.hours is not None


def format_time(t: time | datetime) -> str:
    """Indonesian clock time with a dot: 08.05."""
    return f"{t.hour:02d}.{t.minute:02d}"


def parse_time(raw: str) -> time:
    """Read 08:00 or 8.00; raise DomainError otherwise."""
    match = _HHMM.match((raw or "").strip())
    if not match:
        raise DomainError(N_("Jam %(raw)s tidak dikenali; tulis seperti 08:00."), raw=raw)
    return time(int(match.group(1)), int(match.group(2)))


def weekly_hours(stored: Iterable | None) -> tuple[DayHours | None, ...]:
    """The seven days (Monday first) from their stored form ``[["08:00", "15:00"], ..., null]``."""
    entries = list(stored) if stored else list(DEFAULT_HOURS)
    if len(entries) != 7:
        entries = list(DEFAULT_HOURS)
    days: list[DayHours | None] = []
    for entry in entries:
        if not entry:
            days.append(None)
            continue
        opens, closes = parse_time(entry[0]), parse_time(entry[1])
        days.append(DayHours(opens, closes) if opens < closes else None)
    return tuple(days)


def check_day_hours(opens: str, closes: str) -> list[str]:
    """Validate one day's hours as typed; return its stored form or raise DomainError."""
    start, end = parse_time(opens), parse_time(closes)
    if end <= start:
        raise DomainError(N_("Jam tutup harus sesudah jam buka."))
    return [f"{start:%H:%M}", f"{end:%H:%M}"]


def day_status(day: date, weekly: tuple[DayHours | None, ...], holidays: Mapping[date, str]) -> DayStatus:
    """Whether the balai opens on ``day``: a holiday or a weekday without hours closes it."""
    if day in holidays:
        return DayStatus(day, None, holidays[day])
    return DayStatus(day, weekly[day.weekday()])


# --- check-in codes -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Code:
    kind: str  # SCREEN or POSTER
    village_id: int
    number: int  # the time slot (screen) or the poster's version
    mac: str


def slot_at(timestamp: float) -> int:
    """The 30-second slot a Unix time falls in."""
    return int(timestamp // SLOT_SECONDS)


def _mac(key: bytes, kind: str, village_id: int, number: int, nonce: str) -> str:
    message = f"balai-hadir|{kind}|{village_id}|{number}|{nonce}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()[:MAC_BYTES]
    return base64.urlsafe_b64encode(digest).decode("ascii")


def make_code(key: bytes, kind: str, village_id: int, number: int, nonce: str) -> str:
    """The code for a village's screen slot or poster version, e.g. ``s12.59071234.Ab3…``."""
    return f"{kind}{village_id}.{number}.{_mac(key, kind, village_id, number, nonce)}"


def parse_code(raw: str) -> Code:
    """Split a code into its parts without trusting it; raise InvalidCode when it is not one."""
    match = _CODE.match(raw or "")
    if not match:
        raise InvalidCode(N_("Kode absen tidak dikenali. Pindai lagi kode di layar balai."))
    return Code(match.group(1), int(match.group(2)), int(match.group(3)), match.group(4))


def verify_code(key: bytes, code: Code, nonce: str, *, now_slot: int, poster_version: int) -> None:
    """Raise unless ``code`` was made with this village's nonce and is still current.

    A screen code is good in its own slot and the next one (30-60 seconds); a poster code while its
    version is the village's current poster.
    """
    expected = _mac(key, code.kind, code.village_id, code.number, nonce)
    if not hmac.compare_digest(expected, code.mac):
        raise InvalidCode(N_("Kode absen tidak dikenali. Pindai lagi kode di layar balai."))
    if code.kind == SCREEN:
        if code.number not in (now_slot, now_slot - 1):
            raise ExpiredCode(
                N_(
                    "Kode absen ini sudah kedaluwarsa: kode di layar berganti tiap 30 detik. "
                    "Pindai kode yang sedang tampil di layar balai."
                )
            )
    elif code.number != poster_version:
        raise ExpiredCode(
            N_("Poster absen ini sudah diganti dengan poster baru. Pindai kode pada poster yang terpasang.")
        )


def use_digest(raw: str, day: date) -> str:
    """What is stored of a used code: a screen code is used once; a poster code once a day."""
    return hashlib.sha256(f"{raw}|{day.isoformat()}".encode()).hexdigest()


# --- location proof -----------------------------------------------------------------------------


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def parse_position(
    lat: str | None, lon: str | None, accuracy: str | None = None
) -> tuple[float, float, float]:
    """Read the phone's position as sent by the browser; raise DomainError when it is not one."""
    try:
        la, lo = float(lat or ""), float(lon or "")
        acc = float(accuracy) if accuracy else 0.0
    except ValueError:
        raise DomainError(N_("Lokasi ponsel tidak terbaca. Izinkan akses lokasi, lalu coba lagi.")) from None
    if not (-90 <= la <= 90 and -180 <= lo <= 180) or not math.isfinite(acc) or acc < 0:
        raise DomainError(N_("Lokasi ponsel tidak terbaca. Izinkan akses lokasi, lalu coba lagi."))
    return la, lo, acc


def near_enough(distance: float, radius: int, accuracy: float) -> bool:
    """Within the radius, allowing for the phone's stated accuracy up to the radius itself."""
    return distance <= radius + min(max(accuracy, 0.0), radius)


def format_distance(metres: float) -> str:
    """E.g. "80 m" or "2,3 km"."""
    if metres < 1000:
        return f"{round(metres)} m"
    return f"{metres / 1000:.1f} km".replace(".", ",")


# --- check-in, check-out, lateness --------------------------------------------------------------


def auto_out_at(checked_in: datetime, status: DayStatus) -> datetime:
    """When an open check-in is closed for the official: closing time, or the end of that day."""
    end_of_day = datetime.combine(checked_in.date(), time.max, checked_in.tzinfo)
    if status.hours is not None:
        closing = datetime.combine(checked_in.date(), status.hours.closes, checked_in.tzinfo)
        if closing > checked_in:
            return closing
    return max(end_of_day, checked_in)


def minutes_late(first_in: datetime, status: DayStatus, grace: int) -> int:
    """Minutes after opening (past ``grace``) of the day's first check-in; 0 when on time or closed."""
    if status.hours is None:
        return 0
    opening = datetime.combine(first_in.date(), status.hours.opens, first_in.tzinfo)
    late = (first_in - opening).total_seconds() / 60
    return math.floor(late) if late > grace else 0


# --- the monthly sheet --------------------------------------------------------------------------


@dataclass(frozen=True)
class Session:
    """One check-in of an official, in village time."""

    record_id: int
    checked_in: datetime
    checked_out: datetime | None
    closed_by: str | None  # "self", "auto", "edit" or None while open
    location_ok: bool | None
    method: str
    edited: bool = False


@dataclass
class SheetDay:
    status: DayStatus
    sessions: list[Session] = field(default_factory=list)
    late_minutes: int = 0

    @property
    def day(self) -> date:
        return self.status.day

    @property
    def present(self) -> bool:
        return bool(self.sessions)

    @property
    def absent(self) -> bool:
        """An office day gone by without a check-in."""
        return self.status.is_open and not self.sessions


@dataclass
class Sheet:
    month: date
    days: list[SheetDay]

    @property
    def office_days(self) -> int:
        return sum(1 for d in self.days if d.status.is_open)

    @property
    def present_days(self) -> int:
        return sum(1 for d in self.days if d.present)

    @property
    def late_days(self) -> int:
        return sum(1 for d in self.days if d.late_minutes)

    @property
    def late_minutes(self) -> int:
        return sum(d.late_minutes for d in self.days)

    @property
    def absent_days(self) -> int:
        return sum(1 for d in self.days if d.absent)


def month_days(month: date, until: date) -> list[date]:
    """The days of ``month`` up to and including ``until``."""
    last = monthrange(month.year, month.month)[1]
    days = [month.replace(day=n) for n in range(1, last + 1)]
    return [d for d in days if d <= until]


def build_sheet(
    month: date,
    sessions: Iterable[Session],
    weekly: tuple[DayHours | None, ...],
    holidays: Mapping[date, str],
    grace: int,
    today: date,
) -> Sheet:
    """One row per day of ``month`` up to ``today``: the office's hours, check-ins and lateness."""
    by_day: dict[date, list[Session]] = {}
    for s in sessions:
        by_day.setdefault(s.checked_in.date(), []).append(s)
    days = []
    for d in month_days(month, today):
        status = day_status(d, weekly, holidays)
        found = sorted(by_day.get(d, []), key=lambda s: s.checked_in)
        row = SheetDay(status, found)
        if found:
            row.late_minutes = minutes_late(found[0].checked_in, status, grace)
        days.append(row)
    return Sheet(month, days)


@dataclass(frozen=True)
class OfficeSummary:
    """How a village's office kept its hours in a month: for the kecamatan and kabupaten."""

    office_days: int  # days the office should have opened, up to today
    opened: int  # of those, days someone checked in
    on_time: int  # of those, days the first check-in was by opening time (plus grace)
    closed: int  # office days nobody checked in

    @property
    def on_time_share(self) -> float | None:
        return self.on_time / self.office_days if self.office_days else None


def summarize_office(
    month: date,
    first_in: Mapping[date, datetime],
    weekly: tuple[DayHours | None, ...],
    holidays: Mapping[date, str],
    grace: int,
    today: date,
) -> OfficeSummary:
    """Count office days, days opened, opened on time and days closed from each day's first check-in."""
    office = opened = on_time = 0
    for d in month_days(month, today):
        status = day_status(d, weekly, holidays)
        if not status.is_open:
            continue
        office += 1
        arrived = first_in.get(d)
        if arrived is None:
            continue
        opened += 1
        if minutes_late(arrived, status, grace) == 0:
            on_time += 1
    return OfficeSummary(office, opened, on_time, office - opened)


def first_name(name: str) -> str:
    """What residents see of an official: the first word of the name."""
    parts = (name or "").split()
    return parts[0] if parts else ""
