"""Village enterprises (BUMDes), their products and the orders buyers place."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.domain.errors import N_
from app.extensions import db
from app.models.base import UTCDateTime, needs_pg_trgm, trigram_indexes, utcnow
from app.models.village import Village

CATEGORIES: tuple[tuple[str, str], ...] = (
    ("pertanian", N_("Pertanian")),
    ("perkebunan", N_("Perkebunan (kopi, lada, kakao)")),
    ("perikanan", N_("Perikanan")),
    ("peternakan", N_("Peternakan")),
    ("kerajinan", N_("Kerajinan")),
    ("kuliner", N_("Kuliner")),
    ("jasa", N_("Jasa")),
    ("wisata", N_("Wisata")),
)
CATEGORY_KEYS = tuple(key for key, _label in CATEGORIES)
UNITS = ("kg", "gram", "liter", "pcs", "bungkus", "botol", "paket", "ekor", "orang", "hari", "jam")
MAX_PHOTOS = 5

NEW, CONFIRMED, DONE, CANCELLED = "new", "confirmed", "done", "cancelled"
ORDER_STATUSES = (NEW, CONFIRMED, DONE, CANCELLED)
ORDER_STATUS_LABELS = {
    NEW: N_("Baru"),
    CONFIRMED: N_("Dikonfirmasi"),
    DONE: N_("Selesai"),
    CANCELLED: N_("Dibatalkan"),
}
# Which status may follow which: the inbox offers only these buttons.
ORDER_NEXT = {NEW: (CONFIRMED, CANCELLED), CONFIRMED: (DONE, CANCELLED), DONE: (), CANCELLED: ()}
PICKUP, DELIVERY = "pickup", "delivery"
FULFILMENT_LABELS = {PICKUP: N_("Ambil sendiri"), DELIVERY: N_("Diantar")}

# The villages a BUMDes serves besides its own (a BUMDesma serves several villages of one kecamatan).
bumdes_villages = Table(
    "bumdes_villages",
    db.metadata,
    Column("bumdes_id", ForeignKey("bumdes.id", ondelete="CASCADE"), primary_key=True),
    Column("village_id", ForeignKey("villages.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Bumdes(db.Model):
    """A village-owned enterprise; managers are users whose ``bumdes_id`` points here."""

    __tablename__ = "bumdes"

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    legal_number: Mapped[str] = mapped_column(String(60), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    whatsapp: Mapped[str | None] = mapped_column(String(16))
    payment_info: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    village: Mapped[Village] = relationship()
    served_villages: Mapped[list[Village]] = relationship(secondary=bumdes_villages, order_by=Village.name)

    @property
    def is_joint(self) -> bool:
        """A BUMDesma: it also serves villages other than its own."""
        return any(v.id != self.village_id for v in self.served_villages)

    def __repr__(self) -> str:
        return f"<Bumdes {self.id} {self.name}>"


class Product(db.Model):
    """Something a BUMDes sells; only published products are shown to the public."""

    __tablename__ = "products"
    __table_args__ = (
        # The province catalogue: newest first, or by price, always among published products.
        Index("ix_products_catalogue_new", "published", "id"),
        Index("ix_products_catalogue_price", "published", "price", "id"),
        Index("ix_products_category", "published", "category", "id"),
        # A village's shop and a BUMDes's own list.
        Index("ix_products_village", "village_id", "published", "id"),
        Index("ix_products_bumdes", "bumdes_id", "id"),
        # Word search (ILIKE '%kopi%'): trigram indexes on PostgreSQL.
        *trigram_indexes("products", "name", "description"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    bumdes_id: Mapped[int] = mapped_column(ForeignKey("bumdes.id"))
    # The BUMDes's own village, copied here so catalogue filters need no join through bumdes.
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"))
    name: Mapped[str] = mapped_column(String(120))
    slug: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    price: Mapped[int] = mapped_column(Integer)
    unit: Mapped[str] = mapped_column(String(20), default="pcs")
    available: Mapped[bool] = mapped_column(Boolean, default=True)
    stock: Mapped[int | None] = mapped_column(Integer)
    category: Mapped[str] = mapped_column(String(20))
    published: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    bumdes: Mapped[Bumdes] = relationship(lazy="joined")
    village: Mapped[Village] = relationship(lazy="joined")
    photos: Mapped[list[ProductPhoto]] = relationship(
        order_by="ProductPhoto.position, ProductPhoto.id",
        lazy="selectin",
        cascade="all, delete-orphan",
        back_populates="product",
    )

    @property
    def cover(self) -> ProductPhoto | None:
        return self.photos[0] if self.photos else None

    @property
    def category_label(self) -> str:
        return dict(CATEGORIES).get(self.category, self.category)

    def __repr__(self) -> str:
        return f"<Product {self.id} {self.slug}>"


class ProductPhoto(db.Model):
    """One product photo, stored three times: full (1600 px), and thumbnails of 320 and 640 px."""

    __tablename__ = "product_photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    stored_name: Mapped[str] = mapped_column(String(80), unique=True)
    small_name: Mapped[str] = mapped_column(String(80), unique=True)
    medium_name: Mapped[str] = mapped_column(String(80), unique=True)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    small_width: Mapped[int] = mapped_column(Integer)
    small_height: Mapped[int] = mapped_column(Integer)
    medium_width: Mapped[int] = mapped_column(Integer)
    medium_height: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    product: Mapped[Product] = relationship(back_populates="photos")


class Order(db.Model):
    """A buyer's order placed in the app; the buyer's contact is seen only by the BUMDes."""

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("product_id", "idempotency_key"),
        Index("ix_orders_inbox", "bumdes_id", "status", "created_at", "id"),
        Index("ix_orders_bumdes_time", "bumdes_id", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    bumdes_id: Mapped[int] = mapped_column(ForeignKey("bumdes.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    # What the buyer saw when ordering; later edits of the product do not change an order.
    product_name: Mapped[str] = mapped_column(String(120))
    unit: Mapped[str] = mapped_column(String(20))
    unit_price: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[int] = mapped_column(Integer)
    buyer_name: Mapped[str] = mapped_column(String(120))
    buyer_phone: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    fulfilment: Mapped[str] = mapped_column(String(10), default=PICKUP)
    address: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(12), default=NEW)
    idempotency_key: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    product: Mapped[Product] = relationship()

    @property
    def total(self) -> int:
        return self.unit_price * self.quantity

    @property
    def reference(self) -> str:
        """What buyer and manager quote to each other on the phone, e.g. P-00042."""
        return f"P-{self.id:05d}"

    @property
    def status_label(self) -> str:
        return ORDER_STATUS_LABELS[self.status]

    @property
    def next_statuses(self) -> tuple[str, ...]:
        return ORDER_NEXT[self.status]


needs_pg_trgm(Product.__table__)
