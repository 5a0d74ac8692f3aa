"""A village that uses Balai (a tenant, "desa aktif")."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import UTCDateTime, needs_pg_trgm, trigram_indexes, utcnow
from app.models.region import Region

TERMS = ("desa", "pekon", "kelurahan", "kampung", "nagari", "gampong")
HEAD_TITLES = ("Kepala Desa", "Peratin", "Lurah", "Kepala Kampung", "Wali Nagari", "Keuchik")


class Village(db.Model):
    __tablename__ = "villages"
    __table_args__ = (
        # The front page lists active villages by name; with every village of Indonesia (83,762)
        # active, sorting them all for the first 50 would cost more than the page.
        Index("ix_villages_active_name", "active", "name"),
        # The front page's search (LIKE '% hanura%' on search_text, app/domain/search.py) and the
        # admin's (ILIKE on the name, or the slug when one is typed): pg_trgm; SQLite scans
        # (bench/village_search_bench.py measures both).
        *trigram_indexes("villages", "name", "slug", "search_text"),
        # "This region and every village beneath it" is region_code LIKE '35.78.%': a b-tree answers
        # such a prefix only with pattern ops (or the C collation) on PostgreSQL.
        Index(
            "ix_villages_region_code_prefix",
            "region_code",
            postgresql_ops={"region_code": "varchar_pattern_ops"},
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


needs_pg_trgm(Village.__table__)  # villages are created before the catalogue's products


class SettingChange(db.Model):
    """One change of a village setting that governs officials (who changed it, when, old -> new).

    Rows are only ever added (app/officials/audit.py refuses updates and deletes).
    """

    __tablename__ = "setting_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), index=True)
    setting: Mapped[str] = mapped_column(String(40))
    old_value: Mapped[str] = mapped_column(String(200), default="")
    new_value: Mapped[str] = mapped_column(String(200), default="")
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Kept as written: the account may be renamed or removed later, the record must not change.
    changed_by_name: Mapped[str] = mapped_column(String(120), default="")
    changed_by_role: Mapped[str] = mapped_column(String(20), default="")
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
