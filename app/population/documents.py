"""What else OpenSID sends: reports (PDF), projects and their progress photos, aid programmes and
their recipients, and the village's identity. Each handler reads one push; the caller commits.

Project photos go through the same checks and re-encoding as every upload (app/domain/photos.py) and
become ordinary project photos, shown on the village's page. Residents' photos are never read.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from datetime import date

from flask import current_app
from sqlalchemy import delete, select

from app.domain import opensid
from app.domain.errors import N_, DomainError
from app.domain.opensid import Note, PayloadError
from app.domain.photos import make_thumbnail, process_photo
from app.domain.storage import InvalidPhotoName, PhotoStore
from app.extensions import db
from app.jobs import on_commit
from app.models import Village
from app.models.population import (
    AidProgramme,
    AidRecipient,
    SyncedProject,
    SyncedProjectDoc,
    SyncedReport,
    SyncPush,
    VillageIdentity,
)
from app.models.profile import Project, ProjectPhoto
from app.population import pushes
from app.population.pushes import Outcome

MAX_PDF_BYTES = 15 * 1024 * 1024
MAX_PHOTO_BYTES = 10 * 1024 * 1024

REPORT_NOT_PDF = opensid.known(N_("Laporan %(n)s: berkas bukan PDF yang utuh; laporan ini dilewati."))
REPORT_TOO_BIG = opensid.known(N_("Laporan %(n)s: PDF lebih dari 15 MB; laporan ini dilewati."))
REPORT_BAD = opensid.known(N_("Laporan %(n)s: id, judul atau tahun tidak terbaca; laporan ini dilewati."))
PHOTO_REFUSED = opensid.known(
    N_("Baris %(line)s: foto %(name)s ditolak (%(reason)s); data lainnya tetap disimpan.")
)
NO_ROWS = opensid.known(
    N_(
        "Kiriman tidak berisi baris data. OpenSID v2410 mengirim pembangunan hanya yang berubah sejak "
        "sinkronisasi Program Bantuan terakhir; data yang sudah ada tetap."
    )
)
UNKNOWN_PROJECT = opensid.known(
    N_(
        "Baris %(line)s: pembangunan nomor %(id)s belum pernah dikirim; kirim Pembangunan dulu, lalu dokumentasinya."
    )
)
UNKNOWN_PROGRAMME = opensid.known(
    N_("Baris %(line)s: program bantuan nomor %(id)s tidak ada; kirim Program Bantuan dulu, lalu pesertanya.")
)


def _int(text, default: int | None = None) -> int | None:
    try:
        return int(str(text).strip())
    except (TypeError, ValueError):
        return default


def _check_village(row: dict, village: Village) -> None:
    code = (row.get("desa_id") or "").strip()
    if code and code != village.region_code:
        raise PayloadError(opensid.OTHER_VILLAGE, got=code[:20], want=village.region_code)


def _store() -> PhotoStore:
    return PhotoStore(current_app.config["UPLOAD_DIR"])


def _delete_files_after_commit(names: list[str]) -> None:
    """Old photo files go only once the rows no longer naming them are committed."""

    def remove(*names: str) -> None:
        store = _store()
        for name in names:
            try:
                store.delete(name)
            except (InvalidPhotoName, OSError):
                continue

    if names:
        on_commit(remove, *names)


def _photo(archive, infos: dict, name: str, line: int, notes: list[Note], project: Project, caption: str):
    """(ProjectPhoto, sha256 of the sent file) for a photo named in a CSV row, or (None, "")."""
    info = infos.get(opensid.basename(name)) if name else None
    if info is None:
        return None, ""
    try:
        raw = opensid.read_member(archive, info, opensid.ZipLimits(member_bytes=MAX_PHOTO_BYTES))
        photo = process_photo(raw, filename=info.filename, max_bytes=MAX_PHOTO_BYTES)
        small = make_thumbnail(photo.data, 320)
    except (DomainError, PayloadError) as err:
        reason = err.message % err.params if err.params else err.message
        notes.append(
            Note(PHOTO_REFUSED, {"line": line, "name": opensid.basename(name)[:80], "reason": reason})
        )
        return None, ""
    store = _store()
    row = ProjectPhoto(
        project_id=project.id,
        stored_name=store.save(photo.data, photo.ext),
        small_name=store.save(small.data, small.ext),
        width=photo.width,
        height=photo.height,
        caption=caption[:160],
    )
    db.session.add(row)
    db.session.flush()
    return row, hashlib.sha256(raw).hexdigest()


def _replace_photo(old_id: int | None) -> None:
    if old_id is None:
        return
    old = db.session.get(ProjectPhoto, old_id)
    if old is not None:
        _delete_files_after_commit([old.stored_name, old.small_name])
        db.session.delete(old)


# --- reports -------------------------------------------------------------------------------------


def _reports(kind: str):
    def handler(push: SyncPush, village: Village) -> Outcome:
        body = json.loads(push.payload.decode("utf-8"))
        items = body.get(f"laporan_{kind}") or []
        outcome = Outcome()
        changed = False
        for n, item in enumerate(items, start=1):
            external_id, year = _int(item.get("id")), _int(item.get("tahun"))
            title = " ".join(str(item.get("judul") or "").split())[:200]
            if external_id is None or year is None or not title:
                outcome.notes.append(Note(REPORT_BAD, {"n": n}))
                outcome.skipped += 1
                continue
            try:
                pdf = base64.b64decode(str(item.get("file") or ""), validate=True)
            except (binascii.Error, ValueError):
                pdf = b""
            if len(pdf) > MAX_PDF_BYTES:
                outcome.notes.append(Note(REPORT_TOO_BIG, {"n": n}))
                outcome.skipped += 1
                continue
            if not pdf.startswith(b"%PDF-") or b"%%EOF" not in pdf[-1024:]:
                outcome.notes.append(Note(REPORT_NOT_PDF, {"n": n}))
                outcome.skipped += 1
                continue
            sha = hashlib.sha256(pdf).hexdigest()
            row = db.session.scalar(
                select(SyncedReport).where(
                    SyncedReport.village_id == village.id,
                    SyncedReport.kind == kind,
                    SyncedReport.external_id == external_id,
                )
            ) or SyncedReport(village_id=village.id, kind=kind, external_id=external_id)
            period = _int(item.get("bulan" if kind == "penduduk" else "semester"))
            values = {
                "title": title,
                "year": year,
                "period": period,
                "file_name": opensid.basename(str(item.get("nama_file") or ""))[:160],
                "sha256": sha,
                "source_updated_at": str(item.get("updated_at") or "")[:40],
            }
            if row.id is None or any(getattr(row, k) != v for k, v in values.items()):
                for key, value in values.items():
                    setattr(row, key, value)
                row.pdf, row.pdf_bytes = pdf, len(pdf)
                db.session.add(row)
                changed = True
            outcome.rows += 1
        outcome.unchanged = not changed
        if changed and kind == "apbdes":
            from app.stats.population import mark_dirty

            mark_dirty(village.region_code)
        return outcome

    return handler


# --- projects ------------------------------------------------------------------------------------


def _csv(push: SyncPush, prefix: str, what: str, columns: tuple[str, ...], reader=None):
    archive = opensid.open_zip(push.payload)
    data = opensid.csv_from_zip(push.payload, prefix, what)
    header, rows = opensid.read_csv(data)
    records, notes = (reader or (lambda h, r: opensid.csv_records(h, r, columns, what)))(header, rows)
    infos = {opensid.basename(i.filename): i for i in archive.infolist() if not i.is_dir()}
    return archive, infos, records, notes


def _project(village_id: int, external_id: int) -> tuple[SyncedProject | None, Project | None]:
    """The link of an OpenSID pembangunan and the Balai project it fills, when it was sent before."""
    link = db.session.scalar(
        select(SyncedProject).where(
            SyncedProject.village_id == village_id, SyncedProject.external_id == external_id
        )
    )
    return link, (db.session.get(Project, link.project_id) if link else None)


def _pembangunan(push: SyncPush, village: Village) -> Outcome:
    archive, infos, records, notes = _csv(push, "pembangunan_", "pembangunan", opensid.PEMBANGUNAN_COLUMNS)
    outcome = Outcome(notes=notes, skipped=len(notes))
    if not records:
        outcome.notes.append(Note(NO_ROWS))
        outcome.unchanged = True
        return outcome
    for line, row in records:
        _check_village(row, village)
        external_id = _int(row["id"])
        if external_id is None:
            outcome.notes.append(Note(opensid.BAD_NUMBER, {"line": line, "column": "id"}))
            outcome.skipped += 1
            continue
        link, project = _project(village.id, external_id)
        if project is None:
            project = Project(village_id=village.id, progress=0)
            db.session.add(project)
        budget = _int(row.get("sumber_biaya_jumlah"), 0) or (
            (_int(row.get("anggaran"), 0) or 0) + (_int(row.get("perubahan_anggaran"), 0) or 0)
        )
        project.name = (" ".join(row["judul"].split()) or f"Pembangunan {external_id}")[:160]
        project.year = _int(row.get("tahun_anggaran"), date.today().year) or date.today().year
        project.budget = max(budget or 0, 0)
        project.source = " ".join(row.get("sumber_dana", "").split())[:60] or "Dana Desa"
        project.location = " ".join(row.get("lokasi", "").split())[:160]
        project.description = row.get("keterangan", "")[:4000]
        db.session.flush()
        if link is None:
            link = SyncedProject(village_id=village.id, external_id=external_id, project_id=project.id)
            db.session.add(link)
        link.project_id = project.id
        link.details = {
            k: row.get(k, "")[:200]
            for k in ("volume", "pelaksana_kegiatan", "manfaat", "waktu", "sifat_proyek", "status")
        }
        name = row.get("foto", "")
        info = infos.get(opensid.basename(name)) if name else None
        if info is not None and not _same_photo(archive, info, link.photo_sha):
            photo, sha = _photo(archive, infos, name, line, outcome.notes, project, project.name)
            if photo is not None:
                _replace_photo(link.photo_id)
                link.photo_id, link.photo_sha = photo.id, sha
        outcome.rows += 1
    from app.stats.population import mark_dirty

    mark_dirty(village.region_code)
    return outcome


def _same_photo(archive, info, sha: str) -> bool:
    if not sha:
        return False
    try:
        raw = opensid.read_member(archive, info, opensid.ZipLimits(member_bytes=MAX_PHOTO_BYTES))
    except PayloadError:
        return False
    return hashlib.sha256(raw).hexdigest() == sha


def _dokumentasi(push: SyncPush, village: Village) -> Outcome:
    archive, infos, records, notes = _csv(
        push, "dokumentasi_pembangunan_", "dokumentasi pembangunan", opensid.DOKUMENTASI_COLUMNS
    )
    outcome = Outcome(notes=notes, skipped=len(notes))
    if not records:
        outcome.notes.append(Note(NO_ROWS))
        outcome.unchanged = True
        return outcome
    touched: set[int] = set()
    for line, row in records:
        _check_village(row, village)
        external_id, project_ext = _int(row["id"]), _int(row["id_pembangunan"])
        if external_id is None or project_ext is None:
            outcome.notes.append(Note(opensid.BAD_NUMBER, {"line": line, "column": "id"}))
            outcome.skipped += 1
            continue
        _link, project = _project(village.id, project_ext)
        if project is None:
            outcome.notes.append(Note(UNKNOWN_PROJECT, {"line": line, "id": project_ext}))
            outcome.skipped += 1
            continue
        doc = db.session.scalar(
            select(SyncedProjectDoc).where(
                SyncedProjectDoc.village_id == village.id, SyncedProjectDoc.external_id == external_id
            )
        ) or SyncedProjectDoc(village_id=village.id, external_id=external_id)
        doc.project_external_id = project_ext
        doc.percent = min(max(_int(str(row.get("persentase", "")).rstrip("%"), 0) or 0, 0), 100)
        doc.caption = " ".join(row.get("keterangan", "").split())[:300]
        doc.day = opensid.parse_date(row.get("created_at"))
        db.session.add(doc)
        name = row.get("gambar", "")
        info = infos.get(opensid.basename(name)) if name else None
        if info is not None and not _same_photo(archive, info, doc.photo_sha):
            photo, sha = _photo(
                archive, infos, name, line, outcome.notes, project, doc.caption or project.name
            )
            if photo is not None:
                _replace_photo(doc.photo_id)
                doc.photo_id, doc.photo_sha = photo.id, sha
        touched.add(project_ext)
        outcome.rows += 1
    db.session.flush()
    for project_ext in touched:
        _link, project = _project(village.id, project_ext)
        best = max(
            db.session.scalars(
                select(SyncedProjectDoc.percent).where(
                    SyncedProjectDoc.village_id == village.id,
                    SyncedProjectDoc.project_external_id == project_ext,
                )
            ),
            default=0,
        )
        project.progress = max(project.progress or 0, best)
    return outcome


# --- aid programmes --------------------------------------------------------------------------------


def _program(push: SyncPush, village: Village) -> Outcome:
    _archive, _infos, records, notes = _csv(
        push, "program_bantuan_", "program bantuan", opensid.PROGRAM_COLUMNS, reader=opensid.program_records
    )
    outcome = Outcome(notes=notes, skipped=len(notes))
    existing = {
        p.external_id: p
        for p in db.session.scalars(select(AidProgramme).where(AidProgramme.village_id == village.id))
    }
    seen: set[int] = set()
    for line, row in records:
        _check_village(row, village)
        external_id = _int(row["id"])
        if external_id is None:
            outcome.notes.append(Note(opensid.BAD_NUMBER, {"line": line, "column": "id"}))
            outcome.skipped += 1
            continue
        programme = existing.get(external_id) or AidProgramme(village_id=village.id, external_id=external_id)
        programme.name = (" ".join(row["nama"].split()) or f"Program {external_id}")[:200]
        programme.target = _int(row.get("sasaran"), 1) or 1
        programme.description = row.get("ndesc", "")[:4000]
        programme.starts = opensid.parse_date(row.get("sdate"))
        programme.ends = opensid.parse_date(row.get("edate"))
        programme.active = (row.get("status") or "").strip() not in ("", "0")
        programme.fund = " ".join(row.get("asaldana", "").split())[:100]
        db.session.add(programme)
        seen.add(external_id)
        outcome.rows += 1
    # Always a full export: programmes no longer sent are gone from the village's OpenSID.
    for external_id, programme in existing.items():
        if external_id not in seen:
            db.session.delete(programme)
    from app.stats.population import mark_dirty

    mark_dirty(village.region_code)
    return outcome


def _peserta(push: SyncPush, village: Village) -> Outcome:
    _archive, _infos, records, notes = _csv(
        push, "peserta_program_bantuan_", "peserta program bantuan", opensid.PESERTA_COLUMNS
    )
    outcome = Outcome(notes=notes, skipped=len(notes))
    programmes = {
        p.external_id: p
        for p in db.session.scalars(select(AidProgramme).where(AidProgramme.village_id == village.id))
    }
    rows = []
    for line, row in records:
        _check_village(row, village)
        programme = programmes.get(_int(row["program_id"], -1))
        if programme is None:
            outcome.notes.append(Note(UNKNOWN_PROGRAMME, {"line": line, "id": row["program_id"][:12]}))
            outcome.skipped += 1
            continue
        nik = (row.get("kartu_nik") or "").strip()
        rows.append(
            {
                "village_id": village.id,
                "programme_id": programme.id,
                "external_id": _int(row["id"], 0) or 0,
                "target": _int(row.get("sasaran"), programme.target) or programme.target,
                "ident": row.get("peserta", "").strip()[:20],
                "nik": nik if len(nik) == 16 and nik.isdigit() else None,
                "name": " ".join(row.get("kartu_nama", "").split())[:120],
                "card_no": row.get("no_id_kartu", "").strip()[:60],
            }
        )
    # A full export each time: the recipients are replaced together.
    db.session.execute(delete(AidRecipient).where(AidRecipient.village_id == village.id))
    if rows:
        db.session.execute(AidRecipient.__table__.insert(), rows)
    outcome.rows = len(rows)
    from app.stats.population import mark_dirty

    mark_dirty(village.region_code)
    return outcome


HANDLERS = {
    pushes.LAPORAN_PENDUDUK: _reports("penduduk"),
    pushes.LAPORAN_APBDES: _reports("apbdes"),
    pushes.PEMBANGUNAN: _pembangunan,
    pushes.DOKUMENTASI: _dokumentasi,
    pushes.PROGRAM: _program,
    pushes.PESERTA: _peserta,
}


# --- identity (small: stored in the request) ----------------------------------------------------

MAX_BOUNDARY_CHARS = 200_000


def store_identity(village: Village, *, term: str, website: str, path: str | None) -> None:
    """Keep what identitas-desa says; a boundary that is not a list of coordinates is left out."""
    identity = db.session.get(VillageIdentity, village.id) or VillageIdentity(village_id=village.id)
    identity.term = " ".join((term or "").split())[:40]
    site = (website or "").strip()
    identity.website = site[:200] if site.startswith(("http://", "https://")) else ""
    boundary = None
    if path and len(path) <= MAX_BOUNDARY_CHARS:
        try:
            parsed = json.loads(path)
        except ValueError:
            parsed = None
        if isinstance(parsed, list) and _coordinates(parsed):
            boundary = parsed
    if path is not None:
        identity.boundary = boundary
    db.session.add(identity)


def _coordinates(value, depth: int = 0) -> bool:
    if depth > 4 or not isinstance(value, list) or not value:
        return False
    if all(isinstance(x, int | float) and not isinstance(x, bool) for x in value):
        return len(value) == 2
    return all(_coordinates(v, depth + 1) for v in value)
