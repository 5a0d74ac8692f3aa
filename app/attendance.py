"""Officials' attendance at the balai: check-in and out, who is in now, monthly sheets and corrections.

The rules (codes, hours, lateness, distance) live in ``app.domain.attendance``; this module brings
them to the database. Views of several areas use it: the officials' workbench (check-in, sheets),
the TV queue screen and the resident's private page (who is in), the village home.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeSerializer, URLSafeTimedSerializer
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from app.access import region_prefix_filter
from app.domain import attendance as rules
from app.domain.errors import N_, DomainError
from app.extensions import db
from app.jobs import PERIODIC, Periodic
from app.models import Holiday, Role, User, Village, utcnow
from app.models.attendance import (
    BY_AUTO,
    BY_EDIT,
    BY_SELF,
    CORRECTION,
    POSTER,
    SCREEN,
    AttendanceCodeUse,
    AttendanceEdit,
    AttendanceRecord,
    AttendanceSettings,
)
from app.models.profile import VillageProfile
from app.models.user import VILLAGE_ROLES

TZ = ZoneInfo("Asia/Jakarta")
# Scanning a code starts a check-in that may need a login and a location fix: this long to finish it.
TICKET_SECONDS = 180
SCREEN_COOKIE = "balai_layar"
USES_KEPT = timedelta(days=2)
MIN_REASON = 5

PERIODIC.append(Periodic("app.attendance.auto_checkout", queue="low", interval=300, name="attendance-close"))


class NotThisVillage(rules.CodeError):
    """The code belongs to another village's balai, or the account is not one of its officials."""


class AlreadyUsed(rules.CodeError):
    """This official already checked in with this very code."""


class AlreadyIn(DomainError):
    """The official has an open check-in."""


class LocationError(DomainError):
    """The location proof is missing or too far from the balai."""


def local(moment: datetime) -> datetime:
    """A stored UTC time in village time."""
    return moment.astimezone(TZ)


def local_today(now: datetime | None = None) -> date:
    return local(now or utcnow()).date()


def _at(day: date, clock: time) -> datetime:
    return datetime.combine(day, clock, TZ)


# --- settings, hours and holidays ---------------------------------------------------------------


def settings_for(village_id: int) -> AttendanceSettings:
    """The village's settings, or unsaved defaults (Mon-Thu 08-15, Fri 08-11, no location proof)."""
    found = db.session.get(AttendanceSettings, village_id)
    return found if found is not None else _default_settings(village_id)


def _default_settings(village_id: int) -> AttendanceSettings:
    return AttendanceSettings(
        village_id=village_id,
        hours=[list(h) if h else None for h in rules.DEFAULT_HOURS],
        grace_minutes=0,
        require_location=False,
        radius_m=rules.DEFAULT_RADIUS_M,
        code_nonce="",
        poster_version=1,
        screen_key="",
    )


def saved_settings(village_id: int) -> AttendanceSettings:
    """The village's settings row, added to the session when it is new."""
    row = settings_for(village_id)
    if row not in db.session:
        db.session.add(row)
    return row


def holidays_between(village_id: int, start: date, end: date) -> dict[date, str]:
    """National and village days off from ``start`` to ``end`` inclusive, with their names."""
    rows = db.session.execute(
        select(Holiday.day, Holiday.name).where(
            or_(Holiday.village_id.is_(None), Holiday.village_id == village_id),
            Holiday.day >= start,
            Holiday.day <= end,
        )
    ).all()
    return {day: name for day, name in rows}


def day_status(village_id: int, day: date, settings: AttendanceSettings | None = None) -> rules.DayStatus:
    settings = settings or settings_for(village_id)
    return rules.day_status(day, rules.weekly_hours(settings.hours), holidays_between(village_id, day, day))


def balai_position(village_id: int) -> tuple[float, float] | None:
    """The balai's coordinates from the village profile, when the operator entered them."""
    profile = db.session.get(VillageProfile, village_id)
    if profile is None or profile.latitude is None or profile.longitude is None:
        return None
    return profile.latitude, profile.longitude


def set_balai_position(village_id: int, latitude: float | None, longitude: float | None) -> None:
    profile = db.session.get(VillageProfile, village_id)
    if profile is None:
        profile = VillageProfile(village_id=village_id, officials=[])
        db.session.add(profile)
    profile.latitude, profile.longitude = latitude, longitude


# --- codes and tickets --------------------------------------------------------------------------


def _key() -> bytes:
    return hmac.new(
        current_app.config["SECRET_KEY"].encode(), b"balai-attendance-codes", hashlib.sha256
    ).digest()


