"""Smart Village indicators: the five pillars, what operators answer, what Balai computes, ranking.

No HTTP here. Operator answers are yes/no; computed indicators are shares between 0 and 1 that
count as met above a threshold. A pillar's score is the share of its indicators met (0-100).
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select

from app.access import region_prefix_filter
from app.domain.errors import N_, DomainError
from app.extensions import db
from app.models import Region, ServiceRequest, Village
from app.models.profile import (
    IDM_LABELS,
    IDM_STATUSES,
    Announcement,
    BudgetLine,
    IdmStatus,
    IndicatorValue,
    SmartVillageSite,
)
from app.models.stats import CompletionCount

PILLARS: tuple[tuple[str, str], ...] = (
    ("institution", N_("Smart Institution (kelembagaan)")),
    ("infrastructure", N_("Smart Infrastructure (infrastruktur)")),
    ("service", N_("Smart Service Delivery (pelayanan)")),
    ("technology", N_("Smart Technology & Innovation (teknologi dan inovasi)")),
    ("society", N_("Smart Societies (masyarakat)")),
)


@dataclass(frozen=True)
class Indicator:
    key: str
    pillar: str
    label: str
    computed: bool = False
    threshold: float = 0.5  # computed shares at or above this count as met


INDICATORS: tuple[Indicator, ...] = (
    Indicator(
        "sk_tim_smart_village", "institution", N_("Ada SK tim atau peraturan desa tentang desa cerdas")
    ),
    Indicator("perangkat_lengkap", "institution", N_("Perangkat desa lengkap dan bekerja penuh waktu")),
    Indicator(
        "apbdes_terbuka", "institution", N_("APBDes tahun ini diumumkan di Balai"), computed=True, threshold=1
    ),
    Indicator(
        "pengumuman_rutin",
        "institution",
        N_("Ada pengumuman desa dalam 3 bulan terakhir"),
        computed=True,
        threshold=1,
    ),
    Indicator("internet_balai", "infrastructure", N_("Ada internet di balai desa")),
    Indicator("sinyal_4g", "infrastructure", N_("Sinyal 4G menjangkau sebagian besar dusun")),
    Indicator("listrik_24jam", "infrastructure", N_("Listrik menyala 24 jam")),
    Indicator("jalan_baik", "infrastructure", N_("Jalan desa bisa dilalui roda empat sepanjang tahun")),
    Indicator("ruang_layanan", "service", N_("Ada ruang pelayanan terpadu di balai desa")),
    Indicator("share_online", "service", N_("Sebagian besar permohonan diajukan daring"), computed=True),
    Indicator(
        "share_sla",
        "service",
        N_("Sebagian besar permohonan selesai tepat waktu"),
        computed=True,
        threshold=0.8,
    ),
    Indicator("website_desa", "technology", N_("Desa punya situs web")),
    Indicator("administrasi_ti", "technology", N_("Administrasi desa memakai aplikasi (SID/Siskeudes)")),
    Indicator("inovasi_desa", "technology", N_("Ada inovasi desa yang tercatat")),
    Indicator("penjualan_online", "society", N_("Usaha warga berjualan secara daring")),
    Indicator("kader_digital", "society", N_("Ada kader digital desa")),
    Indicator(
        "produk_bumdes", "society", N_("BUMDes menerbitkan produk di Balai"), computed=True, threshold=1
    ),
)
INDICATOR_LABELS: dict[str, str] = {i.key: i.label for i in INDICATORS}
OPERATOR_INDICATORS = tuple(i for i in INDICATORS if not i.computed)
OPERATOR_KEYS = frozenset(i.key for i in OPERATOR_INDICATORS)


@dataclass
class VillageScore:
    village: Village
    answers: dict[str, bool] = field(default_factory=dict)
    computed: dict[str, float] = field(default_factory=dict)
    idm_status: str | None = None
    idm_score: float | None = None
    site_years: list[int] = field(default_factory=list)

    def met(self, ind: Indicator) -> bool:
        if ind.computed:
            return self.computed.get(ind.key, 0.0) >= ind.threshold
        return bool(self.answers.get(ind.key))

    def pillar_score(self, pillar: str) -> int:
        items = [i for i in INDICATORS if i.pillar == pillar]
        return round(100 * sum(self.met(i) for i in items) / len(items))

    @property
    def pillar_scores(self) -> dict[str, int]:
        return {key: self.pillar_score(key) for key, _label in PILLARS}

    @property
    def score(self) -> float:
        scores = self.pillar_scores.values()
        return round(sum(scores) / len(PILLARS), 1)

    @property
    def idm_label(self) -> str:
        return IDM_LABELS.get(self.idm_status or "", "-")


def scores_for(villages: list[Village], today: date) -> list[VillageScore]:
    """Scores for ``villages`` in a fixed number of queries."""
    ids = [v.id for v in villages]
    out = {v.id: VillageScore(v) for v in villages}
    if not ids:
        return []
    for vid, key, value in db.session.execute(
        select(IndicatorValue.village_id, IndicatorValue.key, IndicatorValue.value).where(
            IndicatorValue.village_id.in_(ids)
        )
    ):
        out[vid].answers[key] = value

    year_ago = today.replace(day=1) - timedelta(days=365)
    since = datetime(year_ago.year, year_ago.month, 1, tzinfo=UTC)
    totals: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    online = ServiceRequest.channel.in_(("online", "api"))
    for vid, is_online, n in db.session.execute(
        select(ServiceRequest.village_id, online, func.count())
        .where(ServiceRequest.village_id.in_(ids), ServiceRequest.submitted_at >= since)
        .group_by(ServiceRequest.village_id, online)
    ):
        totals[vid][0] += n
        if is_online:
            totals[vid][1] += n
    for vid, (n, k) in totals.items():
        out[vid].computed["share_online"] = k / n if n else 0.0
    for vid, n, within in db.session.execute(
        select(CompletionCount.village_id, func.sum(CompletionCount.n), func.sum(CompletionCount.within_sla))
        .where(CompletionCount.village_id.in_(ids), CompletionCount.month >= year_ago.replace(day=1))
        .group_by(CompletionCount.village_id)
    ):
        out[vid].computed["share_sla"] = (within or 0) / n if n else 0.0
    quarter = datetime.combine(today - timedelta(days=92), datetime.min.time(), tzinfo=UTC)
    for (vid,) in db.session.execute(
        select(Announcement.village_id)
        .where(Announcement.village_id.in_(ids), Announcement.published_at >= quarter)
        .group_by(Announcement.village_id)
    ):
        out[vid].computed["pengumuman_rutin"] = 1.0
    for (vid,) in db.session.execute(
        select(BudgetLine.village_id)
        .where(BudgetLine.village_id.in_(ids), BudgetLine.year == today.year)
        .group_by(BudgetLine.village_id)
    ):
        out[vid].computed["apbdes_terbuka"] = 1.0
    try:
        from app.models.bumdes import Product
    except ModuleNotFoundError:
        pass
    else:
        for (vid,) in db.session.execute(
            select(Product.village_id)
            .where(Product.village_id.in_(ids), Product.published.is_(True))
            .group_by(Product.village_id)
        ):
            out[vid].computed["produk_bumdes"] = 1.0

    by_code = {v.region_code: out[v.id] for v in villages}
    latest = (
        select(IdmStatus.region_code, func.max(IdmStatus.year).label("year"))
        .where(IdmStatus.region_code.in_(by_code))
        .group_by(IdmStatus.region_code)
        .subquery()
    )
    for code, score, status in db.session.execute(
        select(IdmStatus.region_code, IdmStatus.score, IdmStatus.status).join(
            latest, (latest.c.region_code == IdmStatus.region_code) & (latest.c.year == IdmStatus.year)
        )
    ):
        by_code[code].idm_score, by_code[code].idm_status = score, status
    for vid, year in db.session.execute(
        select(SmartVillageSite.village_id, SmartVillageSite.year)
        .where(SmartVillageSite.village_id.in_(ids))
        .order_by(SmartVillageSite.year)
    ):
        out[vid].site_years.append(year)
    return list(out.values())


@dataclass(frozen=True)
class CandidateFilter:
    """The programme's criteria an admin may apply to the candidate list."""

    min_idm: str | None = None  # lowest IDM status accepted
    needs_internet: bool = False
    needs_bumdes_products: bool = False
    exclude_sites: bool = True  # leave out villages that already are Smart Village locations
    min_score: float = 0.0


