"""Public side of the marketplace: the province catalogue, village shops, product pages, orders, feeds."""

from __future__ import annotations

import secrets
from typing import NamedTuple

from flask import abort, current_app, make_response, redirect, request, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app import limits
from app.bumdes import bp, catalog, commerce
from app.bumdes.forms import OrderForm
from app.datacache import cached, cached_markup, render_whole
from app.domain.errors import DomainError
from app.domain.phone import mask_phone
from app.domain.text import format_rupiah
from app.extensions import db, limiter
from app.i18n import coded, translated
from app.models import Village
from app.models.bumdes import CATEGORIES, Bumdes, Order, Product, ProductPhoto
from app.pagecache import shared
from app.web import absolute_url as absolute
from app.web import active_village_or_404, render, render_shared, send_stored_photo, shown_village_or_404

ORDER_RATE_LIMIT = "5 per minute;20 per hour"
ORDERS_KEPT = 10  # orders a browser session may reopen (its confirmation pages)
PHOTO_SIZES = {320: "small_name", 640: "medium_name", 1600: "stored_name"}
# The product photo is at most this tall (balai.css .hero-img) and at most the page's width (44 rem).
HERO_MAX_HEIGHT_REM = 15
PAGE_WIDTH_REM = 44


@bp.app_template_global()
def product_url(product: Product, **values) -> str:
    return url_for("bumdes.product", product_id=product.id, slug=product.slug, **values)


@bp.app_template_global()
def product_photo_url(photo: ProductPhoto, size: int = 320) -> str:
    return url_for("bumdes.photo", photo_id=photo.id, size=size)


@bp.route("/produk")
@shared
def catalogue():
    # The same for every visitor asking with the same arguments: rendered once per change of data.
    key = (tuple(sorted(request.args.items(multi=True))), bool(request.headers.get("HX-Request")))

    def context() -> dict:
        filters = catalog.Filters.parse(request.args)
        page = catalog.search(filters)
        return {
            "page": page,
            "filters": filters,
            "categories": translated(CATEGORIES).items(),
            "regions": [] if request.headers.get("HX-Request") else catalog.region_choices(),
            "more_url": _more_url(page, "bumdes.catalogue"),
        }

    fragment = "bumdes/_cards.html" if request.args.get("after") else "bumdes/_results.html"
    return render_shared("bumdes/catalogue.html", key, context, fragment=fragment)


@bp.route("/desa/<slug>/produk")
@shared
def shop(slug: str):
    village = shown_village_or_404(slug)
    key = (village.id, tuple(sorted(request.args.items(multi=True))))

    def context() -> dict:
        parsed = catalog.Filters.parse(request.args)
        filters = catalog.Filters(q=parsed.q, category=parsed.category, sort=parsed.sort, after=parsed.after)
        page = catalog.search(filters, village_id=village.id)
        enterprises = db.session.scalars(
            select(Bumdes)
            .where(Bumdes.id.in_(catalog.serving_bumdes_ids(village.id)), Bumdes.active.is_(True))
            .order_by(Bumdes.name)
        ).all()
        return {
            "village": village,
            "enterprises": enterprises,
            "page": page,
            "filters": filters,
            "categories": translated(CATEGORIES).items(),
            "more_url": _more_url(page, "bumdes.shop", slug=village.slug),
        }

    fragment = "bumdes/_cards.html" if request.args.get("after") else "bumdes/_results.html"
    return render_shared("bumdes/shop.html", key, context, fragment=fragment, village=village)


def _more_url(page: catalog.Page, endpoint: str, **values) -> str | None:
    if page.next_cursor is None:
        return None
    args = {k: v for k, v in request.args.items() if k != "after" and v}
    return url_for(endpoint, **values, **args, after=page.next_cursor)


@bp.route("/produk/<int:product_id>")
@bp.route("/produk/<int:product_id>-<slug>")
@shared
def product(product_id: int, slug: str | None = None):
    # The page is the same for every visitor until the data changes (app/datacache.py), but for the
    # visitor's own CSRF token and order key, and for a session that ordered the product already.
    locale = str(get_locale())
    loaded: list[Product | None] = []

    def item() -> Product | None:  # looked up at most once, and only when something is not kept
        if not loaded:
            loaded.append(catalog.published_product(product_id))
        return loaded[0]

    def shown() -> Product:
        if item() is None:
            abort(404)  # unpublished by a commit since this request read the generation
        return loaded[0]

    kept = cached(("product-page", locale, product_id), lambda: _kept_page(item()))
    if kept is None:
        abort(404)
    if slug != kept.slug:
        return redirect(url_for("bumdes.product", product_id=product_id, slug=kept.slug, **request.args), 301)
    quantity = _quantity_arg()
    if _wants_wa_fragment():
        body = cached_markup(
            ("product-wa", locale, product_id, quantity),
            lambda: render_whole("bumdes/_wa.html", _page_context(shown(), None, quantity)),
        )
        response = make_response(body)
        response.vary.add("HX-Request")
        return response
    if request.args.get("pesan") != "baru" and _placed_order_id(product_id) is not None:
        return _product_page(shown(), OrderForm())  # this session's own order: rendered for it alone

    def blank() -> Markup:
        form = OrderForm(formdata=None, key=_KEY_SLOT)
        return render_whole("bumdes/_product.html", _page_context(shown(), form, quantity))

    content = cached_markup(("product-content", locale, product_id, quantity), blank)
    # Markup.replace escapes what it puts in (a URL-safe key: unchanged).
    own = content.replace(_KEY_SLOT, secrets.token_urlsafe(16))
    return render("bumdes/_kept_page.html", cached_content=own, kept=kept)


