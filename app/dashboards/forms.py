from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField
from wtforms import BooleanField, FloatField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from app.models.profile import IDM_LABELS

_PHOTO = FileAllowed(["jpg", "jpeg", "png", "webp"], _l("Hanya foto JPG, PNG atau WebP."))


class ProfileForm(FlaskForm):
    description = TextAreaField(_l("Tentang desa"), validators=[Optional(), Length(max=4000)])
    potential = TextAreaField(_l("Potensi desa"), validators=[Optional(), Length(max=4000)])
    officials = TextAreaField(
        _l("Perangkat desa (satu per baris: Jabatan: Nama)"), validators=[Optional(), Length(max=3000)]
    )
    latitude = FloatField(
        _l("Garis lintang"),
        validators=[Optional(), NumberRange(-11, 6, _l("Garis lintang Indonesia antara -11 dan 6."))],
    )
    longitude = FloatField(
        _l("Garis bujur"),
        validators=[Optional(), NumberRange(95, 141, _l("Garis bujur Indonesia antara 95 dan 141."))],
    )
    population = IntegerField(_l("Jumlah penduduk"), validators=[Optional(), NumberRange(0, 10_000_000)])
    households = IntegerField(
        _l("Jumlah kepala keluarga"), validators=[Optional(), NumberRange(0, 5_000_000)]
    )
    male = IntegerField(_l("Laki-laki"), validators=[Optional(), NumberRange(0, 10_000_000)])
    female = IntegerField(_l("Perempuan"), validators=[Optional(), NumberRange(0, 10_000_000)])
    area_km2 = FloatField(_l("Luas wilayah (km²)"), validators=[Optional(), NumberRange(0, 100_000)])


class AnnouncementForm(FlaskForm):
    title = StringField(_l("Judul"), validators=[DataRequired(_l("Isi judul.")), Length(max=160)])
    body = TextAreaField(
        _l("Isi pengumuman"), validators=[DataRequired(_l("Isi pengumumannya.")), Length(max=5000)]
    )
    broadcast = BooleanField(_l("Kirim juga sebagai notifikasi ke ponsel warga yang berlangganan"))


class ProjectForm(FlaskForm):
    name = StringField(
        _l("Nama kegiatan"), validators=[DataRequired(_l("Isi nama kegiatan.")), Length(max=160)]
    )
    year = IntegerField(
        _l("Tahun anggaran"), validators=[DataRequired(_l("Isi tahun.")), NumberRange(2000, 2100)]
    )
    budget = IntegerField(_l("Anggaran (Rp)"), validators=[Optional(), NumberRange(0, 10**12)])
    source = SelectField(
        _l("Sumber dana"),
        choices=[
            SelectChoice(s)
            for s in (
                "Dana Desa",
                "ADD",
                "PAD",
                "Bantuan Provinsi",
                "Bantuan Kabupaten",
                "Swadaya",
                "Lainnya",
            )
        ],
    )
    location = StringField(_l("Lokasi"), validators=[Optional(), Length(max=160)])
    description = TextAreaField(_l("Keterangan"), validators=[Optional(), Length(max=3000)])
    progress = IntegerField(
        _l("Kemajuan (%)"), default=0, validators=[Optional(), NumberRange(0, 100, _l("Antara 0 dan 100."))]
    )
    photo = FileField(_l("Foto kemajuan (boleh kosong)"), validators=[_PHOTO])


class ApiKeyForm(FlaskForm):
    name = StringField(
        _l("Nama pemakai kunci (mis. aplikasi kabupaten)"),
        validators=[DataRequired(_l("Isi nama pemakai kunci.")), Length(max=80)],
    )


class IdmUploadForm(FlaskForm):
    file = FileField(
        _l("Berkas CSV IDM (kode_desa, tahun, skor, status)"),
        validators=[FileAllowed(["csv"], _l("Hanya berkas CSV."))],
    )


class CandidateFilterForm(FlaskForm):
    class Meta:
        csrf = False

    min_idm = SelectField(
        _l("Status IDM paling rendah"),
        choices=[SelectChoice("", _l("Semua"))] + [SelectChoice(k, v) for k, v in IDM_LABELS.items()],
        validators=[Optional()],
    )
    internet = BooleanField(_l("Wajib ada internet di balai desa"))
    products = BooleanField(_l("Wajib ada produk BUMDes di Balai"))
    include_sites = BooleanField(_l("Tampilkan juga desa yang sudah menjadi lokasi Smart Village"))
