"""Domain events: "what happened", told to listeners inside the same database transaction.

The workflow emits events such as ``request.submitted``; the notifications area registers a
listener that writes outbox rows in that same transaction, so a change and its messages are
committed together or not at all. The domain never knows about WhatsApp, SMTP or Web Push.
"""

from __future__ import annotations

from collections.abc import Callable

# Areas register, by their name, a callable(event_name, payload).
listeners: dict[str, Callable[[str, dict], None]] = {}

REQUEST_SUBMITTED = "request.submitted"
REQUEST_STATUS_CHANGED = "request.status_changed"
REQUEST_RESUBMITTED = "request.resubmitted"
ORDER_CREATED = "order.created"
ORDER_STATUS_CHANGED = "order.status_changed"
ANNOUNCEMENT_PUBLISHED = "announcement.published"
# A resident on another phone asked for a fresh private link (code, NIK and number matched).
PRIVATE_LINK_ASKED = "request.private_link_asked"


def emit(name: str, **payload) -> None:
    """Tell every listener that ``name`` happened; call it before the transaction commits."""
    for listener in listeners.values():
        listener(name, payload)