# Stands in for the blank order form's idempotency key while it is rendered once for everyone
# (cached_markup does the same for its CSRF token); each page gets its own.
_KEY_SLOT = "balai-key-" + secrets.token_hex(8)


class KeptPage(NamedTuple):
    """A product page's parts outside its content, made once per change of data (immutable)."""

    slug: str
    title: str
    description: str
    head: Markup


def _kept_page(item: Product | None) -> KeptPage | None:
    if item is None:
        return None
    context = _page_context(item, None, 1)
    head = render_whole("bumdes/_product_head.html", context)
    return KeptPage(item.slug, item.name, context["meta_description"], head)


def _wants_wa_fragment() -> bool:
    """htmx asks for the WhatsApp box alone (the quantity changed), as render() decides for a fragment."""
    return bool(
        request.args.get("jumlah")
        and request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-Boosted") != "true"
    )


def _page_context(item: Product, form: OrderForm | None, quantity: int, placed: Order | None = None) -> dict:
    page_url = absolute("bumdes.product", product_id=item.id, slug=item.slug)
    number = item.bumdes.whatsapp or item.village.whatsapp
    return {
        "product": item,
        "category_label": coded(CATEGORIES, item.category),
        "meta_description": (
            f"{format_rupiah(item.price)}/{item.unit} · {item.bumdes.name}, {item.village.display_name}"
        ),
        "form": form,
        "placed": placed,
        "hero_sizes": hero_sizes(item.cover) if item.cover else None,
        "quantity": quantity,
        "wa_link": commerce.whatsapp_link(number, item, quantity, page_url),
        "page_url": page_url,
        "og_image": absolute("bumdes.photo", photo_id=item.cover.id, size=640) if item.cover else None,
    }


def _product_page(item: Product, form: OrderForm, status: int = 200):
    """The product page rendered for this request alone: a form sent back with errors, or an order placed."""
    # Back from the confirmation, this session sees its order instead of a blank form to send again.
    placed = None if request.args.get("pesan") == "baru" or form.errors else _placed_order(item.id)
    return render(
        "bumdes/product.html",
        fragment="bumdes/_wa.html" if request.args.get("jumlah") else None,
        status=status,
        **_page_context(item, form, _quantity_arg(), placed),
    )


def hero_sizes(photo: ProductPhoto) -> str:
    """The ``sizes`` of the product photo: the width it is drawn at, so a phone fetches no bigger file.

    The photo fits a box as wide as the page and HERO_MAX_HEIGHT_REM tall: a portrait photo is drawn
    narrower than the screen, and at twice the pixels (DPR 2) the 640 px variant suffices.
    """
    drawn = min(HERO_MAX_HEIGHT_REM * photo.width / photo.height, PAGE_WIDTH_REM)
    return f"(min-width: {drawn + 1.5:.2f}rem) {drawn:.2f}rem, calc(100vw - 1.5rem)"


def _quantity_arg() -> int:
    raw = request.args.get("jumlah", "1")
    return min(max(int(raw), 1), commerce.MAX_QUANTITY) if raw.isdecimal() else 1


@bp.route("/produk/<int:product_id>-<slug>/pesan", methods=["POST"])
@limiter.limit(ORDER_RATE_LIMIT, methods=["POST"])
@limiter.limit(
    limits.configured("ORDER_PHONE_LIMIT"),
    key_func=limits.phone_key("buyer_phone"),
    deduct_when=limits.stored,
)
def order(product_id: int, slug: str):
    item = catalog.published_product(product_id)
    if item is None:
        abort(404)
    form = OrderForm()
    if form.validate_on_submit():
        try:
            placed = _place_order(item, form)
        except DomainError as err:
            db.session.rollback()
            form.quantity.errors = [*form.quantity.errors, _(err.message, **err.params)]
        else:
            _remember_order(placed)
            return redirect(url_for("bumdes.order_placed", order_id=placed.id), 303)
    return _product_page(item, form, status=422)


