"""A village's population register: replaced whole and atomically, aggregated, searched, corrected.

No HTTP here. Callers commit: a replacement, its aggregates and its push log row go in one
transaction, so a push that fails half way leaves the previous register as it was.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, fields
from datetime import date

from flask import current_app
from sqlalchemy import delete, func, insert, or_, select, update

from app import datacache
from app.domain import opensid
from app.domain.errors import N_, DomainError
from app.domain.nik import clean_nik
from app.domain.opensid import LIVING, ResidentRecord
from app.domain.text import format_date_id
from app.extensions import db
from app.models import User, Village, utcnow
from app.models.population import (
    PopulationSource,
    PopulationStat,
    RegisterAccess,
    Resident,
    ResidentCorrection,
)

RECORD_FIELDS = tuple(f.name for f in fields(ResidentRecord))
# Dimensions that split every living resident into categories ("" = not recorded).
PARTITIONS = ("education", "occupation", "religion", "marital")
SEX_KEYS = {opensid.MALE: "L", opensid.FEMALE: "P"}
SEARCH_LIMIT = 50


# --- aggregates --------------------------------------------------------------------------------


def stats_of(records, as_of: date) -> Counter:
    """Aggregates of the living residents among ``records``: {(dimension, key): count}."""
    out: Counter = Counter()
    households: set[str] = set()
    for r in records:
        if r.status != LIVING:
            continue
        sex = SEX_KEYS.get(r.sex, "")
        out["total", ""] += 1
        out["sex", sex] += 1
        out["age", opensid.age_band(r.birth_date, as_of) + sex] += 1
        for dimension in PARTITIONS:
            value = getattr(r, dimension)
            out[dimension, "" if value is None else str(value)] += 1
        if r.kk:
            households.add(r.kk)
    if households:
        out["households", ""] = len(households)
    return out


def content_digest(records: list[ResidentRecord]) -> str:
    """The same register gives the same digest, whatever the order of its rows."""
    lines = sorted(repr(r.key()) for r in records)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def _write_stats(village_id: int, stats: Counter) -> None:
    db.session.execute(delete(PopulationStat).where(PopulationStat.village_id == village_id))
    rows = [{"village_id": village_id, "dimension": d, "key": k, "n": n} for (d, k), n in stats.items() if n]
    if rows:
        db.session.execute(insert(PopulationStat), rows)


def lock(village_id: int) -> None:
    """One writer per village at a time: a no-op write on the village's row, so PostgreSQL holds its
    row lock and SQLite its write lock until the transaction ends. Made first in a transaction, it
    also starts SQLite's snapshot after the previous writer's commit."""
    db.session.execute(update(Village).where(Village.id == village_id).values(active=Village.active))


# --- replacing the register --------------------------------------------------------------------


@dataclass(frozen=True)
class Replaced:
    rows: int
    residents: int
    households: int
    unchanged: bool


def replace(village: Village, records: list[ResidentRecord], *, source: str, as_of: date) -> Replaced:
    """Make ``records`` the village's register, with its aggregates; the caller commits.

    The same records as last time change nothing but the date of the last push. Corrections made by
    officials are applied again to the new rows, unless the village's own system has changed that
    field since (then the correction is marked superseded).
    """
    from app.stats.population import mark_dirty

    lock(village.id)
    digest = content_digest(records)
    current = db.session.get(PopulationSource, village.id)
    if current is not None and current.content_digest == digest and current.source == source:
        current.pushed_at = utcnow()
        return Replaced(len(records), current.residents, current.households, unchanged=True)
    _apply_corrections(village.id, records)
    db.session.execute(delete(Resident).where(Resident.village_id == village.id))
    if records:
        db.session.execute(
            insert(Resident),
            [{"village_id": village.id, "source": source, **_row(r)} for r in records],
        )
    stats = stats_of(records, as_of)
    _write_stats(village.id, stats)
    current = current or PopulationSource(village_id=village.id)
    current.source = source
    current.as_of = as_of
    current.pushed_at = utcnow()
    current.residents = stats["total", ""]
    current.households = stats["households", ""]
    current.content_digest = digest
    db.session.add(current)
    mark_dirty(village.region_code)
    return Replaced(len(records), current.residents, current.households, unchanged=False)


def _row(r: ResidentRecord) -> dict:
    return {name: getattr(r, name) for name in RECORD_FIELDS}


def _as_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _apply_corrections(village_id: int, records: list[ResidentRecord]) -> None:
    corrections = db.session.scalars(
        select(ResidentCorrection)
        .where(ResidentCorrection.village_id == village_id, ResidentCorrection.superseded_at.is_(None))
        .order_by(ResidentCorrection.id)
    ).all()
    if not corrections:
        return
    by_nik = {r.nik: r for r in records if r.nik}
    for c in corrections:
        record = by_nik.get(c.nik)
        if record is None:
            continue
        incoming = _as_text(getattr(record, c.field))
        if incoming == c.new_value:
            continue  # the village's system now says the same
        if incoming == c.old_value:
            setattr(record, c.field, _parse_field(c.field, c.new_value))
        else:
            c.superseded_at = utcnow()


def remove_external(village: Village, external_ids: list[str], as_of: date) -> int:
    """Delete residents OpenSID says it deleted (hapus_penduduk) and recount; the caller commits."""
    from app.stats.population import mark_dirty

    lock(village.id)
    ids = [i for i in external_ids if i]
    if not ids:
        return 0
    removed = db.session.execute(
        delete(Resident).where(Resident.village_id == village.id, Resident.external_id.in_(ids))
    ).rowcount
    if removed:
        recount(village, as_of)
        mark_dirty(village.region_code)
    return removed


def recount(village: Village, as_of: date) -> None:
    """Aggregates again from the stored rows (after a deletion or a correction)."""
    rows = db.session.scalars(select(Resident).where(Resident.village_id == village.id)).all()
    stats = stats_of(rows, as_of)
    _write_stats(village.id, stats)
    current = db.session.get(PopulationSource, village.id)
    if current is not None:
        current.residents = stats["total", ""]
        current.households = stats["households", ""]
        current.content_digest = ""  # the next full push is applied even if it equals the last one


# --- reading -----------------------------------------------------------------------------------


def normalise_name(name: str) -> str:
    """Names compared the way people write them: case, accents, dots and spaces do not matter."""
    text = unicodedata.normalize("NFKD", name or "").encode("ascii", "ignore").decode().lower()
    return " ".join(re.sub(r"[^a-z0-9 ]+", " ", text).split())


def is_nik_query(q: str) -> bool:
    digits = clean_nik(q or "")
    return len(digits) == 16 and digits.isdigit()


def search(
    village_id: int, q: str, *, offset: int = 0, limit: int = SEARCH_LIMIT
) -> tuple[list[Resident], bool]:
    """Residents whose NIK or KK is ``q`` (16 digits), or whose name contains ``q``; (page, more)."""
    stmt = select(Resident).where(Resident.village_id == village_id)
    q = (q or "").strip()
    if is_nik_query(q):
        digits = clean_nik(q)
        stmt = stmt.where(or_(Resident.nik == digits, Resident.kk == digits))
    elif q:
        words = normalise_name(q).split()
        for word in words[:5]:
            stmt = stmt.where(func.lower(Resident.name).contains(word, autoescape=True))
    rows = db.session.scalars(
        stmt.order_by(Resident.name, Resident.id).offset(max(offset, 0)).limit(limit + 1)
    ).all()
    return list(rows[:limit]), len(rows) > limit


def family_of(resident: Resident) -> list[Resident]:
    if not resident.kk:
        return [resident]
    return list(
        db.session.scalars(
            select(Resident)
            .where(Resident.village_id == resident.village_id, Resident.kk == resident.kk)
            .order_by(Resident.relation, Resident.birth_date, Resident.id)
        )
    )


def source_of(village_id: int) -> PopulationSource | None:
    return db.session.get(PopulationSource, village_id)


def village_stats(village_id: int) -> dict[tuple[str, str], int]:
    """The village's exact aggregates (for its own officials)."""
    return {
        (d, k): n
        for d, k, n in db.session.execute(
            select(PopulationStat.dimension, PopulationStat.key, PopulationStat.n).where(
                PopulationStat.village_id == village_id
            )
        )
    }


