"""The region tree: importing the official codes and looking names up."""

from __future__ import annotations

import csv
import gzip
from collections.abc import Iterable, Iterator
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite

from app.extensions import db
from app.models import Region
from app.models.region import DISTRICT, PROVINCE, REGENCY, VILLAGE
from app.tenancy import refresh_search_texts

DATA_DIR = Path(__file__).parent / "data" / "wilayah"
FILES = (
    ("provinces", PROVINCE, None),
    ("regencies", REGENCY, "province_code"),
    ("districts", DISTRICT, "regency_code"),
    ("villages", VILLAGE, "district_code"),
)
BATCH = 5000


def read_regions(data_dir: Path = DATA_DIR) -> Iterator[dict]:
    """Every region of the shipped files as a row dict, parents before children."""
    for name, level, parent_field in FILES:
        path = data_dir / f"{name}.csv.gz"
        with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                yield {
                    "code": row["code"],
                    "parent_code": row[parent_field] if parent_field else None,
                    "level": level,
                    "name": row["name"].strip(),
                }


def import_regions(rows: Iterable[dict] | None = None) -> dict[str, int]:
    """Insert new regions and rename changed ones; running it again changes nothing."""
    rows = read_regions() if rows is None else rows
    existing = dict(db.session.execute(select(Region.code, Region.name)).all())
    inserted = renamed = 0
    batch: list[dict] = []
    for row in rows:
        name = existing.get(row["code"])
        if name is None:
            batch.append(row)
            inserted += 1
            if len(batch) >= BATCH:
                _insert(batch)
                batch = []
        elif name != row["name"]:
            db.session.execute(update(Region).where(Region.code == row["code"]).values(name=row["name"]))
            renamed += 1
    if batch:
        _insert(batch)
    if renamed:
        refresh_search_texts()  # the villages' search words carry region names
    db.session.commit()
    return {"inserted": inserted, "renamed": renamed, "total": len(existing) + inserted}


def _insert(batch: list[dict]) -> None:
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # Another importer running at the same time may have added the same codes.
    db.session.execute(insert(Region).on_conflict_do_nothing(index_elements=["code"]), batch)


def names_of(codes: Iterable[str | None]) -> dict[str, str]:
    """Names for a set of region codes, in one query."""
    wanted = {c for c in codes if c}
    if not wanted:
        return {}
    return dict(db.session.execute(select(Region.code, Region.name).where(Region.code.in_(wanted))).all())


def with_ancestors(codes: Iterable[str | None]) -> set[str]:
    """The codes and every code above them."""
    out: set[str] = set()
    for code in filter(None, codes):
        parts = code.split(".")
        out.update(".".join(parts[: i + 1]) for i in range(len(parts)))
    return out
