"""Catalogue queries: published products of active BUMDes in active villages, searched and paged.

Plain functions over the database; they take plain values and know nothing of HTTP. Paging is by
keyset (a cursor naming the last product shown), so page 100 costs what page 1 costs.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Select, String, and_, bindparam, func, literal_column, or_, select
from sqlalchemy.orm import contains_eager, selectinload

from app.access import region_prefix_filter
from app.extensions import db
from app.models import Village
from app.models.bumdes import CANCELLED, CATEGORY_KEYS, DONE, Bumdes, Order, Product, bumdes_villages
from app.regions import names_of

# Twelve cards fill two phone screens; their thumbnails keep the first visit under 50 KB. More load
# as the list is scrolled (or with the "Muat lagi" link without JavaScript).
PAGE_SIZE = 12
FEED_PAGE_SIZE = 100
SORTS = ("baru", "termurah", "termahal")
MAX_QUERY_WORDS = 5
_REGION_CODE = re.compile(r"\A\d{2}(\.\d{2}){1,2}\Z")
_LIKE_SPECIALS = re.compile(r"([\\%_])")


@dataclass(frozen=True)
class Filters:
    """What a buyer asked the catalogue for, already cleaned."""

    q: str = ""
    category: str = ""
    region: str = ""
    sort: str = "baru"
    after: str = ""

    @classmethod
    def parse(cls, args) -> Filters:
        """Clean raw query-string values; anything unknown is ignored rather than refused."""
        q = " ".join((args.get("q") or "").split())[:80]
        category = args.get("kategori") or ""
        region = args.get("wilayah") or args.get("kecamatan") or args.get("kabupaten") or ""
        sort = args.get("urut") or "baru"
        return cls(
            q=q,
            category=category if category in CATEGORY_KEYS else "",
            region=region if _REGION_CODE.match(region) else "",
            sort=sort if sort in SORTS else "baru",
            after=(args.get("after") or "")[:40],
        )


@dataclass
class Page:
    products: list[Product]
    next_cursor: str | None
    extra: dict = field(default_factory=dict)


def published_products() -> Select:
    """Published products whose BUMDes and village are active, with both loaded in the same query."""
    return (
        select(Product)
        .join(Product.bumdes)
        .join(Product.village)
        .where(Product.published.is_(True), Bumdes.active.is_(True), Village.active.is_(True))
        .options(
            contains_eager(Product.bumdes), contains_eager(Product.village), selectinload(Product.photos)
        )
    )


def serving_bumdes_ids(village_id: int) -> Select:
    """Ids of the BUMDes based in a village or serving it (a BUMDesma)."""
    served = select(bumdes_villages.c.bumdes_id).where(bumdes_villages.c.village_id == village_id)
    return select(Bumdes.id).where(or_(Bumdes.village_id == village_id, Bumdes.id.in_(served)))


def search(filters: Filters, *, village_id: int | None = None, limit: int = PAGE_SIZE) -> Page:
    """One page of the catalogue (the province, or one village's shop) matching ``filters``."""
    stmt = published_products()
    if village_id is not None:
        stmt = stmt.where(Product.bumdes_id.in_(serving_bumdes_ids(village_id)))
    for word in filters.q.split()[:MAX_QUERY_WORDS]:
        # The pattern goes into the SQL as a quoted literal (SQLAlchemy's own quoting), not as a bound
        # parameter: a statement run often gets a generic plan on PostgreSQL, which cannot know the
        # word is rare and scans every product newest first instead of the trigram indexes (55 ms
        # against 0.4 ms for a word nothing matches, over 50,000 products).
        pattern = bindparam(None, "%" + _LIKE_SPECIALS.sub(r"\\\1", word) + "%", String, literal_execute=True)
        stmt = stmt.where(
            or_(Product.name.ilike(pattern, escape="\\"), Product.description.ilike(pattern, escape="\\"))
        )
    if filters.category:
        stmt = stmt.where(Product.category == filters.category)
    if filters.region:
        stmt = stmt.where(region_prefix_filter(Village.region_code, filters.region))
    stmt = _order_and_seek(stmt, filters)
    # LIMIT written out too: with it as a parameter, PostgreSQL's generic plan for a statement run
    # often (from the sixth run on) ignored the trigram indexes again.
    rows = list(db.session.scalars(stmt.limit(literal_column(str(int(limit) + 1)))).unique())
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, _cursor(rows[-1], filters.sort) if more and rows else None)


def _order_and_seek(stmt: Select, filters: Filters) -> Select:
    cursor = _parse_cursor(filters.after)
    if filters.sort == "termurah":
        if cursor:
            price, last_id = cursor
            stmt = stmt.where(or_(Product.price > price, and_(Product.price == price, Product.id > last_id)))
        return stmt.order_by(Product.price, Product.id)
    if filters.sort == "termahal":
        if cursor:
            price, last_id = cursor
            stmt = stmt.where(or_(Product.price < price, and_(Product.price == price, Product.id < last_id)))
        return stmt.order_by(Product.price.desc(), Product.id.desc())
    if cursor:
        stmt = stmt.where(Product.id < cursor[1])
    return stmt.order_by(Product.id.desc())


