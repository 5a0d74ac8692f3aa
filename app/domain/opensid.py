"""OpenSID's data, read without trusting it: code tables, zips, CSVs and the 42-column resident xlsx.

Plain functions: no HTTP, no database. They take the bytes a village's OpenSID (or an operator's
upload) sent and return plain records, or raise ``PayloadError`` with a message an operator can act
on. Problems found in single rows are returned as ``Note`` values and never quote a NIK or a name:
they name the row and the column, so a push log can be shown to region staff.

The formats are those of OpenSID v2410 (see the protocol notes in the README): zips built by
CodeIgniter with every member at the root, CSVs from OpenSpout (UTF-8 with a BOM, LF), and an
OpenSpout xlsx where every non-empty cell is a string.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from pathlib import Path

from app.domain.errors import N_, DomainError

CODES_DIR = Path(__file__).resolve().parent.parent / "data" / "opensid"

# Register fields with a code table, and the OpenSID table behind each.
CODE_TABLES: dict[str, str] = {
    "sex": "tweb_penduduk_sex",
    "religion": "tweb_penduduk_agama",
    "education": "tweb_penduduk_pendidikan_kk",
    "education_now": "tweb_penduduk_pendidikan",
    "occupation": "tweb_penduduk_pekerjaan",
    "marital": "tweb_penduduk_kawin",
    "relation": "tweb_penduduk_hubungan",
    "citizenship": "tweb_penduduk_warganegara",
    "status": "tweb_status_dasar",
}
# The OpenSID xlsx column of each coded register field.
CODED_COLUMNS: dict[str, str] = {
    "sex": "jenis_kelamin",
    "religion": "agama",
    "education": "pendidikan_dlm_kk",
    "education_now": "pendidikan_sdg_ditempuh",
    "occupation": "pekerjaan",
    "marital": "kawin",
    "relation": "hubungan_keluarga",
    "citizenship": "kewarganegaraan",
    "status": "status_dasar",
}
LIVING = 1  # status_dasar HIDUP
MALE, FEMALE = 1, 2

# The resident sheet of penduduk/storedata and of "Unduh Data", in OpenSID's order.
XLSX_COLUMNS: tuple[str, ...] = (
    "alamat", "dusun", "rw", "rt", "nama", "nomor_kk", "nomor_nik", "jenis_kelamin", "tempat_lahir",
    "tanggal_lahir", "agama", "pendidikan_dlm_kk", "pendidikan_sdg_ditempuh", "pekerjaan", "kawin",
    "hubungan_keluarga", "kewarganegaraan", "nama_ayah", "nama_ibu", "gol_darah", "akta_lahir",
    "nomor_dokumen_pasport", "tanggal_akhir_pasport", "nomor_dokumen_kitas", "nik_ayah", "nik_ibu",
    "nomor_akta_perkawinan", "tanggal_perkawinan", "nomor_akta_perceraian", "tanggal_perceraian", "cacat",
    "cara_kb", "hamil", "ktp_el", "status_rekam", "alamat_sekarang", "id", "foto", "status_dasar",
    "created_at", "updated_at", "desa_id",
)  # fmt: skip
# Columns without which a sheet is not a resident sheet at all.
REQUIRED_XLSX_COLUMNS = ("nama", "nomor_nik", "nomor_kk", "jenis_kelamin", "tanggal_lahir", "desa_id")

PEMBANGUNAN_COLUMNS: tuple[str, ...] = (
    "desa_id", "id", "sumber_dana", "lokasi", "judul", "keterangan", "volume", "tahun_anggaran",
    "pelaksana_kegiatan", "status", "anggaran", "perubahan_anggaran", "sumber_biaya_pemerintah",
    "sumber_biaya_provinsi", "sumber_biaya_kab_kota", "sumber_biaya_swadaya", "sumber_biaya_jumlah",
    "manfaat", "waktu", "sifat_proyek", "foto",
)  # fmt: skip
DOKUMENTASI_COLUMNS = ("desa_id", "id", "id_pembangunan", "gambar", "persentase", "keterangan", "created_at")
PROGRAM_COLUMNS = ("desa_id", "id", "nama", "sasaran", "ndesc", "sdate", "edate", "status", "asaldana")
PESERTA_COLUMNS: tuple[str, ...] = (
    "desa_id", "id", "peserta", "program_id", "no_id_kartu", "kartu_nik", "kartu_nama", "kartu_tempat_lahir",
    "kartu_tanggal_lahir", "kartu_alamat", "kartu_peserta", "kartu_id_pend", "sasaran",
)  # fmt: skip
# sasaran of a programme: who receives it.
TARGETS = {1: N_("Penduduk"), 2: N_("Keluarga"), 3: N_("Rumah tangga"), 4: N_("Kelompok")}

KODE_DESA = re.compile(r"\A\d{2}\.\d{2}\.\d{2}\.\d{4}\Z")
_NIK = re.compile(r"\A\d{16}\Z")
_UNSAFE_NAME = re.compile(r"(^|/)\.\.(/|$)|^/|\\|\x00|^[A-Za-z]:")

# Limits on what a village may send; a real village is far below each.
MAX_RESIDENTS = 100_000
MAX_CSV_ROWS = 20_000
MAX_ZIP_MEMBERS = 120_000
MAX_RATIO = 400  # uncompressed / compressed size of one member: text compresses ~10x, bombs ~1000x


# --- messages kept in push logs ------------------------------------------------------------------
#
# A push log stores (message, params) pairs; only messages listed here are ever translated when the
# log is shown, so nothing read from the database reaches gettext.

KNOWN_MESSAGES: set[str] = set()


def known(message: str) -> str:
    """Register a push-log message (an N_ literal) as one the log may translate."""
    KNOWN_MESSAGES.add(message)
    return message


NOT_ZIP = known(N_("Berkas yang dikirim bukan zip yang utuh."))
UNSAFE_ZIP = known(
    N_("Zip berisi nama berkas yang tidak aman (folder induk atau jalur mutlak); seluruh kiriman ditolak.")
)
ENCRYPTED_ZIP = known(N_("Zip berisi berkas yang dikunci sandi; kirim zip tanpa sandi."))
ZIP_TOO_BIG = known(N_("Isi zip terlalu besar (%(size)s MB setelah dibuka; batasnya %(limit)s MB)."))
ZIP_BOMB = known(N_("Berkas %(name)s di dalam zip tidak wajar (terlalu mampat); kiriman ditolak."))
ZIP_TOO_MANY = known(N_("Zip berisi terlalu banyak berkas (%(n)s; batasnya %(limit)s)."))
ZIP_METHOD = known(N_("Berkas %(name)s di dalam zip memakai cara pemampatan yang tidak didukung."))
NO_XLSX = known(N_("Zip tidak berisi berkas data penduduk (.xlsx)."))
NO_CSV = known(N_("Zip tidak berisi berkas CSV %(what)s."))
XLSX_BROKEN = known(N_("Berkas Excel data penduduk tidak dapat dibaca."))
XLSX_COLUMNS_MISSING = known(
    N_("Kolom %(columns)s tidak ada di baris judul; ini bukan ekspor penduduk OpenSID.")
)
TOO_MANY_ROWS = known(N_("Terlalu banyak baris (lebih dari %(limit)s); kiriman ditolak."))
CSV_NOT_UTF8 = known(N_("Berkas CSV bukan teks UTF-8."))
CSV_COLUMNS_MISSING = known(N_("Kolom %(columns)s tidak ada di baris judul CSV %(what)s."))
EMPTY_FILE = known(N_("Berkas kosong: tidak ada baris data."))
OTHER_VILLAGE = known(N_("Data ini untuk desa %(got)s, bukan %(want)s; kiriman ditolak."))
NO_NAME = known(N_("Baris %(line)s: nama kosong; baris dilewati."))
BAD_NIK = known(N_("Baris %(line)s: NIK bukan 16 angka; penduduk disimpan tanpa NIK."))
DUPLICATE_NIK = known(N_("Baris %(line)s: NIK sama dengan baris %(first)s; baris dilewati."))
BAD_KK = known(N_("Baris %(line)s: nomor KK bukan 16 angka; disimpan tanpa nomor KK."))
BAD_DATE = known(N_("Baris %(line)s: %(column)s bukan tanggal (TTTT-BB-HH); dibiarkan kosong."))
UNKNOWN_CODE = known(N_("Baris %(line)s: kode %(column)s %(code)s tidak ada di tabel OpenSID."))
BAD_ROW_LENGTH = known(N_("Baris %(line)s: jumlah kolom %(n)s, seharusnya %(want)s; baris dilewati."))
BAD_NUMBER = known(N_("Baris %(line)s: %(column)s bukan angka; baris dilewati."))


@dataclass(frozen=True)
class Note:
    """A problem found while reading one row (or one file); kept in the push log."""

    message: str
    params: dict = field(default_factory=dict)

    def as_json(self) -> dict:
        return {"m": self.message, "p": self.params}


class PayloadError(DomainError):
    """The whole file is unusable; nothing from it is stored."""


# --- code tables ---------------------------------------------------------------------------------


@cache
def code_table(name: str) -> dict[int, str]:
    """id -> label of one register field (``sex``, ``religion``...)."""
    path = CODES_DIR / f"{CODE_TABLES[name]}.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        return {int(row["id"]): " ".join(row["nama"].split()) for row in csv.DictReader(fh)}


def label(name: str, code: int | None) -> str:
    """The label of ``code`` in field ``name``'s table ("" for no code, the number for an unknown one)."""
    if code is None:
        return ""
    return code_table(name).get(code, str(code))


