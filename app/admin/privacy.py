"""Data-protection requests (superadmin only): export or erase one resident's data by NIK.

The NIK is typed into a POST form and carried in POST bodies only: never in a URL, so it never
reaches access logs, browser history or a Referer header.
"""

from __future__ import annotations

import json

from flask import Response, current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField
from wtforms.validators import DataRequired, Regexp

from app import privacy
from app.admin import bp
from app.domain.errors import DomainError
from app.domain.nik import mask_nik
from app.extensions import db
from app.models import Role
from app.web import render, roles_required


class NikForm(FlaskForm):
    nik = StringField(
        _l("NIK warga"),
        validators=[
            DataRequired(_l("Isi NIK.")),
            Regexp(r"^[\d\s.\-]{16,24}$", message=_l("NIK harus 16 angka.")),
        ],
    )


class EraseForm(NikForm):
    confirm = BooleanField(
        _l("Saya yakin: hapus foto dan identitas warga ini. Tidak bisa dibatalkan."),
        validators=[DataRequired(_l("Centang dulu untuk memastikan."))],
    )


def _log_register(nik: str, action: str) -> None:
    """Villages keep a log of every look at their register, the superadmin's too."""
    register = privacy._register()
    if register is not None:
        from app.domain.nik import clean_nik

        register.log_privacy(clean_nik(nik), current_user, action)
        db.session.commit()


def _page(form: NikForm, status: int = 200, **context):
    response = render("admin/privacy.html", form=form, status=status, **context)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/data-pribadi", methods=["GET", "POST"])
@roles_required(Role.SUPERADMIN)
def privacy_page():
    form = NikForm()
    if not form.validate_on_submit():
        return _page(form, status=422 if form.errors else 200)
    try:
        found = privacy.export_resident(form.nik.data)
    except DomainError as err:
        form.nik.errors.append(_(err.message, **err.params))
        return _page(form, status=422)
    _log_register(found["nik"], "view")
    return _page(
        form,
        found=found,
        masked=mask_nik(found["nik"]),
        photos=sum(len(r["attachments"]) for r in found["requests"]),
        erase=EraseForm(formdata=None, nik=found["nik"]),
    )


@bp.route("/data-pribadi/ekspor", methods=["POST"])
@roles_required(Role.SUPERADMIN)
def privacy_export():
    form = NikForm()
    if not form.validate_on_submit():
        return _page(form, status=422)
    try:
        found = privacy.export_resident(form.nik.data)
    except DomainError as err:
        form.nik.errors.append(_(err.message, **err.params))
        return _page(form, status=422)
    current_app.logger.info(
        "privacy export of %d requests by user %s", len(found["requests"]), current_user.id
    )
    _log_register(found["nik"], "export")
    body = json.dumps(found, ensure_ascii=False, indent=2)
    response = Response(body, mimetype="application/json")
    response.headers["Content-Disposition"] = 'attachment; filename="data-pribadi.json"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/data-pribadi/hapus", methods=["POST"])
@roles_required(Role.SUPERADMIN)
def privacy_erase():
    form = EraseForm()
    if not form.validate_on_submit():
        return _page(NikForm(formdata=None), status=422, erase=form, found=None, erase_failed=True)
    try:
        _log_register(form.nik.data, "erase")
        erased = privacy.erase_resident(form.nik.data, current_app.config["UPLOAD_DIR"])
    except DomainError as err:
        db.session.rollback()
        form.nik.errors.append(_(err.message, **err.params))
        return _page(NikForm(formdata=None), status=422, erase=form, found=None, erase_failed=True)
    db.session.commit()
    current_app.logger.info(
        "privacy erase: %d requests, %d photos, %d orders by user %s",
        erased.requests,
        erased.photos,
        erased.orders,
        current_user.id,
    )
    response = render("admin/privacy_done.html", erased=erased)
    response.headers["Cache-Control"] = "no-store"
    return response
