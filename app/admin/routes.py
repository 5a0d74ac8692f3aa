import secrets

from flask import abort, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, or_, select
from wtforms.fields.choices import SelectChoice

from app.access import (
    can_manage_region,
    can_manage_user,
    grantable_roles,
    region_prefix_filter,
    village_filter,
)
from app.admin import bp
from app.admin.forms import UserForm, VillageForm
from app.domain.errors import N_, DomainError
from app.domain.phone import normalize_phone
from app.domain.photos import process_photo
from app.domain.storage import PhotoStore
from app.extensions import db
from app.i18n import coded, translated
from app.models import Region, Role, User, Village
from app.models.region import VILLAGE
from app.regions import names_of, with_ancestors
from app.tenancy import activate_village, suggest_slug
from app.web import render, roles_required

ADMINS = (Role.SUPERADMIN, Role.REGION_ADMIN)
ROLE_LABELS = {
    Role.SUPERADMIN: N_("Superadmin"),
    Role.REGION_ADMIN: N_("Admin wilayah"),
    Role.OPERATOR: N_("Operator desa"),
    Role.HEAD: N_("Kepala desa (penanda tangan)"),
    Role.BUMDES_MANAGER: N_("Pengelola BUMDes"),
}


def _scope_filter(column):
    """Region codes the current admin may act in."""
    if current_user.role == Role.SUPERADMIN:
        return column.isnot(None)
    return region_prefix_filter(column, current_user.region_code)


@bp.route("/")
@roles_required(*ADMINS)
def home():
    villages = db.session.scalar(select(func.count(Village.id)).where(village_filter(current_user)))
    users = db.session.scalar(select(func.count(User.id)).where(_user_scope()))
    scope = db.session.get(Region, current_user.region_code) if current_user.region_code else None
    return render("admin/home.html", villages=villages, users=users, scope=scope)


def _user_scope():
    if current_user.role == Role.SUPERADMIN:
        return User.id.isnot(None)
    in_region = _scope_filter(User.region_code)
    in_village = User.village_id.in_(select(Village.id).where(village_filter(current_user)))
    return or_(in_region, in_village)


@bp.route("/pengguna")
@roles_required(*ADMINS)
def users():
    rows = db.session.scalars(
        select(User).where(_user_scope()).order_by(User.role, User.name).limit(500)
    ).all()
    return render("admin/users.html", users=rows, labels=translated(ROLE_LABELS), form=_user_form())


def _user_form() -> UserForm:
    form = UserForm()
    form.role.choices = [SelectChoice(r.value, coded(ROLE_LABELS, r)) for r in grantable_roles(current_user)]
    return form


@bp.route("/pengguna", methods=["POST"])
@roles_required(*ADMINS)
def create_user():
    form = _user_form()
    if form.validate_on_submit():
        user = User(
            name=form.name.data.strip(), email=form.email.data.strip().lower(), role=Role(form.role.data)
        )
        user.created_by_id = current_user.id
        if db.session.scalar(select(User.id).where(func.lower(User.email) == user.email)):
            form.email.errors.append(_("Email ini sudah dipakai akun lain."))
        elif _place_user(user, form):
            user.set_password(form.password.data)
            db.session.add(user)
            db.session.commit()
            flash(_("Akun %(name)s dibuat.", name=user.name))
            return redirect(url_for("admin.users"))
    rows = db.session.scalars(
        select(User).where(_user_scope()).order_by(User.role, User.name).limit(500)
    ).all()
    return render(
        "admin/users.html",
        fragment="admin/_user_form.html",
        users=rows,
        labels=translated(ROLE_LABELS),
        form=form,
        status=422,
    )


