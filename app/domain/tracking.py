"""Tracking codes residents read out and type, plus secret tokens for private links."""

import hashlib
import math
import re
import secrets

from app.domain.errors import N_, DomainError

# 0/O, 1/I/L look alike when handwritten or read over the phone; U is dropped as Crockford does (U/V).
AMBIGUOUS = "0O1ILU"
# S/5, Z/2 and B/8 look alike too. Codes made before this rule may hold either one, so a typed code
# is compared by its key (each pair folded to one character); new codes hold neither.
LOOKALIKES = {"S": "5", "Z": "2", "B": "8"}
ALPHABET = "34679ACDEFGHJKMNPQRTVWXY"
# Every character a code made at any time may hold (new codes draw from ALPHABET only).
ACCEPTED = ALPHABET + "".join(sorted(set(LOOKALIKES) | set(LOOKALIKES.values())))
LENGTH = 10
GROUPS = (4, 4, 2)
BITS = math.floor(LENGTH * math.log2(len(ALPHABET)))
assert BITS >= 40, "tracking codes must carry at least 40 bits of randomness"
assert sum(GROUPS) == LENGTH
assert not set(AMBIGUOUS) & set(ACCEPTED)
assert not (set(LOOKALIKES) | set(LOOKALIKES.values())) & set(ALPHABET)
_FOLD = str.maketrans(LOOKALIKES)

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
        if char not in ACCEPTED:
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


def tracking_key(code: str) -> str:
    """The form two spellings of one code share (S/5, Z/2, B/8 folded): what lookups compare.

    ``code`` is a canonical code (from ``normalize_tracking_code`` or the database); a resident who
    reads 5 for S, or types 2 for Z, still finds their request.
    """
    return code.translate(_FOLD)


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
