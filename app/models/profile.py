"""What a village publishes about itself: profile, announcements, projects, budget, indicators."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.domain.errors import N_
from app.extensions import db
from app.models.base import UTCDateTime, utcnow
from app.models.village import Village

# The five fields (bidang) of a village budget, Permendagri 20/2018.
BIDANG: tuple[tuple[str, str], ...] = (
    ("pemerintahan", N_("Penyelenggaraan Pemerintahan Desa")),
    ("pembangunan", N_("Pelaksanaan Pembangunan Desa")),
    ("kemasyarakatan", N_("Pembinaan Kemasyarakatan")),
    ("pemberdayaan", N_("Pemberdayaan Masyarakat")),
    ("bencana", N_("Penanggulangan Bencana, Darurat dan Mendesak")),
)
BIDANG_KEYS = tuple(key for key, _label in BIDANG)

# Indeks Desa Membangun statuses, lowest first.
IDM_STATUSES: tuple[str, ...] = ("sangat_tertinggal", "tertinggal", "berkembang", "maju", "mandiri")
IDM_LABELS = {
    "sangat_tertinggal": N_("Sangat Tertinggal"),
    "tertinggal": N_("Tertinggal"),
    "berkembang": N_("Berkembang"),
    "maju": N_("Maju"),
    "mandiri": N_("Mandiri"),
}


class VillageProfile(db.Model):
    """The public profile a village's operator keeps; one per village."""

    __tablename__ = "village_profiles"

    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), primary_key=True)
    description: Mapped[str] = mapped_column(Text, default="")
    potential: Mapped[str] = mapped_column(Text, default="")
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    population: Mapped[int | None] = mapped_column(Integer)
    households: Mapped[int | None] = mapped_column(Integer)
    male: Mapped[int | None] = mapped_column(Integer)
    female: Mapped[int | None] = mapped_column(Integer)
    area_km2: Mapped[float | None] = mapped_column(Float)
    # [{"name": "...", "position": "Sekretaris Desa"}], the village's officials as published.
    officials: Mapped[list] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    village: Mapped[Village] = relationship()


class Announcement(db.Model):
    """A pengumuman on the village's profile; may be broadcast to subscribers once."""

    __tablename__ = "announcements"
    __table_args__ = (Index("ix_announcements_village_time", "village_id", "published_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"))
    title: Mapped[str] = mapped_column(String(160))
    body: Mapped[str] = mapped_column(Text, default="")
    broadcast: Mapped[bool] = mapped_column(Boolean, default=False)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Project(db.Model):
    """A development project (pembangunan) with its budget, source and progress."""

    __tablename__ = "projects"
    __table_args__ = (Index("ix_projects_village_year", "village_id", "year", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"))
    name: Mapped[str] = mapped_column(String(160))
    year: Mapped[int] = mapped_column(Integer)
    budget: Mapped[int] = mapped_column(BigInteger, default=0)
    source: Mapped[str] = mapped_column(String(60), default="Dana Desa")
    location: Mapped[str] = mapped_column(String(160), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    progress: Mapped[int] = mapped_column(SmallInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    photos: Mapped[list[ProjectPhoto]] = relationship(
        order_by="ProjectPhoto.id", lazy="selectin", cascade="all, delete-orphan"
    )


class ProjectPhoto(db.Model):
    """A progress photo of a project (re-encoded, metadata-free), with a small thumbnail."""

    __tablename__ = "project_photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    stored_name: Mapped[str] = mapped_column(String(80), unique=True)
    small_name: Mapped[str] = mapped_column(String(80), unique=True)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    caption: Mapped[str] = mapped_column(String(160), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BudgetLine(db.Model):
    """APBDes: planned and realised amounts of one bidang in one year."""

    __tablename__ = "budget_lines"
    __table_args__ = (UniqueConstraint("village_id", "year", "bidang"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    bidang: Mapped[str] = mapped_column(String(20))
    planned: Mapped[int] = mapped_column(BigInteger, default=0)
    realised: Mapped[int] = mapped_column(BigInteger, default=0)


class IndicatorValue(db.Model):
    """A Smart Village indicator the village's operator answered (yes or no)."""

    __tablename__ = "indicator_values"
    __table_args__ = (UniqueConstraint("village_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), index=True)
    key: Mapped[str] = mapped_column(String(40))
    value: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class IdmStatus(db.Model):
    """A village's Indeks Desa Membangun score and status for one year (keyed by region code)."""

    __tablename__ = "idm_statuses"
    __table_args__ = (UniqueConstraint("region_code", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(20))


class SmartVillageSite(db.Model):
    """A village already chosen as a Smart Village location in a given year."""

    __tablename__ = "smart_village_sites"
    __table_args__ = (UniqueConstraint("village_id", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)


class ApiKey(db.Model):
    """A key an outside system uses to post requests for one village; only its digest is stored."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    village: Mapped[Village] = relationship()

    @property
    def active(self) -> bool:
        return self.revoked_at is None
