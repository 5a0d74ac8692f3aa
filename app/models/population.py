"""Population register, the OpenDK sync that fills it, and the figures published from it.

A village's register (``residents``) is personal data: only that village's officials read it
(app/access.py), every look is logged (``register_access_log``), and nothing here leaves the village
except aggregates (``population_stats`` per village, ``population_published`` per region after
small-cell suppression).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import UTCDateTime, utcnow
from app.models.village import Village

# Where a village's figures come from.
SOURCE_OPENDK = "opendk"  # pushed by the village's OpenSID (Sinkronisasi OpenDK)
SOURCE_IMPORT = "import"  # a file an official imported in Balai
SOURCE_TYPED = "typed"  # typed by hand into the village profile
SOURCE_BALAI = "balai"  # Balai's own records (requests, projects and budgets entered in Balai)

# A push's life.
QUEUED, PROCESSING, DONE, UNCHANGED, FAILED = "queued", "processing", "done", "unchanged", "failed"
FINISHED = (DONE, UNCHANGED, FAILED)


class SyncToken(db.Model):
    """The key a village's OpenSID sends as ``Authorization: Bearer``; only its digest is stored.

    A token belongs to one village and writes only that village's data (its kode, e.g. 18.09.10.2004).
    """

    __tablename__ = "opendk_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    via: Mapped[str] = mapped_column(String(10), default="balai")  # "balai" page or the "login" API
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    village: Mapped[Village] = relationship()

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class SyncPush(db.Model):
    """One push (or import) received for a village: when, what, how many rows, what went wrong.

    The payload waits here until a job has read it, then it is dropped.
    """

    __tablename__ = "sync_pushes"
    __table_args__ = (
        Index("ix_sync_pushes_village_time", "village_id", "received_at", "id"),
        Index("ix_sync_pushes_state", "state", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"))
    module: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(10), default=SOURCE_OPENDK)
    state: Mapped[str] = mapped_column(String(12), default=QUEUED)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    rows: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    # [{"m": message, "p": params}] - messages from app.domain.opensid.KNOWN_MESSAGES only.
    errors: Mapped[list] = mapped_column(JSON, default=list)
    payload: Mapped[bytes | None] = mapped_column(LargeBinary)
    payload_name: Mapped[str] = mapped_column(String(160), default="")
    payload_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    digest: Mapped[str] = mapped_column(String(64), default="")
    token_id: Mapped[int | None] = mapped_column(ForeignKey("opendk_tokens.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    village: Mapped[Village] = relationship()


class Resident(db.Model):
    """One person in a village's register (from OpenSID, an import, or corrected by an official)."""

    __tablename__ = "residents"
    __table_args__ = (
        Index("ix_residents_village_nik", "village_id", "nik"),
        Index("ix_residents_village_kk", "village_id", "kk"),
        Index("ix_residents_village_name", "village_id", "name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"))
    nik: Mapped[str | None] = mapped_column(String(16))
    kk: Mapped[str | None] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(120))
    sex: Mapped[int | None] = mapped_column(SmallInteger)
    birth_place: Mapped[str] = mapped_column(String(80), default="")
    birth_date: Mapped[date | None] = mapped_column(Date)
    religion: Mapped[int | None] = mapped_column(SmallInteger)
    education: Mapped[int | None] = mapped_column(SmallInteger)
    education_now: Mapped[int | None] = mapped_column(SmallInteger)
    occupation: Mapped[int | None] = mapped_column(SmallInteger)
    marital: Mapped[int | None] = mapped_column(SmallInteger)
    relation: Mapped[int | None] = mapped_column(SmallInteger)
    citizenship: Mapped[int | None] = mapped_column(SmallInteger)
    dusun: Mapped[str] = mapped_column(String(60), default="")
    rw: Mapped[str] = mapped_column(String(8), default="")
    rt: Mapped[str] = mapped_column(String(8), default="")
    address: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[int] = mapped_column(SmallInteger, default=1)
    external_id: Mapped[str | None] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(10), default=SOURCE_OPENDK)


