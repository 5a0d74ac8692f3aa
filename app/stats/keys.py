"""API keys: one village each, shown once, stored only as a digest."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select

from app.extensions import db
from app.models import User, Village, utcnow
from app.models.profile import ApiKey

PREFIX = "balai_"


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def issue_key(village: Village, name: str, created_by: User | None = None) -> str:
    """Create a key for ``village``; the plain key is returned once and never stored."""
    key = PREFIX + secrets.token_urlsafe(24)
    db.session.add(
        ApiKey(
            village_id=village.id,
            name=name,
            digest=digest(key),
            prefix=key[: len(PREFIX) + 4],
            created_by_id=created_by.id if created_by else None,
        )
    )
    db.session.flush()
    return key


def find_key(key: str | None) -> ApiKey | None:
    """The active key matching ``key``, or None."""
    if not key or not key.startswith(PREFIX) or len(key) > 100:
        return None
    found = db.session.scalar(select(ApiKey).where(ApiKey.digest == digest(key)))
    if found is None or not found.active:
        return None
    return found


def revoke_key(key: ApiKey) -> None:
    key.revoked_at = utcnow()
