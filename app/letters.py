"""Village letters: gapless numbers, the head's approval step, the PDF and its verification token.

No HTTP here: views call these functions and render what comes back.
"""

from __future__ import annotations

import hashlib
import io
import unicodedata
from datetime import date

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from PIL import Image
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite

from app import workflow
from app.access import can_relax_head_approval, can_require_head_approval, can_work_village
from app.domain import states
from app.domain.errors import N_, DomainError
from app.domain.letters import COMMON_PLACEHOLDERS, DEFAULT_PATTERN, format_letter_number
from app.domain.nik import parse_nik
from app.domain.storage import InvalidPhotoName, PhotoStore
from app.domain.templating import render_text, validate_template
from app.domain.text import format_date_id
from app.domain.tracking import new_secret_token, token_digest
from app.extensions import db
from app.models import Region, Role, Service, ServiceRequest, SettingChange, User, Village, utcnow
from app.models.letters import (
    AWAITING_APPROVAL,
    ISSUED,
    PER_TYPE,
    VILLAGE_WIDE,
    Letter,
    LetterCounter,
    VillageLetterSettings,
)
from app.models.services import LETTER

DEFAULT_BODY = (
    "Yang bertanda tangan di bawah ini menerangkan bahwa:\n"
    "Nama: {{ nama }}\n"
    "NIK: {{ nik }}\n"
    "Jenis kelamin: {{ jenis_kelamin }}\n"
    "Tanggal lahir: {{ tanggal_lahir }}\n"
    "adalah benar warga {{ desa }}, Kecamatan {{ kecamatan }}, {{ kabupaten }}.\n"
    "Surat ini dibuat untuk keperluan: {{ keperluan }}.\n"
    "Demikian surat ini dibuat untuk dipergunakan sebagaimana mestinya."
)
SEX_LABELS = {"L": "Laki-laki", "P": "Perempuan"}


class LetterError(DomainError):
    """A letter cannot be produced or approved right now."""


def common_placeholders() -> tuple[str, ...]:
    """Placeholders every letter may use besides its service's own fields."""
    return COMMON_PLACEHOLDERS


def allowed_placeholders(service: Service) -> set[str]:
    """Names a template of ``service`` may use: the common ones plus the service's own fields."""
    names = set(common_placeholders())
    names.update(f["name"] for f in service.fields or [] if f.get("name"))
    return names


def check_template(service: Service, text: str) -> None:
    """Raise DomainError unless ``text`` is a safe template for ``service``."""
    validate_template(text, allowed_placeholders(service))


def is_letter_service(service: Service) -> bool:
    return service.kind == LETTER


def settings_for(village_id: int) -> VillageLetterSettings:
    """The village's letter settings, or unsaved defaults."""
    found = db.session.get(VillageLetterSettings, village_id)
    if found is not None:
        return found
    return VillageLetterSettings(
        village_id=village_id,
        numbering_mode=PER_TYPE,
        number_pattern=DEFAULT_PATTERN,
        require_head_approval=False,
    )


SETTING_NAMES = ("numbering_mode", "number_pattern", "require_head_approval")


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return "ya" if value else "tidak"
    return str(value)


def change_settings(village: Village, actor: User, **values) -> list[SettingChange]:
    """Change the village's letter settings as ``actor`` and record each change in the audit trail.

    The head's approval restrains operators, so an operator may turn it on but never off: only the
    village head or an admin above the village may. Numbering belongs to the village's own officials.
    Nothing is changed when any part is refused.
    """
    current = settings_for(village.id)
    row = db.session.get(VillageLetterSettings, village.id) or VillageLetterSettings(
        village_id=village.id,
        numbering_mode=current.numbering_mode,
        number_pattern=current.number_pattern,
        require_head_approval=current.require_head_approval,
    )
    changed = {name: value for name, value in values.items() if getattr(current, name) != value}
    for name, value in changed.items():
        if name not in SETTING_NAMES:
            raise ValueError(f"unknown letter setting {name}")
        if name == "require_head_approval":
            _check_approval_change(village, actor, value)
        elif not can_work_village(actor, village):
            raise LetterError(N_("Hanya petugas desa ini yang dapat mengubah penomoran surat."))
    trail = []
    for name, value in changed.items():
        trail.append(
            SettingChange(
                village_id=village.id,
                setting=name,
                old_value=_shown(getattr(current, name))[:200],
                new_value=_shown(value)[:200],
                changed_by_id=actor.id,
                changed_by_name=actor.name,
                changed_by_role=str(actor.role),
            )
        )
        setattr(row, name, value)
    if trail:
        db.session.add(row)
        db.session.add_all(trail)
        db.session.flush()
    return trail