# --- what the officials' queue and request page learn from the register ----------------------


@dataclass(frozen=True)
class Match:
    """What the register says about a NIK typed into a request, for the officials handling it."""

    resident: Resident | None
    name_matches: bool = False

    @property
    def registered(self) -> bool:
        return self.resident is not None

    @property
    def living(self) -> bool:
        return self.resident is not None and self.resident.status == LIVING


def has_register(village_id: int) -> bool:
    """Whether the village has pushed a register (kept in the data cache until the next write)."""
    return datacache.cached(
        ("has-population-register", village_id),
        lambda: db.session.get(PopulationSource, village_id) is not None,
    )


def matches(village_id: int, people: list[tuple[str, str]]) -> dict[str, Match]:
    """{nik: Match} for (nik, name) pairs of one village, in one query; empty without a register."""
    niks = {nik for nik, _name in people if nik}
    if not niks or not has_register(village_id):
        return {}
    found = {
        r.nik: r
        for r in db.session.scalars(
            select(Resident).where(Resident.village_id == village_id, Resident.nik.in_(niks))
        )
    }
    out = {}
    for nik, name in people:
        resident = found.get(nik)
        out[nik] = Match(
            resident, resident is not None and normalise_name(resident.name) == normalise_name(name)
        )
    return out


# Request fields a letter may take from the register, and how each is written.
PREFILL_FIELDS: dict[str, str] = {
    "tempat_lahir": N_("Tempat lahir"),
    "tanggal_lahir": N_("Tanggal lahir"),
    "jenis_kelamin": N_("Jenis kelamin"),
    "alamat": N_("Alamat"),
    "pekerjaan": N_("Pekerjaan"),
    "agama": N_("Agama"),
    "status_perkawinan": N_("Status perkawinan"),
}