class ResidentCorrection(db.Model):
    """An official's correction of one register field: an audit row, never changed except to mark
    it superseded when the village's own system later changes that field itself."""

    __tablename__ = "resident_corrections"
    __table_args__ = (Index("ix_resident_corrections_village_nik", "village_id", "nik"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"))
    nik: Mapped[str] = mapped_column(String(16))
    field: Mapped[str] = mapped_column(String(30))
    old_value: Mapped[str] = mapped_column(String(200), default="")
    new_value: Mapped[str] = mapped_column(String(200), default="")
    reason: Mapped[str] = mapped_column(String(300), default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    user_name: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    superseded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RegisterAccess(db.Model):
    """Who looked at, searched, corrected or exported a village's register, and when.

    The person looked at is kept as a keyed digest of their NIK (``subject``), never the NIK itself,
    so the log can answer "who saw my data" without becoming a second register.
    """

    __tablename__ = "register_access_log"
    __table_args__ = (Index("ix_register_access_village_time", "village_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int | None] = mapped_column(ForeignKey("villages.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    user_name: Mapped[str] = mapped_column(String(120), default="")
    action: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str | None] = mapped_column(String(64), index=True)
    detail: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PopulationSource(db.Model):
    """Where a village's population figures come from, and how fresh they are."""

    __tablename__ = "population_sources"

    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), primary_key=True)
    source: Mapped[str] = mapped_column(String(10))
    as_of: Mapped[date] = mapped_column(Date)
    pushed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    residents: Mapped[int] = mapped_column(Integer, default=0)
    households: Mapped[int] = mapped_column(Integer, default=0)
    # Digest of the register's content: a push that would store the same rows changes nothing.
    content_digest: Mapped[str] = mapped_column(String(64), default="")


class PopulationStat(db.Model):
    """One aggregate of a village's register, computed when its data arrives (exact, village only).

    ``dimension`` is total, households, sex, age (key: band + sex, e.g. "05P"), education, occupation,
    religion, marital; ``key`` "" means not recorded.
    """

    __tablename__ = "population_stats"

    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), primary_key=True)
    dimension: Mapped[str] = mapped_column(String(12), primary_key=True)
    key: Mapped[str] = mapped_column(String(12), primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)


class PublishedStat(db.Model):
    """A figure as the public sees it, for a region or a village, after small-cell suppression.

    ``mark``: 0 shown, 1 a count from 1 to 4 ("<5"), 2 hidden so that a total cannot give one back.
    Rebuilt per province by a job after pushes (app/stats/population.py); pages only read it.
    """

    __tablename__ = "population_published"
    __table_args__ = (Index("ix_population_published_parent", "parent_code", "dimension"),)

    region_code: Mapped[str] = mapped_column(String(13), primary_key=True)
    dimension: Mapped[str] = mapped_column(String(12), primary_key=True)
    key: Mapped[str] = mapped_column(String(12), primary_key=True)
    parent_code: Mapped[str] = mapped_column(String(13), default="")
    n: Mapped[int] = mapped_column(BigInteger, default=0)
    mark: Mapped[int] = mapped_column(SmallInteger, default=0)


