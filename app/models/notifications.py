"""Notifications: the outbox rows, their delivery attempts, in-app messages, push subscriptions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import UTCDateTime, utcnow

# Delivery states (the names GOV.UK Notify uses, so operators can look them up).
CREATED = "created"
SENDING = "sending"
DELIVERED = "delivered"
TEMPORARY_FAILURE = "temporary-failure"
PERMANENT_FAILURE = "permanent-failure"
TECHNICAL_FAILURE = "technical-failure"
# The resident stopped messages, a newer status replaced this one, or there was no channel to use.
CANCELLED = "cancelled"

STATES = (CREATED, SENDING, DELIVERED, TEMPORARY_FAILURE, PERMANENT_FAILURE, TECHNICAL_FAILURE, CANCELLED)
RETRYABLE = (TEMPORARY_FAILURE, TECHNICAL_FAILURE)
FINAL = (DELIVERED, PERMANENT_FAILURE, CANCELLED)

# Who a notification goes to, and so which channels it may use.
RESIDENT = "resident"  # the request's phone (and push): push, then WhatsApp, then SMS
RESIDENT_EMAIL = "resident-email"
USER_EMAIL = "user-email"  # an official or BUMDes manager
RESIDENT_PUSH = "resident-push"  # the request's browsers only (village announcements)
ROUTES = (RESIDENT, RESIDENT_EMAIL, USER_EMAIL, RESIDENT_PUSH)


class Notification(db.Model):
    """One message to one recipient: written with the change that caused it (the outbox row)."""

    __tablename__ = "notifications"
    __table_args__ = (
        # The relay looks for rows not yet handed to the queue.
        Index("ix_notifications_unrelayed", "relayed_at", "id"),
        Index("ix_notifications_state", "state", "next_attempt_at"),
        Index("ix_notifications_village_state", "village_id", "state", "id"),
        Index("ix_notifications_request", "request_id", "route", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    route: Mapped[str] = mapped_column(String(20))
    village_id: Mapped[int | None] = mapped_column(ForeignKey("villages.id"))
    request_id: Mapped[int | None] = mapped_column(ForeignKey("service_requests.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    locale: Mapped[str | None] = mapped_column(String(5))
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    # Web Push Topic: a newer message with the same topic replaces an older unread one.
    topic: Mapped[str | None] = mapped_column(String(32))
    dedupe_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    queue: Mapped[str] = mapped_column(String(10), default="default")
    state: Mapped[str] = mapped_column(String(20), default=CREATED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    relayed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    channel: Mapped[str | None] = mapped_column(String(10))
    last_error: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    deliveries: Mapped[list[Delivery]] = relationship(
        order_by="Delivery.id", back_populates="notification", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<Notification {self.id} {self.kind} {self.route} {self.state}>"


class Delivery(db.Model):
    """The attempts on one channel (WhatsApp, SMS, email, push) for one notification."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (
        UniqueConstraint("notification_id", "channel"),
        Index("ix_notification_deliveries_state", "state", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(10))
    provider: Mapped[str] = mapped_column(String(20), default="")
    # Masked (+62 812-****-7890, r***@mail.com): never the full address.
    recipient: Mapped[str] = mapped_column(String(120), default="")
    state: Mapped[str] = mapped_column(String(20), default=CREATED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    provider_message_id: Mapped[str | None] = mapped_column(String(120))
    provider_error: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    notification: Mapped[Notification] = relationship(back_populates="deliveries")


class InAppMessage(db.Model):
    """A message in an official's or BUMDes manager's inbox (the bell)."""

    __tablename__ = "inapp_messages"
    __table_args__ = (Index("ix_inapp_messages_user_unread", "user_id", "read_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    village_id: Mapped[int | None] = mapped_column(ForeignKey("villages.id"))
    kind: Mapped[str] = mapped_column(String(30))
    title: Mapped[str] = mapped_column(String(160))
    body: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str] = mapped_column(String(300), default="")
    dedupe_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PushSubscription(db.Model):
    """A resident's browser that opted in to Web Push for one request."""

    __tablename__ = "push_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("service_requests.id", ondelete="CASCADE"), index=True)
    endpoint: Mapped[str] = mapped_column(String(1000), unique=True)
    p256dh: Mapped[str] = mapped_column(String(200))
    auth: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# Gateways a village can choose for WhatsApp and SMS.
NONE, SIMULATOR, FONNTE, CLOUD_API, WEBHOOK = "none", "simulator", "fonnte", "cloud", "webhook"
WHATSAPP_GATEWAYS = (NONE, SIMULATOR, FONNTE, CLOUD_API, WEBHOOK)
SMS_GATEWAYS = (NONE, SIMULATOR, WEBHOOK)


class VillageChannels(db.Model):
    """Which WhatsApp/SMS gateway a village sends through, and its credentials."""

    __tablename__ = "village_channels"

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id", ondelete="CASCADE"), unique=True)
    whatsapp_gateway: Mapped[str] = mapped_column(String(12), default=NONE)
    whatsapp_url: Mapped[str] = mapped_column(String(300), default="")
    whatsapp_token: Mapped[str] = mapped_column(String(400), default="")
    # WhatsApp Cloud API: the sender's phone number id and the approved templates, by message kind.
    whatsapp_sender: Mapped[str] = mapped_column(String(40), default="")
    whatsapp_templates: Mapped[dict] = mapped_column(JSON, default=dict)
    sms_gateway: Mapped[str] = mapped_column(String(12), default=NONE)
    sms_url: Mapped[str] = mapped_column(String(300), default="")
    sms_token: Mapped[str] = mapped_column(String(400), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