def address_of(r: Resident) -> str:
    parts = [r.address]
    if r.rt or r.rw:
        parts.append(f"RT {r.rt or '-'}/RW {r.rw or '-'}")
    if r.dusun:
        parts.append(r.dusun)
    return ", ".join(p for p in parts if p)


def _title(text: str) -> str:
    """OpenSID's labels are upper case; letters read better in title case ("Petani/Pekebun")."""
    return re.sub(r"[A-Za-z]+", lambda m: m.group(0).capitalize(), text.lower())


def letter_values(r: Resident) -> dict[str, str]:
    """What the register would put in a letter's fields, as text for the official to confirm."""
    return {
        "tempat_lahir": _title(r.birth_place) if r.birth_place else "",
        "tanggal_lahir": format_date_id(r.birth_date) if r.birth_date else "",
        "jenis_kelamin": {opensid.MALE: "Laki-laki", opensid.FEMALE: "Perempuan"}.get(r.sex, ""),
        "alamat": address_of(r),
        "pekerjaan": _title(opensid.label("occupation", r.occupation)),
        "agama": _title(opensid.label("religion", r.religion)),
        "status_perkawinan": _title(opensid.label("marital", r.marital)),
    }


# --- corrections ---------------------------------------------------------------------------------

CORRECTABLE: dict[str, str] = {
    "name": N_("Nama"),
    "kk": N_("Nomor KK"),
    "sex": N_("Jenis kelamin"),
    "birth_place": N_("Tempat lahir"),
    "birth_date": N_("Tanggal lahir"),
    "religion": N_("Agama"),
    "education": N_("Pendidikan (dalam KK)"),
    "occupation": N_("Pekerjaan"),
    "marital": N_("Status perkawinan"),
    "relation": N_("Hubungan dalam keluarga"),
    "dusun": N_("Dusun"),
    "rw": N_("RW"),
    "rt": N_("RT"),
    "address": N_("Alamat"),
    "status": N_("Status (hidup, pindah, mati)"),
}
CODED = set(opensid.CODE_TABLES)
_TEXT_LIMITS = {"name": 120, "birth_place": 80, "dusun": 60, "rw": 8, "rt": 8, "address": 200}


def _parse_field(field: str, text: str):
    """A typed value as stored; raises DomainError with what is wrong."""
    text = " ".join((text or "").split())
    if field in CODED:
        if not text:
            return None
        code = opensid.code_for(field, text)
        if code is None:
            raise DomainError(N_("Pilih salah satu pilihan yang ada."))
        return code
    if field == "birth_date":
        if not text:
            return None
        parsed = opensid.parse_date(text)
        if parsed is None or parsed > date.today():
            raise DomainError(N_("Tulis tanggal sebagai TTTT-BB-HH, misalnya 1980-01-31."))
        return parsed
    if field == "kk":
        digits = clean_nik(text)
        if digits and not (len(digits) == 16 and digits.isdigit()):
            raise DomainError(N_("Nomor KK harus 16 angka."))
        return digits or None
    if field == "name" and not text:
        raise DomainError(N_("Nama tidak boleh kosong."))
    return text[: _TEXT_LIMITS.get(field, 200)]


