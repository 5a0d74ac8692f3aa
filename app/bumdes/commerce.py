"""What BUMDes managers and buyers change: products, their photos, orders and their statuses.

Plain functions: they take plain values, raise DomainError with an Indonesian message, and emit
domain events before the caller commits (so notification rows commit with the change).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from urllib.parse import quote

from sqlalchemy import event, func, select

from app import events
from app.domain import phone as phone_rules
from app.domain.errors import N_, DomainError
from app.domain.photos import ProcessedPhoto, make_thumbnail, process_photo
from app.domain.storage import PhotoStore
from app.domain.text import format_rupiah, slugify
from app.extensions import db
from app.models import Village
from app.models.base import utcnow
from app.models.bumdes import (
    DELIVERY,
    MAX_PHOTOS,
    NEW,
    ORDER_NEXT,
    Bumdes,
    Order,
    Product,
    ProductPhoto,
)

SMALL, MEDIUM = 320, 640
MAX_QUANTITY = 9999


def create_product(bumdes: Bumdes, **fields) -> Product:
    """Add a product to ``bumdes`` (a draft unless ``published`` is given true)."""
    product = Product(bumdes_id=bumdes.id, village_id=bumdes.village_id)
    db.session.add(product)
    update_product(product, **fields)
    return product


def update_product(product: Product, **fields) -> Product:
    """Change a product's fields; the slug follows the name, publishing stamps the time once."""
    for key, value in fields.items():
        setattr(product, key, value)
    product.slug = slugify(product.name)[:120] or "produk"
    if product.published and product.published_at is None:
        product.published_at = utcnow()
    db.session.flush()
    return product


@dataclass(frozen=True, slots=True)
class PreparedPhoto:
    """A cleaned photo and its two thumbnails, ready to store."""

    full: ProcessedPhoto
    small: ProcessedPhoto
    medium: ProcessedPhoto


def prepare_photo(
    data: bytes,
    *,
    filename: str | None = None,
    declared_type: str | None = None,
    max_bytes: int = 10 * 1024 * 1024,
) -> PreparedPhoto:
    """Check and re-encode an upload (at most 1600 px) and make its 320 and 640 px thumbnails."""
    full = process_photo(data, filename=filename, declared_type=declared_type, max_bytes=max_bytes)
    # The medium size is a JPEG: it is also the og:image, and some link previews skip WebP.
    return PreparedPhoto(
        full, make_thumbnail(full.data, SMALL), make_thumbnail(full.data, MEDIUM, fmt="JPEG")
    )


def add_photo(
    product: Product,
    data: bytes | PreparedPhoto,
    store: PhotoStore,
    *,
    filename: str | None = None,
    declared_type: str | None = None,
    max_bytes: int = 10 * 1024 * 1024,
) -> ProductPhoto:
    """Check, clean and store one photo with its two thumbnails; a product holds at most five."""
    count = db.session.scalar(select(func.count()).where(ProductPhoto.product_id == product.id)) or 0
    if count >= MAX_PHOTOS:
        raise DomainError(
            N_("Satu produk paling banyak %(max)s foto. Hapus foto lama dulu untuk menambah yang baru."),
            max=MAX_PHOTOS,
        )
    prepared = (
        data
        if isinstance(data, PreparedPhoto)
        else prepare_photo(data, filename=filename, declared_type=declared_type, max_bytes=max_bytes)
    )
    full, small, medium = prepared.full, prepared.small, prepared.medium
    names: list[str] = []
    try:
        for photo in (full, small, medium):
            names.append(store.save(photo.data, photo.ext))
    except DomainError:
        for name in names:
            store.delete(name)
        raise
    row = ProductPhoto(
        product_id=product.id,
        position=count,
        stored_name=names[0],
        small_name=names[1],
        medium_name=names[2],
        width=full.width,
        height=full.height,
        small_width=small.width,
        small_height=small.height,
        medium_width=medium.width,
        medium_height=medium.height,
        sha256=full.sha256,
    )
    db.session.add(row)
    db.session.flush()
    db.session.expire(product, ["photos"])
    return row


def delete_photo(photo: ProductPhoto, store: PhotoStore) -> None:
    """Remove a photo's row now and its files once the caller has committed."""
    names = (photo.stored_name, photo.small_name, photo.medium_name)
    product = photo.product
    db.session.delete(photo)
    db.session.flush()
    db.session.expire(product, ["photos"])

    def remove_files(_session) -> None:
        for name in names:
            with contextlib.suppress(OSError):
                store.delete(name)

    event.listen(db.session(), "after_commit", remove_files, once=True)