class PublishState(db.Model):
    """Whether a province's published figures are behind its villages' data."""

    __tablename__ = "population_publish_state"

    province_code: Mapped[str] = mapped_column(String(2), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    published_version: Mapped[int] = mapped_column(Integer, default=-1)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# --- documents OpenSID sends --------------------------------------------------------------------


class SyncedReport(db.Model):
    """A Laporan Penduduk (monthly) or Laporan APBDes (per semester) PDF a village sent."""

    __tablename__ = "opendk_reports"
    __table_args__ = (UniqueConstraint("village_id", "kind", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # "penduduk" or "apbdes"
    external_id: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    year: Mapped[int] = mapped_column(Integer)
    period: Mapped[int | None] = mapped_column(SmallInteger)  # month (penduduk) or semester (apbdes)
    file_name: Mapped[str] = mapped_column(String(160), default="")
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    pdf_bytes: Mapped[int] = mapped_column(Integer, default=0)
    sha256: Mapped[str] = mapped_column(String(64))
    source_updated_at: Mapped[str] = mapped_column(String(40), default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SyncedProject(db.Model):
    """Links an OpenSID pembangunan to the Balai project it fills (app.models.profile.Project)."""

    __tablename__ = "opendk_projects"
    __table_args__ = (UniqueConstraint("village_id", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), index=True)
    external_id: Mapped[int] = mapped_column(Integer)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    photo_id: Mapped[int | None] = mapped_column(ForeignKey("project_photos.id", ondelete="SET NULL"))
    photo_sha: Mapped[str] = mapped_column(String(64), default="")
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SyncedProjectDoc(db.Model):
    """A progress record of a pembangunan (dokumentasi): percentage, caption and photo."""

    __tablename__ = "opendk_project_docs"
    __table_args__ = (UniqueConstraint("village_id", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), index=True)
    external_id: Mapped[int] = mapped_column(Integer)
    project_external_id: Mapped[int] = mapped_column(Integer)
    photo_id: Mapped[int | None] = mapped_column(ForeignKey("project_photos.id", ondelete="SET NULL"))
    photo_sha: Mapped[str] = mapped_column(String(64), default="")
    percent: Mapped[int] = mapped_column(SmallInteger, default=0)
    caption: Mapped[str] = mapped_column(String(300), default="")
    day: Mapped[date | None] = mapped_column(Date)


class AidProgramme(db.Model):
    """A social-assistance programme (program bantuan) of a village."""

    __tablename__ = "aid_programmes"
    __table_args__ = (UniqueConstraint("village_id", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), index=True)
    external_id: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    target: Mapped[int] = mapped_column(SmallInteger, default=1)  # sasaran: 1 penduduk, 2 keluarga...
    description: Mapped[str] = mapped_column(Text, default="")
    starts: Mapped[date | None] = mapped_column(Date)
    ends: Mapped[date | None] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    fund: Mapped[str] = mapped_column(String(100), default="")

    recipients: Mapped[list[AidRecipient]] = relationship(
        back_populates="programme", cascade="all, delete-orphan", passive_deletes=True
    )


class AidRecipient(db.Model):
    """One recipient of a programme: a resident (NIK) or a family (No. KK)."""

    __tablename__ = "aid_recipients"
    __table_args__ = (Index("ix_aid_recipients_village_ident", "village_id", "ident"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"))
    programme_id: Mapped[int] = mapped_column(ForeignKey("aid_programmes.id", ondelete="CASCADE"), index=True)
    external_id: Mapped[int] = mapped_column(Integer)
    target: Mapped[int] = mapped_column(SmallInteger, default=1)
    ident: Mapped[str] = mapped_column(String(20), default="")  # peserta: NIK or No. KK
    nik: Mapped[str | None] = mapped_column(String(16))  # kartu_nik: the card holder
    name: Mapped[str] = mapped_column(String(120), default="")
    card_no: Mapped[str] = mapped_column(String(60), default="")

    programme: Mapped[AidProgramme] = relationship(back_populates="recipients")


class VillageIdentity(db.Model):
    """What OpenSID's identitas-desa says: the village's own word for "desa", website and boundary."""

    __tablename__ = "opendk_identities"

    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), primary_key=True)
    term: Mapped[str] = mapped_column(String(40), default="")
    website: Mapped[str] = mapped_column(String(200), default="")
    boundary: Mapped[list | None] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


# --- messages between region staff and a village (OpenDK "Pesan") --------------------------------

INCOMING, OUTGOING = "Pesan Masuk", "Pesan Keluar"  # as OpenDK names a thread started by the village / by us
FROM_VILLAGE, FROM_REGION = "desa", "kecamatan"


class MessageThread(db.Model):
    __tablename__ = "opendk_threads"
    __table_args__ = (Index("ix_opendk_threads_village_time", "village_id", "updated_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"))
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), default=INCOMING)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    unread: Mapped[bool] = mapped_column(Boolean, default=True)  # by region staff
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    village: Mapped[Village] = relationship()
    messages: Mapped[list[Message]] = relationship(order_by="Message.id", back_populates="thread")


class Message(db.Model):
    __tablename__ = "opendk_messages"
    __table_args__ = (Index("ix_opendk_messages_thread", "thread_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("opendk_threads.id"))
    text: Mapped[str] = mapped_column(Text)
    sender: Mapped[str] = mapped_column(String(20))  # "desa" or "kecamatan"
    sender_name: Mapped[str] = mapped_column(String(160), default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    thread: Mapped[MessageThread] = relationship(back_populates="messages")