def correct(
    resident: Resident, field: str, value: str, *, reason: str, user: User, as_of: date
) -> ResidentCorrection:
    """Change one field of a register entry, keeping who, when, why and the old value; caller commits."""
    from app.stats.population import mark_dirty

    if field not in CORRECTABLE:
        raise DomainError(N_("Isian ini tidak dapat dikoreksi."))
    if not reason.strip():
        raise DomainError(N_("Tulis alasan koreksi (misalnya: sesuai KK terbaru)."))
    new = _parse_field(field, value)
    old = getattr(resident, field)
    if _as_text(new) == _as_text(old):
        raise DomainError(N_("Nilainya sama dengan yang tersimpan; tidak ada yang diubah."))
    lock(resident.village_id)
    correction = ResidentCorrection(
        village_id=resident.village_id,
        nik=resident.nik or "",
        field=field,
        old_value=_as_text(old)[:200],
        new_value=_as_text(new)[:200],
        reason=reason.strip()[:300],
        user_id=user.id,
        user_name=user.name,
    )
    db.session.add(correction)
    setattr(resident, field, new)
    db.session.flush()
    village = db.session.get(Village, resident.village_id)
    recount(village, as_of)
    mark_dirty(village.region_code)
    return correction


def corrections_of(resident: Resident) -> list[ResidentCorrection]:
    if not resident.nik:
        return []
    return list(
        db.session.scalars(
            select(ResidentCorrection)
            .where(
                ResidentCorrection.village_id == resident.village_id, ResidentCorrection.nik == resident.nik
            )
            .order_by(ResidentCorrection.id.desc())
        )
    )


def shown_value(field: str, value) -> str:
    """A stored value as a person reads it (labels for codes)."""
    if field in CODED:
        code = int(value) if isinstance(value, str) and value.isdigit() else value
        return opensid.label(field, code) if code not in (None, "") else ""
    if isinstance(value, date):
        return format_date_id(value)
    return "" if value is None else str(value)


# --- the access log ---------------------------------------------------------------------------


def subject_digest(nik: str | None) -> str | None:
    """A keyed digest of a NIK: the same person gives the same value, the log never holds the NIK."""
    if not nik:
        return None
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, b"register:" + nik.encode(), hashlib.sha256).hexdigest()


def log_access(
    village_id: int | None, user: User, action: str, *, nik: str | None = None, detail: str = ""
) -> None:
    """Record a look at the register (view, search, export, correct, import, prefill); caller commits."""
    db.session.add(
        RegisterAccess(
            village_id=village_id,
            user_id=user.id,
            user_name=user.name,
            action=action,
            subject=subject_digest(nik),
            detail=detail[:200],
        )
    )


def access_log(village_id: int, limit: int = 100) -> list[RegisterAccess]:
    return list(
        db.session.scalars(
            select(RegisterAccess)
            .where(RegisterAccess.village_id == village_id)
            .order_by(RegisterAccess.id.desc())
            .limit(limit)
        )
    )


# --- the Balai template ------------------------------------------------------------------------

