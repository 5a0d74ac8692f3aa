"""The receipts a phone keeps in its session: tracking codes, with each private link sealed.

Flask's session cookie is signed, not encrypted: anyone holding the cookie (a shared phone, a
backup, a proxy log of cookies) could read what it carries. A private link opens the resident's
NIK, phone and photos, so the session holds it only encrypted (AES-GCM, a key derived from
SECRET_KEY, the tracking code bound as associated data); the tracking codes themselves are not
secret (they are printed on the public queue screen).
"""

from __future__ import annotations

import base64
import binascii
import functools
import os
import re

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app, session

KEPT = 5
NONCE_BYTES = 12
# Sessions from before the links were sealed hold the bare token (43 characters, 256 bits).
_BARE_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")


def _cipher() -> AESGCM:
    return _cipher_for(current_app.config["SECRET_KEY"].encode())


@functools.lru_cache(maxsize=4)
def _cipher_for(secret: bytes) -> AESGCM:
    """Derived once per secret key (HKDF and the cipher's setup cost more than a decryption)."""
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"balai resident receipts").derive(
        secret
    )
    return AESGCM(key)


def seal(code: str, token: str) -> str:
    """``token`` encrypted for the session, readable only by this app and only for ``code``."""
    nonce = os.urandom(NONCE_BYTES)
    sealed = _cipher().encrypt(nonce, token.encode(), code.encode())
    return base64.urlsafe_b64encode(nonce + sealed).decode("ascii").rstrip("=")


def unseal(code: str, value: str) -> str | None:
    """The token ``seal`` put in ``value`` for ``code``; None for anything else (another key, a forgery)."""
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        return _cipher().decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], code.encode()).decode()
    except (ValueError, binascii.Error, InvalidTag, UnicodeDecodeError):
        return None


def remember(code: str, token: str | None) -> None:
    """Keep the request in the session, with its private link when there is one, the last KEPT only."""
    receipts = dict(session.get("receipts", {}))
    if token or code not in receipts:
        receipts.pop(code, None)
        receipts[code] = seal(code, token) if token else ""
    session["receipts"] = dict(list(receipts.items())[-KEPT:])


def codes() -> list[str]:
    """Tracking codes of the requests sent from this phone, the newest first."""
    return list(reversed(list(session.get("receipts", {}))))


def holds(code: str) -> bool:
    """Whether this phone's session sent the request with this code."""
    return code in session.get("receipts", {})


def private_token(code: str) -> str | None:
    """The private link's token of the request ``code`` sent from this phone, if the session has it."""
    value = session.get("receipts", {}).get(code)
    if not isinstance(value, str) or not value:
        return None
    token = unseal(code, value)
    if token is None and _BARE_TOKEN.fullmatch(value):
        # Signed by this app before sealing existed: still genuine; seal it now.
        token = value
        session["receipts"] = {**session["receipts"], code: seal(code, token)}
    return token
