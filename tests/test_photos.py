"""Tests for the photo pipeline and upload storage; every fixture image is generated here."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import os
import struct
import time
import zipfile
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw, ImageFile

from app.domain import photos as photos_module
from app.domain.errors import DomainError
from app.domain.photos import ProcessedPhoto, make_thumbnail, placeholder_image, process_photo
from app.domain.storage import InvalidPhotoName, PhotoStore, StorageError

GPS_IFD = 0x8825
ORIENTATION = 0x0112


# --- fixture builders ------------------------------------------------------------------------


def _picture(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    """A picture with some structure (not a flat fill), so encoders behave as on real photos."""
    image = Image.new(mode, size, "white" if mode != "RGBA" else (255, 255, 255, 255))
    draw = ImageDraw.Draw(image)
    w, h = size
    draw.rectangle((0, 0, w // 2, h), fill="red")
    draw.rectangle((w // 2, 0, w, h), fill="blue")
    draw.ellipse((w // 4, h // 4, 3 * w // 4, 3 * h // 4), fill="yellow")
    return image


def _jpeg(size: tuple[int, int] = (64, 48), **save_args: object) -> bytes:
    buffer = io.BytesIO()
    _picture(size).save(buffer, "JPEG", quality=90, **save_args)
    return buffer.getvalue()


def _png(size: tuple[int, int] = (64, 48), mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    _picture(size, mode).save(buffer, "PNG")
    return buffer.getvalue()


def _webp(size: tuple[int, int] = (64, 48)) -> bytes:
    buffer = io.BytesIO()
    _picture(size).save(buffer, "WEBP", quality=90)
    return buffer.getvalue()


def _gps_exif(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "Samsung"  # Make
    exif[ORIENTATION] = orientation
    # A village office somewhere in Java: exactly what must never be published.
    exif.get_ifd(GPS_IFD).update({1: "S", 2: (6.0, 12.0, 30.5), 3: "E", 4: (106.0, 49.0, 7.25)})
    return exif


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _flat_png(width: int, height: int, depth: int = 8) -> bytes:
    """A valid greyscale PNG of one colour, built row by row: tiny on disk, huge once decoded."""
    row = b"\x00" + b"\xff" * ((width * depth + 7) // 8)  # filter byte + packed pixels
    compressor = zlib.compressobj(9)
    idat = b"".join([*(compressor.compress(row) for _ in range(height)), compressor.flush()])
    ihdr = struct.pack(">IIBBBBB", width, height, depth, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def _bomb_png(side: int = 20_000) -> bytes:
    """A valid 1-bit PNG of side x side pixels: ~50 KB on disk, 400 megapixels decoded."""
    return _flat_png(side, side, depth=1)


def _decode(photo: ProcessedPhoto) -> Image.Image:
    image = Image.open(io.BytesIO(photo.data))
    image.load()
    return image


def _refused(data: bytes, **kwargs: object) -> str:
    with pytest.raises(DomainError) as info:
        process_photo(data, **kwargs)  # type: ignore[arg-type]
    return str(info.value)


@pytest.fixture
def no_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any attempt to decode pixels fail the test loudly."""

    def forbidden(self: ImageFile.ImageFile) -> None:
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", forbidden)


# --- metadata and orientation ----------------------------------------------------------------


def test_gps_exif_xmp_and_comment_are_removed() -> None:
    source = _jpeg(exif=_gps_exif(), comment=b"rahasia-warga", xmp=b"<x:xmpmeta>xmp-rahasia</x:xmpmeta>")
    # Precondition: the fixture really carries all of it.
    assert Image.open(io.BytesIO(source)).getexif().get_ifd(GPS_IFD)[2] == (6.0, 12.0, 30.5)
    assert b"rahasia-warga" in source
    assert b"xmp-rahasia" in source

    photo = process_photo(source, filename="IMG_20240101.jpg", declared_type="image/jpeg")

    image = _decode(photo)
    assert not image.getexif()
    assert not image.getexif().get_ifd(GPS_IFD)
    assert not {"exif", "xmp", "comment", "icc_profile"} & set(image.info)
    assert b"Exif" not in photo.data
    assert b"rahasia-warga" not in photo.data
    assert b"xmp-rahasia" not in photo.data
    assert b"Samsung" not in photo.data


