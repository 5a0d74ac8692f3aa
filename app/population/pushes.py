"""Pushes: what a village's OpenSID (or an official's import) sent, and the job that reads it.

The receiver only checks the sender and stores the payload as a ``SyncPush`` row, then a job reads it
(rq under production, in-process without Redis). A village's pushes are read one at a time, oldest
first; each is read in one transaction together with its log row, so a push that fails half way
leaves the village's previous data as it was. A push whose job never ran (Redis was down, a worker
died) is picked up by the sweep. Running a push's job twice changes nothing: a finished push is not
claimed again, and the same data stored again is noticed and left alone.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass, field
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from app.domain import opensid
from app.domain.errors import N_
from app.domain.opensid import Note, PayloadError
from app.extensions import db
from app.jobs import PERIODIC, Periodic, enqueue
from app.models import User, Village, utcnow
from app.models.population import (
    DONE,
    FAILED,
    PROCESSING,
    QUEUED,
    SOURCE_OPENDK,
    UNCHANGED,
    SyncPush,
    SyncToken,
)
from app.population import register

log = logging.getLogger(__name__)
TZ = ZoneInfo("Asia/Jakarta")
MAX_NOTES = 200
LEASE = timedelta(minutes=15)
MAX_ATTEMPTS = 3
JOB = "app.population.pushes.process_village"

PERIODIC.append(
    Periodic("app.population.pushes.sweep", queue="default", interval=60, timeout=900, name="opendk-sweep")
)

# What a push carries.
IDENTITAS = "identitas-desa"
PENDUDUK = "penduduk"
PENDUDUK_HAPUS = "penduduk-hapus"
LAPORAN_PENDUDUK = "laporan-penduduk"
LAPORAN_APBDES = "laporan-apbdes"
PEMBANGUNAN = "pembangunan"
DOKUMENTASI = "pembangunan-dokumentasi"
PROGRAM = "program-bantuan"
PESERTA = "program-bantuan-peserta"
MODULE_LABELS: dict[str, str] = {
    IDENTITAS: N_("Identitas desa"),
    PENDUDUK: N_("Penduduk"),
    PENDUDUK_HAPUS: N_("Penduduk yang dihapus"),
    LAPORAN_PENDUDUK: N_("Laporan penduduk"),
    LAPORAN_APBDES: N_("Laporan APBDes"),
    PEMBANGUNAN: N_("Pembangunan"),
    DOKUMENTASI: N_("Dokumentasi pembangunan"),
    PROGRAM: N_("Program bantuan"),
    PESERTA: N_("Peserta program bantuan"),
}
INTERNAL = opensid.known(
    N_("Kiriman ini gagal diproses karena gangguan di Balai; data sebelumnya tetap utuh. Kirim lagi nanti.")
)
MORE_NOTES = opensid.known(N_("… dan %(n)s catatan lain."))


@dataclass
class Outcome:
    rows: int = 0
    skipped: int = 0
    notes: list[Note] = field(default_factory=list)
    unchanged: bool = False


class Refused(Exception):
    """Rows were wrong in a way that must not be stored half: nothing from the file is kept."""

    def __init__(self, notes: list[Note]):
        super().__init__("refused")
        self.notes = notes


def local_date(push: SyncPush) -> date:
    return push.received_at.astimezone(TZ).date()


def _notes_json(notes: list[Note]) -> list[dict]:
    out = [n.as_json() for n in notes[:MAX_NOTES]]
    if len(notes) > MAX_NOTES:
        out.append(Note(MORE_NOTES, {"n": len(notes) - MAX_NOTES}).as_json())
    return out


# --- receiving ---------------------------------------------------------------------------------


def receive(
    village: Village,
    module: str,
    payload: bytes,
    *,
    name: str = "",
    source: str = SOURCE_OPENDK,
    token: SyncToken | None = None,
    user: User | None = None,
) -> SyncPush:
    """Keep a push for the job that reads it (started once the caller commits)."""
    push = SyncPush(
        village_id=village.id,
        module=module,
        source=source,
        state=QUEUED,
        payload=payload,
        payload_name=name[:160],
        payload_bytes=len(payload),
        digest=hashlib.sha256(payload).hexdigest(),
        token_id=token.id if token else None,
        user_id=user.id if user else None,
        errors=[],
    )
    db.session.add(push)
    db.session.flush()
    enqueue(JOB, village.id, queue="default", timeout=900, retries=0)
    return push


def logged(
    village: Village,
    module: str,
    state: str,
    *,
    rows: int = 0,
    notes: list[Note] | None = None,
    name: str = "",
    size: int = 0,
    source: str = SOURCE_OPENDK,
    token: SyncToken | None = None,
    user: User | None = None,
) -> SyncPush:
    """Log a push handled at once (refused at the door, or small enough to store in the request)."""
    now = utcnow()
    push = SyncPush(
        village_id=village.id,
        module=module,
        source=source,
        state=state,
        started_at=now,
        finished_at=now,
        rows=rows,
        errors=_notes_json(notes or []),
        payload_name=name[:160],
        payload_bytes=size,
        token_id=token.id if token else None,
        user_id=user.id if user else None,
    )
    db.session.add(push)
    db.session.flush()
    return push


# --- the job -----------------------------------------------------------------------------------

_claiming = threading.Lock()


def _claim(village_id: int) -> int | None:
    """Take the village's oldest waiting push, unless another run is reading one of its pushes now."""
    now = utcnow()
    with _claiming:
        register.lock(village_id)
        busy = db.session.scalar(
            select(SyncPush.id).where(
                SyncPush.village_id == village_id,
                SyncPush.state == PROCESSING,
                SyncPush.started_at > now - LEASE,
            )
        )
        push_id = None
        if busy is None:
            push_id = db.session.scalar(
                select(SyncPush.id)
                .where(SyncPush.village_id == village_id, SyncPush.state == QUEUED)
                .order_by(SyncPush.id)
                .limit(1)
            )
            if push_id is not None:
                claimed = db.session.execute(
                    update(SyncPush)
                    .where(SyncPush.id == push_id, SyncPush.state == QUEUED)
                    .values(state=PROCESSING, started_at=now, attempts=SyncPush.attempts + 1)
                ).rowcount
                push_id = push_id if claimed == 1 else None
        db.session.commit()
        return push_id


