from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField
from wtforms import EmailField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, Length, Optional, Regexp

from app.models.village import HEAD_TITLES, TERMS


class UserForm(FlaskForm):
    name = StringField(_l("Nama lengkap"), validators=[DataRequired(_l("Isi nama.")), Length(max=120)])
    email = EmailField(
        _l("Email"), validators=[DataRequired(_l("Isi email.")), Email(_l("Email tidak valid."))]
    )
    password = PasswordField(
        _l("Kata sandi awal"),
        validators=[
            DataRequired(_l("Isi kata sandi.")),
            Length(min=10, message=_l("Paling sedikit 10 karakter.")),
        ],
    )
    role = SelectField(_l("Peran"), choices=[])
    region_code = StringField(
        _l("Kode wilayah (untuk admin wilayah)"),
        validators=[Optional(), Regexp(r"^\d{2}(\.\d{2})?$", message=_l("Contoh: 18 atau 18.04"))],
    )
    village_slug = StringField(
        _l("Desa (alamat singkat, untuk operator dan kepala desa)"), validators=[Optional()]
    )


class VillageForm(FlaskForm):
    slug = StringField(
        _l("Alamat singkat (slug)"),
        validators=[
            DataRequired(_l("Isi alamat singkat.")),
            Regexp(r"^[a-z0-9]+(-[a-z0-9]+)*$", message=_l("Hanya huruf kecil, angka dan tanda minus.")),
            Length(max=60),
        ],
    )
    term = SelectField(_l("Sebutan"), choices=[SelectChoice(t, t.capitalize()) for t in TERMS])
    head_title = SelectField(_l("Jabatan kepala"), choices=[SelectChoice(t) for t in HEAD_TITLES])
    head_name = StringField(_l("Nama kepala"), validators=[Optional(), Length(max=120)])
    short_code = StringField(
        _l("Kode surat desa"),
        validators=[Optional(), Regexp(r"^[A-Z0-9]{2,10}$", message=_l("2–10 huruf besar/angka, mis. HNR."))],
    )
    address = TextAreaField(_l("Alamat balai"), validators=[Optional(), Length(max=500)])
    whatsapp = StringField(_l("Nomor WhatsApp balai"), validators=[Optional()])
    logo = FileField(
        _l("Logo (JPEG/PNG)"), validators=[FileAllowed(["jpg", "jpeg", "png", "webp"], _l("Hanya gambar."))]
    )
