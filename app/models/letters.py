"""Numbered village letters, their gapless counters and each village's letter settings."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from app.domain.letters import DEFAULT_PATTERN
from app.extensions import db
from app.models.base import UTCDateTime, utcnow
from app.models.services import ServiceRequest

PER_TYPE, VILLAGE_WIDE = "per_type", "village"
NUMBERING_MODES = (PER_TYPE, VILLAGE_WIDE)

AWAITING_APPROVAL, ISSUED = "awaiting_approval", "issued"


class VillageLetterSettings(db.Model):
    """How a village numbers and signs its letters; a village without a row uses the defaults."""

    __tablename__ = "village_letter_settings"

    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), primary_key=True)
    numbering_mode: Mapped[str] = mapped_column(String(10), default=PER_TYPE)
    number_pattern: Mapped[str] = mapped_column(String(80), default=DEFAULT_PATTERN)
    require_head_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class LetterCounter(db.Model):
    """The last sequence number given in one numbering scope of a village for one year."""

    __tablename__ = "letter_counters"

    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), primary_key=True)
    # "village" for one village-wide sequence, "service:<id>" when each letter type counts on its own.
    scope: Mapped[str] = mapped_column(String(40), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)


class Letter(db.Model):
    """The letter a request produced: waiting for the head's approval, or issued with a number."""

    __tablename__ = "letters"
    __table_args__ = (UniqueConstraint("village_id", "scope", "year", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("service_requests.id"), unique=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), index=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"))
    state: Mapped[str] = mapped_column(String(20), default=AWAITING_APPROVAL)
    scope: Mapped[str | None] = mapped_column(String(40))
    year: Mapped[int | None] = mapped_column(Integer)
    seq: Mapped[int | None] = mapped_column(Integer)
    number: Mapped[str | None] = mapped_column(String(80))
    title: Mapped[str] = mapped_column(String(120), default="")
    # Only the digest: the token itself lives in the QR printed on the letter.
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    pdf: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    sha256: Mapped[str | None] = mapped_column(String(64))
    signer_name: Mapped[str] = mapped_column(String(120), default="")
    signer_title: Mapped[str] = mapped_column(String(60), default="")
    holder_name: Mapped[str] = mapped_column(String(120), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    village = relationship("Village", lazy="joined")
    approved_by = relationship("User", foreign_keys=[approved_by_id])
    requested_by = relationship("User", foreign_keys=[requested_by_id])

    @property
    def is_issued(self) -> bool:
        return self.state == ISSUED


# The officials' desk counts (requests per status, open ones by due date) are answered from this
# index alone, however many finished requests a village has: routed_to is in it because the desk
# counts only what is routed to the village, and a heap visit per row cost 60 ms at 100,000.
Index(
    "ix_service_requests_desk",
    ServiceRequest.village_id,
    ServiceRequest.routed_to,
    ServiceRequest.status,
    ServiceRequest.due_date,
)
