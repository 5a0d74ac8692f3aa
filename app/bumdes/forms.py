"""Forms of the marketplace: products, the BUMDes profile, buyers' orders."""

from __future__ import annotations

import re
import secrets

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import (
    BooleanField,
    HiddenField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from app.domain.errors import DomainError
from app.domain.phone import normalize_phone
from app.domain.text import parse_rupiah
from app.i18n import lazy_coded
from app.models.bumdes import CATEGORIES, DELIVERY, FULFILMENT_LABELS, PICKUP

_THOUSANDS = re.compile(r"[0-9]{1,3}(?:\.[0-9]{3})+")


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def rupiah(form, field) -> None:
    """Parse a price typed as 25000, 25.000 or Rp 25.000 into ``field.parsed`` (whole rupiah)."""
    try:
        field.parsed = parse_rupiah(field.data or "")
    except DomainError as err:
        raise ValidationError(_(err.message, **err.params)) from err


def whole_number(low: int, high: int, message):
    """A whole number between ``low`` and ``high``, kept in ``field.parsed`` (None when empty)."""

    def check(form, field) -> None:
        field.parsed = None
        text = (field.data or "").strip()
        if not text:
            return
        if _THOUSANDS.fullmatch(text):
            text = text.replace(".", "")
        if not text.isdecimal() or not low <= int(text) <= high:
            raise ValidationError(str(message))
        field.parsed = int(text)

    return check


def mobile_phone(form, field) -> None:
    try:
        field.parsed = normalize_phone(field.data or "")
    except DomainError as err:
        raise ValidationError(_(err.message, **err.params)) from err


class ProductForm(FlaskForm):
    name = StringField(
        _l("Nama produk"),
        filters=[_strip],
        validators=[
            DataRequired(_l("Isi nama produk.")),
            Length(max=120, message=_l("Paling banyak 120 huruf.")),
        ],
    )
    price = StringField(_l("Harga (rupiah)"), filters=[_strip], validators=[rupiah])
    unit = StringField(
        _l("Satuan"),
        default="pcs",
        filters=[_strip],
        validators=[DataRequired(_l("Isi satuan, mis. kg atau paket.")), Length(max=20)],
    )
    # No category is picked for the manager: a wrong one hides the product from buyers filtering by it.
    category = SelectField(
        _l("Kategori"),
        choices=[
            SelectChoice("", _l("Pilih kategori")),
            *(SelectChoice(k, lazy_coded(CATEGORIES, k)) for k, _v in CATEGORIES),
        ],
        validators=[DataRequired(_l("Pilih kategori produk, mis. Kuliner atau Kerajinan."))],
    )
    description = TextAreaField(
        _l("Keterangan"),
        filters=[_strip],
        validators=[Optional(), Length(max=4000, message=_l("Paling banyak 4.000 huruf."))],
    )
    stock = StringField(
        _l("Stok (boleh kosong)"),
        filters=[_strip],
        validators=[
            whole_number(0, 1_000_000, _l("Stok berupa angka bulat 0 sampai 1.000.000, atau kosongkan."))
        ],
    )
    available = BooleanField(_l("Tersedia (hapus centang kalau sedang habis)"), default=True)
    published = BooleanField(_l("Terbitkan (tampil di toko desa dan katalog)"))

    def values(self) -> dict:
        """The cleaned fields as model attributes."""
        return {
            "name": self.name.data,
            "price": self.price.parsed,
            "unit": self.unit.data,
            "category": self.category.data,
            "description": (self.description.data or "").replace("\r\n", "\n"),
            "stock": self.stock.parsed,
            "available": bool(self.available.data),
            "published": bool(self.published.data),
        }


class NewProductForm(ProductForm):
    photos = MultipleFileField(_l("Foto (paling banyak 5)"))


class PhotoForm(FlaskForm):
    photos = MultipleFileField(_l("Tambah foto"))


class BumdesForm(FlaskForm):
    name = StringField(
        _l("Nama BUMDes"),
        filters=[_strip],
        validators=[DataRequired(_l("Isi nama BUMDes.")), Length(max=120)],
    )
    legal_number = StringField(
        _l("Nomor badan hukum (sertifikat Kemenkumham)"),
        filters=[_strip],
        validators=[Optional(), Length(max=60)],
    )
    description = TextAreaField(
        _l("Tentang BUMDes"), filters=[_strip], validators=[Optional(), Length(max=2000)]
    )
    whatsapp = StringField(_l("Nomor WhatsApp untuk pesanan"), filters=[_strip], validators=[Optional()])
    payment_info = TextAreaField(
        _l("Cara bayar (rekening bank, QRIS, bayar di tempat)"),
        filters=[_strip],
        validators=[Optional(), Length(max=1000)],
    )
    served = SelectMultipleField(
        _l("Desa lain yang dilayani (BUMDesma)"),
        coerce=int,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validate_choice=True,
    )

    def validate_whatsapp(self, field) -> None:
        field.parsed = None
        if field.data:
            mobile_phone(self, field)


class NewBumdesForm(FlaskForm):
    village_slug = StringField(
        _l("Desa (alamat singkat, mis. hanura)"), filters=[_strip], validators=[DataRequired(_l("Isi desa."))]
    )
    name = StringField(
        _l("Nama BUMDes"),
        filters=[_strip],
        validators=[DataRequired(_l("Isi nama BUMDes.")), Length(max=120)],
    )
    manager_email = StringField(
        _l("Email pengelola (akun Pengelola BUMDes yang sudah ada)"),
        filters=[_strip],
        validators=[Optional(), Length(max=120)],
    )


class OrderForm(FlaskForm):
    buyer_name = StringField(
        _l("Nama Anda"), filters=[_strip], validators=[DataRequired(_l("Isi nama Anda.")), Length(max=120)]
    )
    buyer_phone = StringField(_l("Nomor HP / WhatsApp"), filters=[_strip], validators=[mobile_phone])
    quantity = StringField(
        _l("Jumlah"),
        default="1",
        filters=[_strip],
        validators=[
            DataRequired(_l("Isi jumlah.")),
            whole_number(1, 9999, _l("Jumlah berupa angka bulat 1 sampai 9.999.")),
        ],
    )
    fulfilment = RadioField(
        _l("Pengambilan"),
        choices=[
            SelectChoice(PICKUP, lazy_coded(FULFILMENT_LABELS, PICKUP)),
            SelectChoice(DELIVERY, lazy_coded(FULFILMENT_LABELS, DELIVERY)),
        ],
        default=PICKUP,
    )
    address = TextAreaField(
        _l("Alamat pengiriman (kalau diantar)"), filters=[_strip], validators=[Optional(), Length(max=500)]
    )
    note = TextAreaField(
        _l("Catatan untuk penjual"), filters=[_strip], validators=[Optional(), Length(max=1000)]
    )
    key = HiddenField(default=lambda: secrets.token_urlsafe(16))

    def validate_address(self, field) -> None:
        if self.fulfilment.data == DELIVERY and not field.data:
            raise ValidationError(_("Tulis alamat pengiriman, atau pilih ambil sendiri."))

    def validate_key(self, field) -> None:
        if not field.data or len(field.data) > 64:
            field.data = secrets.token_urlsafe(16)
