"""A village that uses Balai (a tenant, "desa aktif")."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DDL, Boolean, ForeignKey, Index, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import UTCDateTime, utcnow
from app.models.region import Region

TERMS = ("desa", "pekon", "kelurahan", "kampung", "nagari", "gampong")
HEAD_TITLES = ("Kepala Desa", "Peratin", "Lurah", "Kepala Kampung", "Wali Nagari", "Keuchik")


class Village(db.Model):
    __tablename__ = "villages"
    __table_args__ = (
        # The front page's search (LIKE '% hanura%', app/domain/search.py) on PostgreSQL: pg_trgm.
        # SQLite scans (bench/village_search_bench.py measures both).
        Index(
            "ix_villages_search_text_trgm",
            "search_text",
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), unique=True)
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    term: Mapped[str] = mapped_column(String(20), default="desa")
    head_name: Mapped[str] = mapped_column(String(120), default="")
    head_title: Mapped[str] = mapped_column(String(40), default="Kepala Desa")
    address: Mapped[str] = mapped_column(Text, default="")
    whatsapp: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(120))
    short_code: Mapped[str] = mapped_column(String(10), default="")
    logo: Mapped[str | None] = mapped_column(String(80))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Name, kecamatan and kabupaten folded for search (app.domain.search.search_text); kept by app.tenancy.
    search_text: Mapped[str] = mapped_column(String(255), default="", server_default="")
    activated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    region: Mapped[Region] = relationship(lazy="joined")

    @property
    def display_name(self) -> str:
        """E.g. "Pekon Trimulyo"."""
        return f"{self.term.capitalize()} {self.name}"

    def __repr__(self) -> str:
        return f"<Village {self.slug}>"


# The trigram index above needs pg_trgm (a trusted extension: the database's owner may create it).
event.listen(
    Village.__table__,
    "before_create",
    DDL("CREATE EXTENSION IF NOT EXISTS pg_trgm").execute_if(dialect="postgresql"),
)
