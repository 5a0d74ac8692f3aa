"""Photo intake: check uploads strictly, then re-encode them small and free of metadata.

Every photo a resident sends goes through ``process_photo`` before it is stored. The checks run
cheapest first (size, magic bytes, the file's own structure and header dimensions) so a hostile or
broken file is refused before Pillow decodes a single pixel. Re-encoding is the real sanitiser:
the output is a brand-new JPEG/WebP built from pixels only, so GPS tags, comments and anything a
polyglot hid in the file cannot survive it.
"""

from __future__ import annotations

import hashlib
import io
import re
import struct
import textwrap
import warnings
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont, ImageOps

from app.domain.errors import N_, DomainError

__all__ = ["ProcessedPhoto", "make_thumbnail", "placeholder_image", "process_photo"]

# Pixels allowed from the header alone, before anything is decoded. libjpeg decodes a JPEG at 1/2,
# 1/4 or 1/8 scale (draft), so a 40-megapixel camera photo costs little; PNG and WebP are always
# decoded at full size (a 37 KB 6300 x 6300 PNG took seconds of CPU), so they get a tighter cap
# that still covers a 12-megapixel phone photo or any screenshot.
MAX_PIXELS = 40_000_000
MAX_UNSCALED_PIXELS = 16_000_000
_SCALED_DECODE = {"jpeg"}
# Pillow's own guard, process-wide, as a second fence behind the header checks: it warns past this
# many pixels (which _decode turns into a refusal) and refuses twice as many outright.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

ACCEPTED_HINT = "JPG, PNG, atau WebP"

# Real formats we accept, keyed by our short name, with the only Pillow plugin allowed to open them.
_ACCEPTED: dict[str, str] = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}

# What a filename extension or a declared MIME type claims the file is. Only image types are
# listed: names like "blob" or "IMG_0001" (what some Android browsers send) claim nothing.
_EXT_CLAIMS: dict[str, str] = {
    "jpg": "jpeg",
    "jpeg": "jpeg",
    "jpe": "jpeg",
    "jfif": "jpeg",
    "png": "png",
    "webp": "webp",
    "gif": "gif",
    "heic": "heic",
    "heif": "heic",
    "avif": "avif",
    "bmp": "bmp",
    "tif": "tiff",
    "tiff": "tiff",
}
_MIME_CLAIMS: dict[str, str] = {
    "image/jpeg": "jpeg",
    "image/jpg": "jpeg",
    "image/pjpeg": "jpeg",
    "image/png": "png",
    "image/x-png": "png",
    "image/webp": "webp",
    "image/gif": "gif",
    "image/heic": "heic",
    "image/heif": "heic",
    "image/heic-sequence": "heic",
    "image/heif-sequence": "heic",
    "image/avif": "avif",
    "image/bmp": "bmp",
    "image/tiff": "tiff",
}
_KIND_LABELS: dict[str, str] = {
    "jpeg": "JPG",
    "png": "PNG",
    "webp": "WebP",
    "gif": "GIF",
    "heic": "HEIC",
    "avif": "AVIF",
    "bmp": "BMP",
    "tiff": "TIFF",
    "pdf": "PDF",
    "zip": "ZIP",
    "video": "video",
}

# ISO-BMFF brands (bytes 8..12 after "ftyp") that mean an HEIC/HEIF or AVIF still image.
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}

# Markup or script that has no business inside a photo; seen in polyglot uploads. Only signatures
# of 5+ bytes, so a chance match inside compressed camera data stays astronomically unlikely.
_CODE_SIGNATURES = re.compile(rb"<\?php|<script|<html|<!doctype|<iframe|<body|<svg[\s>]", re.IGNORECASE)

# Within JPEG entropy-coded data, 0xFF is followed by 0x00 (stuffing), RST0-7 or more 0xFF fill;
# any other byte after 0xFF is the next real marker.
_JPEG_NEXT_MARKER = re.compile(rb"\xff(?=[^\x00\xd0-\xd7\xff])")
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}

