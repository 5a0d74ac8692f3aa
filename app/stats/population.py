"""Population figures of regions and villages as the public sees them (no HTTP, no templates).

Each village's register is aggregated when its data arrives (``population_stats``). A job then sums
those rows over every region of the province and applies small-cell suppression across the whole
tree at once (app/domain/suppression.py): a count from 1 to 4 is hidden, and so is whatever would
give it back from a total, on any page of any level. The result is ``population_published``, which
the pages and the API only read: a province page reads a few hundred rows, never a resident.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import and_, func, insert, literal, or_, select, tuple_, union_all, update
from sqlalchemy.dialects import postgresql, sqlite

from app.access import region_prefix_filter
from app.domain import opensid
from app.domain.errors import N_
from app.domain.suppression import COMPLEMENT, SHOWN, SMALL, shown, suppress
from app.extensions import db
from app.jobs import PERIODIC, Periodic, enqueue
from app.models import Region, Village, utcnow
from app.models.population import (
    SOURCE_IMPORT,
    SOURCE_OPENDK,
    SOURCE_TYPED,
    AidProgramme,
    AidRecipient,
    PopulationSource,
    PopulationStat,
    PublishedStat,
    PublishState,
    SyncedReport,
)
from app.models.profile import BudgetLine, Project, VillageProfile

log = logging.getLogger(__name__)

PERIODIC.extend(
    [
        Periodic(
            "app.stats.population.publish_due",
            queue="low",
            interval=60,
            timeout=900,
            name="population-publish",
        ),
        # Typed profiles, Balai projects and budgets change without a push: once a day, everything.
        Periodic(
            "app.stats.population.publish_all",
            queue="low",
            cron="20 3 * * *",
            timeout=3600,
            name="population-daily",
        ),
    ]
)

# Counts of people, and counts of documents (suppressed the same way).
PERSON_DIMENSIONS = (
    "total",
    "households",
    "sex",
    "age",
    "education",
    "occupation",
    "religion",
    "marital",
    "aid",
    "aid_all",
)
DOCUMENT_DIMENSIONS = ("programmes", "projects", "apbdes")
PARTITIONS = ("sex", "education", "occupation", "religion", "marital")
SEXES = ("L", "P", "")
STALE_AFTER = timedelta(days=30)
LIST_LIMIT = 60

SOURCE_LABELS = {
    SOURCE_OPENDK: N_("Sinkronisasi OpenSID"),
    SOURCE_IMPORT: N_("Impor berkas"),
    SOURCE_TYPED: N_("Diketik di profil desa"),
}
DIMENSION_LABELS = {
    "education": N_("Pendidikan (dalam KK)"),
    "occupation": N_("Pekerjaan"),
    "religion": N_("Agama"),
    "marital": N_("Status perkawinan"),
}
NOT_RECORDED = N_("Tidak tercatat")


# --- keeping the published figures in step ----------------------------------------------------


def _upsert(model, values: dict, index: list[str], set_: dict) -> None:
    dialect = db.session.get_bind().dialect.name
    make = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = make(model).values(**values)
    db.session.execute(stmt.on_conflict_do_update(index_elements=index, set_=set_))


def mark_dirty(region_code: str) -> None:
    """Note (in the caller's transaction) that a province's published figures are behind."""
    province = region_code[:2]
    _upsert(
        PublishState,
        {"province_code": province, "version": 1, "published_version": 0},
        ["province_code"],
        {"version": PublishState.version + 1},
    )


def publish_soon(region_code: str) -> None:
    """Publish the province once the caller commits (one job per province at a time)."""
    province = region_code[:2]
    enqueue(
        "app.stats.population.publish_recent",
        province,
        queue="low",
        timeout=900,
        job_id=f"population-publish-{province}",
    )


def publish_recent(province: str) -> dict | None:
    """Job after a push: publish now, unless the province was published moments ago.

    A province's publication takes seconds; when its villages push in a burst, the periodic
    ``publish_due`` (every minute) publishes what the skipped runs left behind, once.
    """
    state = db.session.get(PublishState, province)
    every = timedelta(seconds=float(current_app.config.get("POPULATION_PUBLISH_EVERY", 60)))
    recent = state is not None and state.published_at is not None and utcnow() - state.published_at < every
    behind = state is None or state.version > state.published_version
    db.session.rollback()
    if not behind or recent:
        return None
    return publish(province)


def publish_due() -> list[str]:
    """Periodic: publish every province whose figures are behind its villages' data."""
    due = list(
        db.session.scalars(
            select(PublishState.province_code).where(PublishState.version > PublishState.published_version)
        )
    )
    db.session.rollback()
    for province in due:
        publish(province)
    return due


def publish_all() -> list[str]:
    """Periodic (daily): publish every province that has villages on Balai."""
    provinces = sorted({code[:2] for code in db.session.scalars(select(Village.region_code))})
    db.session.rollback()
    for province in provinces:
        publish(province)
    return provinces


def _parents(code: str) -> list[str]:
    parts = code.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def province_values(province: str) -> tuple[dict, dict, set]:
    """({(node, dimension, key): n} for people, the same for documents, the village codes)."""
    in_province = Village.region_code.like(province + ".%")
    villages = dict(
        db.session.execute(
            select(Village.id, Village.region_code).where(in_province, Village.active.is_(True))
        ).all()
    )
    people: dict = defaultdict(int)
    documents: dict = defaultdict(int)
    nodes_of = {vid: _parents(code) for vid, code in villages.items()}

    def add(target: dict, village_id: int, dimension: str, key: str, n: int) -> None:
        for node in nodes_of.get(village_id, ()) if n else ():
            target[node, dimension, key] += n

    for village_id, dimension, key, n in db.session.execute(
        select(PopulationStat.village_id, PopulationStat.dimension, PopulationStat.key, PopulationStat.n)
        .join(Village, Village.id == PopulationStat.village_id)
        .where(in_province)
    ):
        for node in nodes_of.get(village_id, ()) if n else ():
            people[node, dimension, key] += n
    with_register = set(
        db.session.scalars(
            select(PopulationSource.village_id)
            .join(Village, Village.id == PopulationSource.village_id)
            .where(in_province)
        )
    )
    for profile in db.session.scalars(
        select(VillageProfile)
        .join(Village, Village.id == VillageProfile.village_id)
        .where(in_province, VillageProfile.population.is_not(None))
    ):
        if profile.village_id in with_register:
            continue
        for (dimension, key), n in typed_stats(profile).items():
            add(people, profile.village_id, dimension, key, n)
    for village_id, target, n in db.session.execute(
        select(AidRecipient.village_id, AidRecipient.target, func.count())
        .join(Village, Village.id == AidRecipient.village_id)
        .where(in_province)
        .group_by(AidRecipient.village_id, AidRecipient.target)
    ):
        add(people, village_id, "aid", str(target), n)
        add(people, village_id, "aid_all", "", n)
    counts = (
        ("programmes", select(AidProgramme.village_id, func.count()).group_by(AidProgramme.village_id)),
        ("projects", select(Project.village_id, func.count()).group_by(Project.village_id)),
        (
            "apbdes",
            select(SyncedReport.village_id, func.count())
            .where(SyncedReport.kind == "apbdes")
            .group_by(SyncedReport.village_id),
        ),
        (
            "apbdes",
            select(BudgetLine.village_id, func.count(func.distinct(BudgetLine.year))).group_by(
                BudgetLine.village_id
            ),
        ),
    )
    for dimension, stmt in counts:
        for village_id, n in db.session.execute(stmt):
            add(documents, village_id, dimension, "", n)
    return dict(people), dict(documents), set(villages.values())


def typed_stats(profile: VillageProfile) -> dict[tuple[str, str], int]:
    """The few figures a village typed into its profile, laid out like a register's aggregates."""
    male, female = max(profile.male or 0, 0), max(profile.female or 0, 0)
    total = max(profile.population or 0, male + female)
    unknown_sex = total - male - female
    out = {("total", ""): total, ("sex", "L"): male, ("sex", "P"): female, ("sex", ""): unknown_sex}
    out.update({("age", "??L"): male, ("age", "??P"): female, ("age", "??"): unknown_sex})
    for dimension in PARTITIONS[1:]:
        out[dimension, ""] = total
    if profile.households:
        out["households", ""] = max(profile.households, 0)
    return {k: v for k, v in out.items() if v}


def equations(values: dict) -> list[tuple]:
    """Every sum a reader of the published pages could use: breakdowns within a region, and the same
    figure over the regions below it."""
    keys: dict = defaultdict(lambda: defaultdict(set))
    children: dict = defaultdict(set)
    for node, dimension, key in values:
        keys[node][dimension].add(key)
        if "." in node:
            children[node.rsplit(".", 1)[0]].add(node)
    out = []
    for node, dims in keys.items():
        for dimension in PARTITIONS:
            out.append(((node, "total", ""), [(node, dimension, k) for k in dims.get(dimension, ())]))
        for sex in SEXES:
            parts = [(node, "age", k) for k in dims.get("age", ()) if k[2:] == sex]
            out.append(((node, "sex", sex), parts))
        if "aid" in dims:
            out.append(((node, "aid_all", ""), [(node, "aid", k) for k in dims["aid"]]))
    for parent, kids in children.items():
        for dimension, dim_keys in keys[parent].items():
            for key in dim_keys:
                out.append(((parent, dimension, key), [(child, dimension, key) for child in kids]))
    return out


def _published_rows():
    return select(
        PublishedStat.region_code,
        PublishedStat.dimension,
        PublishedStat.key,
        PublishedStat.n,
        PublishedStat.mark,
    )


def publish(province: str) -> dict:
    """Recompute a province's published figures and store what changed."""
    # First a write: one publisher per province at a time (and, on SQLite, a snapshot taken after it).
    db.session.execute(
        update(PublishState)
        .where(PublishState.province_code == province)
        .values(version=PublishState.version)
    )
    state = db.session.get(PublishState, province)
    version = state.version if state else 0
    people, documents, _codes = province_values(province)
    # Counts of documents (projects, programmes, reports) follow the same rule: no 1 to 4 is published.
    values = {**people, **documents}
    marks = suppress(values, equations(values))
    wanted = {cell: (n, marks.get(cell, SHOWN)) for cell, n in values.items()}
    in_province = or_(PublishedStat.region_code == province, PublishedStat.region_code.like(province + ".%"))
    existing = {
        (r.region_code, r.dimension, r.key): (r.n, r.mark)
        for r in db.session.execute(_published_rows().where(in_province))
    }
    gone = [k for k in existing if k not in wanted]
    new = [k for k in wanted if k not in existing]
    changed = [k for k in wanted if k in existing and existing[k] != wanted[k]]
    pk = tuple_(PublishedStat.region_code, PublishedStat.dimension, PublishedStat.key)
    for start in range(0, len(gone), 500):
        db.session.execute(PublishedStat.__table__.delete().where(pk.in_(gone[start : start + 500])))
    if new:
        rows = [
            {
                "region_code": node,
                "dimension": dimension,
                "key": key,
                "parent_code": node.rsplit(".", 1)[0] if "." in node else "",
                "n": wanted[node, dimension, key][0],
                "mark": wanted[node, dimension, key][1],
            }
            for node, dimension, key in new
        ]
        for start in range(0, len(rows), 5000):
            db.session.execute(insert(PublishedStat), rows[start : start + 5000])
    for node, dimension, key in changed:
        n, mark = wanted[node, dimension, key]
        db.session.execute(
            update(PublishedStat)
            .where(
                PublishedStat.region_code == node,
                PublishedStat.dimension == dimension,
                PublishedStat.key == key,
            )
            .values(n=n, mark=mark)
        )
    _upsert(
        PublishState,
        {
            "province_code": province,
            "version": version,
            "published_version": version,
            "published_at": utcnow(),
        },
        ["province_code"],
        {"published_version": version, "published_at": utcnow()},
    )
    db.session.commit()
    summary = {
        "province": province,
        "cells": len(wanted),
        "new": len(new),
        "changed": len(changed),
        "gone": len(gone),
    }
    log.info("population published: %s", summary)
    return summary


# --- reading for pages and the API ---------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    n: int
    mark: int = SHOWN

    @property
    def text(self) -> str:
        return shown(self.n, self.mark)

    @property
    def hidden(self) -> bool:
        return self.mark != SHOWN

    @property
    def value(self) -> int | None:
        """The count when it may be published, else None."""
        return None if self.hidden else self.n

    def as_json(self) -> dict:
        return {"n": self.value, "suppressed": None if not self.hidden else self.text}


ZERO = Figure(0)


@dataclass
class ChildRow:
    code: str
    name: str
    figures: dict[str, Figure]


@dataclass
class SourceRow:
    source: str
    villages: int
    residents: int
    newest: date | None
    oldest: date | None


@dataclass
class VillageRef:
    code: str
    name: str
    when: date | None = None


@dataclass
class PopulationView:
    region: Region
    cells: dict[tuple[str, str], Figure]
    children: list[ChildRow]
    sources: list[SourceRow]
    stale: list[VillageRef]
    stale_count: int
    missing: list[VillageRef]
    missing_count: int
    not_on_balai: int
    published_at: datetime | None
    today: date
    child_label: str = ""
    rows_read: int = 0
    pending: bool = False
    extra: dict = field(default_factory=dict)

    def get(self, dimension: str, key: str = "") -> Figure:
        return self.cells.get((dimension, key), ZERO)

    @property
    def has_data(self) -> bool:
        return self.get("total").n > 0

    def breakdown(self, dimension: str) -> list[tuple[str, str, Figure]]:
        """(key, label, figure) of a breakdown, largest first, "not recorded" last."""
        rows = [(k, f) for (d, k), f in self.cells.items() if d == dimension]
        rows.sort(key=lambda kf: (kf[0] == "", -kf[1].n if not kf[1].hidden else 0, kf[0]))
        return [(k, key_label(dimension, k), f) for k, f in rows]

    def pyramid(self) -> list[tuple[str, Figure, Figure]]:
        """(band label, men, women) from the oldest band down, as a pyramid is read."""
        bands = [f"{b:02d}" for b in opensid.AGE_BANDS]
        if any(d == "age" and k.startswith("??") for d, k in self.cells):
            bands.append("??")
        return [
            (opensid.band_label(b), self.get("age", b + "L"), self.get("age", b + "P"))
            for b in reversed(bands)
        ]


def key_label(dimension: str, key: str) -> str:
    """A readable name for a key (untranslated data labels; "" is shown as not recorded by the page)."""
    if key == "":
        return ""
    if dimension == "aid":
        return opensid.TARGETS.get(int(key), key) if key.isdigit() else key
    if dimension == "sex":
        return {"L": "Laki-laki", "P": "Perempuan"}.get(key, key)
    if dimension in DIMENSION_LABELS:
        code = int(key) if key.isdigit() else None
        return opensid.label(dimension, code) if code is not None else key
    return key


CHILD_DIMENSIONS = (("total", ""), ("households", ""), ("sex", "L"), ("sex", "P"), ("aid_all", ""))


def view(code: str, today: date, *, summary: bool = False) -> PopulationView | None:
    """Everything a region (or village) page shows about population, from the published rows.

    ``summary``: only what the region dashboard shows (the region's own figures, sources, how many
    villages are stale or missing), without the regions below, the lists of villages and the count
    of villages not on Balai, which only the population page and the API show.
    """
    region = db.session.get(Region, code)
    if region is None:
        return None
    own = db.session.execute(
        select(PublishedStat.dimension, PublishedStat.key, PublishedStat.n, PublishedStat.mark).where(
            PublishedStat.region_code == code
        )
    ).all()
    cells = {(d, k): Figure(n, mark) for d, k, n, mark in own}
    children: list[ChildRow] = []
    rows_read = len(own)
    if region.level < 4 and not summary:
        names = dict(
            db.session.execute(select(Region.code, Region.name).where(Region.parent_code == code)).all()
        )
        wanted = or_(
            *(and_(PublishedStat.dimension == d, PublishedStat.key == k) for d, k in CHILD_DIMENSIONS)
        )
        by_child: dict = defaultdict(dict)
        for child, d, k, n, mark in db.session.execute(
            _published_rows().where(PublishedStat.parent_code == code, wanted)
        ):
            by_child[child][d if d != "sex" else f"sex_{k}"] = Figure(n, mark)
            rows_read += 1
        children = [ChildRow(c, names.get(c, c), figs) for c, figs in by_child.items()]
        children.sort(key=lambda r: r.name)
    sources, stale, stale_count, missing, missing_count, not_on_balai = _freshness(region, today, not summary)
    province_state = db.session.get(PublishState, code[:2])
    label = {1: N_("Kabupaten/kota"), 2: N_("Kecamatan"), 3: N_("Desa/kelurahan")}.get(region.level, "")
    return PopulationView(
        region=region,
        cells=cells,
        children=children,
        sources=sources,
        stale=stale,
        stale_count=stale_count,
        missing=missing,
        missing_count=missing_count,
        not_on_balai=not_on_balai,
        published_at=province_state.published_at if province_state else None,
        pending=bool(province_state and province_state.version > province_state.published_version),
        today=today,
        child_label=label,
        rows_read=rows_read,
    )


def _freshness(region: Region, today: date, details: bool = True):
    """Where the figures come from, and which villages are stale (no push for 30 days) or missing
    (with ``details``: the first of them by name, and how many villages are not on Balai)."""
    in_region = region_prefix_filter(Village.region_code, region.code)
    stale_before = utcnow() - STALE_AFTER
    # One pass over the region's villages (a province has thousands): a row per source, and one
    # (source NULL) for the villages without a register, whose typed profiles count instead.
    typed = VillageProfile.population.is_not(None)
    sources: dict[str, SourceRow] = {}
    on_balai = missing_count = stale_count = 0
    for row in db.session.execute(
        select(
            PopulationSource.source,
            func.count().label("villages"),
            func.sum(PopulationSource.residents).label("residents"),
            func.max(PopulationSource.as_of).label("newest"),
            func.min(PopulationSource.as_of).label("oldest"),
            func.count().filter(PopulationSource.pushed_at < stale_before).label("stale"),
            func.count().filter(typed).label("typed"),
            func.sum(VillageProfile.population).filter(typed).label("typed_residents"),
            func.max(VillageProfile.updated_at).filter(typed).label("typed_newest"),
            func.min(VillageProfile.updated_at).filter(typed).label("typed_oldest"),
        )
        .select_from(Village)
        .outerjoin(PopulationSource, PopulationSource.village_id == Village.id)
        .outerjoin(VillageProfile, VillageProfile.village_id == Village.id)
        .where(in_region, Village.active.is_(True))
        .group_by(PopulationSource.source)
    ):
        on_balai += row.villages
        stale_count += row.stale
        if row.source is not None:
            sources[row.source] = SourceRow(
                row.source, row.villages, int(row.residents or 0), row.newest, row.oldest
            )
            continue
        missing_count = row.villages
        if row.typed:
            sources[SOURCE_TYPED] = SourceRow(
                SOURCE_TYPED,
                row.typed,
                int(row.typed_residents or 0),
                _day(row.typed_newest),
                _day(row.typed_oldest),
            )
    stale, missing = [], []
    if details and (stale_count or missing_count):
        for kind, code, name, when in db.session.execute(_lists(in_region, stale_before)):
            (stale if kind == "stale" else missing).append(VillageRef(code, name, _day(when)))
    if not details:
        everywhere = 0
    elif region.level == 4:
        everywhere = 1
    else:
        everywhere = db.session.scalar(select(func.count()).select_from(_villages_below(region)))
    order = [SOURCE_OPENDK, SOURCE_IMPORT, SOURCE_TYPED]
    return (
        [sources[s] for s in order if s in sources],
        stale,
        stale_count,
        missing,
        missing_count,
        max(everywhere - on_balai, 0),
    )


def _lists(in_region, stale_before: datetime):
    """The first stale villages (oldest push first) and missing ones (by name), in one statement.

    The region's villages are read first and once (materialised): ordered by name alone, the planner
    walked the name index of every village in the country looking for a province's first 60.
    """
    here = (
        select(Village.region_code, Village.name, PopulationSource.pushed_at, PopulationSource.village_id)
        .outerjoin(PopulationSource, PopulationSource.village_id == Village.id)
        .where(in_region, Village.active.is_(True))
        .cte("here")
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )
    stale = (
        select(literal("stale").label("kind"), here.c.region_code, here.c.name, here.c.pushed_at)
        .where(here.c.pushed_at < stale_before)
        .order_by(here.c.pushed_at)
        .limit(LIST_LIMIT)
        .subquery()
    )
    missing = (
        select(literal("missing").label("kind"), here.c.region_code, here.c.name, here.c.pushed_at)  # NULL
        .where(here.c.village_id.is_(None))
        .order_by(here.c.name)
        .limit(LIST_LIMIT)
        .subquery()
    )
    return union_all(select(stale), select(missing))


def _villages_below(region: Region):
    """The village codes under a region, walking the tree by its indexed parent codes (no LIKE scan)."""
    codes = select(Region.code).where(Region.parent_code == region.code)
    for _level in range(region.level + 1, 4):
        codes = select(Region.code).where(Region.parent_code.in_(codes))
    return codes.subquery()


def _day(moment) -> date | None:
    if moment is None:
        return None
    return moment.date() if isinstance(moment, datetime) else moment


def source_of_village(village_id: int) -> PopulationSource | None:
    return db.session.get(PopulationSource, village_id)


__all__ = ["COMPLEMENT", "SMALL", "Figure", "PopulationView", "mark_dirty", "publish", "publish_soon", "view"]