def test_exif_orientation_6_is_applied() -> None:
    source = _jpeg((200, 100), exif=_gps_exif(orientation=6))
    photo = process_photo(source)
    assert (photo.width, photo.height) == (100, 200)
    image = _decode(photo)
    assert image.size == (100, 200)
    # Orientation 6 means "rotate 90 degrees clockwise": the red left half ends up on top.
    red, _green, blue = image.getpixel((50, 5))  # type: ignore[misc]
    assert red > 200 and blue < 60
    red, _green, blue = image.getpixel((50, 195))  # type: ignore[misc]
    assert blue > 200 and red < 60


def test_result_fields_describe_the_output() -> None:
    photo = process_photo(_png())
    assert photo.mime == "image/jpeg"
    assert photo.ext == ".jpg"
    assert photo.data.startswith(b"\xff\xd8\xff")
    assert (photo.width, photo.height) == (64, 48)
    assert photo.sha256 == hashlib.sha256(photo.data).hexdigest()


def test_transparent_png_is_flattened_on_white() -> None:
    image = Image.new("RGBA", (40, 40), (0, 0, 0, 0))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    out = _decode(process_photo(buffer.getvalue()))
    assert out.mode == "RGB"
    assert all(channel > 245 for channel in out.getpixel((20, 20)))  # type: ignore[union-attr]


def test_sixteen_bit_greyscale_png_is_scaled_not_clipped() -> None:
    image = Image.new("I;16", (32, 32), 0x8000)  # mid grey in 16 bits
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    out = _decode(process_photo(buffer.getvalue()))
    red, green, blue = out.getpixel((16, 16))  # type: ignore[misc]
    assert 110 < red < 145 and red == green == blue


# --- type detection --------------------------------------------------------------------------


def test_png_renamed_jpg_is_refused_naming_both() -> None:
    message = _refused(_png(), filename="foto_ktp.jpg")
    assert ".jpg" in message
    assert "PNG" in message


def test_declared_type_mismatch_is_refused() -> None:
    message = _refused(_jpeg(), filename="foto", declared_type="image/png")
    assert "PNG" in message and "JPG" in message


def test_matching_or_meaningless_names_are_fine() -> None:
    process_photo(_png(), filename="Screenshot.PNG", declared_type="image/png")
    process_photo(_jpeg(), filename="blob", declared_type="application/octet-stream")
    process_photo(_webp(), filename="IMG-WA0001.webp", declared_type="image/webp")


def test_text_file_is_refused() -> None:
    message = _refused(b"Halo Pak Kades, ini bukan foto.\n", filename="surat.jpg")
    assert "teks" in message
    assert "JPG, PNG, atau WebP" in message


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"GIF89a" + b"\x00" * 64, "GIF"),
        (b"%PDF-1.7\n" + b"\x00" * 64, "PDF"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64, "HEIC"),
        (b"\x00\x01\x02\x03" * 32, "tidak dikenali"),
    ],
)
def test_other_formats_are_refused_with_a_helpful_message(data: bytes, expected: str) -> None:
    message = _refused(data)
    assert expected in message
    if expected == "HEIC":
        assert "tangkapan layar" in message and "kamera" in message
    else:
        assert "JPG, PNG, atau WebP" in message


def test_empty_file_is_refused() -> None:
    assert "kosong" in _refused(b"")


# --- size limits -----------------------------------------------------------------------------


def test_oversized_file_is_refused_before_decoding(no_decoding: None) -> None:
    data = _jpeg((300, 300))
    message = _refused(data, max_bytes=len(data) - 1)
    assert "terlalu besar" in message


def test_default_limit_message_speaks_megabytes() -> None:
    message = _refused(b"\xff\xd8\xff" + b"\x00" * (12 * 1024 * 1024))
    assert "(12 MB)" in message
    assert "Batasnya 10 MB" in message


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return _bomb_png()


def test_decompression_bomb_is_refused_without_decoding(bomb: bytes, no_decoding: None) -> None:
    assert len(bomb) < 200_000
    started = time.perf_counter()
    message = _refused(bomb)
    assert time.perf_counter() - started < 1.0
    assert "20000 x 20000" in message
    assert "16 megapiksel" in message  # a PNG: decoded at full size, so the tighter cap


