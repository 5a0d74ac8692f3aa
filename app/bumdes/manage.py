"""The managers' area: products (inline edit from a phone), photos, the orders inbox, the monthly summary."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import abort, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select
from wtforms import SelectChoice

from app.access import bumdes_filter, can_manage_bumdes, can_manage_region, region_prefix_filter
from app.bumdes import bp, catalog, commerce
from app.bumdes.forms import BumdesForm, NewBumdesForm, NewProductForm, PhotoForm, ProductForm
from app.bumdes.routes import PHOTO_SIZES
from app.domain.errors import DomainError
from app.domain.storage import PhotoStore
from app.domain.text import MONTHS_ID
from app.exports import csv_download, csv_text
from app.extensions import db
from app.i18n import translated
from app.models import Role, User, Village
from app.models.bumdes import (
    MAX_PHOTOS,
    ORDER_STATUS_LABELS,
    ORDER_STATUSES,
    Bumdes,
    Order,
    Product,
    ProductPhoto,
)
from app.web import render, roles_required, send_stored_photo

MANAGERS = (Role.BUMDES_MANAGER, Role.SUPERADMIN)
REGISTRARS = (Role.SUPERADMIN, Role.REGION_ADMIN)


def _is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-Boosted") != "true"


def _store() -> PhotoStore:
    return PhotoStore(current_app.config["UPLOAD_DIR"])


def _bumdes_or_404(bumdes_id: int) -> Bumdes:
    bumdes = db.session.get(Bumdes, bumdes_id)
    if bumdes is None or not can_manage_bumdes(current_user, bumdes.id):
        abort(404)
    return bumdes


def _product_or_404(product_id: int) -> Product:
    product = db.session.scalar(
        select(Product).where(Product.id == product_id, bumdes_filter(current_user, Product.bumdes_id))
    )
    if product is None:
        abort(404)
    return product


def _order_or_404(order_id: int) -> Order:
    order = db.session.scalar(
        select(Order).where(Order.id == order_id, bumdes_filter(current_user, Order.bumdes_id))
    )
    if order is None:
        abort(404)
    return order


@bp.route("/bumdes/")
@roles_required(*MANAGERS)
def manage():
    if current_user.role == Role.BUMDES_MANAGER:
        if current_user.bumdes_id and db.session.get(Bumdes, current_user.bumdes_id) is not None:
            return redirect(url_for("bumdes.products", bumdes_id=current_user.bumdes_id))
        return render("bumdes/manage/unlinked.html")
    rows = db.session.scalars(
        select(Bumdes).where(bumdes_filter(current_user, Bumdes.id)).order_by(Bumdes.name)
    )
    return render("bumdes/manage/index.html", enterprises=rows.all())


# --- products ----------------------------------------------------------------------------------


@bp.route("/bumdes/<int:bumdes_id>/produk")
@roles_required(*MANAGERS)
def products(bumdes_id: int):
    bumdes = _bumdes_or_404(bumdes_id)
    return render(
        "bumdes/manage/products.html",
        bumdes=bumdes,
        products=catalog.bumdes_products(bumdes.id),
        new_orders=catalog.order_counts(bumdes.id).get("new", 0),
    )


@bp.route("/bumdes/<int:bumdes_id>/produk/baru", methods=["GET", "POST"])
@roles_required(*MANAGERS)
def new_product(bumdes_id: int):
    bumdes = _bumdes_or_404(bumdes_id)
    form = NewProductForm()
    if form.validate_on_submit():
        uploads = [f for f in form.photos.data or [] if f and f.filename]
        if len(uploads) > MAX_PHOTOS:
            form.photos.errors = [_("Paling banyak %(max)s foto per produk.", max=MAX_PHOTOS)]
        else:
            try:
                product = commerce.create_product(bumdes, **form.values())
                _add_photos(product, uploads)
            except DomainError as err:
                db.session.rollback()
                form.photos.errors = [_(err.message, **err.params)]
            else:
                db.session.commit()
                flash(_("Produk %(name)s disimpan.", name=product.name))
                return redirect(url_for("bumdes.products", bumdes_id=bumdes.id), 303)
    return render(
        "bumdes/manage/product_form.html",
        status=422 if form.errors else 200,
        bumdes=bumdes,
        form=form,
        product=None,
        photo_form=None,
    )


def _add_photos(product: Product, uploads) -> None:
    for upload in uploads:
        commerce.add_photo(
            product,
            upload.read(),
            _store(),
            filename=upload.filename,
            declared_type=upload.mimetype,
            max_bytes=current_app.config["MAX_PHOTO_BYTES"],
        )


@bp.route("/bumdes/produk/<int:product_id>/ubah", methods=["GET", "POST"])
@roles_required(*MANAGERS)
def edit_product(product_id: int):
    product = _product_or_404(product_id)
    form = ProductForm(obj=product) if request.method == "GET" else ProductForm()
    if request.method == "GET":
        form.price.data = str(product.price)
        form.stock.data = "" if product.stock is None else str(product.stock)
    if form.validate_on_submit():
        commerce.update_product(product, **form.values())
        db.session.commit()
        if _is_htmx():
            return render("bumdes/manage/_product_row.html", product=product)
        flash(_("Perubahan %(name)s disimpan.", name=product.name))
        return redirect(url_for("bumdes.products", bumdes_id=product.bumdes_id), 303)
    status = 422 if form.errors else 200
    return render(
        "bumdes/manage/product_form.html",
        fragment="bumdes/manage/_product_edit.html",
        status=status,
        bumdes=product.bumdes,
        form=form,
        product=product,
        photo_form=PhotoForm(formdata=None),
    )


@bp.route("/bumdes/produk/<int:product_id>")
@roles_required(*MANAGERS)
def product_row(product_id: int):
    product = _product_or_404(product_id)
    if not _is_htmx():
        return redirect(url_for("bumdes.products", bumdes_id=product.bumdes_id))
    return render("bumdes/manage/_product_row.html", product=product)


@bp.route("/bumdes/produk/<int:product_id>/terbit", methods=["POST"])
@roles_required(*MANAGERS)
def toggle_published(product_id: int):
    product = _product_or_404(product_id)
    commerce.update_product(product, published=not product.published)
    db.session.commit()
    return _row_or_back(product)


@bp.route("/bumdes/produk/<int:product_id>/tersedia", methods=["POST"])
@roles_required(*MANAGERS)
def toggle_available(product_id: int):
    product = _product_or_404(product_id)
    commerce.update_product(product, available=not product.available)
    db.session.commit()
    return _row_or_back(product)


def _row_or_back(product: Product):
    if _is_htmx():
        return render("bumdes/manage/_product_row.html", product=product)
    return redirect(url_for("bumdes.products", bumdes_id=product.bumdes_id) + f"#produk-{product.id}", 303)


@bp.route("/bumdes/produk/<int:product_id>/foto", methods=["POST"])
@roles_required(*MANAGERS)
def add_photos(product_id: int):
    product = _product_or_404(product_id)
    photo_form = PhotoForm()
    if photo_form.validate_on_submit():
        uploads = [f for f in photo_form.photos.data or [] if f and f.filename]
        if not uploads:
            photo_form.photos.errors = [_("Pilih foto dulu.")]
        else:
            try:
                _add_photos(product, uploads)
            except DomainError as err:
                db.session.rollback()
                photo_form.photos.errors = [_(err.message, **err.params)]
            else:
                db.session.commit()
                flash(_("Foto ditambahkan."))
                return redirect(url_for("bumdes.edit_product", product_id=product.id) + "#foto", 303)
    form = ProductForm(obj=product)
    form.price.data = str(product.price)
    return render(
        "bumdes/manage/product_form.html",
        status=422,
        bumdes=product.bumdes,
        form=form,
        product=product,
        photo_form=photo_form,
    )


@bp.route("/bumdes/foto/<int:photo_id>/hapus", methods=["POST"])
@roles_required(*MANAGERS)
def delete_photo(photo_id: int):
    photo = _photo_or_404(photo_id)
    product_id = photo.product_id
    commerce.delete_photo(photo, _store())
    db.session.commit()
    flash(_("Foto dihapus."))
    return redirect(url_for("bumdes.edit_product", product_id=product_id) + "#foto", 303)


@bp.route("/bumdes/foto/<int:photo_id>/<int:size>")
@roles_required(*MANAGERS)
def preview_photo(photo_id: int, size: int):
    photo = _photo_or_404(photo_id)
    if size not in PHOTO_SIZES:
        abort(404)
    return send_stored_photo(getattr(photo, PHOTO_SIZES[size]), public=False)


def _photo_or_404(photo_id: int) -> ProductPhoto:
    photo = db.session.scalar(
        select(ProductPhoto)
        .join(Product, Product.id == ProductPhoto.product_id)
        .where(ProductPhoto.id == photo_id, bumdes_filter(current_user, Product.bumdes_id))
    )
    if photo is None:
        abort(404)
    return photo


# --- orders --------------------------------------------------------------------------------------


@bp.route("/bumdes/<int:bumdes_id>/pesanan")
@roles_required(*MANAGERS)
def orders(bumdes_id: int):
    bumdes = _bumdes_or_404(bumdes_id)
    status = request.args.get("status", "new")
    status = status if status in ORDER_STATUSES else None
    return render(
        "bumdes/manage/orders.html",
        bumdes=bumdes,
        orders=catalog.orders_of(bumdes.id, status),
        counts=catalog.order_counts(bumdes.id),
        current=status,
        statuses=ORDER_STATUSES,
        labels=translated(ORDER_STATUS_LABELS),
    )


@bp.route("/bumdes/pesanan/<int:order_id>/status", methods=["POST"])
@roles_required(*MANAGERS)
def order_status(order_id: int):
    order = _order_or_404(order_id)
    try:
        commerce.change_order_status(order, request.form.get("to", ""))
    except DomainError as err:
        db.session.rollback()
        flash(_(err.message, **err.params))
    else:
        db.session.commit()
    if _is_htmx():
        return render("bumdes/manage/_order_row.html", order=order, labels=translated(ORDER_STATUS_LABELS))
    return redirect(url_for("bumdes.orders", bumdes_id=order.bumdes_id, status=order.status), 303)


# --- monthly summary -----------------------------------------------------------------------------


def _month() -> tuple[int, int]:
    raw = request.args.get("bulan", "")
    try:
        year, month = (int(part) for part in raw.split("-"))
        if 2000 <= year <= 2100 and 1 <= month <= 12:
            return year, month
    except ValueError:
        pass
    now = datetime.now(ZoneInfo(current_app.config["TIMEZONE"]))
    return now.year, now.month


def _month_range(year: int, month: int) -> tuple[datetime, datetime]:
    zone = ZoneInfo(current_app.config["TIMEZONE"])
    start = datetime(year, month, 1, tzinfo=zone)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=zone)
    return start, end


@bp.route("/bumdes/<int:bumdes_id>/ringkasan")
@roles_required(*MANAGERS)
def summary(bumdes_id: int):
    bumdes = _bumdes_or_404(bumdes_id)
    year, month = _month()
    data = catalog.monthly_summary(bumdes.id, *_month_range(year, month))
    prev = (year - 1, 12) if month == 1 else (year, month - 1)
    nxt = (year + 1, 1) if month == 12 else (year, month + 1)
    return render(
        "bumdes/manage/summary.html",
        bumdes=bumdes,
        summary=data,
        month_name=f"{MONTHS_ID[month - 1]} {year}",
        bulan=f"{year:04d}-{month:02d}",
        prev=f"{prev[0]:04d}-{prev[1]:02d}",
        next=f"{nxt[0]:04d}-{nxt[1]:02d}",
    )


@bp.route("/bumdes/<int:bumdes_id>/ringkasan.csv")
@roles_required(*MANAGERS)
def summary_csv(bumdes_id: int):
    bumdes = _bumdes_or_404(bumdes_id)
    year, month = _month()
    data = catalog.monthly_summary(bumdes.id, *_month_range(year, month))
    rows = (
        [
            f"{year:04d}-{month:02d}",
            row["product_id"],
            row["name"],
            row["orders"],
            row["quantity"],
            row["value"],
        ]
        for row in data.top
    )
    header = ["bulan", "produk_id", "produk", "jumlah_pesanan", "jumlah_barang", "nilai_rupiah"]
    filename = f"ringkasan-{year:04d}-{month:02d}.csv"
    return csv_download(csv_text(header, rows, bom=True), filename, private=True)


# --- the BUMDes profile and its registration -----------------------------------------------------


@bp.route("/bumdes/<int:bumdes_id>/profil", methods=["GET", "POST"])
@roles_required(*MANAGERS)
def profile(bumdes_id: int):
    bumdes = _bumdes_or_404(bumdes_id)
    form = BumdesForm(obj=bumdes)
    kecamatan = bumdes.village.region_code.rsplit(".", 1)[0]
    neighbours = db.session.scalars(
        select(Village)
        .where(
            Village.active.is_(True),
            Village.id != bumdes.village_id,
            region_prefix_filter(Village.region_code, kecamatan),
        )
        .order_by(Village.name)
    ).all()
    form.served.choices = [SelectChoice(v.id, v.display_name) for v in neighbours]
    if request.method == "GET":
        form.served.data = [v.id for v in bumdes.served_villages]
    if form.validate_on_submit():
        bumdes.name = form.name.data
        bumdes.legal_number = form.legal_number.data or ""
        bumdes.description = (form.description.data or "").replace("\r\n", "\n")
        bumdes.whatsapp = getattr(form.whatsapp, "parsed", None)
        bumdes.payment_info = (form.payment_info.data or "").replace("\r\n", "\n")
        try:
            commerce.set_served_villages(
                bumdes, [v for v in neighbours if v.id in set(form.served.data or [])]
            )
        except DomainError as err:
            db.session.rollback()
            form.served.errors = [_(err.message, **err.params)]
        else:
            db.session.commit()
            flash(_("Profil BUMDes disimpan."))
            return redirect(url_for("bumdes.profile", bumdes_id=bumdes.id), 303)
    return render("bumdes/manage/profile.html", status=422 if form.errors else 200, bumdes=bumdes, form=form)


@bp.route("/bumdes/daftar", methods=["GET", "POST"])
@roles_required(*REGISTRARS)
def registry():
    form = NewBumdesForm()
    if form.validate_on_submit():
        village = db.session.scalar(select(Village).where(Village.slug == form.village_slug.data.lower()))
        manager = None
        if village is None or not can_manage_region(current_user, village.region_code):
            form.village_slug.errors = [_("Desa tidak ditemukan di wilayah Anda.")]
        if form.manager_email.data:
            manager = db.session.scalar(
                select(User).where(func.lower(User.email) == form.manager_email.data.lower())
            )
            if manager is None or manager.role != Role.BUMDES_MANAGER:
                form.manager_email.errors = [_("Tidak ada akun Pengelola BUMDes dengan email itu.")]
            elif manager.village_id and village and manager.village_id != village.id:
                form.manager_email.errors = [_("Akun itu milik desa lain.")]
        if not form.errors:
            bumdes = commerce.create_bumdes(village, form.name.data)
            if manager is not None:
                manager.bumdes_id = bumdes.id
                manager.village_id = village.id
            db.session.commit()
            flash(_("%(name)s terdaftar.", name=bumdes.name))
            return redirect(url_for("bumdes.registry"), 303)
    stmt = select(Bumdes).join(Village, Village.id == Bumdes.village_id).order_by(Village.name, Bumdes.name)
    if current_user.role != Role.SUPERADMIN:
        stmt = stmt.where(region_prefix_filter(Village.region_code, current_user.region_code))
    rows = db.session.scalars(stmt.limit(500)).all()
    villages = {
        v.id: v
        for v in db.session.scalars(select(Village).where(Village.id.in_({b.village_id for b in rows})))
    }
    managers: dict[int, list[User]] = {}
    for user in db.session.scalars(select(User).where(User.bumdes_id.in_([b.id for b in rows]))):
        managers.setdefault(user.bumdes_id, []).append(user)
    return render(
        "bumdes/manage/registry.html",
        status=422 if form.errors else 200,
        form=form,
        enterprises=rows,
        villages=villages,
        managers=managers,
    )
