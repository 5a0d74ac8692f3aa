"""Request forms, built per service from its fields and documents."""

from __future__ import annotations

from datetime import date

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    SelectField,
    StringField,
    TelField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, InputRequired, Length, Optional, Regexp, ValidationError

from app.domain.errors import DomainError
from app.domain.nik import parse_nik
from app.domain.phone import normalize_phone
from app.domain.tracking import normalize_tracking_code
from app.models import Service
from app.residents.catalog import document_label, field_label, option_label

FIELD_PREFIX = "d_"
DOC_PREFIX = "doc_"
KEPT_PREFIX = "kept_"


def _nik_check(form, field) -> None:
    if not field.data and not getattr(field, "blank_means_unchanged", False):
        raise ValidationError(_("NIK belum diisi."))
    if field.data:
        try:
            field.data = parse_nik(field.data).nik
        except DomainError as err:
            raise ValidationError(_(err.message, **err.params)) from None


def _phone_check(form, field) -> None:
    if not field.data and getattr(field, "blank_means_unchanged", False):
        return
    try:
        field.data = normalize_phone(field.data or "")
    except DomainError as err:
        raise ValidationError(_(err.message, **err.params)) from None


def _date_check(form, field) -> None:
    if not field.data:
        return
    try:
        date.fromisoformat(field.data.strip())
    except ValueError:
        raise ValidationError(_("Tanggal tidak valid. Contoh: 2024-08-17.")) from None


class ApplicantForm(FlaskForm):
    """Who asks, how to reach them, and why; the service's own fields are added by ``request_form``."""

    nik = StringField(
        _l("NIK (16 angka di KTP atau KK)"),
        validators=[_nik_check],
        render_kw={"inputmode": "numeric", "autocomplete": "off", "maxlength": 24},
    )
    name = StringField(
        _l("Nama lengkap (sesuai KTP)"),
        validators=[DataRequired(_l("Nama belum diisi.")), Length(max=120)],
        render_kw={"autocomplete": "name"},
    )
    phone = TelField(
        _l("Nomor HP / WhatsApp"),
        validators=[_phone_check],
        render_kw={"inputmode": "tel", "autocomplete": "tel"},
    )
    email = EmailField(
        _l("Email (boleh dikosongkan)"),
        validators=[Optional(), Email(_l("Alamat email tidak valid.")), Length(max=120)],
        render_kw={"autocomplete": "email"},
    )
    purpose = TextAreaField(
        _l("Keperluan"),
        validators=[DataRequired(_l("Keperluan belum diisi.")), Length(max=2000)],
    )


class RequestForm(ApplicantForm):
    idempotency_key = HiddenField(validators=[InputRequired(), Regexp(r"^[A-Za-z0-9_-]{16,64}$")])


class FixForm(ApplicantForm):
    version = HiddenField(validators=[InputRequired(), Regexp(r"^\d+$")])


def _service_field(service: Service, spec: dict):
    label = field_label(service, spec)
    required = bool(spec.get("required"))
    validators = [DataRequired(_("%(label)s belum diisi.", label=label))] if required else [Optional()]
    kind = spec.get("type", "text")
    if kind == "textarea":
        return TextAreaField(label, validators=[*validators, Length(max=2000)])
    if kind == "date":
        return StringField(label, validators=[*validators, _date_check], render_kw={"type": "date"})
    if kind == "select":
        choices = [SelectChoice("", _("— pilih —"))] + [
            SelectChoice(o, option_label(service, spec["name"], o)) for o in spec.get("options", [])
        ]
        return SelectField(label, choices=choices, validators=validators, validate_choice=False)
    return StringField(label, validators=[*validators, Length(max=200)])


def request_form(service: Service, base: type[ApplicantForm] = RequestForm, **kwargs) -> ApplicantForm:
    """The form for ``service``: the applicant's fields, the service's own fields, a file per document."""

    class ServiceForm(base):  # type: ignore[misc, valid-type]
        pass

    for spec in service.fields:
        setattr(ServiceForm, FIELD_PREFIX + spec["name"], _service_field(service, spec))
    for doc in service.documents:
        setattr(
            ServiceForm,
            DOC_PREFIX + doc["key"],
            FileField(
                document_label(service, doc), render_kw={"accept": "image/jpeg,image/png,image/webp,image/*"}
            ),
        )
        setattr(ServiceForm, KEPT_PREFIX + doc["key"], HiddenField())
    if service.is_complaint:
        ServiceForm.hide_name = BooleanField(_l("Sembunyikan nama saya di halaman lacak"))
        if base is RequestForm:
            ServiceForm.to_region = BooleanField(
                _l("Pengaduan ini tentang kantor desa atau perangkat desa: kirim ke kecamatan/kabupaten")
            )
    form = ServiceForm(**kwargs)
    if service.is_complaint:
        form.purpose.label.text = _("Isi pengaduan atau usulan")
    for spec in service.fields:
        field = getattr(form, FIELD_PREFIX + spec["name"])
        for validator in field.validators:
            if isinstance(validator, DataRequired):
                field.flags.required = True
    return form


def service_data(form: ApplicantForm, service: Service) -> dict[str, str]:
    """The service's own answers as plain strings (dates as YYYY-MM-DD)."""
    data = {}
    for spec in service.fields:
        value = getattr(form, FIELD_PREFIX + spec["name"]).data
        if isinstance(value, date):
            value = value.isoformat()
        data[spec["name"]] = (value or "").strip() if isinstance(value, str) else ""
    return data


def check_selects(form: ApplicantForm, service: Service) -> bool:
    """Refuse select answers that are not among the service's options (the form skips that check)."""
    ok = True
    for spec in service.fields:
        if spec.get("type") != "select":
            continue
        field = getattr(form, FIELD_PREFIX + spec["name"])
        if field.data and field.data not in spec.get("options", []):
            field.errors = [*field.errors, _("Pilih salah satu pilihan yang ada.")]
            ok = False
    return ok


class _CodeForm(FlaskForm):
    """A form that starts with a typed tracking code, brought to its canonical form."""

    kode = StringField(
        _l("Kode lacak"),
        validators=[DataRequired(_l("Kode lacak belum diisi."))],
        render_kw={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"},
    )

    def validate_kode(self, field) -> None:
        try:
            field.data = normalize_tracking_code(field.data)
        except DomainError as err:
            raise ValidationError(_(err.message, **err.params)) from None


class LinkForm(_CodeForm):
    """Ask for a fresh private link on another phone: what only the resident knows, together."""

    nik = StringField(
        _l("NIK pemohon"),
        validators=[_nik_check],
        render_kw={"inputmode": "numeric", "autocomplete": "off", "maxlength": 24},
    )
    phone = TelField(
        _l("Nomor HP yang ditulis di permohonan"),
        validators=[_phone_check],
        render_kw={"inputmode": "tel", "autocomplete": "tel"},
    )


class TrackForm(_CodeForm):
    class Meta:
        csrf = False