def screen_code(village_id: int, now: datetime | None = None) -> str:
    """The code the village's TV shows now."""
    settings = settings_for(village_id)
    slot = rules.slot_at((now or utcnow()).timestamp())
    return rules.make_code(_key(), rules.SCREEN, village_id, slot, settings.code_nonce)


def poster_code(village_id: int) -> str:
    """The code of the village's current printed poster."""
    settings = settings_for(village_id)
    return rules.make_code(_key(), rules.POSTER, village_id, settings.poster_version, settings.code_nonce)


def read_code(
    raw: str, now: datetime | None = None, *, check_time: bool = True
) -> tuple[rules.Code, Village]:
    """The code and its village; raise InvalidCode or ExpiredCode.

    ``check_time=False`` skips the 30-second window (a ticket already vouches for when it was scanned)
    but never the poster's version.
    """
    code = rules.parse_code(raw)
    village = db.session.get(Village, code.village_id)
    if village is None or not village.active:
        raise rules.InvalidCode(N_("Kode absen tidak dikenali. Pindai lagi kode di layar balai."))
    settings = settings_for(village.id)
    slot = rules.slot_at((now or utcnow()).timestamp())
    if not check_time and code.kind == rules.SCREEN:
        slot = code.number
    rules.verify_code(
        _key(), code, settings.code_nonce, now_slot=slot, poster_version=settings.poster_version
    )
    return code, village


def _tickets() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="balai-attendance-ticket")


def make_ticket(raw: str) -> str:
    """A signed note that ``raw`` was scanned while it was current, good for TICKET_SECONDS."""
    return _tickets().dumps(raw)


def read_ticket(ticket: str) -> str:
    """The code a ticket vouches for; raise ExpiredCode or InvalidCode."""
    try:
        raw = _tickets().loads(ticket or "", max_age=TICKET_SECONDS)
    except SignatureExpired:
        raise rules.ExpiredCode(
            N_("Waktu untuk absen dengan kode ini sudah habis. Pindai lagi kode yang tampil di layar balai.")
        ) from None
    except BadSignature:
        raise rules.InvalidCode(N_("Kode absen tidak dikenali. Pindai lagi kode di layar balai.")) from None
    if not isinstance(raw, str):
        raise rules.InvalidCode(N_("Kode absen tidak dikenali. Pindai lagi kode di layar balai."))
    return raw


def check_official(user: User, village: Village) -> None:
    """Only the village's own officials check in at its balai."""
    if user.role not in VILLAGE_ROLES:
        raise NotThisVillage(N_("Hanya petugas desa yang absen di balai."))
    if user.village_id != village.id:
        raise NotThisVillage(
            N_(
                "Kode ini dari layar balai %(village)s. Absen hanya bisa dengan kode di balai desa "
                "tempat Anda bertugas."
            ),
            village=village.display_name,
        )


# --- TV screens -----------------------------------------------------------------------------------


def _screens() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="balai-attendance-screen")


def screen_cookie_value(village_id: int) -> str:
    """The cookie that lets one TV show the village's check-in codes."""
    return _screens().dumps([village_id, settings_for(village_id).screen_key])


def screen_is_paired(village_id: int, cookie: str | None) -> bool:
    if not cookie:
        return False
    try:
        value = _screens().loads(cookie)
    except BadSignature:
        return False
    return value == [village_id, settings_for(village_id).screen_key]


def unpair_screens(village_id: int) -> None:
    """Every TV stops showing codes until it is set up again."""
    saved_settings(village_id).screen_key = secrets.token_hex(16)


def new_poster(village_id: int) -> None:
    """Void the printed poster: its code stops working; print the new one."""
    settings = saved_settings(village_id)
    settings.poster_version = (settings.poster_version or 1) + 1


# --- check-in and out ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Position:
    latitude: float
    longitude: float
    accuracy: float


def needs_location(village_id: int, code: rules.Code) -> bool:
    """A poster's code always needs the location proof; a screen's when the village asks for it."""
    return code.kind == rules.POSTER or settings_for(village_id).require_location


def _location_ok(village_id: int, position: Position | None) -> bool:
    balai = balai_position(village_id)
    if balai is None:
        raise LocationError(
            N_("Koordinat balai desa belum diisi. Minta operator mengisinya di Pengaturan kehadiran.")
        )
    if position is None:
        raise LocationError(
            N_(
                "Desa ini meminta bukti lokasi. Izinkan akses lokasi di ponsel (perlu JavaScript), "
                "lalu tekan Hadir lagi."
            )
        )
    settings = settings_for(village_id)
    distance = rules.distance_m(balai[0], balai[1], position.latitude, position.longitude)
    if not rules.near_enough(distance, settings.radius_m, position.accuracy):
        raise LocationError(
            N_(
                "Ponsel Anda sekitar %(distance)s dari balai desa. Absen hanya bisa dalam radius "
                "%(radius)s m dari balai."
            ),
            distance=rules.format_distance(distance),
            radius=settings.radius_m,
        )
    return True