def _check_approval_change(village: Village, actor: User, required: bool) -> None:
    if not required:
        if not can_relax_head_approval(actor, village):
            raise LetterError(
                N_("Hanya %(title)s atau admin wilayah yang dapat mematikan persetujuan surat."),
                title=village.head_title,
            )
        return
    if not can_require_head_approval(actor, village):
        raise LetterError(N_("Anda tidak berwenang mengubah pengaturan surat desa ini."))
    head = db.session.scalar(
        select(User.id).where(User.village_id == village.id, User.role == Role.HEAD, User.active.is_(True))
    )
    if head is None:
        # Otherwise every letter would wait for an approval nobody can give.
        raise LetterError(
            N_("Desa ini belum punya akun %(title)s yang aktif. Minta admin membuatnya dulu."),
            title=village.head_title,
        )


def setting_history(village_id: int, limit: int = 30) -> list[SettingChange]:
    """The latest changes of the village's letter settings, newest first."""
    return list(
        db.session.scalars(
            select(SettingChange)
            .where(SettingChange.village_id == village_id, SettingChange.setting.in_(SETTING_NAMES))
            .order_by(SettingChange.id.desc())
            .limit(limit)
        )
    )


def signer_for(village: Village, actor: User) -> tuple[str, str]:
    """Who the letter shows as signer: whoever actually issued or approved it, never someone else.

    The head signs as head, under the name of the account that approved (the village's recorded head
    name may be out of date); another official issuing while the village does not require the head's
    approval signs in their own name on the head's behalf ("a.n.", atas nama).
    """
    title = f"{village.head_title} {village.name}"
    if actor.role == Role.HEAD and actor.village_id == village.id:
        return actor.name, title[:60]
    return actor.name, f"a.n. {title}"[:60]


def letter_for(request_id: int) -> Letter | None:
    return db.session.scalar(select(Letter).where(Letter.request_id == request_id))


def letter_values(req: ServiceRequest, village: Village) -> dict[str, str]:
    """What a template's placeholders stand for in this request."""
    codes = village.region.ancestor_codes()
    names = dict(db.session.execute(select(Region.code, Region.name).where(Region.code.in_(codes))).all())
    province, regency, district = (names.get(c, "") for c in codes[:3])
    values = {name: "-" for name in allowed_placeholders(req.service)}
    for key, value in (req.data or {}).items():
        if isinstance(value, str | int | float) and value != "":
            values[str(key)] = str(value)
    try:
        info = parse_nik(req.nik, today=req.submitted_at.date())
        sex, born = SEX_LABELS[info.sex], format_date_id(info.birth_date)
    except DomainError:
        sex, born = "-", "-"
    values.update(
        nama=req.name,
        nik=req.nik,
        jenis_kelamin=values.get("jenis_kelamin") if values.get("jenis_kelamin") not in (None, "-") else sex,
        tanggal_lahir=values.get("tanggal_lahir") if values.get("tanggal_lahir") not in (None, "-") else born,
        keperluan=req.purpose or "-",
        desa=village.name,
        kecamatan=district,
        kabupaten=regency,
        provinsi=province,
    )
    return values


def letter_body(req: ServiceRequest, village: Village) -> str:
    """The letter's text: what the resident typed is fitted into the office's sentences."""
    template = req.service.letter_template.strip() or DEFAULT_BODY
    typed = {"keperluan", *(str(key) for key in (req.data or {}))}
    return render_text(template, letter_values(req, village), phrases=typed)


