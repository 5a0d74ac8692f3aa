"""Forms of the officials' attendance pages."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, FloatField, HiddenField, IntegerField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from app.domain import attendance as rules
from app.domain.errors import DomainError


class CheckInForm(FlaskForm):
    """The "Hadir" button: the scanned code's ticket and, when asked for, the phone's position."""

    tiket = HiddenField()
    lat = HiddenField()
    lon = HiddenField()
    acc = HiddenField()
    geo_error = HiddenField()


class SettingsForm(FlaskForm):
    """Office hours per weekday (blank means closed) and the check-in rules."""

    grace_minutes = IntegerField(
        _l("Toleransi terlambat (menit)"), validators=[InputRequired(), NumberRange(0, 120)], default=0
    )
    require_location = BooleanField(_l("Minta bukti lokasi ponsel saat absen dengan layar TV"))
    radius_m = IntegerField(
        _l("Radius dari balai (meter)"),
        validators=[InputRequired(), NumberRange(20, rules.MAX_RADIUS_M)],
        default=rules.DEFAULT_RADIUS_M,
    )
    latitude = FloatField(_l("Lintang balai (latitude)"), validators=[Optional(), NumberRange(-90, 90)])
    longitude = FloatField(_l("Bujur balai (longitude)"), validators=[Optional(), NumberRange(-180, 180)])


for _day in range(7):
    setattr(SettingsForm, f"open_{_day}", StringField(_l("Buka"), validators=[Optional(), Length(max=5)]))
    setattr(SettingsForm, f"close_{_day}", StringField(_l("Tutup"), validators=[Optional(), Length(max=5)]))


def read_hours(form: SettingsForm) -> list | None:
    """The seven days as stored, or None after putting an error on the field that is wrong."""
    hours: list = []
    ok = True
    for day in range(7):
        opens, closes = form[f"open_{day}"], form[f"close_{day}"]
        if not (opens.data or "").strip() and not (closes.data or "").strip():
            hours.append(None)
            continue
        try:
            hours.append(rules.check_day_hours(opens.data or "", closes.data or ""))
        except DomainError as err:
            closes.errors.append(_(err.message, **err.params))
            ok = False
    if ok and not any(hours):
        form.open_0.errors.append(_("Isi jam buka paling sedikit untuk satu hari."))
        ok = False
    return hours if ok else None


class CorrectionForm(FlaskForm):
    """New times of a check-in, and why."""

    clock_in = StringField(_l("Jam masuk"), validators=[DataRequired(), Length(max=5)])
    clock_out = StringField(_l("Jam keluar"), validators=[Optional(), Length(max=5)])
    reason = TextAreaField(_l("Alasan perubahan"), validators=[DataRequired(), Length(max=500)])


class AddRecordForm(CorrectionForm):
    """A day an official was in without a check-in."""

    day = DateField(_l("Tanggal"), validators=[DataRequired()])