def candidates(region_code: str, flt: CandidateFilter, today: date) -> list[VillageScore]:
    """Balai villages in a region ranked as candidates for next year's Smart Village locations."""
    villages = list(
        db.session.scalars(
            select(Village)
            .where(Village.active.is_(True), region_prefix_filter(Village.region_code, region_code))
            .order_by(Village.name)
        )
    )
    ranked = []
    for s in scores_for(villages, today):
        if flt.exclude_sites and s.site_years:
            continue
        if flt.min_idm and (
            s.idm_status is None or IDM_STATUSES.index(s.idm_status) < IDM_STATUSES.index(flt.min_idm)
        ):
            continue
        if flt.needs_internet and not s.answers.get("internet_balai"):
            continue
        if flt.needs_bumdes_products and not s.computed.get("produk_bumdes"):
            continue
        if s.score < flt.min_score:
            continue
        ranked.append(s)
    ranked.sort(key=lambda s: (-s.score, -(s.idm_score or 0), s.village.name))
    return ranked


def save_answers(village: Village, answers: dict[str, bool]) -> None:
    """Store the operator's yes/no answers (unknown keys are ignored)."""
    existing = {
        row.key: row
        for row in db.session.scalars(select(IndicatorValue).where(IndicatorValue.village_id == village.id))
    }
    for key in OPERATOR_KEYS:
        value = bool(answers.get(key))
        row = existing.get(key)
        if row is None:
            db.session.add(IndicatorValue(village_id=village.id, key=key, value=value))
        elif row.value != value:
            row.value = value


