"""Demo data for the village profiles, the Smart Village indicators and the dashboards."""

from __future__ import annotations

import random
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select, update

from app import workflow
from app.dashboards import indicators
from app.domain import states
from app.domain.photos import make_thumbnail, placeholder_image, process_photo
from app.domain.storage import PhotoStore
from app.extensions import db
from app.models import Service, ServiceRequest, User, Village, utcnow
from app.models.profile import (
    BIDANG_KEYS,
    Announcement,
    ApiKey,
    BudgetLine,
    IdmStatus,
    Project,
    ProjectPhoto,
    SmartVillageSite,
    VillageProfile,
)
from app.stats import rollups
from app.stats.keys import issue_key

PROFILES = {
    # slug: (description, potential, lat, long, population, households, idm status, idm score)
    "hanura": (
        "Desa pesisir di Teluk Pandan yang menjadi salah satu lokasi awal program Smart Village Lampung.",
        "Wisata pantai, budidaya ikan kerapu, dan kerajinan anyaman.",
        -5.5330,
        105.2350,
        6120,
        1710,
        "maju",
        0.7712,
    ),
    "trimulyo": (
        "Pekon di lereng perbukitan Gedung Surian dengan kebun kopi robusta rakyat.",
        "Kopi robusta, agrowisata kebun kopi, dan gula aren.",
        -5.0050,
        104.4200,
        3480,
        1020,
        "berkembang",
        0.6891,
    ),
    "pampangan": (
        "Pekon pertanian di dataran tinggi Sekincau.",
        "Sayuran dataran tinggi, kopi, dan lada.",
        -5.0840,
        104.3010,
        2950,
        860,
        "berkembang",
        0.6520,
    ),
    "rigis-jaya": (
        "Pekon di Air Hitam dengan BUMDes yang menjual kopi bubuk.",
        "Kopi bubuk, madu hutan, dan ternak kambing.",
        -4.9700,
        104.5300,
        2710,
        790,
        "maju",
        0.7120,
    ),
    "ringinjaya": (
        "Pekon di Bandar Negeri Suoh, dekat kawasan wisata danau dan kawah Suoh.",
        "Wisata alam Suoh, padi sawah, dan ikan air tawar.",
        -5.2300,
        104.2600,
        2280,
        655,
        "tertinggal",
        0.5840,
    ),
}
ANSWERS = {
    "hanura": set(indicators.OPERATOR_KEYS),
    "trimulyo": {
        "internet_balai",
        "sinyal_4g",
        "listrik_24jam",
        "website_desa",
        "administrasi_ti",
        "penjualan_online",
        "kader_digital",
        "ruang_layanan",
    },
    "pampangan": {"internet_balai", "listrik_24jam", "administrasi_ti", "perangkat_lengkap"},
    "rigis-jaya": {
        "internet_balai",
        "sinyal_4g",
        "listrik_24jam",
        "penjualan_online",
        "sk_tim_smart_village",
        "administrasi_ti",
    },
    "ringinjaya": {"listrik_24jam"},
}