def open_record(user_id: int) -> AttendanceRecord | None:
    return db.session.scalar(
        select(AttendanceRecord).where(
            AttendanceRecord.user_id == user_id, AttendanceRecord.checked_out_at.is_(None)
        )
    )


def current_record(user_id: int, now: datetime | None = None) -> AttendanceRecord | None:
    """The official's check-in still running now (one past closing time is closed already, or will be)."""
    record = open_record(user_id)
    return record if record is not None and record.auto_out_at > (now or utcnow()) else None


def precheck(user: User, raw: str, now: datetime | None = None) -> tuple[rules.Code, Village]:
    """Everything that refuses a check-in before the location is asked for: the village, an open
    check-in, the code used already. Raises a DomainError saying why."""
    now = now or utcnow()
    code, village = read_code(raw, now, check_time=False)
    check_official(user, village)
    current = current_record(user.id, now)
    if current is not None:
        raise AlreadyIn(
            N_("Anda sudah tercatat hadir sejak %(time)s. Tekan Keluar kantor bila Anda pergi."),
            time=rules.format_time(local(current.checked_in_at)),
        )
    used = db.session.scalar(
        select(AttendanceCodeUse.id).where(
            AttendanceCodeUse.user_id == user.id,
            AttendanceCodeUse.digest == rules.use_digest(raw, local(now).date()),
        )
    )
    if used is not None:
        raise AlreadyUsed(
            N_("Kode ini sudah Anda pakai untuk absen. Pindai kode baru yang sedang tampil di layar balai.")
        )
    return code, village


def check_in(
    user: User, raw: str, *, position: Position | None, now: datetime | None = None
) -> AttendanceRecord:
    """Check ``user`` in with a code a ticket vouched for; raise a DomainError saying why not."""
    now = now or utcnow()
    close_due(now, user_id=user.id)
    code, village = precheck(user, raw, now)
    location_ok = _location_ok(village.id, position) if needs_location(village.id, code) else None
    here = local(now)
    digest = rules.use_digest(raw, here.date())
    status = day_status(village.id, here.date())
    record = AttendanceRecord(
        village_id=village.id,
        user_id=user.id,
        day=here.date(),
        checked_in_at=now,
        auto_out_at=rules.auto_out_at(here, status),
        method=SCREEN if code.kind == rules.SCREEN else POSTER,
        location_ok=location_ok,
    )
    db.session.add(AttendanceCodeUse(user_id=user.id, digest=digest, used_at=now))
    db.session.add(record)
    try:
        db.session.flush()
    except IntegrityError:
        # Two taps at once: the other one checked in first.
        db.session.rollback()
        raise AlreadyIn(N_("Anda sudah tercatat hadir.")) from None
    return record


def check_out(user: User, now: datetime | None = None) -> AttendanceRecord | None:
    """Close the official's open check-in now; None when there was none."""
    now = now or utcnow()
    close_due(now, user_id=user.id)
    record = open_record(user.id)
    if record is None:
        return None
    record.checked_out_at = now
    record.closed_by = BY_SELF
    return record


def close_due(now: datetime | None = None, *, user_id: int | None = None) -> int:
    """Close every open check-in past its closing time, at that time; return how many."""
    stmt = (
        update(AttendanceRecord)
        .where(AttendanceRecord.checked_out_at.is_(None), AttendanceRecord.auto_out_at <= (now or utcnow()))
        .values(checked_out_at=AttendanceRecord.auto_out_at, closed_by=BY_AUTO)
        .execution_options(synchronize_session=False)
    )
    if user_id is not None:
        stmt = stmt.where(AttendanceRecord.user_id == user_id)
    return db.session.execute(stmt).rowcount or 0


def auto_checkout() -> int:
    """The periodic job: close check-ins at closing time and forget used codes after two days."""
    now = utcnow()
    closed = close_due(now)
    db.session.execute(delete(AttendanceCodeUse).where(AttendanceCodeUse.used_at < now - USES_KEPT))
    db.session.commit()
    return closed


# --- who is in now --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Present:
    role: str  # "head" or "operator"
    first_name: str
    since: datetime  # village time

    @property
    def since_label(self) -> str:
        return rules.format_time(self.since)