def next_number(village: Village, service: Service, issued: date) -> tuple[str, int, int, str]:
    """Take the next number of the village's sequence: (scope, year, seq, formatted number).

    The counter row is incremented with one UPDATE … RETURNING inside the caller's transaction.
    On PostgreSQL that UPDATE takes the row lock (as SELECT … FOR UPDATE would) and re-reads the
    committed value, so a second official waits and gets the next number; on SQLite the single
    writer lock does the same. A failure later in the transaction rolls the counter back too, so
    numbers never repeat and never skip.
    """
    settings = settings_for(village.id)
    scope = "village" if settings.numbering_mode == VILLAGE_WIDE else f"service:{service.id}"
    year = issued.year
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    db.session.execute(
        insert(LetterCounter)
        .values(village_id=village.id, scope=scope, year=year, last_seq=0)
        .on_conflict_do_nothing()
    )
    seq = db.session.execute(
        update(LetterCounter)
        .where(
            LetterCounter.village_id == village.id,
            LetterCounter.scope == scope,
            LetterCounter.year == year,
        )
        .values(last_seq=LetterCounter.last_seq + 1)
        .returning(LetterCounter.last_seq)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    number = format_letter_number(
        settings.number_pattern,
        classification=service.classification_code or "",
        seq=seq,
        village_code=village.short_code or "",
        issued=issued,
    )
    return scope, year, seq, number


def needs_approval(req: ServiceRequest, actor: User) -> bool:
    """Whether this letter must wait for the head before it gets a number."""
    return (
        is_letter_service(req.service)
        and actor.role != Role.HEAD
        and settings_for(req.village_id).require_head_approval
    )


def request_approval(req: ServiceRequest, actor: User, *, expected_version: int) -> Letter:
    """Put the letter before the village head; the request keeps its status until the head approves."""
    if req.status != states.DIPROSES:
        raise LetterError(N_("Surat hanya bisa diajukan ke kepala desa saat permohonan berstatus Diproses."))
    existing = letter_for(req.id)
    if existing is not None:
        raise LetterError(N_("Surat ini sudah menunggu persetujuan kepala desa."))
    letter_body(req, req.village)  # refuse now, not at the head's desk, a template that cannot be filled
    _bump_version(req, expected_version)
    letter = Letter(
        request_id=req.id,
        village_id=req.village_id,
        service_id=req.service_id,
        state=AWAITING_APPROVAL,
        title=req.service.name,
        requested_by_id=actor.id,
        requested_at=utcnow(),
    )
    db.session.add(letter)
    db.session.flush()
    return letter


def _bump_version(req: ServiceRequest, expected_version: int) -> None:
    """Claim the request like a transition does, so two officials cannot both act on it."""
    result = db.session.execute(
        update(ServiceRequest)
        .where(ServiceRequest.id == req.id, ServiceRequest.version == expected_version)
        .values(version=expected_version + 1, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.rollback()
        fresh = db.session.get(ServiceRequest, req.id)
        db.session.refresh(fresh)
        raise workflow._stale(fresh)
    db.session.expire(req)


def issue(
    req: ServiceRequest,
    actor: User,
    *,
    expected_version: int,
    note: str | None,
    base_url: str,
    upload_dir: str,
) -> Letter:
    """Mark the request ready and issue its letter: number, PDF with QR, fingerprint, in one transaction."""
    settings = settings_for(req.village_id)
    pending = letter_for(req.id)
    if pending is not None and pending.is_issued:
        raise LetterError(N_("Surat untuk permohonan ini sudah terbit."))
    if settings.require_head_approval and actor.role != Role.HEAD:
        raise LetterError(N_("Desa ini mewajibkan persetujuan kepala desa sebelum surat diberi nomor."))
    village = req.village
    service = req.service
    body = letter_body(req, village)
    workflow.apply_action(
        req, "mark_ready", actor=actor, note=note or "Surat diterbitkan.", expected_version=expected_version
    )
    issued_at = utcnow()
    issued_on = workflow.local_today(issued_at)
    scope, year, seq, number = next_number(village, service, issued_on)
    token = new_secret_token()
    signer_name, signer_title = signer_for(village, actor)
    pdf = render_pdf(
        village,
        title=service.name,
        number=number,
        body=body,
        issued_on=issued_on,
        signer_name=signer_name,
        signer_title=signer_title,
        verify_url=f"{base_url}/verifikasi/{token}",
        upload_dir=upload_dir,
    )
    letter = pending or Letter(
        request_id=req.id, village_id=village.id, service_id=service.id, requested_by_id=actor.id
    )
    letter.state = ISSUED
    letter.scope, letter.year, letter.seq, letter.number = scope, year, seq, number
    letter.title = service.name
    letter.token_hash = token_digest(token)
    letter.pdf = pdf
    letter.sha256 = hashlib.sha256(pdf).hexdigest()
    letter.signer_name, letter.signer_title = signer_name, signer_title
    letter.holder_name = req.name
    letter.body = body
    # Only the head approves; with the approval required, nobody else gets this far.
    letter.approved_by_id = actor.id if actor.role == Role.HEAD else None
    letter.issued_at = issued_at
    db.session.add(letter)
    db.session.flush()
    return letter


def draft_pdf(req: ServiceRequest, actor: User, *, upload_dir: str) -> bytes:
    """The letter as it will look, without a number or QR, for the head to read before approving."""
    village = req.village
    if needs_approval(req, actor):
        signer_name, signer_title = village.head_name, f"{village.head_title} {village.name}"
    else:
        signer_name, signer_title = signer_for(village, actor)
    return render_pdf(
        village,
        title=req.service.name,
        number=None,
        body=letter_body(req, village),
        issued_on=workflow.local_today(),
        signer_name=signer_name,
        signer_title=signer_title,
        verify_url=None,
        upload_dir=upload_dir,
    )


def find_by_token(token: str) -> Letter | None:
    """The issued letter a verification token belongs to."""
    if not token or len(token) > 100:
        return None
    return db.session.scalar(
        select(Letter).where(Letter.token_hash == token_digest(token), Letter.state == ISSUED)
    )


def _latin1(text: str) -> str:
    """The PDF core fonts speak Latin-1: fold typographic characters, replace the rest."""
    text = unicodedata.normalize("NFKC", text)
    for a, b in (("‘", "'"), ("’", "'"), ("“", '"'), ("”", '"'), ("–", "-"), ("—", "-"), ("…", "...")):
        text = text.replace(a, b)
    return text.encode("latin-1", "replace").decode("latin-1")


def _logo_image(village: Village, upload_dir: str) -> Image.Image | None:
    if not village.logo:
        return None
    try:
        data = PhotoStore(upload_dir).open(village.logo)
        image = Image.open(io.BytesIO(data))
        image.load()
    except (InvalidPhotoName, OSError):
        return None
    return image.convert("RGB")


def _qr_image(url: str) -> Image.Image:
    import qrcode

    qr = qrcode.QRCode(border=1, error_correction=qrcode.constants.ERROR_CORRECT_M)
    qr.add_data(url)
    qr.make(fit=True)
    return qr.make_image(fill_color="black", back_color="white").get_image().convert("RGB")


def render_pdf(
    village: Village,
    *,
    title: str,
    number: str | None,
    body: str,
    issued_on: date,
    signer_name: str,
    signer_title: str,
    verify_url: str | None,
    upload_dir: str,
) -> bytes:
    """The letter on A4: letterhead with logo, title and number, body, place and date, signer, QR."""
    codes = village.region.ancestor_codes()
    names = dict(db.session.execute(select(Region.code, Region.name).where(Region.code.in_(codes))).all())
    regency, district = names.get(codes[1], ""), names.get(codes[2], "")

    pdf = FPDF(format="A4")
    pdf.set_title(_latin1(f"{title} {number or ''}".strip()))
    pdf.set_creator("Balai")
    pdf.set_margins(25, 20, 20)
    pdf.set_auto_page_break(True, margin=20)
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin

    logo = _logo_image(village, upload_dir)
    if logo is not None:
        pdf.image(logo, x=pdf.l_margin, y=18, w=22)
    lines = [
        ("B", 13, f"PEMERINTAH {regency.upper()}"),
        ("B", 12, f"KECAMATAN {district.upper()}"),
        ("B", 15, village.display_name.upper()),
        ("", 10, village.address or ""),
    ]
    for style, size, text in lines:
        if text:
            pdf.set_font("Times", style, size)
            pdf.cell(width, 6.5, _latin1(text), align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    y = max(pdf.get_y(), 42) + 2
    pdf.set_line_width(0.9)
    pdf.line(pdf.l_margin, y, pdf.w - pdf.r_margin, y)
    pdf.set_line_width(0.3)
    pdf.line(pdf.l_margin, y + 1.2, pdf.w - pdf.r_margin, y + 1.2)
    pdf.set_y(y + 8)

    pdf.set_font("Times", "BU", 13)
    pdf.cell(width, 7, _latin1(title.upper()), align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Times", "", 12)
    shown_number = number or "..... (nomor diberikan setelah disetujui)"
    pdf.cell(width, 6, _latin1(f"Nomor: {shown_number}"), align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(6)

    for paragraph in body.splitlines():
        if paragraph.strip():
            pdf.multi_cell(width, 6.5, _latin1(paragraph), align="J", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        else:
            pdf.ln(3)
    pdf.ln(8)

    if pdf.get_y() > pdf.h - 75:
        pdf.add_page()
    sign_x = pdf.l_margin + width * 0.55
    sign_w = width * 0.45
    top = pdf.get_y()
    pdf.set_x(sign_x)
    pdf.multi_cell(
        sign_w,
        6,
        _latin1(f"{village.name}, {format_date_id(issued_on)}"),
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.set_x(sign_x)
    pdf.multi_cell(sign_w, 6, _latin1(signer_title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(22)
    pdf.set_x(sign_x)
    pdf.set_font("Times", "BU", 12)
    pdf.multi_cell(sign_w, 6, _latin1(signer_name or "-"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    if verify_url:
        pdf.image(_qr_image(verify_url), x=pdf.l_margin, y=top, w=30, link=verify_url)
        pdf.set_xy(pdf.l_margin, top + 31)
        pdf.set_font("Helvetica", "", 7)
        pdf.multi_cell(width * 0.5, 3.5, _latin1("Pindai untuk memeriksa keaslian surat ini."))
    else:
        pdf.set_xy(pdf.l_margin, top)
        pdf.set_font("Helvetica", "B", 11)
        pdf.set_text_color(179, 38, 30)
        pdf.multi_cell(width * 0.5, 6, _latin1("DRAF - belum bernomor dan belum sah."))
        pdf.set_text_color(0, 0, 0)
    return bytes(pdf.output())
