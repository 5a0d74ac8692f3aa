"""Channels: how a message leaves Balai (WhatsApp/SMS gateways, email, Web Push).

Every adapter takes an ``Outgoing`` and answers a ``Result`` in one of the delivery states; it
never raises for a provider's answer, and it never logs a full phone number or address.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlparse

from app.models.notifications import (
    DELIVERED,
    PERMANENT_FAILURE,
    TECHNICAL_FAILURE,
    TEMPORARY_FAILURE,
)

WHATSAPP, SMS, EMAIL, PUSH = "whatsapp", "sms", "email", "push"
# A resident's phone: push first (free, instant), then WhatsApp, then SMS.
RESIDENT_ORDER = (PUSH, WHATSAPP, SMS)


@dataclass
class Outgoing:
    channel: str
    to: str
    text: str
    title: str
    url: str
    path: str
    reference: str  # the same on every retry: gateways that honour it never send twice
    kind: str
    locale: str
    template_params: list[str] = field(default_factory=list)
    topic: str | None = None
    attempt: int = 1


@dataclass
class Result:
    state: str
    provider_message_id: str | None = None
    error: str = ""

    @property
    def delivered(self) -> bool:
        return self.state == DELIVERED


# Gateways sometimes echo the number back in their errors; those errors are stored and shown.
_NUMBERS = re.compile(r"\+?\d[\d\s.-]{6,}\d")


def scrub(error: str) -> str:
    """A provider's error without phone numbers (or any long digit run), at most 300 characters."""
    return _NUMBERS.sub("***", error)[:300]


def delivered(message_id: str | None = None) -> Result:
    return Result(DELIVERED, message_id)


def temporary(error: str) -> Result:
    return Result(TEMPORARY_FAILURE, None, scrub(error))


def permanent(error: str) -> Result:
    return Result(PERMANENT_FAILURE, None, scrub(error))


def technical(error: str) -> Result:
    return Result(TECHNICAL_FAILURE, None, scrub(error))


def classify_http(status: int) -> Result:
    """An HTTP answer from a gateway as a delivery state, with a short reason of our own.

    The answer's body is never passed on: the operator reads these errors, and a gateway URL is
    typed by an operator, so the body is not ours to show.
    """
    if 200 <= status < 300:
        return delivered()
    if status in (401, 403):
        # our token is wrong: retrying won't help the recipient, fixing it will
        return technical(f"HTTP {status}: gateway menolak token")
    if status in (408, 425, 429):
        return temporary(f"HTTP {status}: gateway sibuk, dicoba lagi")
    if 300 <= status < 400:
        return technical(f"HTTP {status}: gateway mengalihkan ke alamat lain (tidak diikuti)")
    if 400 <= status < 500:
        return permanent(f"HTTP {status}: gateway menolak pesan")
    return technical(f"HTTP {status}: gateway bermasalah")


def mask_email(address: str) -> str:
    """r***@example.com"""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


def mask_address(channel: str, address: str) -> str:
    from app.domain.errors import DomainError
    from app.domain.phone import mask_phone

    if channel == EMAIL:
        return mask_email(address)
    if channel in (WHATSAPP, SMS):
        try:
            return mask_phone(address)
        except DomainError:
            return "***"
    return address


# Browsers' push services; endpoints elsewhere are refused so nobody can make the worker call
# arbitrary hosts (tests and private deployments add theirs with PUSH_ENDPOINT_HOSTS).
DEFAULT_HOSTS = (
    "fcm.googleapis.com",
    "updates.push.services.mozilla.com",
    "push.services.mozilla.com",
    "notify.windows.com",
    "push.apple.com",
)


def endpoint_allowed(endpoint: str, extra_hosts: tuple[str, ...] | list[str] = ()) -> bool:
    """Only https endpoints of a known push service (or a host the deployment added)."""
    url = urlparse(endpoint)
    host = (url.hostname or "").lower()
    if url.scheme == "http" or url.port:
        return f"{host}:{url.port}" in extra_hosts or host in extra_hosts
    if url.scheme != "https":
        return False
    return any(host == h or host.endswith("." + h) for h in (*DEFAULT_HOSTS, *extra_hosts))