_SEX_WORDS = {"l": MALE, "lk": MALE, "laki-laki": MALE, "laki laki": MALE, "p": FEMALE, "pr": FEMALE}


def code_for(name: str, text: str | None) -> int | None:
    """The code of a value typed as its id, its label or (for sex) L/P; None when it matches nothing."""
    value = " ".join((text or "").split()).lower()
    if not value:
        return None
    table = code_table(name)
    if value.isdigit():
        return int(value) if int(value) in table else None
    if name == "sex" and value in _SEX_WORDS:
        return _SEX_WORDS[value]
    for code, text_label in table.items():
        if text_label.lower() == value or _loose(text_label) == _loose(value):
            return code
    return None


def _loose(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


# --- names, zips ---------------------------------------------------------------------------------


def basename(filename: str | None) -> str:
    """The file name without the folders OpenSID's curl puts in it ("desa/upload/x.zip" -> "x.zip")."""
    return (filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip()


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.1f}".replace(".", ",")


@dataclass(frozen=True)
class ZipLimits:
    member_bytes: int = 150_000_000
    total_bytes: int = 300_000_000
    members: int = MAX_ZIP_MEMBERS
    ratio: int = MAX_RATIO


def open_zip(data, limits: ZipLimits = ZipLimits()) -> zipfile.ZipFile:
    """Open a received zip after checking every member's name and sizes, before anything is unpacked.

    Nothing is ever written to disk from a zip, so no name can escape a folder; a zip naming a parent
    folder or an absolute path is refused anyway, as a sign of a hostile sender.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data) if isinstance(data, bytes | bytearray) else data)
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError):
        raise PayloadError(NOT_ZIP) from None
    if len(infos) > limits.members:
        raise PayloadError(ZIP_TOO_MANY, n=len(infos), limit=limits.members)
    total = 0
    for info in infos:
        if _UNSAFE_NAME.search(info.filename):
            raise PayloadError(UNSAFE_ZIP)
        if info.flag_bits & 0x1:
            raise PayloadError(ENCRYPTED_ZIP)
        total += info.file_size
    if total > limits.total_bytes:
        raise PayloadError(ZIP_TOO_BIG, size=_mb(total), limit=_mb(limits.total_bytes))
    return archive


def read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits: ZipLimits = ZipLimits()) -> bytes:
    """The bytes of one member, refusing bombs: sizes are checked before, and counted while, unpacking."""
    name = basename(info.filename)
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise PayloadError(ZIP_METHOD, name=name)
    if info.file_size > limits.member_bytes:
        raise PayloadError(ZIP_TOO_BIG, size=_mb(info.file_size), limit=_mb(limits.member_bytes))
    if (
        info.compress_size
        and info.file_size / info.compress_size > limits.ratio
        and info.file_size > 1_000_000
    ):
        raise PayloadError(ZIP_BOMB, name=name)
    out = bytearray()
    try:
        with archive.open(info) as fh:
            while chunk := fh.read(1 << 20):
                out += chunk
                if len(out) > info.file_size or len(out) > limits.member_bytes:
                    raise PayloadError(ZIP_BOMB, name=name)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        raise PayloadError(NOT_ZIP) from None
    return bytes(out)


def members(archive: zipfile.ZipFile, suffix: str) -> list[zipfile.ZipInfo]:
    """The zip's files whose name ends in ``suffix`` (case-insensitive), folders ignored."""
    return [
        i
        for i in archive.infolist()
        if not i.is_dir() and basename(i.filename).lower().endswith(suffix.lower())
    ]


XLSX_LIMITS = ZipLimits(member_bytes=40_000_000)


def xlsx_from_zip(data) -> tuple[str, bytes]:
    """(name, bytes) of the resident xlsx inside a penduduk zip (bytes or a seekable file); the photos
    beside it are never unpacked."""
    archive = open_zip(data)
    found = members(archive, ".xlsx")
    if not found:
        raise PayloadError(NO_XLSX)
    # The xlsx has the zip's base name; if several, the penduduk one.
    found.sort(key=lambda i: (not basename(i.filename).lower().startswith("penduduk"), i.filename))
    return basename(found[0].filename), read_member(archive, found[0], XLSX_LIMITS)


# --- CSV -----------------------------------------------------------------------------------------


def read_csv(data: bytes, max_rows: int = MAX_CSV_ROWS) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of an OpenSpout CSV: UTF-8 with or without BOM, LF or CRLF, blank lines skipped."""
    try:
        text = data.decode("utf-8-sig").replace("\x00", "")
    except UnicodeDecodeError:
        raise PayloadError(CSV_NOT_UTF8) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lstrip("\ufeff").lower() for h in next(reader)]
    except StopIteration:
        raise PayloadError(EMPTY_FILE) from None
    except csv.Error:
        raise PayloadError(CSV_NOT_UTF8) from None
    rows = []
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            rows.append([cell.strip() for cell in row])
            if len(rows) > max_rows:
                raise PayloadError(TOO_MANY_ROWS, limit=max_rows)
    except csv.Error:
        raise PayloadError(CSV_NOT_UTF8) from None
    return header, rows


def csv_records(
    header: list[str], rows: list[list[str]], wanted: tuple[str, ...], what: str
) -> tuple[list[tuple[int, dict]], list[Note]]:
    """Rows as (line number, {column: value}); rows of the wrong length are noted and skipped."""
    missing = [c for c in wanted if c not in header]
    if missing:
        raise PayloadError(CSV_COLUMNS_MISSING, columns=", ".join(missing), what=what)
    out, notes = [], []
    for line, row in enumerate(rows, start=2):
        if len(row) != len(header):
            notes.append(Note(BAD_ROW_LENGTH, {"line": line, "n": len(row), "want": len(header)}))
            continue
        out.append((line, dict(zip(header, row, strict=True))))
    return out, notes


def program_records(header: list[str], rows: list[list[str]]) -> tuple[list[tuple[int, dict]], list[Note]]:
    """Programme rows, repairing OpenSID v2410's shift: the header names 9 columns, each row holds 10,
    because an always-empty ``userid`` is written before ``status``. A row of 9 (a fixed client) is
    read as it stands."""
    if "status" in header and "edate" in header and header.index("status") == header.index("edate") + 1:
        at = header.index("status")
        fixed = [row[:at] + row[at + 1 :] if len(row) == len(header) + 1 else row for row in rows]
    else:
        fixed = rows
    return csv_records(header, fixed, PROGRAM_COLUMNS, "program bantuan")


def csv_from_zip(data: bytes, prefix: str, what: str) -> bytes:
    """The CSV named ``prefix…`` inside an OpenSID export zip (e.g. ``pembangunan_``)."""
    archive = open_zip(data)
    found = [i for i in members(archive, ".csv") if basename(i.filename).lower().startswith(prefix)]
    if not found:
        raise PayloadError(NO_CSV, what=what)
    return read_member(archive, sorted(found, key=lambda i: i.filename)[0])


def photos_in_zip(data: bytes) -> dict[str, zipfile.ZipInfo]:
    """The zip's members by base name, for photos a CSV row names."""
    archive = open_zip(data)
    return {basename(i.filename): i for i in archive.infolist() if not i.is_dir()}


# --- the resident xlsx -------------------------------------------------------------------------


def _cell(value) -> str | None:
    """A cell as text: OpenSpout writes strings, other writers numbers and dates."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat(" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    return text or None


def check_xlsx(data: bytes) -> None:
    """Refuse an xlsx whose own zip is hostile or a bomb, before openpyxl opens it."""
    archive = open_zip(data)
    for info in archive.infolist():
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise PayloadError(ZIP_METHOD, name=basename(info.filename))
        if (
            info.compress_size
            and info.file_size > 1_000_000
            and info.file_size / info.compress_size > MAX_RATIO
        ):
            raise PayloadError(ZIP_BOMB, name=basename(info.filename))
        if info.file_size > ZipLimits().member_bytes:
            raise PayloadError(ZIP_TOO_BIG, size=_mb(info.file_size), limit=_mb(ZipLimits().member_bytes))


def xlsx_rows(data: bytes, max_rows: int = MAX_RESIDENTS) -> tuple[list[str], Iterator[tuple[int, list]]]:
    """(header, iterator of (line, cells)) of the first sheet, streamed by openpyxl in read-only mode."""
    from openpyxl import load_workbook

    check_xlsx(data)
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        sheet = book.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        first = next(rows, None)
    except PayloadError:
        raise
    except Exception:  # openpyxl raises many kinds for a broken file; all mean "unreadable"
        raise PayloadError(XLSX_BROKEN) from None
    if first is None:
        book.close()
        raise PayloadError(EMPTY_FILE)
    header = [(_cell(v) or "").lower() for v in first]

    def body() -> Iterator[tuple[int, list]]:
        try:
            for line, row in enumerate(rows, start=2):
                if line - 1 > max_rows:
                    raise PayloadError(TOO_MANY_ROWS, limit=max_rows)
                cells = [_cell(v) for v in row]
                if any(c is not None for c in cells):
                    yield line, cells
        except PayloadError:
            raise
        except Exception:
            raise PayloadError(XLSX_BROKEN) from None
        finally:
            book.close()

    return header, body()


@dataclass(slots=True)
class ResidentRecord:
    """One person of a village's register, as stored."""

    nik: str | None
    kk: str | None
    name: str
    sex: int | None = None
    birth_place: str = ""
    birth_date: date | None = None
    religion: int | None = None
    education: int | None = None
    education_now: int | None = None
    occupation: int | None = None
    marital: int | None = None
    relation: int | None = None
    citizenship: int | None = None
    dusun: str = ""
    rw: str = ""
    rt: str = ""
    address: str = ""
    status: int = LIVING
    external_id: str | None = None

    def key(self) -> tuple:
        return tuple(getattr(self, f) for f in self.__slots__)


def parse_date(text: str | None) -> date | None:
    """A date written Y-m-d (OpenSID), d-m-Y or d/m/Y (typed in a spreadsheet); None when unreadable."""
    if not text:
        return None
    text = text.strip()[:10]
    for pattern in ("%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y"):
        try:
            found = datetime.strptime(text, pattern).date()
        except ValueError:
            continue
        return found if 1850 <= found.year <= 2200 else None
    return None


def _place(text: str | None) -> str:
    value = " ".join((text or "").split())
    return "" if value == "-" else value


def _limit(text: str | None, size: int) -> str:
    return _place(text)[:size]


def resident_from_opensid(row: dict, line: int) -> tuple[ResidentRecord | None, list[Note]]:
    """One row of OpenSID's resident sheet as a record, with notes on what was wrong in it."""
    notes: list[Note] = []
    name = _limit(row.get("nama"), 120)
    if not name:
        return None, [Note(NO_NAME, {"line": line})]
    nik = (row.get("nomor_nik") or "").strip()
    if not _NIK.match(nik):
        notes.append(Note(BAD_NIK, {"line": line}))
        nik = None
    kk = (row.get("nomor_kk") or "").strip()
    if kk and not _NIK.match(kk):
        notes.append(Note(BAD_KK, {"line": line}))
        kk = ""
    born = parse_date(row.get("tanggal_lahir"))
    if row.get("tanggal_lahir") and born is None:
        notes.append(Note(BAD_DATE, {"line": line, "column": "tanggal_lahir"}))
    record = ResidentRecord(
        nik=nik,
        kk=kk or None,
        name=name,
        birth_place=_limit(row.get("tempat_lahir"), 80),
        birth_date=born,
        dusun=_limit(row.get("dusun"), 60),
        rw=_limit(row.get("rw"), 8),
        rt=_limit(row.get("rt"), 8),
        address=_limit(row.get("alamat"), 200),
        external_id=_limit(row.get("id"), 20) or None,
    )
    for attr, column in CODED_COLUMNS.items():
        raw = (row.get(column) or "").strip()
        if not raw:
            continue
        if not raw.isdigit() or int(raw) not in code_table(attr):
            notes.append(Note(UNKNOWN_CODE, {"line": line, "column": column, "code": raw[:10]}))
            if not raw.isdigit():
                continue
        setattr(record, attr, int(raw))
    return record, notes


def village_code_of(row: dict) -> str:
    return (row.get("desa_id") or "").strip()


# --- ages ----------------------------------------------------------------------------------------

AGE_BANDS = tuple(range(0, 85, 5))  # 0-4 ... 75-79, 80+


def age_on(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def age_band(born: date | None, day: date) -> str:
    """The 5-year band of a birth date on ``day`` as a key ("00", "05", ... "80"), "??" when unknown."""
    if born is None or born > day:
        return "??"
    return f"{min(age_on(born, day) // 5 * 5, 80):02d}"


def band_label(key: str) -> str:
    if key == "??":
        return "?"
    start = int(key)
    return f"{start}+" if start == 80 else f"{start}–{start + 4}"
