"""Stored photos that no row refers to any more, removed every hour.

A resident's photo (often of a KTP or KK) is stored as soon as the form arrives, before the request
is saved, so that a form sent back with an error keeps it (``residents.intake`` signs its name into
the form, valid for two hours after the form's last step, and marks the file as used at each step).
A form never sent again leaves that photo behind; so does a write cut short by a crash. Photos
untouched for longer than ``GRACE`` that no table names are deleted here: an identity photo of a
form someone abandoned (or a script's upload flood) stays on disk for hours, not days.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from datetime import timedelta
from itertools import islice

from flask import current_app
from sqlalchemy import select

from app.domain.storage import PhotoStore
from app.extensions import db
from app.jobs import PERIODIC, Periodic
from app.models import Attachment, Village
from app.models.bumdes import ProductPhoto
from app.models.profile import ProjectPhoto

log = logging.getLogger(__name__)

# Longer than a kept photo's token lives (residents.intake.MAX_AGE, two hours from the form's last
# step), so a form still open on a phone never loses a photo its token still names.
GRACE = timedelta(hours=2, minutes=30)
# The hourly sweep looks only at files changed within this long (the daily one at all of them), so
# a large store is not read in full every hour.
RECENT = timedelta(days=1, hours=2)
# Every column that holds the name of a stored file.
REFERENCES = (
    Attachment.stored_name,
    ProductPhoto.stored_name,
    ProductPhoto.small_name,
    ProductPhoto.medium_name,
    ProjectPhoto.stored_name,
    ProjectPhoto.small_name,
    Village.logo,
)
BATCH = 500
# Past this many, more unreferenced old photos than referenced ones stops the sweep (see below).
SUSPICIOUS_COUNT = 50

PERIODIC.extend(
    [
        Periodic("app.uploads.sweep", queue="low", cron="45 * * * *", name="upload-sweep"),
        Periodic("app.uploads.sweep_all", queue="low", cron="50 2 * * *", name="upload-sweep-all"),
    ]
)


@dataclass(frozen=True)
class Swept:
    photos: int
    leftovers: int
    kept: int
    refused: bool = False


def referenced(names: list[str]) -> set[str]:
    """Which of ``names`` some row still refers to."""
    found: set[str] = set()
    for column in REFERENCES:
        found.update(db.session.scalars(select(column).where(column.in_(names))))
    return found


def sweep_folder(
    upload_dir: str,
    *,
    grace: timedelta = GRACE,
    within: timedelta | None = None,
    dry_run: bool = False,
    force: bool = False,
) -> Swept:
    """Delete files under ``upload_dir`` older than ``grace`` (and, with ``within``, younger than
    that) that no row names.

    Forms left unsent are a small share of all photos. When most old photos look unreferenced, the
    database is more likely the wrong one (a worker started without DATABASE_URL, a staging copy
    over production's uploads): nothing is deleted then, unless ``force``.
    """
    store = PhotoStore(upload_dir)
    now = time.time()
    since = now - within.total_seconds() if within is not None else None
    files = store.files_before(now - grace.total_seconds(), since)
    doomed: list = []
    photos = leftovers = kept = 0
    while batch := list(islice(files, BATCH)):
        names = [name for name, _ in batch if name is not None]
        in_use = referenced(names) if names else set()
        kept += len(in_use)
        for name, path in batch:
            if name is None:
                leftovers += 1
            elif name in in_use:
                continue
            else:
                photos += 1
            doomed.append(path)
    refused = not force and photos >= SUSPICIOUS_COUNT and photos > kept
    if refused:
        log.error(
            "upload sweep refused: %s of %s old photos in %s are named by no row of this database; "
            "check DATABASE_URL and UPLOAD_DIR, then run `flask uploads sweep --force`",
            photos,
            photos + kept,
            upload_dir,
        )
    elif not dry_run:
        for path in doomed:
            path.unlink(missing_ok=True)
    return Swept(photos=photos, leftovers=leftovers, kept=kept, refused=refused)


def sweep() -> dict:
    """Periodic (hourly): remove recent stored photos nothing refers to (forms left unsent)."""
    return _periodic(within=RECENT)


def sweep_all() -> dict:
    """Periodic (daily): the same over every stored file, however old."""
    return _periodic(within=None)


def _periodic(within: timedelta | None) -> dict:
    result = sweep_folder(current_app.config["UPLOAD_DIR"], within=within)
    db.session.rollback()  # only reads here; leave no transaction open in the worker
    log.info("upload sweep: %s", result)
    return asdict(result)
