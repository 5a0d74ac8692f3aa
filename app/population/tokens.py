"""OpenDK tokens: one village each, shown once, stored as a digest, revocable."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import func, select

from app.domain.errors import N_, DomainError
from app.extensions import db
from app.models import Role, User, Village, utcnow
from app.models.population import SyncToken

PREFIX = "opendk_"
MAX_TOKEN_LENGTH = 200
# A "Buat Key" click makes a token each time; OpenSID keeps only the one the operator saved.
MAX_LOGIN_TOKENS = 5
TOUCH_EVERY = timedelta(minutes=5)
# A well-formed hash to check against when the email is unknown, so both cases take as long.
_DUMMY_HASH = "pbkdf2:sha256:1000$balai$" + "0" * 64


def digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def issue(village: Village, name: str, *, created_by: User | None = None, via: str = "balai") -> str:
    """Make a token for ``village``; the plain token is returned once and never stored."""
    raw = PREFIX + secrets.token_urlsafe(32)
    db.session.add(
        SyncToken(
            village_id=village.id,
            name=name[:80],
            digest=digest(raw),
            prefix=raw[: len(PREFIX) + 4],
            via=via,
            created_by_id=created_by.id if created_by else None,
        )
    )
    db.session.flush()
    if via == "login":
        _prune_login_tokens(village)
    return raw


def _prune_login_tokens(village: Village) -> None:
    """Keep the newest MAX_LOGIN_TOKENS login tokens; older ones never used go first."""
    tokens = db.session.scalars(
        select(SyncToken)
        .where(SyncToken.village_id == village.id, SyncToken.via == "login", SyncToken.revoked_at.is_(None))
        .order_by(SyncToken.id.desc())
    ).all()
    extra = len(tokens) - MAX_LOGIN_TOKENS
    if extra <= 0:
        return
    # Never the one just made; of the others, those never used (a click not saved) and oldest first.
    older = sorted(tokens[1:], key=lambda t: (t.last_used_at is not None, t.id))
    for token in older[:extra]:
        token.revoked_at = utcnow()


def find(raw: str | None) -> SyncToken | None:
    """The active token for ``raw`` (of an active village), or None."""
    if not raw or len(raw) > MAX_TOKEN_LENGTH:
        return None
    token = db.session.scalar(select(SyncToken).where(SyncToken.digest == digest(raw)))
    if token is None or not token.active or not token.village.active:
        return None
    return token


def touch(token: SyncToken) -> None:
    """Note that the token was used (at most every few minutes: no write on every poll)."""
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at > TOUCH_EVERY:
        token.last_used_at = now


def revoke(token: SyncToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = utcnow()


def tokens_of(village: Village) -> list[SyncToken]:
    return list(
        db.session.scalars(
            select(SyncToken).where(SyncToken.village_id == village.id).order_by(SyncToken.id.desc())
        )
    )


def login(email: str, password: str) -> User:
    """The village official whose Balai email and password these are, for OpenSID's "Buat Key".

    Region staff and other roles are refused: a token must belong to one village, and only a
    village's own account says which.
    """
    email = (email or "").strip().lower()
    user = db.session.scalar(select(User).where(func.lower(User.email) == email)) if email else None
    if user is None:
        from werkzeug.security import check_password_hash

        check_password_hash(_DUMMY_HASH, password or "")
        raise DomainError(N_("Email atau kata sandi salah."))
    if not user.active or not user.check_password(password or ""):
        raise DomainError(N_("Email atau kata sandi salah."))
    if user.role not in (Role.OPERATOR, Role.HEAD) or user.village is None or not user.village.active:
        raise DomainError(
            N_(
                "Akun ini bukan akun petugas desa. Masuk dengan akun operator desa, "
                "atau minta token di Balai (menu Sinkronisasi OpenDK)."
            )
        )
    return user