def seed_profiles(villages: dict[str, Village], users: dict[str, User]) -> list[str]:
    """Profiles, announcements, projects, APBDes, indicators, IDM and an API key for the demo villages."""
    lines: list[str] = []
    year = workflow.local_today().year
    store = PhotoStore(current_app.config["UPLOAD_DIR"])
    for slug, village in villages.items():
        if slug not in PROFILES or db.session.get(VillageProfile, village.id) is not None:
            continue
        desc, potential, lat, lon, people, households, idm, score = PROFILES[slug]
        db.session.add(
            VillageProfile(
                village_id=village.id,
                description=desc,
                potential=potential,
                latitude=lat,
                longitude=lon,
                population=people,
                households=households,
                male=people // 2 + 15,
                female=people - people // 2 - 15,
                officials=[
                    {"position": village.head_title, "name": village.head_name},
                    {"position": "Sekretaris", "name": "Sekretaris " + village.name},
                    {"position": "Kaur Keuangan", "name": "Bendahara " + village.name},
                ],
            )
        )
        now = utcnow()
        db.session.add_all(
            [
                Announcement(
                    village_id=village.id,
                    title="Jadwal posyandu bulan ini",
                    body="Posyandu balita dan lansia diadakan di balai pada hari Sabtu pukul 08.00.",
                    published_at=now - timedelta(days=3),
                ),
                Announcement(
                    village_id=village.id,
                    title="Musyawarah desa rencana pembangunan",
                    body="Warga diundang hadir di balai untuk membahas rencana pembangunan tahun depan.",
                    published_at=now - timedelta(days=20),
                ),
            ]
        )
        project = Project(
            village_id=village.id,
            name="Rabat beton jalan dusun",
            year=year,
            budget=185_000_000,
            source="Dana Desa",
            location="Dusun 2",
            progress=60,
        )
        db.session.add_all(
            [
                project,
                Project(
                    village_id=village.id,
                    name="Sumur bor air bersih",
                    year=year - 1,
                    budget=95_000_000,
                    source="ADD",
                    progress=100,
                ),
            ]
        )
        db.session.flush()
        photo = process_photo(placeholder_image("Rabat beton " + village.name, (120, 140, 120)))
        small = make_thumbnail(photo.data, 320)
        db.session.add(
            ProjectPhoto(
                project_id=project.id,
                stored_name=store.save(photo.data, photo.ext),
                small_name=store.save(small.data, small.ext),
                width=photo.width,
                height=photo.height,
            )
        )
        rnd = random.Random(slug)
        for y, realised_share in ((year - 1, 0.93), (year, 0.45)):
            for key in BIDANG_KEYS:
                planned = rnd.randrange(50, 600) * 1_000_000
                db.session.add(
                    BudgetLine(
                        village_id=village.id,
                        year=y,
                        bidang=key,
                        planned=planned,
                        realised=int(planned * realised_share * rnd.uniform(0.8, 1.0)),
                    )
                )
        indicators.save_answers(village, {k: True for k in ANSWERS.get(slug, ())})
        for y, delta in ((year - 2, -0.03), (year - 1, 0.0)):
            if (
                db.session.scalar(
                    select(IdmStatus.id).where(
                        IdmStatus.region_code == village.region_code, IdmStatus.year == y
                    )
                )
                is None
            ):
                db.session.add(
                    IdmStatus(region_code=village.region_code, year=y, score=score + delta, status=idm)
                )
        if slug == "hanura":
            db.session.add(SmartVillageSite(village_id=village.id, year=year - 2))
        lines.append(f"Profil desa: {village.display_name}")
    hanura = villages.get("hanura")
    if hanura and db.session.scalar(select(ApiKey.id).where(ApiKey.village_id == hanura.id)) is None:
        key = issue_key(hanura, "Aplikasi pengaduan kabupaten (demo)")
        lines.append(f"Kunci API Open311 Desa Hanura (jurisdiction_id {hanura.region_code}): {key}")
    lines.extend(_request_history(villages))
    rollups.rebuild()
    return lines


def _request_history(villages: dict[str, Village]) -> list[str]:
    """Past requests for villages with services but no requests yet (when no other area seeded any)."""
    lines = []
    for slug, village in villages.items():
        count = db.session.scalar(
            select(func.count()).select_from(ServiceRequest).where(ServiceRequest.village_id == village.id)
        )
        services = db.session.scalars(
            select(Service).where(Service.village_id == village.id, Service.active.is_(True))
        ).all()
        if count or not services:
            continue
        rnd = random.Random("history-" + slug)
        n = rnd.randrange(25, 60)
        for i in range(n):
            service = rnd.choice(services)
            sub = workflow.submit_request(
                village,
                service,
                nik=f"{village.region_code.replace('.', '')[:6]}0101900{i:03d}"[:16],
                name=f"Warga Demo {i + 1}",
                phone=None,
                idempotency_key=f"demo-history-{slug}-{i}",
                purpose="Data contoh untuk dasbor",
                channel=rnd.choice(("online", "online", "online", "kantor")),
            )
            req = sub.request
            days_ago = rnd.randrange(1, 170)
            submitted = utcnow() - timedelta(days=days_ago, hours=rnd.randrange(0, 8))
            due = workflow.due_date_for(
                village.id, submitted.astimezone(workflow.TZ).date(), service.sla_days
            )
            db.session.execute(
                update(ServiceRequest)
                .where(ServiceRequest.id == req.id)
                .values(submitted_at=submitted, due_date=due)
                .execution_options(synchronize_session=False)
            )
            db.session.expire(req)
            path = rnd.choice(
                (["verify", "start", "mark_ready", "hand_over"],) * 6
                + (["verify", "start"], ["verify"], [], ["reject"], ["request_fix"])
            )
            if service.is_complaint:  # a complaint is resolved, never made ready to collect
                path = ["resolve" if a == "mark_ready" else a for a in path if a != "hand_over"]
            for action in path:
                workflow.apply_action(req, action, actor=None, note="Catatan contoh")
            if req.status in states.FINAL_STATUSES:
                finished = submitted + timedelta(hours=rnd.randrange(2, 24 * 9))
                db.session.execute(
                    update(ServiceRequest)
                    .where(ServiceRequest.id == req.id)
                    .values(finished_at=min(finished, utcnow()))
                    .execution_options(synchronize_session=False)
                )
        lines.append(f"Riwayat permohonan contoh: {n} untuk {village.display_name}")
    return lines
