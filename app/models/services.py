"""Village services (letters, complaints) and the residents' requests for them."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from app.domain import states
from app.domain.tracking import tracking_key
from app.extensions import db
from app.models.base import UTCDateTime, utcnow
from app.models.village import Village

LETTER, COMPLAINT = "letter", "complaint"
# Who handles a request: the village office, or (a complaint about that office or its officials)
# the admins of the kecamatan/kabupaten above it, out of the village officials' sight.
TO_VILLAGE, TO_REGION = "desa", "wilayah"


class Service(db.Model):
    """One service a village offers, with the fields and documents it asks for."""

    __tablename__ = "services"
    __table_args__ = (UniqueConstraint("village_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), index=True)
    code: Mapped[str] = mapped_column(String(60))
    kind: Mapped[str] = mapped_column(String(20), default=LETTER)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    # [{"name": "alamat", "label": "Alamat lengkap", "type": "text|textarea|date|select", "required": true,
    #   "options": [...]}]
    fields: Mapped[list] = mapped_column(JSON, default=list)
    # [{"key": "ktp", "label": "Foto KTP", "required": true}]
    documents: Mapped[list] = mapped_column(JSON, default=list)
    sla_days: Mapped[int] = mapped_column(Integer, default=3)
    fee: Mapped[int] = mapped_column(Integer, default=0)
    classification_code: Mapped[str] = mapped_column(String(20), default="470")
    letter_template: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    village: Mapped[Village] = relationship()

    @property
    def is_free(self) -> bool:
        return self.fee == 0

    @property
    def is_complaint(self) -> bool:
        return self.kind == COMPLAINT


# Open requests, as the officials' queue asks for them (its statuses in this order, as literals: a
# partial index is used only by a query whose condition is the index's own).
OPEN_CONDITION = "status IN ({})".format(", ".join(f"'{status}'" for status in sorted(states.OPEN_STATUSES)))


class ServiceRequest(db.Model):
    """A resident's request (a letter or a complaint), tracked by a short code."""

    __tablename__ = "service_requests"
    __table_args__ = (
        UniqueConstraint("village_id", "idempotency_key"),
        Index("ix_service_requests_queue", "village_id", "status", "submitted_at", "id"),
        Index("ix_service_requests_village_time", "village_id", "submitted_at", "id"),
        Index("ix_service_requests_village_nik", "village_id", "nik"),
        # The open queue in time order: a village's few open requests, walked without its years of
        # finished ones, and a page read as its own rows only.
        Index(
            "ix_service_requests_open",
            "village_id",
            "submitted_at",
            "id",
            postgresql_where=text(OPEN_CONDITION),
            sqlite_where=text(OPEN_CONDITION),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"))
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"), index=True)
    tracking_code: Mapped[str] = mapped_column(String(12), unique=True)
    # The code with look-alikes folded (S/5, Z/2, B/8): what a typed code is looked up by.
    tracking_key: Mapped[str] = mapped_column(String(12), index=True)
    status: Mapped[str] = mapped_column(String(20), default=states.DIAJUKAN)
    # Bumped on every change; a stale version means someone else acted first.
    version: Mapped[int] = mapped_column(Integer, default=1)
    nik: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(120))
    phone: Mapped[str | None] = mapped_column(String(16))
    email: Mapped[str | None] = mapped_column(String(120))
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    purpose: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str | None] = mapped_column(String(40))
    hide_name: Mapped[bool] = mapped_column(Boolean, default=False)
    routed_to: Mapped[str] = mapped_column(String(10), default=TO_VILLAGE, server_default=TO_VILLAGE)
    idempotency_key: Mapped[str] = mapped_column(String(64))
    fix_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    channel: Mapped[str] = mapped_column(String(10), default="online")
    assisted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    notify: Mapped[bool] = mapped_column(Boolean, default=True)
    locale: Mapped[str | None] = mapped_column(String(5))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_date: Mapped[date] = mapped_column(Date)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __mapper_args__ = {"version_id_col": version}

    village: Mapped[Village] = relationship()
    service: Mapped[Service] = relationship(lazy="joined")
    history: Mapped[list[StatusChange]] = relationship(
        order_by="StatusChange.id", back_populates="request", lazy="selectin"
    )
    attachments: Mapped[list[Attachment]] = relationship(order_by="Attachment.id", lazy="selectin")

    @property
    def to_region(self) -> bool:
        """A complaint about the village office itself, handled by the region's admins."""
        return self.routed_to == TO_REGION

    @property
    def status_label(self) -> str:
        return states.status_label(self.status)

    @validates("tracking_code")
    def _keep_key(self, _name: str, code: str) -> str:
        self.tracking_key = tracking_key(code)
        return code


class PrivateLink(db.Model):
    """A further private link to a request, besides the one on its receipt (``fix_token_hash``).

    Made when a message lets the resident act (fix the form, fetch the letter) or when they ask for
    a fresh link on another phone; only the digest is kept, and each lapses after a while.
    """

    __tablename__ = "private_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("service_requests.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    reason: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StatusChange(db.Model):
    """One step of a request's history; rows are only ever added (the audit trail)."""

    __tablename__ = "status_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("service_requests.id"), index=True)
    action: Mapped[str] = mapped_column(String(20))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_name: Mapped[str] = mapped_column(String(120), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    request: Mapped[ServiceRequest] = relationship(back_populates="history")


class Attachment(db.Model):
    """A photo attached to a request, stored outside the web root under a random name."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("service_requests.id"), index=True)
    doc_key: Mapped[str] = mapped_column(String(40))
    stored_name: Mapped[str] = mapped_column(String(80), unique=True)
    mime: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Holiday(db.Model):
    """A day off: national (no village) or entered by a village's operator."""

    __tablename__ = "holidays"
    __table_args__ = (UniqueConstraint("village_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int | None] = mapped_column(ForeignKey("villages.id"), index=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    name: Mapped[str] = mapped_column(String(120))