def test_a_small_png_of_huge_dimensions_is_refused_from_its_header(no_decoding: None) -> None:
    # The file: a ~40 KB 6300 x 6300 PNG, under the 40 MP JPEG limit but decoded at full size
    # (1.3-2.6 s of CPU each). PNG and WebP get a tighter cap, checked before any pixel is decoded.
    data = _flat_png(6300, 6300)
    assert len(data) < 60_000
    message = _refused(data)
    assert "6300 x 6300 piksel" in message and "16 megapiksel" in message
    webp = io.BytesIO()
    Image.new("L", (5000, 4000)).save(webp, "WEBP", lossless=True)
    assert "5000 x 4000 piksel" in _refused(webp.getvalue())


def test_a_big_jpeg_is_still_taken_and_decoded_scaled_down() -> None:
    # JPEG decodes at 1/2, 1/4 or 1/8 scale (draft), so a 24 MP camera photo stays cheap and welcome.
    photo = process_photo(_jpeg((6000, 4000)))
    assert (photo.width, photo.height) == (1600, 1067)
    assert Image.MAX_IMAGE_PIXELS == photos_module.MAX_PIXELS  # Pillow's own guard, behind ours


def test_pillow_bomb_guard_is_caught_when_our_limit_is_looser(bomb: bytes, no_decoding: None) -> None:
    # With a huge max_pixels our header check passes, Pillow's own guard must still stop it.
    started = time.perf_counter()
    message = _refused(bomb, max_pixels=10**12, max_unscaled_pixels=10**12)
    assert time.perf_counter() - started < 1.0
    assert "terlalu besar" in message


# --- broken files ----------------------------------------------------------------------------