def _place_user(user: User, form: UserForm) -> bool:
    """Attach the new account to a region or village inside the admin's scope."""
    if user.role == Role.REGION_ADMIN:
        code = (form.region_code.data or "").strip()
        if not code or db.session.get(Region, code) is None:
            form.region_code.errors.append(
                _("Isi kode provinsi atau kabupaten yang ada, mis. 18 atau 18.04.")
            )
            return False
        if not can_manage_region(current_user, code):
            form.region_code.errors.append(_("Wilayah ini di luar wewenang Anda."))
            return False
        user.region_code = code
        return True
    if user.role in (Role.OPERATOR, Role.HEAD, Role.BUMDES_MANAGER):
        slug = (form.village_slug.data or "").strip().lower()
        village = db.session.scalar(select(Village).where(Village.slug == slug, village_filter(current_user)))
        if village is None:
            form.village_slug.errors.append(
                _("Desa aktif dengan alamat singkat ini tidak ada di wilayah Anda.")
            )
            return False
        user.village_id = village.id
        return True
    return current_user.role == Role.SUPERADMIN


@bp.route("/pengguna/<int:user_id>/nonaktif", methods=["POST"])
@roles_required(*ADMINS)
def toggle_user(user_id: int):
    user = db.session.get(User, user_id)
    if user is None or not can_manage_user(current_user, user) or user.id == current_user.id:
        abort(404)
    user.active = not user.active
    if not user.active:
        user.session_token = secrets.token_hex(16)
    db.session.commit()
    flash(_("Akun %(name)s diperbarui.", name=user.name))
    return redirect(url_for("admin.users"))


@bp.route("/desa")
@roles_required(*ADMINS)
def villages():
    q = (request.args.get("q") or "").strip()
    active = db.session.scalars(
        select(Village).where(village_filter(current_user)).order_by(Village.name).limit(200)
    ).all()
    found = []
    if len(q) >= 3:
        stmt = (
            select(Region, Village.id)
            .outerjoin(Village, Village.region_code == Region.code)
            .where(Region.level == VILLAGE, Region.name.ilike(f"%{q}%"), _scope_filter(Region.code))
            .order_by(Region.name)
            .limit(30)
        )
        found = db.session.execute(stmt).all()
        names = names_of(with_ancestors(r.parent_code for r, _id in found))
        found = [(r, vid, names) for r, vid in found]
    return render(
        "admin/villages.html", fragment="admin/_region_results.html", active=active, found=found, q=q
    )


@bp.route("/desa/<code>/aktifkan", methods=["GET", "POST"])
@roles_required(*ADMINS)
def activate(code: str):
    region = db.session.get(Region, code)
    if region is None or region.level != VILLAGE or not can_manage_region(current_user, code):
        abort(404)
    village = db.session.scalar(select(Village).where(Village.region_code == code))
    form = VillageForm(obj=village)
    if request.method == "GET" and village is None:
        form.slug.data = suggest_slug(region)
        if region.is_kelurahan:
            form.term.data, form.head_title.data = "kelurahan", "Lurah"
    if form.validate_on_submit():
        try:
            whatsapp = normalize_phone(form.whatsapp.data) if form.whatsapp.data else None
            logo = _store_logo(form.logo.data) if form.logo.data else None
            village = activate_village(
                code,
                slug=form.slug.data,
                term=form.term.data,
                head_title=form.head_title.data,
                head_name=form.head_name.data or "",
                short_code=form.short_code.data or None,
                address=form.address.data or "",
                whatsapp=whatsapp,
                logo=logo,
            )
            db.session.commit()
            flash(_("%(name)s aktif di Balai.", name=village.display_name))
            return redirect(url_for("admin.villages"))
        except DomainError as err:
            db.session.rollback()
            form.slug.errors.append(_(err.message, **err.params))
    return render(
        "admin/activate.html", form=form, region=region, village=village, status=422 if form.errors else 200
    )


def _store_logo(upload) -> str:
    photo = process_photo(upload.read(), filename=upload.filename, max_side=512, fmt="WEBP")
    return PhotoStore(current_app.config["UPLOAD_DIR"]).save(photo.data, photo.ext)
