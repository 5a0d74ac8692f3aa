"""Indonesian mobile numbers: normalisation to E.164 (+628…), masking and WhatsApp link numbers."""

import re

from app.domain.errors import N_, DomainError

COUNTRY_CODE = "62"
MIN_NATIONAL_DIGITS = 9
MAX_NATIONAL_DIGITS = 12
EXAMPLE = "0812-3456-7890"

# Separators people type between digit groups, including brackets around the prefix.
_SEPARATORS = re.compile(r"[\s.\-()/]+")


def normalize_phone(raw: str) -> str:
    """Turn a mobile number as typed (0812-…, +62 812…, 62812…, 812…) into E.164 form +62812…."""
    text = _SEPARATORS.sub("", raw)
    if not text:
        raise DomainError(N_("Nomor HP belum diisi. Contoh nomor yang benar: %(example)s."), example=EXAMPLE)
    has_plus = text.startswith("+")
    digits = text[1:] if has_plus else text
    for char in digits:
        if char not in "0123456789":
            raise DomainError(
                N_('Nomor HP hanya boleh berisi angka; "%(char)s" bukan angka. Contoh: %(example)s.'),
                char=char,
                example=EXAMPLE,
            )

    if has_plus or digits.startswith("00"):
        international = digits[2:] if digits.startswith("00") else digits
        if not international.startswith(COUNTRY_CODE):
            raise DomainError(
                N_("Hanya nomor HP Indonesia (+62) yang bisa dipakai. Contoh: %(example)s."),
                example=EXAMPLE,
            )
        national = international[len(COUNTRY_CODE) :]
    elif digits.startswith(COUNTRY_CODE):
        national = digits[len(COUNTRY_CODE) :]
    elif digits.startswith("0"):
        national = digits[1:]
    else:
        national = digits
    # People often keep the trunk zero after the country code: +62 0812…
    if national.startswith("0"):
        national = national[1:]

    if not national.startswith("8"):
        raise DomainError(
            N_("Nomor HP harus diawali 08 (atau +628). Contoh: %(example)s."),
            example=EXAMPLE,
        )
    if len(national) < MIN_NATIONAL_DIGITS:
        raise DomainError(
            N_("Nomor HP terlalu pendek; periksa lagi angkanya. Contoh: %(example)s."),
            example=EXAMPLE,
        )
    if len(national) > MAX_NATIONAL_DIGITS:
        raise DomainError(
            N_("Nomor HP terlalu panjang; periksa lagi angkanya. Contoh: %(example)s."),
            example=EXAMPLE,
        )
    return f"+{COUNTRY_CODE}{national}"


def mask_phone(e164: str) -> str:
    """Hide the middle of a mobile number for display, e.g. +62 812-****-7890."""
    national = normalize_phone(e164)[1 + len(COUNTRY_CODE) :]
    return f"+{COUNTRY_CODE} {national[:3]}-{'*' * (len(national) - 7)}-{national[-4:]}"


def wa_number(e164: str) -> str:
    """Digits only, without the plus, as wa.me links expect (628123…)."""
    return normalize_phone(e164)[1:]