def test_truncated_jpeg_is_refused() -> None:
    data = _jpeg((400, 300))
    message = _refused(data[: len(data) * 2 // 3])
    assert "tidak lengkap" in message


def test_truncated_png_is_refused() -> None:
    data = _png((400, 300))
    assert "tidak lengkap" in _refused(data[: len(data) // 2])


def test_corrupt_png_is_refused() -> None:
    data = bytearray(_png((100, 100)))
    idat = data.index(b"IDAT")
    data[idat + 10 : idat + 30] = b"\xaa" * 20  # breaks the CRC and the zlib stream
    assert "rusak" in _refused(bytes(data))


# --- polyglots -------------------------------------------------------------------------------


def _zip_payload() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("shell.php", "<?php system($_GET['c']); ?>")
    return buffer.getvalue()


@pytest.mark.parametrize(
    "payload",
    [
        b"<?php system($_GET['c']); ?>",
        _zip_payload(),
        b"<html><body><script>alert(document.cookie)</script></body></html>",
        bytes(range(256)) * 4,  # opaque binary junk
    ],
)
def test_jpeg_with_appended_payload_is_refused(payload: bytes) -> None:
    message = _refused(_jpeg() + payload)
    assert "keamanan" in message


def test_png_with_appended_payload_is_refused() -> None:
    assert "keamanan" in _refused(_png() + b"<?php echo 'pwned'; ?>")


def test_script_hidden_in_jpeg_comment_is_refused() -> None:
    assert "kode" in _refused(_jpeg(comment=b"<?php eval($_POST['x']); ?>"))


def test_html_before_image_bytes_is_refused() -> None:
    message = _refused(b"<html><img src=x onerror=alert(1)>" + _jpeg(), filename="foto.jpg")
    assert "teks atau kode" in message


def test_camera_trailer_is_accepted_and_stripped() -> None:
    # A "motion photo" appends an MP4 clip after the JPEG; that is a normal Android photo.
    clip = b"\x00\x00\x00\x18ftypmp42" + b"MOTIONCLIPDATA" * 50
    photo = process_photo(_jpeg() + clip)
    assert b"MOTIONCLIPDATA" not in photo.data
    assert b"ftyp" not in photo.data


def test_code_behind_a_fake_camera_trailer_comes_out_clean() -> None:
    # Dressed up as a motion photo, the payload gets past the trailer check, but not re-encoding.
    payload = b"<?php system($_GET['c']); ?>"
    photo = process_photo(_jpeg() + b"\x00\x00\x00\x18ftypmp42" + payload)
    assert payload not in photo.data
    assert b"<?php" not in photo.data


def test_multi_picture_jpeg_is_accepted() -> None:
    # MPF (depth map / second frame) stores further JPEGs after the first one's end marker.
    photo = process_photo(_jpeg((64, 48)) + _jpeg((32, 24), comment=b"SECONDFRAME"))
    assert (photo.width, photo.height) == (64, 48)
    assert b"SECONDFRAME" not in photo.data


def test_padding_after_end_marker_is_tolerated() -> None:
    process_photo(_jpeg() + b"\x00" * 500)


# --- resizing and formats --------------------------------------------------------------------


def test_large_jpeg_is_downscaled_to_max_side() -> None:
    photo = process_photo(_jpeg((4000, 3000)))
    assert (photo.width, photo.height) == (1600, 1200)
    assert _decode(photo).size == (1600, 1200)


def test_large_png_is_downscaled_to_custom_max_side() -> None:
    photo = process_photo(_png((1000, 2000)), max_side=500)
    assert (photo.width, photo.height) == (250, 500)


def test_small_image_is_not_upscaled() -> None:
    photo = process_photo(_jpeg((300, 200)))
    assert (photo.width, photo.height) == (300, 200)


def test_webp_output() -> None:
    photo = process_photo(_jpeg((800, 600)), fmt="WEBP")
    assert photo.mime == "image/webp"
    assert photo.ext == ".webp"
    assert photo.data[:4] == b"RIFF" and photo.data[8:12] == b"WEBP"
    image = _decode(photo)
    assert image.format == "WEBP" and image.size == (800, 600)
    assert not {"exif", "xmp", "icc_profile"} & set(image.info)


def test_webp_input_is_accepted() -> None:
    photo = process_photo(_webp((120, 80)), filename="wa.webp")
    assert (photo.width, photo.height) == (120, 80)


def test_unknown_output_format_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="GIF"):
        process_photo(_jpeg(), fmt="GIF")


@pytest.mark.parametrize(("size", "expected"), [(320, (320, 240)), (640, (640, 480))])
def test_thumbnail_sizes(size: int, expected: tuple[int, int]) -> None:
    source = process_photo(_jpeg((1600, 1200)))
    thumb = make_thumbnail(source.data, size)
    assert (thumb.width, thumb.height) == expected
    assert thumb.mime == "image/webp"
    assert _decode(thumb).size == expected


def test_portrait_thumbnail_uses_longest_side() -> None:
    thumb = make_thumbnail(_png((300, 900)), 320, fmt="JPEG")
    assert (thumb.width, thumb.height) == (107, 320)
    assert thumb.mime == "image/jpeg"


def test_placeholder_image() -> None:
    data = placeholder_image("Keripik Singkong Bu Sri", (200, 120, 40))
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG"
    assert image.size == (800, 600)
    colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
    assert colours is not None and len(colours) > 2  # the text is actually drawn
    # It is itself a valid upload.
    process_photo(data)


def test_placeholder_image_custom_size_and_dark_colour() -> None:
    image = Image.open(io.BytesIO(placeholder_image("Balai", (10, 30, 60), size=(320, 200))))
    assert image.size == (320, 200)


# --- fuzzing ---------------------------------------------------------------------------------

_SEED_JPEG = _jpeg((48, 32))
_SEED_PNG = _png((48, 32))
_PREFIXES = [
    b"",
    b"\xff\xd8\xff",
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
    b"\x89PNG\r\n\x1a\n",
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    b"RIFF\x00\x10\x00\x00WEBPVP8 ",
    b"RIFF\x00\x10\x00\x00WEBPVP8L",
    b"RIFF\x00\x10\x00\x00WEBPVP8X",
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prefix=st.sampled_from(_PREFIXES), body=st.binary(max_size=2048))
def test_random_bytes_only_raise_domain_error(prefix: bytes, body: bytes) -> None:
    with contextlib.suppress(DomainError):
        process_photo(prefix + body)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.sampled_from([_SEED_JPEG, _SEED_PNG]),
    edits=st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), min_size=1, max_size=8),
    cut=st.one_of(st.none(), st.integers(min_value=1)),
)
def test_mutated_images_only_raise_domain_error(
    seed: bytes, edits: list[tuple[int, int]], cut: int | None
) -> None:
    data = bytearray(seed)
    for position, value in edits:
        data[position % len(data)] = value
    if cut is not None:
        data = data[: cut % len(data) or 1]
    try:
        photo = process_photo(bytes(data), max_pixels=4_000_000)
    except DomainError:
        return
    assert _decode(photo).size == (photo.width, photo.height)