def _cursor(product: Product, sort: str) -> str:
    return f"{product.price}.{product.id}" if sort in ("termurah", "termahal") else str(product.id)


def _parse_cursor(raw: str) -> tuple[int, int] | None:
    price, _, last_id = raw.rpartition(".")
    if not last_id.isdecimal() or (price and not price.isdecimal()):
        return None
    return int(price or 0), int(last_id)


def published_product(product_id: int) -> Product | None:
    """A product the public may see, or None."""
    found = db.session.scalars(_published_product_statement(), {"product_id": product_id})
    return found.unique().first()


@functools.cache
def _published_product_statement() -> Select:
    """Built once (building it cost about as much as running it)."""
    return published_products().where(Product.id == bindparam("product_id"))


def region_choices() -> list[tuple[str, str, int]]:
    """Kabupaten and their kecamatan that have active villages: (code, name, level), in tree order."""
    codes = db.session.scalars(select(Village.region_code).where(Village.active.is_(True))).all()
    regencies = {".".join(c.split(".")[:2]) for c in codes}
    districts = {".".join(c.split(".")[:3]) for c in codes}
    names = names_of(regencies | districts)
    out: list[tuple[str, str, int]] = []
    for regency in sorted(regencies, key=lambda c: names.get(c, c)):
        out.append((regency, names.get(regency, regency), 2))
        children = [d for d in districts if d.startswith(regency + ".")]
        out.extend((d, names.get(d, d), 3) for d in sorted(children, key=lambda c: names.get(c, c)))
    return out


def feed_rows(*, village_id: int | None = None, after: int | None = None, limit: int = FEED_PAGE_SIZE):
    """Published products for the JSON feeds, oldest first, paged by id."""
    stmt = published_products()
    if village_id is not None:
        stmt = stmt.where(Product.bumdes_id.in_(serving_bumdes_ids(village_id)))
    if after:
        stmt = stmt.where(Product.id > after)
    rows = list(db.session.scalars(stmt.order_by(Product.id).limit(limit + 1)).unique())
    return rows[:limit], (rows[limit - 1].id if len(rows) > limit else None)


# --- the managers' side -------------------------------------------------------------------------


def bumdes_products(bumdes_id: int) -> list[Product]:
    """Every product of one BUMDes (drafts too), newest first."""
    stmt = (
        select(Product)
        .where(Product.bumdes_id == bumdes_id)
        .options(selectinload(Product.photos))
        .order_by(Product.id.desc())
    )
    return list(db.session.scalars(stmt))


def orders_of(bumdes_id: int, status: str | None, limit: int = 200) -> list[Order]:
    """The newest orders of one BUMDes, optionally of one status."""
    stmt = select(Order).where(Order.bumdes_id == bumdes_id)
    if status:
        stmt = stmt.where(Order.status == status)
    return list(db.session.scalars(stmt.order_by(Order.created_at.desc(), Order.id.desc()).limit(limit)))


def order_counts(bumdes_id: int) -> dict[str, int]:
    """How many orders of one BUMDes are in each status."""
    rows = db.session.execute(
        select(Order.status, func.count()).where(Order.bumdes_id == bumdes_id).group_by(Order.status)
    ).all()
    return dict(rows)


@dataclass
class Summary:
    orders: int
    cancelled: int
    done: int
    quantity: int
    value: int
    top: list[dict]


def monthly_summary(bumdes_id: int, start: datetime, end: datetime) -> Summary:
    """Orders placed in [start, end): counts, quantities, value and products ranked by quantity."""
    in_month = and_(Order.bumdes_id == bumdes_id, Order.created_at >= start, Order.created_at < end)
    by_status = dict(
        db.session.execute(select(Order.status, func.count()).where(in_month).group_by(Order.status)).all()
    )
    quantity = func.sum(Order.quantity)
    value = func.sum(Order.quantity * Order.unit_price)
    rows = db.session.execute(
        select(Order.product_id, func.max(Order.product_name), func.count(), quantity, value)
        .where(in_month, Order.status != CANCELLED)
        .group_by(Order.product_id)
        .order_by(quantity.desc(), Order.product_id)
    ).all()
    top = [
        {"product_id": pid, "name": name, "orders": n, "quantity": int(q or 0), "value": int(v or 0)}
        for pid, name, n, q, v in rows
    ]
    return Summary(
        orders=sum(by_status.values()),
        cancelled=by_status.get(CANCELLED, 0),
        done=by_status.get(DONE, 0),
        quantity=sum(r["quantity"] for r in top),
        value=sum(r["value"] for r in top),
        top=top,
    )