def place_order(
    product: Product,
    *,
    quantity: int,
    buyer_name: str,
    buyer_phone: str,
    fulfilment: str,
    address: str = "",
    note: str = "",
    idempotency_key: str,
    inbox_path: str | None = None,
) -> tuple[Order, bool]:
    """Record a buyer's order and tell the BUMDes; a resent form returns the first order instead."""
    existing = db.session.scalar(
        select(Order).where(Order.product_id == product.id, Order.idempotency_key == idempotency_key)
    )
    if existing is not None:
        return existing, False
    if not product.published:
        raise DomainError(N_("Produk ini sedang tidak dijual."))
    if not product.available:
        raise DomainError(N_("Maaf, produk ini sedang habis."))
    if quantity < 1 or quantity > MAX_QUANTITY:
        raise DomainError(N_("Jumlah pesanan 1 sampai %(max)s."), max=MAX_QUANTITY)
    if product.stock is not None and quantity > product.stock:
        raise DomainError(
            N_("Stok tinggal %(stock)s %(unit)s. Kurangi jumlah pesanan."),
            stock=product.stock,
            unit=product.unit,
        )
    if fulfilment == DELIVERY and not address.strip():
        raise DomainError(N_("Tulis alamat pengiriman, atau pilih ambil sendiri."))
    order = Order(
        bumdes_id=product.bumdes_id,
        product_id=product.id,
        product_name=product.name,
        unit=product.unit,
        unit_price=product.price,
        quantity=quantity,
        buyer_name=buyer_name.strip(),
        buyer_phone=phone_rules.normalize_phone(buyer_phone),
        fulfilment=fulfilment,
        address=address.strip() if fulfilment == DELIVERY else "",
        note=note.strip(),
        status=NEW,
        idempotency_key=idempotency_key,
    )
    db.session.add(order)
    db.session.flush()
    # What the managers' message may say: the product and amount, never the buyer's contact.
    events.emit(
        events.ORDER_CREATED,
        order_id=order.id,
        bumdes_id=order.bumdes_id,
        village_id=product.village_id,
        bumdes_name=product.bumdes.name,
        summary=f"{quantity} {product.unit} {product.name}",
        path=inbox_path,
    )
    return order, True


def change_order_status(order: Order, to: str) -> Order:
    """Move an order along new → confirmed → done, or cancel it while it is open."""
    if to not in ORDER_NEXT.get(order.status, ()):
        raise DomainError(N_("Status pesanan ini tidak bisa diubah ke sana lagi. Muat ulang halaman."))
    old = order.status
    order.status = to
    db.session.flush()
    events.emit(events.ORDER_STATUS_CHANGED, order_id=order.id, bumdes_id=order.bumdes_id, old=old, status=to)
    return order


def whatsapp_link(number: str | None, product: Product, quantity: int, page_url: str) -> str | None:
    """A wa.me link whose prefilled message names the product, the quantity and the product page."""
    if not number:
        return None
    try:
        digits = phone_rules.wa_number(number)
    except DomainError:
        return None
    message = (
        f"Halo {product.bumdes.name}, saya mau pesan {product.name} sebanyak {quantity} {product.unit} "
        f"({format_rupiah(product.price)}/{product.unit}). {page_url}"
    )
    return f"https://wa.me/{digits}?text={quote(message, safe='')}"


def create_bumdes(village: Village, name: str, **fields) -> Bumdes:
    """Register a BUMDes for a village."""
    name = " ".join(name.split())
    if not name:
        raise DomainError(N_("Isi nama BUMDes."))
    bumdes = Bumdes(village_id=village.id, name=name, **fields)
    db.session.add(bumdes)
    db.session.flush()
    return bumdes


def set_served_villages(bumdes: Bumdes, villages: list[Village]) -> None:
    """A BUMDesma serves villages of its own kecamatan only."""
    own = bumdes.village.region_code.rsplit(".", 1)[0]
    for village in villages:
        if village.region_code.rsplit(".", 1)[0] != own:
            raise DomainError(
                N_("%(name)s tidak berada di kecamatan yang sama dengan BUMDes ini."), name=village.name
            )
    bumdes.served_villages = [v for v in villages if v.id != bumdes.village_id]
    db.session.flush()