def process_village(village_id: int) -> int:
    """Job: read every waiting push of a village, oldest first; returns how many were read."""
    done = 0
    while (push_id := _claim(village_id)) is not None:
        process(push_id, village_id)
        done += 1
    return done


def process(push_id: int, village_id: int) -> str:
    """Read one claimed push and store what it holds, in one transaction with its log row."""
    from app.population import documents

    register.lock(village_id)
    push = db.session.get(SyncPush, push_id)
    village = push.village
    module, village_id = push.module, push.village_id
    handler = HANDLERS.get(module) or documents.HANDLERS[module]
    try:
        outcome = handler(push, village)
    except PayloadError as err:
        db.session.rollback()
        return _finish(push_id, FAILED, notes=[Note(err.message, err.params)])
    except Refused as refused:
        db.session.rollback()
        return _finish(push_id, FAILED, notes=refused.notes)
    except Exception:
        db.session.rollback()
        log.exception("push %s (%s) of village %s failed", push_id, module, village_id)
        attempts = db.session.get(SyncPush, push_id).attempts
        if attempts >= MAX_ATTEMPTS:
            return _finish(push_id, FAILED, notes=[Note(INTERNAL)])
        db.session.execute(update(SyncPush).where(SyncPush.id == push_id).values(state=QUEUED))
        db.session.commit()
        return QUEUED
    push.state = UNCHANGED if outcome.unchanged else DONE
    push.rows, push.skipped = outcome.rows, outcome.skipped
    push.errors = _notes_json(outcome.notes)
    push.payload = None
    push.finished_at = utcnow()
    if not outcome.unchanged:
        from app.stats.population import publish_soon

        publish_soon(village.region_code)
    db.session.commit()
    return push.state


def _finish(push_id: int, state: str, *, notes: list[Note]) -> str:
    push = db.session.get(SyncPush, push_id)
    push.state = state
    push.errors = _notes_json(notes)
    push.payload = None
    push.finished_at = utcnow()
    db.session.commit()
    return state


def sweep() -> int:
    """Periodic: hand waiting pushes (whose job never ran) and dead runs' pushes to a job again."""
    now = utcnow()
    stale = db.session.scalars(
        select(SyncPush).where(SyncPush.state == PROCESSING, SyncPush.started_at < now - LEASE)
    ).all()
    for push in stale:
        if push.attempts >= MAX_ATTEMPTS:
            push.state = FAILED
            push.errors = _notes_json([Note(INTERNAL)])
            push.payload = None
            push.finished_at = now
        else:
            push.state = QUEUED
    villages = set(
        db.session.scalars(
            select(SyncPush.village_id).where(
                SyncPush.state == QUEUED, SyncPush.received_at < now - timedelta(seconds=30)
            )
        )
    )
    villages.update(p.village_id for p in stale if p.state == QUEUED)
    for village_id in sorted(villages):
        enqueue(JOB, village_id, queue="default", timeout=900, retries=0)
    db.session.commit()
    return len(villages)


