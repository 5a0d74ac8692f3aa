"""Indonesian text helpers: masked names, rupiah amounts, dates and URL slugs."""

import re
import unicodedata
from datetime import date, datetime

from app.domain.errors import N_, DomainError

MONTHS_ID: tuple[str, ...] = (
    "Januari",
    "Februari",
    "Maret",
    "April",
    "Mei",
    "Juni",
    "Juli",
    "Agustus",
    "September",
    "Oktober",
    "November",
    "Desember",
)

MAX_RUPIAH = 1_000_000_000

_RUPIAH_PREFIX = re.compile(r"^rp\.?\s*", re.IGNORECASE)
# ",-" after an amount is the customary way to say "no cents" on price tags and receipts.
_NO_CENTS_SUFFIX = re.compile(r",-$")
_PLAIN = re.compile(r"[0-9]+")
_THOUSANDS = re.compile(r"[0-9]{1,3}(?:\.[0-9]{3})+")
_DECIMALS = re.compile(r"[0-9.]*[.,][0-9]{1,2}")
_NUMBER_LIKE = re.compile(r"[0-9.,]+")
_APOSTROPHES = re.compile(r"['’`]")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def mask_name(name: str) -> str:
    """Keep the first letter of each word and star the rest: "Siti Wulandari" → "S*** W********"."""
    return " ".join(word[0] + "*" * (len(word) - 1) for word in name.split())


def format_rupiah(amount: int) -> str:
    """Rupiah with dots between thousands: 25000 → "Rp 25.000"."""
    grouped = f"{abs(amount):,}".replace(",", ".")
    return f"-Rp {grouped}" if amount < 0 else f"Rp {grouped}"


def parse_rupiah(raw: str, *, allow_zero: bool = False) -> int:
    """Read a rupiah amount typed as 25000, 25.000, Rp 25.000 or Rp25.000,-; raise DomainError otherwise."""
    text = _NO_CENTS_SUFFIX.sub("", _RUPIAH_PREFIX.sub("", raw.strip())).strip()
    if not text:
        raise DomainError(N_("Harga belum diisi."))
    if text.startswith("-"):
        raise DomainError(N_("Harga tidak boleh kurang dari nol."))
    if _PLAIN.fullmatch(text):
        amount = int(text)
    elif _THOUSANDS.fullmatch(text):
        amount = int(text.replace(".", ""))
    elif _DECIMALS.fullmatch(text):
        raise DomainError(N_("Harga ditulis dalam rupiah bulat, tanpa sen. Contoh: 25.000."))
    elif _NUMBER_LIKE.fullmatch(text):
        raise DomainError(N_("Penulisan harga tidak jelas. Tulis seperti 25000 atau 25.000."))
    else:
        raise DomainError(N_("Harga harus berupa angka. Contoh: 25.000."))
    if amount == 0 and not allow_zero:
        raise DomainError(N_("Harga paling sedikit Rp 1."))
    if amount > MAX_RUPIAH:
        raise DomainError(
            N_("Harga terlalu besar; paling banyak %(max)s."),
            max=format_rupiah(MAX_RUPIAH),
        )
    return amount


def format_date_id(d: date) -> str:
    """A date in Indonesian: "23 November 2026"."""
    return f"{d.day} {MONTHS_ID[d.month - 1]} {d.year}"


def format_datetime_id(dt: datetime) -> str:
    """A date and time in Indonesian, with a dot between hours and minutes: "23 November 2026 14.05"."""
    return f"{format_date_id(dt)} {dt.hour:02d}.{dt.minute:02d}"


def slugify(text: str) -> str:
    """ASCII, lowercase, hyphen-separated form of a name for use in URLs."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    # "Ma'ruf" should become "maruf", not "ma-ruf".
    ascii_text = _APOSTROPHES.sub("", ascii_text.lower())
    return _NON_ALNUM.sub("-", ascii_text).strip("-")