TEMPLATE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("nik", "1809100101800002"),
    ("no_kk", "1809100101010001"),
    ("nama", "BUDI SANTOSO"),
    ("jenis_kelamin", "L"),
    ("tempat_lahir", "PESAWARAN"),
    ("tanggal_lahir", "1980-01-01"),
    ("agama", "ISLAM"),
    ("pendidikan", "SLTA / SEDERAJAT"),
    ("pekerjaan", "MENGURUS RUMAH TANGGA"),
    ("status_perkawinan", "KAWIN"),
    ("hubungan_keluarga", "SUAMI"),
    ("kewarganegaraan", "WNI"),
    ("dusun", "Dusun I"),
    ("rw", "001"),
    ("rt", "001"),
    ("alamat", "Jl. Pantai Mutun No. 12"),
    ("status", "HIDUP"),
)
_TEMPLATE_CODED = {
    "jenis_kelamin": "sex",
    "agama": "religion",
    "pendidikan": "education",
    "pekerjaan": "occupation",
    "status_perkawinan": "marital",
    "hubungan_keluarga": "relation",
    "kewarganegaraan": "citizenship",
    "status": "status",
}
ROW_NIK = opensid.known(N_("Baris %(line)s: NIK tidak sah (%(reason)s); baris dilewati."))
ROW_NO_SEX = opensid.known(N_("Baris %(line)s: jenis kelamin harus L atau P; baris dilewati."))
ROW_BAD_VALUE = opensid.known(
    N_("Baris %(line)s: isi kolom %(column)s tidak ada di daftar pilihan; baris dilewati.")
)
ROW_BAD_DATE = opensid.known(N_("Baris %(line)s: tanggal_lahir bukan tanggal (TTTT-BB-HH); baris dilewati."))
ROW_BAD_KK = opensid.known(N_("Baris %(line)s: no_kk harus 16 angka; baris dilewati."))
TEMPLATE_COLUMNS_MISSING = opensid.known(
    N_(
        "Kolom %(columns)s tidak ada di baris judul. Unduh templat Balai dan isi kolomnya tanpa mengubah judul."
    )
)
NOTHING_IMPORTED = opensid.known(
    N_("Tidak ada yang diubah: perbaiki baris yang disebut di atas lalu unggah lagi.")
)


def template_header() -> list[str]:
    return [name for name, _example in TEMPLATE_COLUMNS]


def template_example() -> list[str]:
    return [example for _name, example in TEMPLATE_COLUMNS]


def record_from_template(row: dict, line: int) -> tuple[ResidentRecord | None, list[opensid.Note]]:
    """One row of the Balai template; a row with a blocking error is returned as None with its notes."""
    from app.domain.nik import parse_nik

    Note = opensid.Note
    name = " ".join((row.get("nama") or "").split())[:120]
    if not name:
        return None, [Note(opensid.NO_NAME, {"line": line})]
    try:
        nik = parse_nik(row.get("nik") or "").nik
    except DomainError as err:
        return None, [Note(ROW_NIK, {"line": line, "reason": str(err)})]
    kk = clean_nik(row.get("no_kk") or "")
    if kk and not (len(kk) == 16 and kk.isdigit()):
        return None, [Note(ROW_BAD_KK, {"line": line})]
    born = opensid.parse_date(row.get("tanggal_lahir"))
    if row.get("tanggal_lahir") and born is None:
        return None, [Note(ROW_BAD_DATE, {"line": line})]
    record = ResidentRecord(
        nik=nik,
        kk=kk or None,
        name=name,
        birth_place=" ".join((row.get("tempat_lahir") or "").split())[:80],
        birth_date=born,
        dusun=" ".join((row.get("dusun") or "").split())[:60],
        rw=(row.get("rw") or "").strip()[:8],
        rt=(row.get("rt") or "").strip()[:8],
        address=" ".join((row.get("alamat") or "").split())[:200],
    )
    for column, attr in _TEMPLATE_CODED.items():
        raw = (row.get(column) or "").strip()
        if not raw:
            continue
        code = opensid.code_for(attr, raw)
        if code is None:
            return None, [
                Note(ROW_NO_SEX if attr == "sex" else ROW_BAD_VALUE, {"line": line, "column": column})
            ]
        setattr(record, attr, code)
    if record.sex is None:
        return None, [Note(ROW_NO_SEX, {"line": line})]
    if record.status is None:
        record.status = LIVING
    return record, []


def dedupe(records: list[tuple[int, ResidentRecord]]) -> tuple[list[ResidentRecord], list[opensid.Note]]:
    """Drop rows whose NIK an earlier row already has."""
    seen: dict[str, int] = {}
    out, notes = [], []
    for line, record in records:
        if record.nik and record.nik in seen:
            notes.append(opensid.Note(opensid.DUPLICATE_NIK, {"line": line, "first": seen[record.nik]}))
            continue
        if record.nik:
            seen[record.nik] = line
        out.append(record)
    return out, notes


# --- a request's applicant, as the register knows them ------------------------------------------

# Letter placeholders every letter has even when its service does not ask for them.
COMMON_PREFILL = ("tanggal_lahir", "jenis_kelamin")


