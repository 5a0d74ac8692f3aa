"""Upload storage on local disk: random names, sharded folders, atomic writes.

Files live under a root outside any web root (the app passes ``instance/uploads``) and are only
ever reached through ``PhotoStore.path``, which accepts nothing but names this store generated.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path

from app.domain.errors import N_, DomainError

__all__ = ["ALLOWED_EXTENSIONS", "InvalidPhotoName", "PhotoStore", "StorageError"]

ALLOWED_EXTENSIONS = frozenset({".jpg", ".webp", ".png"})

# secrets.token_urlsafe(18) is exactly 24 URL-safe base64 characters (144 random bits).
_NAME_RE = re.compile(r"\A[A-Za-z0-9_-]{24}\.(?:jpg|webp|png)\Z")

# Errors that mean "out of space" rather than "something is broken".
_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}


class StorageError(DomainError):
    """Saving a photo failed on the server side; nothing was left behind."""


class InvalidPhotoName(ValueError):
    """A stored-photo name that this store could never have produced (treat as not found)."""


class PhotoStore:
    """Stores photo bytes under random names in two-level shard folders below ``root``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()

    def save(self, data: bytes, ext: str) -> str:
        """Write ``data`` atomically under a new random name ending in ``ext``; return the name."""
        ext = ext.lower() if ext.startswith(".") else "." + ext.lower()
        if ext not in ALLOWED_EXTENSIONS:
            raise ValueError(f"extension {ext!r} is not allowed; use one of {sorted(ALLOWED_EXTENSIONS)}")
        name = secrets.token_urlsafe(18) + ext
        final = self.path(name)
        tmp_path: str | None = None
        fd: int | None = None
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            # Temp file in the same folder, so os.replace is a same-filesystem atomic rename and
            # readers see either no file or the whole file. The dot prefix keeps it from ever
            # matching _NAME_RE, so a leftover from a crash can never be served. mkstemp makes it
            # 0600: only the app user reads uploads, as the app serves them itself.
            fd, tmp_path = tempfile.mkstemp(prefix=".tmp-", suffix=".part", dir=final.parent)
            view = memoryview(data)
            while view:
                written = os.write(fd, view)  # may write less than asked; loop until done
                view = view[written:]
            os.fsync(fd)
            os.close(fd)
            fd = None
            os.replace(tmp_path, final)
            tmp_path = None
            _fsync_dir(final.parent)
        except OSError as exc:
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
            if tmp_path is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp_path)
            if exc.errno in _FULL_ERRNOS:
                raise StorageError(
                    N_(
                        "Penyimpanan server penuh, coba lagi nanti. Foto Anda belum tersimpan; "
                        "kalau masalah ini berlanjut, beri tahu petugas desa."
                    )
                ) from exc
            raise StorageError(
                N_(
                    "Foto gagal disimpan karena ada gangguan di server. Foto Anda belum tersimpan; "
                    "coba lagi nanti, dan kalau masalah ini berlanjut, beri tahu petugas desa."
                )
            ) from exc
        return name

    def path(self, name: str) -> Path:
        """Return the on-disk path of stored ``name``; raise InvalidPhotoName for anything else."""
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise InvalidPhotoName(f"invalid stored photo name: {name!r}")
        # Shard by the first four characters: keeps every folder small (64 * 64 buckets).
        candidate = self.root / name[0:2] / name[2:4] / name
        # The regex already rules out separators and "..", this is a second fence.
        if not candidate.resolve().is_relative_to(self.root):
            raise InvalidPhotoName(f"invalid stored photo name: {name!r}")
        return candidate

    def open(self, name: str) -> bytes:
        """Return the bytes of stored ``name``; raise FileNotFoundError if it is not there."""
        return self.path(name).read_bytes()

    def touch(self, name: str) -> None:
        """Mark stored ``name`` as just used, so the sweep of unreferenced photos measures from now."""
        with contextlib.suppress(FileNotFoundError):
            os.utime(self.path(name))

    def delete(self, name: str) -> None:
        """Remove stored ``name``; a file that is already gone is not an error."""
        self.path(name).unlink(missing_ok=True)

    def files_before(self, cutoff: float, since: float | None = None) -> Iterator[tuple[str | None, Path]]:
        """Each file last changed before ``cutoff`` (and not before ``since``, when given; both
        timestamps): its stored name, or None for the leftover of a write that never finished."""
        if not self.root.is_dir():
            return
        for first in _folders(self.root):
            for second in _folders(first):
                with os.scandir(second) as entries:
                    for entry in entries:
                        if not entry.is_file(follow_symlinks=False):
                            continue
                        changed = entry.stat(follow_symlinks=False).st_mtime
                        if changed >= cutoff or (since is not None and changed < since):
                            continue
                        if _NAME_RE.match(entry.name):
                            yield entry.name, Path(entry.path)
                        elif entry.name.startswith(".tmp-") and entry.name.endswith(".part"):
                            yield None, Path(entry.path)

    def exists(self, name: str) -> bool:
        """Tell whether ``name`` is a valid stored-photo name with a file behind it."""
        try:
            return self.path(name).is_file()
        except InvalidPhotoName:
            return False


def _folders(parent: Path) -> list[Path]:
    """The two-character shard folders directly under ``parent``."""
    with os.scandir(parent) as entries:
        return [Path(e.path) for e in entries if len(e.name) == 2 and e.is_dir(follow_symlinks=False)]


def _fsync_dir(folder: Path) -> None:
    """Flush the folder entry so the rename survives a power cut; best effort, not all OSes allow it."""
    try:
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
