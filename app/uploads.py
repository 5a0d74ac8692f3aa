"""Stored photos that no row refers to any more, removed once a day.

A resident's photo (often of a KTP or KK) is stored as soon as the form arrives, before the request
is saved, so that a form sent back with an error keeps it (``residents.intake`` signs its name into
the form, valid for two days). A form never sent again leaves that photo behind; so does a write
cut short by a crash. Photos older than ``GRACE`` that no table names are deleted here.
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

# Longer than a kept photo's token lives (residents.intake.MAX_AGE, two days), so a form still open
# on a phone never loses its photo.
GRACE = timedelta(days=3)
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

PERIODIC.append(Periodic("app.uploads.sweep", queue="low", cron="45 2 * * *", name="upload-sweep"))


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
    upload_dir: str, *, grace: timedelta = GRACE, dry_run: bool = False, force: bool = False
) -> Swept:
    """Delete files under ``upload_dir`` older than ``grace`` that no row names.

    Forms left unsent are a small share of all photos. When most old photos look unreferenced, the
    database is more likely the wrong one (a worker started without DATABASE_URL, a staging copy
    over production's uploads): nothing is deleted then, unless ``force``.
    """
    store = PhotoStore(upload_dir)
    files = store.files_before(time.time() - grace.total_seconds())
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
    """Periodic (daily): remove stored photos nothing refers to."""
    result = sweep_folder(current_app.config["UPLOAD_DIR"])
    db.session.rollback()  # only reads here; leave no transaction open in the worker
    log.info("upload sweep: %s", result)
    return asdict(result)