@dataclass(frozen=True)
class RequestCard:
    """What the request page shows the village's officials about the applicant's NIK."""

    match: Match
    keys: tuple[str, ...]  # the request's letter fields the register can fill
    register_values: dict[str, str]
    typed: dict[str, str]


def prefill_keys(field_names: set[str]) -> tuple[str, ...]:
    return tuple(k for k in PREFILL_FIELDS if k in field_names or k in COMMON_PREFILL)


def request_card(req) -> RequestCard | None:
    """None when the village keeps no register (an unregistered NIK is still served, as before)."""
    found = matches(req.village_id, [(req.nik, req.name)])
    if not found:
        return None
    match = found[req.nik]
    names = {f.get("name") for f in req.service.fields or [] if f.get("name")}
    keys = prefill_keys(names)
    values = letter_values(match.resident) if match.resident is not None else {}
    data = req.data or {}
    typed = {k: str(data.get(k, "")) for k in keys}
    return RequestCard(match, tuple(k for k in keys if values.get(k)), values, typed)


# --- data-protection requests (the superadmin's privacy tools, app/privacy.py) ------------------


def export_person(nik: str) -> dict:
    """Everything the registers hold about one NIK, and who looked at it."""
    from app.models.population import AidProgramme, AidRecipient

    rows = db.session.scalars(select(Resident).where(Resident.nik == nik).order_by(Resident.id)).all()
    villages = {
        v.id: v
        for v in db.session.scalars(select(Village).where(Village.id.in_({r.village_id for r in rows})))
    }
    out = []
    for r in rows:
        entry = {name: _as_text(getattr(r, name)) for name in RECORD_FIELDS}
        entry.update(
            village=villages[r.village_id].display_name,
            village_code=villages[r.village_id].region_code,
            source=r.source,
            labels={f: opensid.label(f, getattr(r, f)) for f in opensid.CODE_TABLES},
            corrections=[
                {
                    "field": c.field,
                    "old": c.old_value,
                    "new": c.new_value,
                    "reason": c.reason,
                    "by": c.user_name,
                    "at": c.created_at.isoformat(),
                }
                for c in corrections_of(r)
            ],
        )
        out.append(entry)
    aid = db.session.execute(
        select(AidProgramme.name, AidRecipient.card_no, Village.name)
        .join(AidProgramme, AidProgramme.id == AidRecipient.programme_id)
        .join(Village, Village.id == AidRecipient.village_id)
        .where(or_(AidRecipient.nik == nik, AidRecipient.ident == nik))
    ).all()
    looks = db.session.execute(
        select(RegisterAccess, Village.name)
        .outerjoin(Village, Village.id == RegisterAccess.village_id)
        .where(RegisterAccess.subject == subject_digest(nik))
        .order_by(RegisterAccess.id)
    ).all()
    return {
        "register": out,
        "aid": [{"programme": p, "card": c, "village": v} for p, c, v in aid],
        "register_access": [
            {"village": v, "by": a.user_name, "action": a.action, "at": a.created_at.isoformat()}
            for a, v in looks
        ],
    }


def erase_person(nik: str) -> int:
    """Remove a NIK from every register (rows, corrections, aid lists) and recount; the caller commits.

    A village whose OpenSID still holds the person sends them again at its next push: the village
    must be asked to erase them there too.
    """
    from app.models.population import AidRecipient
    from app.stats.population import mark_dirty

    rows = db.session.scalars(select(Resident).where(Resident.nik == nik)).all()
    village_ids = {r.village_id for r in rows}
    for r in rows:
        db.session.delete(r)
    db.session.execute(delete(ResidentCorrection).where(ResidentCorrection.nik == nik))
    db.session.execute(delete(AidRecipient).where(or_(AidRecipient.nik == nik, AidRecipient.ident == nik)))
    db.session.flush()
    for village in db.session.scalars(select(Village).where(Village.id.in_(village_ids))):
        recount(village, date.today())
        mark_dirty(village.region_code)
    return len(rows)


def log_privacy(nik: str, user: User, action: str) -> None:
    """Log a superadmin's privacy-tool look (view, export, erase) in each village holding the NIK."""
    for village_id in set(db.session.scalars(select(Resident.village_id).where(Resident.nik == nik))):
        log_access(village_id, user, action, nik=nik, detail=f"alat data pribadi superadmin: {action}")
