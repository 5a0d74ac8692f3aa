"""Password checks that give nothing away: the same cost for unknown accounts, and per-account backoff.

The per-address login limit (LOGIN_RATE_LIMIT) does not stop guesses spread over many addresses, so
failures are also counted per account, from any address, in the rate limiter's storage (Redis in
production). After ``after`` failures each new one locks the account for a delay that doubles, capped
at a few minutes, so an attacker gets a handful of guesses an hour while the real owner waits minutes
at most. A browser the owner signed in from before carries a device cookie (OWASP "device cookies"):
its attempts are counted for that device alone, so a stranger's guesses never lock the owner out there.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import time
from dataclasses import dataclass
from functools import cache

from flask import Response, current_app, request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from app.extensions import db, limiter
from app.models import User

DEVICE_COOKIE = "balai_perangkat"
DEVICE_MAX_AGE = 180 * 24 * 3600
DEFAULTS = {
    "LOGIN_LOCKOUT_AFTER": 5,
    "LOGIN_LOCKOUT_BASE_SECONDS": 30,
    "LOGIN_LOCKOUT_MAX_SECONDS": 300,
    "LOGIN_LOCKOUT_WINDOW_SECONDS": 3600,
}


@dataclass(frozen=True)
class Backoff:
    """How long an account waits after ``failures`` wrong passwords in a row."""

    after: int
    base: int
    cap: int

    def delay(self, failures: int) -> int:
        """Seconds to wait before the next attempt: none for the first ``after``, then doubling to ``cap``."""
        if failures < self.after:
            return 0
        steps = min(failures - self.after, 32)
        return max(1, min(self.cap, self.base * 2**steps))


# ---------------------------------------------------------------- same cost for every email


@cache
def _dummy_hash(method: str) -> str:
    return generate_password_hash(secrets.token_urlsafe(16), method=method)


def dummy_hash() -> str:
    """A hash of a random password made with the configured method and cost, computed once per process."""
    return _dummy_hash(current_app.config.get("PASSWORD_HASH_METHOD", "scrypt"))


def authenticate(email: str, password: str) -> User | None:
    """The active account with this email and password; always exactly one hash check, known or not."""
    user = db.session.scalar(select(User).where(func.lower(User.email) == email))
    if user is None:
        # Unknown emails pay the same hash as known ones: the answer's timing tells nothing.
        check_password_hash(dummy_hash(), password)
        return None
    if not user.check_password(password) or not user.active:
        return None
    return user


# ---------------------------------------------------------------- per-account backoff


def _setting(name: str) -> int:
    return int(current_app.config.get(name) or DEFAULTS[name])


def _backoff() -> Backoff:
    return Backoff(
        after=_setting("LOGIN_LOCKOUT_AFTER"),
        base=_setting("LOGIN_LOCKOUT_BASE_SECONDS"),
        cap=_setting("LOGIN_LOCKOUT_MAX_SECONDS"),
    )


def _digest(value: str) -> str:
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, value.encode(), hashlib.sha256).hexdigest()[:24]


def _key(kind: str, principal: str) -> str:
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX") or ""
    return f"{prefix}lockout/{kind}/{principal}"


def account_principal(email: str) -> str:
    """Whose failures count: the account named by ``email`` (normalised; it may not exist)."""
    return "account:" + _digest(email.strip().lower())


def wait_seconds(principal: str) -> int:
    """How long ``principal`` must still wait before a password is checked; 0 when it may try now."""
    storage = limiter.storage
    key = _key("locked", principal)
    if storage.get(key) <= 0:
        return 0
    return max(1, math.ceil(storage.get_expiry(key) - time.time()))


def record_failure(principal: str) -> int:
    """Count a wrong password for ``principal``; returns the seconds it must now wait (0: none)."""
    storage = limiter.storage
    failures = storage.incr(_key("failures", principal), _setting("LOGIN_LOCKOUT_WINDOW_SECONDS"))
    delay = _backoff().delay(failures)
    if delay:
        locked = _key("locked", principal)
        storage.clear(locked)
        storage.incr(locked, delay)
    return delay


def record_success(principal: str) -> None:
    """The right password: forget the failures of ``principal``."""
    storage = limiter.storage
    storage.clear(_key("failures", principal))
    storage.clear(_key("locked", principal))


# ---------------------------------------------------------------- device cookies


def _device_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="balai-login-device")


def login_principal(email: str) -> str:
    """The account, or this browser alone when it holds a device cookie the account's owner earned here."""
    account = account_principal(email)
    raw = request.cookies.get(DEVICE_COOKIE)
    if raw:
        try:
            data = _device_serializer().loads(raw, max_age=DEVICE_MAX_AGE)
        except BadSignature:
            return account
        if isinstance(data, dict) and data.get("a") == account and isinstance(data.get("d"), str):
            return "device:" + _digest(data["d"])
    return account


def remember_device(response: Response, email: str) -> None:
    """After a successful login, mark this browser as one the account's owner uses."""
    value = _device_serializer().dumps({"a": account_principal(email), "d": secrets.token_urlsafe(16)})
    response.set_cookie(
        DEVICE_COOKIE,
        value,
        max_age=DEVICE_MAX_AGE,
        path="/akun/",
        secure=current_app.config.get("SESSION_COOKIE_SECURE", False),
        httponly=True,
        samesite="Lax",
    )