@dataclass(frozen=True)
class OfficeNow:
    today: rules.DayStatus
    present: list[Present]
    open_now: bool
    head_in: bool
    until: str  # "15.00" when open now, else ""


def office_now(village_id: int, now: datetime | None = None) -> OfficeNow:
    """What residents see: today's hours, whether the balai is open now, and who is in (role, first name)."""
    now = now or utcnow()
    here = local(now)
    today = day_status(village_id, here.date())
    rows = db.session.execute(
        select(User.role, User.name, AttendanceRecord.checked_in_at)
        .join(User, User.id == AttendanceRecord.user_id)
        .where(
            AttendanceRecord.village_id == village_id,
            AttendanceRecord.checked_out_at.is_(None),
            AttendanceRecord.auto_out_at > now,
        )
        .order_by(AttendanceRecord.checked_in_at)
    ).all()
    present = [
        Present("head" if role == Role.HEAD else "operator", rules.first_name(name), local(since))
        for role, name, since in rows
    ]
    present.sort(key=lambda p: (p.role != "head", p.since))
    open_now = bool(today.hours and today.hours.opens <= here.time() < today.hours.closes)
    return OfficeNow(
        today=today,
        present=present,
        open_now=open_now,
        head_in=any(p.role == "head" for p in present),
        until=rules.format_time(today.hours.closes) if open_now else "",
    )


# --- the monthly sheet and corrections --------------------------------------------------------------


def village_officials(village_id: int) -> list[User]:
    """The village's officials: the head first, then the operators by name."""
    users = db.session.scalars(
        select(User).where(User.village_id == village_id, User.role.in_(VILLAGE_ROLES)).order_by(User.name)
    ).all()
    return sorted(users, key=lambda u: u.role != Role.HEAD)