IDM_ALIASES = {label.lower(): key for key, label in IDM_LABELS.items()} | {k: k for k in IDM_STATUSES}


def import_idm(text: str, within: str | None = None) -> dict[str, int]:
    """Import IDM rows from CSV text (kode_desa, tahun, skor, status), only villages under ``within``."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    needed = {"kode_desa", "tahun", "skor", "status"}
    if not reader.fieldnames or not needed <= {f.strip().lower() for f in reader.fieldnames}:
        raise DomainError(N_("Kolom CSV harus: kode_desa, tahun, skor, status."))
    rows = []
    for line, raw in enumerate(reader, start=2):
        row = {k.strip().lower(): (v or "").strip() for k, v in raw.items() if k}
        status = IDM_ALIASES.get(row["status"].lower().replace(" ", "_")) or IDM_ALIASES.get(
            row["status"].lower()
        )
        try:
            year, score = int(row["tahun"]), float(row["skor"].replace(",", "."))
        except ValueError:
            raise DomainError(N_("Baris %(line)s: tahun atau skor bukan angka."), line=line) from None
        if status is None:
            raise DomainError(
                N_("Baris %(line)s: status IDM %(status)s tidak dikenal."), line=line, status=row["status"]
            )
        rows.append((row["kode_desa"], year, score, status))
    codes = {code for code, *_ in rows}
    known = set(db.session.scalars(select(Region.code).where(Region.code.in_(codes), Region.level == 4)))
    existing = {
        (r.region_code, r.year): r
        for r in db.session.scalars(select(IdmStatus).where(IdmStatus.region_code.in_(codes)))
    }
    added = updated = skipped = 0
    for code, year, score, status in rows:
        if code not in known or (within and not (code + ".").startswith(within + ".")):
            skipped += 1
            continue
        row = existing.get((code, year))
        if row is None:
            row = IdmStatus(region_code=code, year=year, score=score, status=status)
            db.session.add(row)
            existing[(code, year)] = row
            added += 1
        else:
            row.score, row.status = score, status
            updated += 1
    db.session.flush()
    return {"added": added, "updated": updated, "skipped": skipped}
