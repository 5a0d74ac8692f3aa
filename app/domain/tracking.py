"""Tracking codes residents read out and type, plus secret tokens for private links."""

import hashlib
import math
import re
import secrets

from app.domain.errors import N_, DomainError

# 0/O, 1/I/L look alike when handwritten or read over the phone; U is dropped as Crockford does (U/V).
AMBIGUOUS = "0O1ILU"
ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 10
GROUPS = (4, 4, 2)
BITS = math.floor(LENGTH * math.log2(len(ALPHABET)))
assert BITS >= 40, "tracking codes must carry at least 40 bits of randomness"
assert sum(GROUPS) == LENGTH
assert not set(AMBIGUOUS) & set(ALPHABET)

TOKEN_BYTES = 32

# Spaces and every dash-like character a phone keyboard or a word processor may produce.
_SEPARATORS = re.compile(r"[\s\-‐‑‒–—_]+")


def _group(code: str) -> str:
    parts, start = [], 0
    for size in GROUPS:
        parts.append(code[start : start + size])
        start += size
    return "-".join(parts)


def new_tracking_code() -> str:
    """A fresh random tracking code, grouped like 7KQ2-MX9D-4T."""
    return _group("".join(secrets.choice(ALPHABET) for _ in range(LENGTH)))


def normalize_tracking_code(raw: str) -> str:
    """Bring a typed tracking code to its canonical grouped uppercase form, or raise DomainError."""
    code = _SEPARATORS.sub("", raw).upper()
    if not code:
        raise DomainError(N_("Kode lacak belum diisi."))
    # Confusable characters are refused, not mapped: both readings are outside the alphabet, so any guess
    # could turn a typo into someone else's valid code.
    for char in code:
        if char in AMBIGUOUS:
            raise DomainError(
                N_(
                    'Kode lacak tidak dikenali: kode lacak tidak memakai "%(char)s". '
                    "Huruf O, I, L, U dan angka 0, 1 tidak pernah dipakai; periksa lagi kodenya."
                ),
                char=char,
            )
        if char not in ALPHABET:
            raise DomainError(
                N_('Kode lacak tidak dikenali: "%(char)s" tidak dipakai dalam kode lacak.'),
                char=char,
            )
    if len(code) != LENGTH:
        raise DomainError(
            N_("Kode lacak tidak dikenali: harus 10 huruf/angka, yang Anda ketik %(n)s."),
            n=len(code),
        )
    return _group(code)


def is_tracking_code(s: str) -> bool:
    """Whether the text, once spaces and dashes are ignored, is a well-formed tracking code."""
    try:
        normalize_tracking_code(s)
    except DomainError:
        return False
    return True


def new_secret_token() -> str:
    """A URL-safe random token of 256 bits for private links and letter verification."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_digest(token: str) -> str:
    """SHA-256 hex digest of a token, so only the digest needs to be stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