# --- storage ---------------------------------------------------------------------------------


def _files_under(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()]


def test_storage_round_trip(tmp_path: Path) -> None:
    store = PhotoStore(tmp_path / "uploads")
    name = store.save(b"photo-bytes", ".jpg")
    assert name.endswith(".jpg") and len(name) == 28
    path = store.path(name)
    assert path == (tmp_path / "uploads").resolve() / name[:2] / name[2:4] / name
    assert store.exists(name)
    assert store.open(name) == b"photo-bytes"
    assert _files_under(tmp_path) == [path]  # no temp file left over

    store.delete(name)
    assert not store.exists(name)
    store.delete(name)  # deleting again is fine
    with pytest.raises(FileNotFoundError):
        store.open(name)


def test_storage_names_are_random_and_ext_is_normalised(tmp_path: Path) -> None:
    store = PhotoStore(tmp_path)
    names = {store.save(b"x", "webp") for _ in range(20)}
    assert len(names) == 20
    assert all(name.endswith(".webp") for name in names)
    with pytest.raises(ValueError):
        store.save(b"x", ".php")


@pytest.mark.parametrize(
    "name",
    [
        "../../etc/passwd",
        "..",
        "",
        "/etc/passwd",
        "ab/cd/AAAAAAAAAAAAAAAAAAAAAAAA.jpg",
        "AAAAAAAAAAAAAAAAAAAAAAAA.php",
        "AAAAAAAAAAAAAAAAAAAAAAAA.jpg\n",
        "AAAAAAAAAAAAAAAAAAAAAAAA.jpg\x00.png",
        "../AAAAAAAAAAAAAAAAAAAAA.jpg",
        ".tmp-abcdefgh.part",
    ],
)
def test_storage_refuses_bad_names(tmp_path: Path, name: str) -> None:
    store = PhotoStore(tmp_path)
    with pytest.raises(InvalidPhotoName):
        store.path(name)
    with pytest.raises(InvalidPhotoName):
        store.open(name)
    with pytest.raises(InvalidPhotoName):
        store.delete(name)
    assert store.exists(name) is False


def test_storage_disk_full_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = PhotoStore(tmp_path)
    real_write = os.write
    calls = 0

    def write_then_fill_disk(fd: int, data: bytes) -> int:
        # First call writes a few bytes (a half-written file), then the disk is "full".
        nonlocal calls
        calls += 1
        if calls == 1:
            return real_write(fd, bytes(data[:4]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", write_then_fill_disk)
    with pytest.raises(StorageError) as info:
        store.save(b"a" * 10_000, ".jpg")
    assert "penuh" in str(info.value)
    assert isinstance(info.value, DomainError)
    assert _files_under(tmp_path) == []


def test_storage_other_os_errors_also_clean_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = PhotoStore(tmp_path)

    def broken_replace(src: str, dst: object) -> None:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(StorageError) as info:
        store.save(b"data", ".webp")
    assert "gangguan" in str(info.value)
    assert _files_under(tmp_path) == []


def test_storage_handles_short_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = PhotoStore(tmp_path)
    real_write = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: real_write(fd, bytes(data[:7])))
    payload = bytes(range(256)) * 10
    name = store.save(payload, ".png")
    monkeypatch.undo()
    assert store.open(name) == payload


def test_processed_photo_round_trips_through_store(tmp_path: Path) -> None:
    store = PhotoStore(tmp_path)
    photo = process_photo(_jpeg((100, 80)))
    name = store.save(photo.data, photo.ext)
    assert store.open(name) == photo.data


def test_module_exports() -> None:
    assert set(photos_module.__all__) == {
        "ProcessedPhoto",
        "make_thumbnail",
        "placeholder_image",
        "process_photo",
    }