# --- residents -------------------------------------------------------------------------------


def _penduduk(push: SyncPush, village: Village) -> Outcome:
    """A whole register: OpenSID's 42-column xlsx, or the Balai template (xlsx or CSV)."""
    if push.payload_name.lower().endswith(".csv"):
        header, rows = opensid.read_csv(push.payload, max_rows=opensid.MAX_RESIDENTS)
        lines = ((line, row) for line, row in enumerate(rows, start=2))
    else:
        header, lines = opensid.xlsx_rows(push.payload)
    if "nomor_nik" in header:
        missing = [c for c in opensid.REQUIRED_XLSX_COLUMNS if c not in header]
        if missing:
            raise PayloadError(opensid.XLSX_COLUMNS_MISSING, columns=", ".join(missing))
        return _from_opensid(push, village, header, lines)
    missing = [c for c in ("nik", "nama", "jenis_kelamin") if c not in header]
    if missing:
        raise PayloadError(register.TEMPLATE_COLUMNS_MISSING, columns=", ".join(missing))
    return _from_template(push, village, header, lines)


def _dict(header: list[str], cells: list) -> dict:
    return {name: (cells[i] if i < len(cells) else None) for i, name in enumerate(header) if name}


def _from_opensid(push: SyncPush, village: Village, header, lines) -> Outcome:
    records, notes, skipped = [], [], 0
    for line, cells in lines:
        row = _dict(header, cells)
        code = opensid.village_code_of(row)
        if code and code != village.region_code:
            raise PayloadError(opensid.OTHER_VILLAGE, got=code[:20], want=village.region_code)
        record, row_notes = opensid.resident_from_opensid(row, line)
        notes.extend(row_notes)
        if record is None:
            skipped += 1
            continue
        records.append((line, record))
    kept, duplicates = register.dedupe(records)
    notes.extend(duplicates)
    skipped += len(duplicates)
    result = register.replace(village, kept, source=push.source, as_of=local_date(push))
    return Outcome(rows=len(kept), skipped=skipped, notes=notes, unchanged=result.unchanged)


def _from_template(push: SyncPush, village: Village, header, lines) -> Outcome:
    records, blocking = [], []
    for line, cells in lines:
        record, row_notes = register.record_from_template(_dict(header, [_text(c) for c in cells]), line)
        if record is None:
            blocking.extend(row_notes)
            continue
        records.append((line, record))
    kept, duplicates = register.dedupe(records)
    blocking.extend(duplicates)
    if blocking:
        raise Refused([*blocking, Note(register.NOTHING_IMPORTED)])
    if not kept:
        raise PayloadError(opensid.EMPTY_FILE)
    result = register.replace(village, kept, source=push.source, as_of=local_date(push))
    return Outcome(rows=len(kept), unchanged=result.unchanged)


def _text(value) -> str | None:
    return value if value is None or isinstance(value, str) else str(value)


def _hapus(push: SyncPush, village: Village) -> Outcome:
    """OpenSID's hapus_penduduk: [{desa_id, id_pend_desa, foto}]; the photo names are ignored."""
    import json

    items = json.loads(push.payload.decode("utf-8"))
    for item in items:
        code = str(item.get("desa_id") or "")
        if code and code != village.region_code:
            raise PayloadError(opensid.OTHER_VILLAGE, got=code[:20], want=village.region_code)
    ids = [str(item.get("id_pend_desa") or "").strip()[:20] for item in items]
    removed = register.remove_external(village, ids, local_date(push))
    return Outcome(rows=removed, skipped=len(items) - removed)


HANDLERS = {PENDUDUK: _penduduk, PENDUDUK_HAPUS: _hapus}


def latest(village_id: int, module: str, since) -> SyncPush | None:
    """The village's newest push of ``module`` received after ``since``."""
    return db.session.scalar(
        select(SyncPush)
        .where(SyncPush.village_id == village_id, SyncPush.module == module, SyncPush.received_at >= since)
        .order_by(SyncPush.id.desc())
        .limit(1)
    )


def recent(village_ids, limit: int = 50) -> list[SyncPush]:
    """The newest pushes of some villages (the push log)."""
    return list(
        db.session.scalars(
            select(SyncPush)
            .where(SyncPush.village_id.in_(village_ids))
            .order_by(SyncPush.id.desc())
            .limit(limit)
        )
    )