# A few stray bytes after the end marker are left by some camera apps; more than this, with no
# known camera trailer, is treated as a smuggled payload.
_TRAILER_TOLERANCE = 32

# WebP chunks that hold compressed pixels or animation control, not free-form data.
_WEBP_IMAGE_CHUNKS = {b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF"}

_OUTPUT_FORMATS: dict[str, tuple[str, str, str]] = {
    "JPEG": ("JPEG", "image/jpeg", ".jpg"),
    "JPG": ("JPEG", "image/jpeg", ".jpg"),
    "WEBP": ("WEBP", "image/webp", ".webp"),
}

# Pillow raises all of these for broken input depending on which plugin trips; none may escape
# as a stack trace. MemoryError is deliberately absent: the pixel limit makes it a real bug.
_DECODE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    struct.error,
    IndexError,
    KeyError,
    TypeError,
    ZeroDivisionError,
    Image.DecompressionBombError,
    Image.DecompressionBombWarning,
)


@dataclass(frozen=True, slots=True)
class ProcessedPhoto:
    """A cleaned, re-encoded photo ready to store."""

    data: bytes
    mime: str
    ext: str
    width: int
    height: int
    sha256: str


def process_photo(
    data: bytes,
    *,
    filename: str | None = None,
    declared_type: str | None = None,
    max_bytes: int = 10 * 1024 * 1024,
    max_pixels: int = MAX_PIXELS,
    max_unscaled_pixels: int = MAX_UNSCALED_PIXELS,
    max_side: int = 1600,
    fmt: str = "JPEG",
    size: int | None = None,
) -> ProcessedPhoto:
    """Validate an uploaded photo and return it re-encoded, upright, downscaled and metadata-free.

    ``max_pixels`` bounds a JPEG (decoded scaled down); PNG and WebP, decoded at full size, are
    bounded by the smaller of it and ``max_unscaled_pixels``. Both are checked from the header.
    ``size`` is the upload's real size when ``data`` is only its first bytes (a capped read).
    """
    out_format = _output_format(fmt)
    size = max(size or 0, len(data))
    if not data:
        raise DomainError(N_("Berkas foto kosong. Pilih fotonya lagi, lalu kirim ulang."))
    if size > max_bytes:
        raise DomainError(
            N_(
                "Foto terlalu besar (%(size)s). Batasnya %(limit)s. "
                "Coba ambil foto dengan resolusi lebih kecil."
            ),
            size=_human_size(size),
            limit=_human_size(max_bytes),
        )

    kind = _sniff(data)
    if kind not in _ACCEPTED:
        _refuse_kind(kind)
    _check_claims(kind, filename, declared_type)

    width, height = _inspect_structure(kind, data)
    if kind not in _SCALED_DECODE:
        max_pixels = min(max_pixels, max_unscaled_pixels)
    _check_pixels(width, height, max_pixels)

    image = _decode(kind, data, width=width, height=height, max_pixels=max_pixels, max_side=max_side)
    return _encode(_flatten_to_rgb(image), out_format, max_side)


def make_thumbnail(data: bytes, size: int, fmt: str = "WEBP") -> ProcessedPhoto:
    """Return a thumbnail whose longest side is ``size`` (never upscaled), e.g. 320 or 640."""
    if size < 1:
        raise ValueError(f"thumbnail size must be positive, got {size}")
    # Same pipeline as uploads: thumbnails are usually made from stored photos, but running the
    # full checks costs little and keeps a single code path that has to be right.
    return process_photo(data, max_side=size, fmt=fmt, max_bytes=max(len(data), 1))


