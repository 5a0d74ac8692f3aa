"""Forms of the register and sync pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from app.i18n import lazy_coded
from app.population.register import CORRECTABLE


class SearchForm(FlaskForm):
    """A POST form: a NIK typed here never enters a URL, a log line or the browser's history."""

    q = StringField(
        _l("NIK, nomor KK atau nama"),
        validators=[DataRequired(_l("Ketik NIK, nomor KK atau nama.")), Length(max=80)],
    )
    halaman = HiddenField(default="1")


class CorrectionForm(FlaskForm):
    field = SelectField(
        _l("Isian"), choices=[SelectChoice(k, lazy_coded(CORRECTABLE, k)) for k in CORRECTABLE]
    )
    value = StringField(_l("Nilai yang benar"), validators=[Length(max=200)])
    reason = StringField(
        _l("Alasan koreksi"), validators=[DataRequired(_l("Tulis alasan koreksi.")), Length(max=300)]
    )


class ImportForm(FlaskForm):
    file = FileField(_l("Berkas (zip Unduh Data OpenSID, atau templat Balai .xlsx/.csv)"))


class TokenForm(FlaskForm):
    name = StringField(
        _l("Nama token (mis. OpenSID desa)"),
        validators=[DataRequired(_l("Beri nama token.")), Length(max=80)],
        default="OpenSID",
    )


class ReplyForm(FlaskForm):
    text = TextAreaField(
        _l("Balasan"), validators=[DataRequired(_l("Tulis pesannya dulu.")), Length(max=5000)]
    )


class ThreadForm(FlaskForm):
    title = StringField(_l("Judul"), validators=[DataRequired(_l("Tulis judul pesan.")), Length(max=200)])
    text = TextAreaField(_l("Pesan"), validators=[DataRequired(_l("Tulis pesannya dulu.")), Length(max=5000)])