def _place_order(item: Product, form: OrderForm) -> Order:
    """Store the order once, however often the same form arrives (its key), and commit."""
    values = {
        "quantity": form.quantity.parsed,
        "buyer_name": form.buyer_name.data,
        "buyer_phone": form.buyer_phone.parsed,
        "fulfilment": form.fulfilment.data,
        "address": form.address.data or "",
        "note": form.note.data or "",
        "idempotency_key": form.key.data,
        "inbox_path": url_for("bumdes.orders", bumdes_id=item.bumdes_id),
    }
    try:
        placed, _created = commerce.place_order(item, **values)
        db.session.commit()
    except IntegrityError:
        # Two copies of the same form raced (a double tap); the other one stored it.
        db.session.rollback()
        placed, created = commerce.place_order(item, **values)
        if created:
            raise
    return placed


def _remember_order(order: Order) -> None:
    """Let this browser session reopen its order's confirmation (and nobody else: it shows the order)."""
    kept = [pair for pair in session.get("orders", []) if pair[0] != order.id]
    session["orders"] = [*kept, [order.id, order.product_id]][-ORDERS_KEPT:]


def _placed_order_id(product_id: int) -> int | None:
    """The id of the latest order this session placed for the product, if any."""
    ids = [order_id for order_id, product in session.get("orders", []) if product == product_id]
    return ids[-1] if ids else None


def _placed_order(product_id: int) -> Order | None:
    """The latest order this session placed for the product, if any."""
    order_id = _placed_order_id(product_id)
    return None if order_id is None else db.session.get(Order, order_id)


@bp.route("/pesanan/<int:order_id>")
def order_placed(order_id: int):
    """The buyer's confirmation: the order reference and what happens next, for the session that ordered."""
    if order_id not in {pair[0] for pair in session.get("orders", [])}:
        abort(404)
    placed = db.session.get(Order, order_id)
    if placed is None:
        abort(404)
    response = render(
        "bumdes/order_placed.html",
        order=placed,
        product=placed.product,
        bumdes=placed.product.bumdes,
        phone=mask_phone(placed.buyer_phone) if placed.buyer_phone else "",
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.errorhandler(429)
def too_many_orders(exc):
    title = _("Terlalu banyak pesanan")
    hint = _(
        "Dari perangkat ini sudah terkirim banyak pesanan dalam waktu singkat. Tunggu beberapa menit lalu "
        "coba lagi, atau pesan lewat tombol WhatsApp."
    )
    return render("errors/error.html", status=429, title=title, hint=hint)


@bp.route("/produk/foto/<int:photo_id>/<int:size>")
def photo(photo_id: int, size: int):
    column = PHOTO_SIZES.get(size)
    if column is None:
        abort(404)
    row = db.session.scalar(
        select(ProductPhoto)
        .join(Product, Product.id == ProductPhoto.product_id)
        .join(Bumdes, Bumdes.id == Product.bumdes_id)
        .join(Village, Village.id == Product.village_id)
        .where(
            ProductPhoto.id == photo_id,
            Product.published.is_(True),
            Bumdes.active.is_(True),
            Village.active.is_(True),
        )
    )
    if row is None:
        abort(404)
    return send_stored_photo(getattr(row, column), public=True)


# --- JSON feeds for other portals: published products only, never anything about buyers ----------


@bp.route("/produk.json")
def feed():
    return _feed(None, "bumdes.feed")


@bp.route("/desa/<slug>/produk.json")
def village_feed(slug: str):
    village = active_village_or_404(slug)
    return _feed(village, "bumdes.village_feed", slug=village.slug)


def _feed(village: Village | None, endpoint: str, **values):
    after = request.args.get("after", "")
    rows, last = catalog.feed_rows(
        village_id=village.id if village else None, after=int(after) if after.isdecimal() else None
    )
    body = {
        "village": _village_json(village) if village else None,
        "products": [_product_json(p) for p in rows],
        "next": absolute(endpoint, **values, after=last) if last else None,
    }
    response = current_app.json.response(body)
    response.cache_control.public = True
    response.cache_control.max_age = 300
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def _village_json(village: Village) -> dict:
    return {"name": village.display_name, "slug": village.slug, "region_code": village.region_code}


def _product_json(p: Product) -> dict:
    return {
        "id": p.id,
        "name": p.name,
        "description": p.description,
        "price": p.price,
        "currency": "IDR",
        "unit": p.unit,
        "category": p.category,
        "available": p.available,
        "url": absolute("bumdes.product", product_id=p.id, slug=p.slug),
        "photos": [
            {
                "small": absolute("bumdes.photo", photo_id=ph.id, size=320),
                "medium": absolute("bumdes.photo", photo_id=ph.id, size=640),
                "large": absolute("bumdes.photo", photo_id=ph.id, size=1600),
            }
            for ph in p.photos
        ],
        "bumdes": {"name": p.bumdes.name, "whatsapp": p.bumdes.whatsapp},
        "village": _village_json(p.village),
        "updated_at": p.updated_at.isoformat(),
    }