def month_range(month: date) -> tuple[date, date]:
    start = month.replace(day=1)
    end = (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return start, end


def _session(record: AttendanceRecord, now: datetime) -> rules.Session:
    out, closed_by = record.checked_out_at, record.closed_by
    if out is None and record.auto_out_at <= now:
        out, closed_by = record.auto_out_at, BY_AUTO  # the job has not run yet; it will close it so
    return rules.Session(
        record_id=record.id,
        checked_in=local(record.checked_in_at),
        checked_out=local(out) if out else None,
        closed_by=closed_by,
        location_ok=record.location_ok,
        method=record.method,
        edited=record.edited,
    )


@dataclass
class MonthSheet:
    official: User
    sheet: rules.Sheet
    edits: dict[int, list[AttendanceEdit]]
    grace: int


def month_sheet(village: Village, official: User, month: date, now: datetime | None = None) -> MonthSheet:
    """The official's month: every day up to today with hours, check-ins, lateness and corrections."""
    now = now or utcnow()
    start, end = month_range(month)
    records = db.session.scalars(
        select(AttendanceRecord)
        .where(
            AttendanceRecord.user_id == official.id,
            AttendanceRecord.day >= start,
            AttendanceRecord.day <= end,
        )
        .order_by(AttendanceRecord.checked_in_at)
    ).all()
    settings = settings_for(village.id)
    sheet = rules.build_sheet(
        start,
        [_session(r, now) for r in records],
        rules.weekly_hours(settings.hours),
        holidays_between(village.id, start, end),
        settings.grace_minutes,
        local_today(now),
    )
    edits: dict[int, list[AttendanceEdit]] = {}
    if records:
        for edit in db.session.scalars(
            select(AttendanceEdit)
            .where(AttendanceEdit.record_id.in_([r.id for r in records]))
            .order_by(AttendanceEdit.id)
        ):
            edits.setdefault(edit.record_id, []).append(edit)
    return MonthSheet(official, sheet, edits, settings.grace_minutes)


def _check_reason(reason: str) -> str:
    reason = " ".join((reason or "").split())
    if len(reason) < MIN_REASON:
        raise DomainError(N_("Tulis alasan perubahan (paling sedikit %(n)s huruf)."), n=MIN_REASON)
    return reason[:500]


def _times(day: date, clock_in: str, clock_out: str, now: datetime) -> tuple[datetime, datetime | None]:
    start = _at(day, rules.parse_time(clock_in))
    end = _at(day, rules.parse_time(clock_out)) if (clock_out or "").strip() else None
    if end is not None and end <= start:
        raise DomainError(N_("Jam keluar harus sesudah jam masuk."))
    if start > local(now) or (end is not None and end > local(now)):
        raise DomainError(N_("Jam itu belum lewat; catatan hanya untuk waktu yang sudah terjadi."))
    return start, end


def correct(
    record: AttendanceRecord,
    editor: User,
    *,
    clock_in: str,
    clock_out: str,
    reason: str,
    now: datetime | None = None,
) -> AttendanceEdit:
    """Change a check-in's times on its day, keeping the old ones and the reason in the audit trail."""
    now = now or utcnow()
    reason = _check_reason(reason)
    start, end = _times(record.day, clock_in, clock_out, now)
    if end is None and record.checked_out_at is not None:
        raise DomainError(N_("Isi jam keluar."))
    edit = AttendanceEdit(
        record_id=record.id,
        village_id=record.village_id,
        editor_id=editor.id,
        editor_name=editor.name,
        reason=reason,
        old_in=record.checked_in_at,
        old_out=record.checked_out_at,
        new_in=start,
        new_out=end,
        created_at=now,
    )
    record.checked_in_at = start
    record.checked_out_at = end
    record.closed_by = BY_EDIT if end is not None else None
    if end is None:
        record.auto_out_at = rules.auto_out_at(start, day_status(record.village_id, record.day))
    record.edited = True
    db.session.add(edit)
    return edit


def add_record(
    village: Village,
    official: User,
    editor: User,
    *,
    day: date,
    clock_in: str,
    clock_out: str,
    reason: str,
    now: datetime | None = None,
) -> AttendanceRecord:
    """Record a day the official was in but did not check in (a dead phone, a TV down), with the reason."""
    now = now or utcnow()
    reason = _check_reason(reason)
    if official.village_id != village.id or official.role not in VILLAGE_ROLES:
        raise DomainError(N_("Petugas ini bukan petugas desa ini."))
    start, end = _times(day, clock_in, clock_out, now)
    if end is None:
        raise DomainError(N_("Isi jam keluar."))
    record = AttendanceRecord(
        village_id=village.id,
        user_id=official.id,
        day=day,
        checked_in_at=start,
        checked_out_at=end,
        auto_out_at=end,
        closed_by=BY_EDIT,
        method=CORRECTION,
        location_ok=None,
        edited=True,
    )
    db.session.add(record)
    db.session.flush()
    db.session.add(
        AttendanceEdit(
            record_id=record.id,
            village_id=village.id,
            editor_id=editor.id,
            editor_name=editor.name,
            reason=reason,
            new_in=start,
            new_out=end,
            created_at=now,
        )
    )
    return record


# --- kecamatan and kabupaten ------------------------------------------------------------------------


def region_summary(
    region_code: str, month: date, now: datetime | None = None
) -> list[tuple[Village, rules.OfficeSummary]]:
    """Per active village under ``region_code``: office days, days opened, opened on time, days closed."""
    now = now or utcnow()
    start, end = month_range(month)
    today = local_today(now)
    in_region = (region_prefix_filter(Village.region_code, region_code), Village.active.is_(True))
    villages = db.session.scalars(select(Village).where(*in_region).order_by(Village.name)).all()
    if not villages:
        return []
    ids = select(Village.id).where(*in_region).scalar_subquery()
    settings = {
        s.village_id: s
        for s in db.session.scalars(select(AttendanceSettings).where(AttendanceSettings.village_id.in_(ids)))
    }
    national: dict[date, str] = {}
    own: dict[int, dict[date, str]] = {}
    for village_id, day, name in db.session.execute(
        select(Holiday.village_id, Holiday.day, Holiday.name).where(
            or_(Holiday.village_id.is_(None), Holiday.village_id.in_(ids)),
            Holiday.day >= start,
            Holiday.day <= end,
        )
    ):
        (national if village_id is None else own.setdefault(village_id, {}))[day] = name
    first: dict[int, dict[date, datetime]] = {}
    for village_id, day, moment in db.session.execute(
        select(AttendanceRecord.village_id, AttendanceRecord.day, func.min(AttendanceRecord.checked_in_at))
        .where(
            AttendanceRecord.village_id.in_(ids), AttendanceRecord.day >= start, AttendanceRecord.day <= end
        )
        .group_by(AttendanceRecord.village_id, AttendanceRecord.day)
    ):
        first.setdefault(village_id, {})[day] = local(moment)
    out = []
    for village in villages:
        s = settings.get(village.id) or _default_settings(village.id)
        out.append(
            (
                village,
                rules.summarize_office(
                    start,
                    first.get(village.id, {}),
                    rules.weekly_hours(s.hours),
                    {**national, **own.get(village.id, {})},
                    s.grace_minutes,
                    today,
                ),
            )
        )
    return out
