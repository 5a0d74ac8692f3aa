"""Letter numbers as village offices write them, e.g. 470/012/HNR/XI/2026."""

import re
from datetime import date

from app.domain.errors import N_, DomainError

ROMAN_MONTHS: tuple[str, ...] = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII")
NUMBER_PLACEHOLDERS: tuple[str, ...] = ("klasifikasi", "nomor", "kode_desa", "bulan", "tahun")
DEFAULT_PATTERN = "{klasifikasi}/{nomor}/{kode_desa}/{bulan}/{tahun}"
SEQ_DIGITS = 3

_FIELD = re.compile(r"\{([^{}]*)\}")


def to_roman_month(m: int) -> str:
    """The Roman numeral of a month number (1 → I, 11 → XI)."""
    if not 1 <= m <= 12:
        raise ValueError(f"month must be 1 to 12, got {m}")
    return ROMAN_MONTHS[m - 1]


def validate_number_pattern(pattern: str) -> None:
    """Raise DomainError unless the pattern uses only the known placeholders and includes {nomor}."""
    if not pattern.strip():
        raise DomainError(
            N_("Pola nomor surat belum diisi. Contoh: %(example)s."),
            example=DEFAULT_PATTERN,
        )
    for match in _FIELD.finditer(pattern):
        if match.group(1) not in NUMBER_PLACEHOLDERS:
            raise DomainError(
                N_("Pola nomor surat memakai %(field)s yang tidak dikenal. Yang boleh dipakai: %(known)s."),
                field=match.group(0),
                known=", ".join(f"{{{name}}}" for name in NUMBER_PLACEHOLDERS),
            )
    outside_fields = _FIELD.sub("", pattern)
    if "{" in outside_fields or "}" in outside_fields:
        raise DomainError(
            N_("Kurung kurawal pada pola nomor surat tidak berpasangan. Contoh: %(example)s."),
            example=DEFAULT_PATTERN,
        )
    if "{nomor}" not in pattern:
        raise DomainError(
            N_("Pola nomor surat harus memuat {nomor}. Contoh: %(example)s."),
            example=DEFAULT_PATTERN,
        )


def format_letter_number(
    pattern: str, *, classification: str, seq: int, village_code: str, issued: date
) -> str:
    """Fill a letter-number pattern; the sequence number is zero-padded to 3 digits."""
    validate_number_pattern(pattern)
    if seq < 1:
        raise ValueError(f"letter sequence numbers start at 1, got {seq}")
    classification = classification.strip()
    village_code = village_code.strip()
    if "{klasifikasi}" in pattern and not classification:
        raise DomainError(N_("Kode klasifikasi surat belum diisi, misalnya 470."))
    if "{kode_desa}" in pattern and not village_code:
        raise DomainError(N_("Kode desa untuk nomor surat belum diisi, misalnya HNR."))
    fields = {
        "klasifikasi": classification,
        "nomor": f"{seq:0{SEQ_DIGITS}d}",
        "kode_desa": village_code,
        "bulan": to_roman_month(issued.month),
        "tahun": str(issued.year),
    }
    # A single regex pass: a value that happens to contain "{nomor}" is not expanded again.
    return _FIELD.sub(lambda match: fields[match.group(1)], pattern)


# Placeholders every letter may use besides its service's own field names. jenis_kelamin and
# tanggal_lahir come from the NIK; desa .. provinsi from the village's place in the region tree.
COMMON_PLACEHOLDERS: tuple[str, ...] = (
    "nama",
    "nik",
    "jenis_kelamin",
    "tanggal_lahir",
    "keperluan",
    "desa",
    "kecamatan",
    "kabupaten",
    "provinsi",
)