def placeholder_image(text: str, color: tuple[int, int, int], size: tuple[int, int] = (800, 600)) -> bytes:
    """Return a JPEG of ``size`` filled with ``color`` and ``text`` centred on it, for demo data."""
    width, height = size
    image = Image.new("RGB", size, color)
    draw = ImageDraw.Draw(image)
    # Dark text on light fills, light text on dark ones (ITU-R BT.601 luma).
    luma = 0.299 * color[0] + 0.587 * color[1] + 0.114 * color[2]
    ink = (20, 20, 20) if luma > 140 else (250, 250, 250)
    font = ImageFont.load_default(size=max(12, height // 10))

    # Wrap at the longest line length that still fits in 90 % of the width.
    lines = [text]
    for chars in range(max(len(text), 1), 0, -1):
        lines = textwrap.wrap(text, width=chars) or [""]
        if all(draw.textlength(line, font=font) <= width * 0.9 for line in lines):
            break
    draw.multiline_text(
        (width / 2, height / 2), "\n".join(lines), fill=ink, font=font, anchor="mm", align="center"
    )
    return _encode(image, _OUTPUT_FORMATS["JPEG"], max(size)).data


# --- detection -------------------------------------------------------------------------------


def _sniff(data: bytes) -> str:
    """Name the real type of ``data`` from its magic bytes."""
    head = data[:32]
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _HEIF_BRANDS:
            return "heic"
        if brand in _AVIF_BRANDS:
            return "avif"
        return "video"
    if head.startswith(b"%PDF"):
        return "pdf"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if head.startswith(b"BM"):
        return "bmp"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "tiff"
    if _looks_like_text(data[:512]):
        return "text"
    return "unknown"


def _looks_like_text(head: bytes) -> bool:
    """Tell whether the start of a file is markup, script or plain text rather than binary."""
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith((b"<", b"#!")):
        return True
    if not stripped:
        return False
    try:
        decoded = stripped.decode("utf-8")
    except UnicodeDecodeError:
        # A multi-byte character may be cut at the 512-byte boundary; retry without the tail.
        try:
            decoded = stripped[:-3].decode("utf-8")
        except UnicodeDecodeError:
            return False
    return all(ch.isprintable() or ch in "\t\r\n" for ch in decoded)


def _refuse_kind(kind: str) -> None:
    """Raise the message that tells the user why this kind of file is not accepted."""
    if kind == "heic":
        raise DomainError(
            N_(
                "Foto berformat HEIC/HEIF belum bisa diterima. Ubah pengaturan kamera ke format "
                "JPG (biasanya di Pengaturan Kamera, pilihan Format foto), atau buka fotonya lalu "
                "ambil tangkapan layar dan kirim tangkapan layar itu."
            )
        )
    if kind == "text":
        raise DomainError(
            N_("Berkas ini berisi teks atau kode, bukan foto. Kirim foto berformat %(formats)s."),
            formats=ACCEPTED_HINT,
        )
    if kind == "pdf":
        raise DomainError(
            N_(
                "Berkas PDF tidak bisa dipakai sebagai foto. Kirim foto berformat %(formats)s. "
                "Kalau ini dokumen kertas, foto saja dokumennya dengan kamera."
            ),
            formats=ACCEPTED_HINT,
        )
    if kind in _KIND_LABELS:
        raise DomainError(
            N_("Berkas %(kind)s tidak bisa dipakai sebagai foto. Kirim foto berformat %(formats)s."),
            kind=_KIND_LABELS[kind],
            formats=ACCEPTED_HINT,
        )
    raise DomainError(
        N_("Berkas ini tidak dikenali sebagai foto. Kirim foto berformat %(formats)s."),
        formats=ACCEPTED_HINT,
    )


def _check_claims(kind: str, filename: str | None, declared_type: str | None) -> None:
    """Refuse a file whose name or declared type says it is a different image type."""
    real = _KIND_LABELS[kind]
    if filename and "." in filename:
        ext = filename.rsplit(".", 1)[1].strip().lower()
        claimed = _EXT_CLAIMS.get(ext)
        if claimed is not None and claimed != kind:
            raise DomainError(
                N_(
                    "Berkas bernama .%(ext)s tetapi isinya %(real)s. Nama dan isi berkas harus "
                    "cocok. Simpan ulang fotonya dari galeri (atau ganti akhiran namanya menjadi "
                    ".%(real_ext)s), lalu kirim lagi."
                ),
                ext=ext,
                real=real,
                real_ext=real.lower(),
            )
    if declared_type:
        mime = declared_type.split(";", 1)[0].strip().lower()
        claimed = _MIME_CLAIMS.get(mime)
        if claimed is not None and claimed != kind:
            raise DomainError(
                N_(
                    "Berkas dikirim sebagai %(claimed)s tetapi isinya %(real)s. Simpan ulang "
                    "fotonya dari galeri, lalu kirim lagi."
                ),
                claimed=_KIND_LABELS[claimed],
                real=real,
            )


# --- structure checks (no pixel decoding) -----------------------------------------------------


def _truncated() -> DomainError:
    return DomainError(
        N_(
            "Foto tidak lengkap, mungkin karena sinyal putus saat mengirim. "
            "Coba kirim ulang, sebaiknya saat sinyal lebih bagus."
        )
    )


def _corrupt() -> DomainError:
    return DomainError(
        N_("Foto tidak bisa dibaca karena berkasnya rusak. Coba ambil foto baru, lalu kirim lagi.")
    )


def _hidden_code() -> DomainError:
    return DomainError(
        N_(
            "Foto ini berisi kode tersembunyi, jadi tidak kami terima demi keamanan. "
            "Kirim foto langsung dari kamera atau galeri HP."
        )
    )


def _scan_for_code(chunk: bytes) -> None:
    if _CODE_SIGNATURES.search(chunk):
        raise _hidden_code()


def _inspect_structure(kind: str, data: bytes) -> tuple[int, int]:
    """Walk the file's own structure; return header width/height and refuse truncation or payloads."""
    if kind == "jpeg":
        width, height, end = _walk_jpeg(data)
    elif kind == "png":
        width, height, end = _walk_png(data)
    else:
        width, height, end = _walk_webp(data)
    if width <= 0 or height <= 0:
        raise _corrupt()
    _check_trailer(data[end:])
    return width, height


def _walk_jpeg(data: bytes) -> tuple[int, int, int]:
    """Return (width, height, offset after EOI) of a baseline/progressive JPEG."""
    n = len(data)
    pos = 2
    width = height = 0
    while True:
        if pos >= n:
            raise _truncated()
        if data[pos] != 0xFF:
            raise _corrupt()
        while pos < n and data[pos] == 0xFF:  # fill bytes before a marker are legal
            pos += 1
        if pos >= n:
            raise _truncated()
        marker = data[pos]
        pos += 1
        if marker == 0xD9:  # EOI
            if not width:
                raise _corrupt()
            return width, height, pos
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # standalone markers, no length
            continue
        if pos + 2 > n:
            raise _truncated()
        length = int.from_bytes(data[pos : pos + 2], "big")
        if length < 2:
            raise _corrupt()
        if pos + length > n:
            raise _truncated()
        segment = data[pos + 2 : pos + length]
        pos += length
        if marker in _JPEG_SOF:
            if len(segment) < 5:
                raise _corrupt()
            height = int.from_bytes(segment[1:3], "big")
            width = int.from_bytes(segment[3:5], "big")
        elif 0xE0 <= marker <= 0xEF or marker == 0xFE:  # APPn (EXIF, XMP, ...) and COM
            _scan_for_code(segment)
        elif marker == 0xDA:  # SOS: skip entropy-coded data up to the next real marker
            if not width:
                raise _corrupt()
            found = _JPEG_NEXT_MARKER.search(data, pos)
            if found is None:
                raise _truncated()
            pos = found.start()


def _walk_png(data: bytes) -> tuple[int, int, int]:
    """Return (width, height, offset after IEND) of a PNG."""
    n = len(data)
    pos = 8
    width = height = 0
    first = True
    while True:
        if pos + 8 > n:
            raise _truncated()
        length = int.from_bytes(data[pos : pos + 4], "big")
        ctype = data[pos + 4 : pos + 8]
        if length > 0x7FFFFFFF:
            raise _corrupt()
        end = pos + 12 + length
        if end > n:
            raise _truncated()
        body = data[pos + 8 : pos + 8 + length]
        if first:
            if ctype != b"IHDR" or length != 13:
                raise _corrupt()
            width = int.from_bytes(body[0:4], "big")
            height = int.from_bytes(body[4:8], "big")
            first = False
        elif ctype == b"IEND":
            return width, height, end
        elif ctype not in (b"IDAT", b"fdAT"):  # text and private chunks can carry payloads
            _scan_for_code(body)
        pos = end


def _walk_webp(data: bytes) -> tuple[int, int, int]:
    """Return (width, height, end of the RIFF container) of a WebP."""
    n = len(data)
    riff_end = 8 + int.from_bytes(data[4:8], "little")
    if riff_end > n or n < 30:
        raise _truncated()
    first = data[12:16]
    if first == b"VP8 ":
        if data[23:26] != b"\x9d\x01\x2a":
            raise _corrupt()
        width = int.from_bytes(data[26:28], "little") & 0x3FFF
        height = int.from_bytes(data[28:30], "little") & 0x3FFF
    elif first == b"VP8L":
        if data[20] != 0x2F:
            raise _corrupt()
        bits = int.from_bytes(data[21:25], "little")
        width = (bits & 0x3FFF) + 1
        height = ((bits >> 14) & 0x3FFF) + 1
    elif first == b"VP8X":
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
    else:
        raise _corrupt()
    pos = 12
    while pos + 8 <= riff_end:
        chunk_id = data[pos : pos + 4]
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        chunk_end = pos + 8 + size
        if chunk_end > riff_end:
            raise _truncated()
        if chunk_id not in _WEBP_IMAGE_CHUNKS:  # EXIF, XMP and unknown chunks can carry payloads
            _scan_for_code(data[pos + 8 : chunk_end])
        pos = chunk_end + (size & 1)  # chunks are padded to an even length
    return width, height, riff_end


def _check_trailer(trailer: bytes) -> None:
    """Refuse data appended after the image's end marker unless it is a known camera trailer."""
    rest = trailer.strip(b"\x00\xff\r\n\t ")  # padding some encoders leave behind
    if not rest:
        return
    known_camera_trailer = (
        trailer.lstrip(b"\x00").startswith(b"\xff\xd8\xff")  # MPF: depth maps, extra frames
        or b"ftyp" in trailer[:64]  # Google/Samsung "motion photo": an MP4 clip after the JPEG
        or b"MotionPhoto_Data" in trailer[:64]
        or rest.endswith(b"SEFT")  # Samsung trailer (SEF)
    )
    if known_camera_trailer:
        # Accepted without a code scan: megabytes of compressed video would now and then match a
        # signature by chance and refuse a genuine photo. Re-encoding drops the trailer anyway.
        return
    # Anything else that carries code is refused outright; re-encoding would drop it too, but a
    # file built to smuggle code is not a photo a resident took and should not look accepted.
    _scan_for_code(trailer)
    if len(rest) <= _TRAILER_TOLERANCE:
        return
    raise DomainError(
        N_(
            "Foto ini membawa data lain yang tidak dikenal di belakang gambarnya, jadi tidak kami "
            "terima demi keamanan. Buka fotonya lalu simpan ulang, atau ambil tangkapan layar, "
            "kemudian kirim lagi."
        )
    )


def _check_pixels(width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise _too_many_pixels(width, height, max_pixels)


def _too_many_pixels(width: int, height: int, limit: int) -> DomainError:
    return DomainError(
        N_(
            "Ukuran gambar terlalu besar (%(width)s x %(height)s piksel). Batasnya %(limit)s "
            "megapiksel. Kecilkan resolusi kamera, atau kirim tangkapan layar foto itu."
        ),
        width=width,
        height=height,
        limit=_format_number(limit / 1_000_000),
    )


# --- decoding and encoding --------------------------------------------------------------------


def _decode(
    kind: str, data: bytes, *, width: int, height: int, max_pixels: int, max_side: int
) -> Image.Image:
    """Decode ``data`` with Pillow, upright, refusing anything it finds broken or bomb-sized."""
    pil_format = _ACCEPTED[kind]
    try:
        # Pillow's own bomb check warns before it errors; escalate the warning so a huge image
        # can never slip through to decoding. (catch_warnings is process-global, but our own
        # header check has already enforced max_pixels, so this is only a second fence.) Other
        # warnings are about broken metadata we discard anyway, so they are silenced.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[pil_format]) as probe:
                _check_pixels(*probe.size, max_pixels)
                probe.verify()  # CRCs and chunk order for PNG; cheap, decodes no pixels
            with Image.open(io.BytesIO(data), formats=[pil_format]) as image:
                if kind == "jpeg":
                    # Let libjpeg decode at 1/2, 1/4 or 1/8 scale when the photo will be shrunk
                    # anyway: a 12 MP phone photo then needs a fraction of the memory and time.
                    scale = max_side * 2 / max(image.size)
                    if scale < 1:
                        image.draft(
                            None, (max(1, int(image.width * scale)), max(1, int(image.height * scale)))
                        )
                image.load()
                # Returns a new, upright image; the orientation tag is honoured, then forgotten.
                upright = ImageOps.exif_transpose(image)
    except DomainError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Only reachable when the caller allows more pixels than Pillow's global limit.
        raise _too_many_pixels(width, height, Image.MAX_IMAGE_PIXELS or max_pixels) from exc
    except _DECODE_ERRORS as exc:
        if "truncated" in str(exc).lower():
            raise _truncated() from exc
        raise _corrupt() from exc
    return upright


def _flatten_to_rgb(image: Image.Image) -> Image.Image:
    """Return an RGB copy of ``image``; transparency is composited onto white."""
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        # 16-bit greyscale PNG: scale to 8 bits instead of letting convert() clip it to white.
        image = image.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    if image.has_transparency_data:
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    # CMYK, palette, greyscale and RGB all convert directly. Any ICC profile is dropped: nearly
    # every phone shoots sRGB, and parsing untrusted ICC data with littlecms is needless risk.
    return image.convert("RGB")


def _encode(image: Image.Image, out_format: tuple[str, str, str], max_side: int) -> ProcessedPhoto:
    """Downscale to ``max_side`` and encode into a fresh file with no metadata at all."""
    pil_format, mime, ext = out_format
    if max(image.size) > max_side:
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    # Paste into a brand-new image so nothing from the upload's info dict (EXIF, GPS, XMP, ICC,
    # comments) can be picked up by the encoder; Pillow's JPEG writer reuses info["comment"].
    clean = Image.new("RGB", image.size)
    clean.paste(image)
    buffer = io.BytesIO()
    if pil_format == "JPEG":
        clean.save(buffer, "JPEG", quality=80, optimize=True, progressive=True)
    else:
        clean.save(buffer, "WEBP", quality=75, method=4)
    payload = buffer.getvalue()
    return ProcessedPhoto(
        data=payload,
        mime=mime,
        ext=ext,
        width=clean.width,
        height=clean.height,
        sha256=hashlib.sha256(payload).hexdigest(),
    )


def _output_format(fmt: str) -> tuple[str, str, str]:
    try:
        return _OUTPUT_FORMATS[fmt.upper()]
    except KeyError:
        # A programming error, not the resident's: no translated message.
        raise ValueError(f"unsupported output format {fmt!r}; use JPEG or WEBP") from None


def _format_number(value: float) -> str:
    """Format like Indonesian text does: one decimal with a comma, none when it is whole."""
    text = f"{value:.1f}".replace(".", ",")
    return text[:-2] if text.endswith(",0") else text


def _human_size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{_format_number(size / (1024 * 1024))} MB"
    return f"{_format_number(size / 1024)} KB"
