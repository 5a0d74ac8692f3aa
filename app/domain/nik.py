"""NIK (Nomor Induk Kependudukan): the 16-digit Indonesian national ID number."""

import re
from dataclasses import dataclass
from datetime import date

from app.domain.errors import N_, DomainError

NIK_LENGTH = 16

# Exactly the codes in shared/data/wilayah/provinces.csv (38 provinces since the 2022 Papua split).
PROVINCE_CODES: frozenset[str] = frozenset(
    {
        "11",
        "12",
        "13",
        "14",
        "15",
        "16",
        "17",
        "18",
        "19",
        "21",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "51",
        "52",
        "53",
        "61",
        "62",
        "63",
        "64",
        "65",
        "71",
        "72",
        "73",
        "74",
        "75",
        "76",
        "81",
        "82",
        "91",
        "92",
        "93",
        "94",
        "95",
        "96",
    }
)

# Women's NIKs carry the birth day plus 40.
FEMALE_DAY_OFFSET = 40

# Separators people type when copying a NIK from a KTP or a family card.
_SEPARATORS = re.compile(r"[\s.\-]+")


@dataclass(frozen=True)
class NikInfo:
    """What a valid NIK tells: region codes (dotted, as in the wilayah data), birth date, sex and serial."""

    nik: str
    province_code: str
    regency_code: str
    district_code: str
    birth_date: date
    sex: str
    serial: str


def clean_nik(raw: str) -> str:
    """Remove the spaces, dots and dashes a user may type inside a NIK."""
    return _SEPARATORS.sub("", raw)


def parse_nik(raw: str, today: date | None = None) -> NikInfo:
    """Validate a NIK typed by a user and return what it encodes, or raise DomainError naming the bad part."""
    today = today or date.today()
    nik = clean_nik(raw)
    if not nik:
        raise DomainError(N_("NIK belum diisi."))
    for char in nik:
        if char not in "0123456789":
            raise DomainError(N_('NIK hanya boleh berisi angka; "%(char)s" bukan angka.'), char=char)
    if len(nik) != NIK_LENGTH:
        raise DomainError(N_("NIK harus 16 angka; yang Anda ketik %(n)s angka."), n=len(nik))

    province = nik[0:2]
    if province not in PROVINCE_CODES:
        raise DomainError(
            N_("Dua angka pertama NIK (%(code)s) bukan kode provinsi yang ada."),
            code=province,
        )
    if nik[2:4] == "00":
        raise DomainError(N_("Angka ke-3 dan ke-4 NIK (kode kabupaten/kota) tidak boleh 00."))
    if nik[4:6] == "00":
        raise DomainError(N_("Angka ke-5 dan ke-6 NIK (kode kecamatan) tidak boleh 00."))

    birth_date, sex = _birth_date_and_sex(nik[6:12], today)

    serial = nik[12:16]
    if serial == "0000":
        raise DomainError(N_("Empat angka terakhir NIK (nomor urut) tidak boleh 0000."))

    return NikInfo(
        nik=nik,
        province_code=province,
        regency_code=f"{province}.{nik[2:4]}",
        district_code=f"{province}.{nik[2:4]}.{nik[4:6]}",
        birth_date=birth_date,
        sex=sex,
        serial=serial,
    )


def _birth_date_and_sex(ddmmyy: str, today: date) -> tuple[date, str]:
    day_code, month, yy = int(ddmmyy[0:2]), int(ddmmyy[2:4]), int(ddmmyy[4:6])
    if 1 <= day_code <= 31:
        day, sex = day_code, "L"
    elif FEMALE_DAY_OFFSET + 1 <= day_code <= FEMALE_DAY_OFFSET + 31:
        day, sex = day_code - FEMALE_DAY_OFFSET, "P"
    else:
        raise DomainError(
            N_(
                "Angka ke-7 dan ke-8 NIK (tanggal lahir) adalah %(dd)s; "
                "harus 01 sampai 31, atau 41 sampai 71 untuk perempuan."
            ),
            dd=ddmmyy[0:2],
        )
    if not 1 <= month <= 12:
        raise DomainError(
            N_("Angka ke-9 dan ke-10 NIK (bulan lahir) adalah %(mm)s; harus 01 sampai 12."),
            mm=ddmmyy[2:4],
        )
    # Compare as tuples so the century is chosen even for a day that exists in only one century (29 Feb 1900).
    year = 2000 + yy if (2000 + yy, month, day) <= (today.year, today.month, today.day) else 1900 + yy
    shown = f"{day:02d}-{month:02d}-{year}"
    try:
        born = date(year, month, day)
    except ValueError:
        raise DomainError(
            N_("Tanggal lahir pada NIK (%(date)s) tidak ada di kalender."), date=shown
        ) from None
    if born > today:
        raise DomainError(N_("Tanggal lahir pada NIK (%(date)s) belum terjadi."), date=shown)
    return born, sex


def mask_nik(nik: str) -> str:
    """Hide a NIK for display, keeping only the first 4 and last 2 digits (e.g. 1809**********01)."""
    digits = clean_nik(nik)
    if len(digits) <= 6:
        return "*" * len(digits)
    return digits[:4] + "*" * (len(digits) - 6) + digits[-2:]
