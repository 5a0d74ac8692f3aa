"""Forms of the workbench, and the plain-text notation operators use for a service's fields."""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp

from app.domain.errors import N_, DomainError
from app.domain.letters import DEFAULT_PATTERN
from app.models.letters import PER_TYPE, VILLAGE_WIDE
from app.models.services import COMPLAINT, LETTER

FIELD_TYPES = ("text", "textarea", "date", "select", "number")
_NAME = re.compile(r"[a-z_][a-z0-9_]*\Z", re.ASCII)
_YES = {"wajib", "ya", "y", "required", "1"}


def parse_fields(text: str) -> list[dict]:
    """Read one field per line: ``nama | Label | jenis | wajib | pilihan1, pilihan2``."""
    fields: list[dict] = []
    seen: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("|")]
        name = parts[0].lower()
        if not _NAME.match(name) or name.startswith("__"):
            raise DomainError(
                N_("Baris %(n)s: nama isian %(name)s hanya boleh huruf kecil, angka dan garis bawah."),
                n=number,
                name=parts[0],
            )
        if name in seen:
            raise DomainError(N_("Baris %(n)s: nama isian %(name)s dipakai dua kali."), n=number, name=name)
        seen.add(name)
        label = parts[1] if len(parts) > 1 and parts[1] else name.replace("_", " ").capitalize()
        kind = (parts[2] if len(parts) > 2 and parts[2] else "text").lower()
        if kind not in FIELD_TYPES:
            raise DomainError(
                N_("Baris %(n)s: jenis %(kind)s tidak dikenal; pilih salah satu: %(known)s."),
                n=number,
                kind=kind,
                known=", ".join(FIELD_TYPES),
            )
        required = len(parts) > 3 and parts[3].lower() in _YES
        field = {"name": name, "label": label[:120], "type": kind, "required": required}
        if kind == "select":
            options = [o.strip() for o in (parts[4] if len(parts) > 4 else "").split(",") if o.strip()]
            if not options:
                raise DomainError(N_("Baris %(n)s: isian pilihan perlu daftar pilihan."), n=number)
            field["options"] = options
        fields.append(field)
    return fields


def format_fields(fields: list[dict]) -> str:
    lines = []
    for f in fields or []:
        parts = [
            f.get("name", ""),
            f.get("label", ""),
            f.get("type", "text"),
            "wajib" if f.get("required") else "",
        ]
        if f.get("options"):
            parts.append(", ".join(f["options"]))
        lines.append(" | ".join(parts).rstrip(" |"))
    return "\n".join(lines)


def parse_documents(text: str) -> list[dict]:
    """Read one document per line: ``kunci | Label | wajib``."""
    documents: list[dict] = []
    seen: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("|")]
        key = parts[0].lower()
        if not _NAME.match(key) or len(key) > 40 or key in seen:
            raise DomainError(
                N_("Baris %(n)s: kunci dokumen %(key)s harus unik, huruf kecil, angka dan garis bawah."),
                n=number,
                key=parts[0],
            )
        seen.add(key)
        label = parts[1] if len(parts) > 1 and parts[1] else key
        documents.append(
            {"key": key, "label": label[:120], "required": len(parts) > 2 and parts[2].lower() in _YES}
        )
    return documents


def format_documents(documents: list[dict]) -> str:
    return "\n".join(
        " | ".join([d.get("key", ""), d.get("label", ""), "wajib" if d.get("required") else ""]).rstrip(" |")
        for d in documents or []
    )


class ServiceForm(FlaskForm):
    name = StringField(
        _l("Nama layanan"), validators=[DataRequired(_l("Isi nama layanan.")), Length(max=120)]
    )
    code = StringField(
        _l("Kode singkat"),
        validators=[
            DataRequired(_l("Isi kode singkat.")),
            Regexp(r"^[a-z0-9]+(-[a-z0-9]+)*$", message=_l("Hanya huruf kecil, angka dan tanda minus.")),
            Length(max=60),
        ],
    )
    kind = SelectField(
        _l("Jenis"), choices=[SelectChoice(LETTER, _l("Surat")), SelectChoice(COMPLAINT, _l("Pengaduan"))]
    )
    description = TextAreaField(_l("Keterangan untuk warga"), validators=[Optional(), Length(max=2000)])
    sla_days = IntegerField(
        _l("Lama layanan (hari kerja)"),
        validators=[
            DataRequired(_l("Isi lama layanan.")),
            NumberRange(min=1, max=60, message=_l("Antara 1 dan 60 hari kerja.")),
        ],
    )
    fee = StringField(_l("Biaya (Rp, 0 untuk gratis)"), default="0")
    classification_code = StringField(
        _l("Kode klasifikasi surat"), validators=[Optional(), Length(max=20)], default="470"
    )
    fields_text = TextAreaField(_l("Isian formulir"), validators=[Optional(), Length(max=5000)])
    documents_text = TextAreaField(_l("Dokumen yang dilampirkan"), validators=[Optional(), Length(max=3000)])
    letter_template = TextAreaField(_l("Isi surat (templat)"), validators=[Optional(), Length(max=10000)])
    position = IntegerField(_l("Urutan"), validators=[Optional(), NumberRange(min=0, max=999)], default=0)


class LetterSettingsForm(FlaskForm):
    numbering_mode = SelectField(
        _l("Penomoran"),
        choices=[
            SelectChoice(PER_TYPE, _l("Urutan sendiri untuk tiap jenis surat, mulai lagi tiap tahun")),
            SelectChoice(VILLAGE_WIDE, _l("Satu urutan untuk semua surat desa, mulai lagi tiap tahun")),
        ],
    )
    number_pattern = StringField(
        _l("Pola nomor surat"),
        validators=[DataRequired(_l("Isi pola nomor surat.")), Length(max=80)],
        default=DEFAULT_PATTERN,
    )
    # Explicit both ways (not a checkbox, whose absence reads as "off"): turning it off is refused to
    # operators, and a missing value must not pass for a choice.
    require_head_approval = SelectField(
        _l("Kepala desa menyetujui setiap surat sebelum diberi nomor"),
        choices=[
            SelectChoice("ya", _l("Ya: surat diberi nomor setelah disetujui kepala desa")),
            SelectChoice("tidak", _l("Tidak: petugas menerbitkan surat atas nama kepala desa")),
        ],
    )


class HolidayForm(FlaskForm):
    day = DateField(_l("Tanggal"), validators=[DataRequired(_l("Isi tanggal."))])
    name = StringField(
        _l("Nama hari libur"), validators=[DataRequired(_l("Isi nama hari libur.")), Length(max=120)]
    )


class CounterForm(FlaskForm):
    idempotency_key = HiddenField()
    nik = StringField(_l("NIK"), validators=[DataRequired(_l("Isi NIK."))])
    name = StringField(_l("Nama lengkap"), validators=[DataRequired(_l("Isi nama.")), Length(max=120)])
    phone = StringField(_l("Nomor HP (boleh kosong)"), validators=[Optional(), Length(max=20)])
    purpose = TextAreaField(_l("Keperluan"), validators=[Optional(), Length(max=1000)])
