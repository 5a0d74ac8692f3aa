"""Demo requests in every status for the demo villages, made through the workflow like real ones."""

from __future__ import annotations

import hashlib

from flask import current_app
from sqlalchemy import select

from app import workflow
from app.domain import states
from app.domain.photos import placeholder_image
from app.domain.storage import PhotoStore
from app.extensions import db
from app.models import Attachment, Role, Service, User, Village
from app.residents.catalog import add_default_services

# (service code, name, birth ddmmyy as on the NIK, data, purpose, path of actions, note)
_PEOPLE = (
    ("domisili", "Siti Wulandari", "450892", {}, "Melamar pekerjaan di Bandar Lampung", ()),
    ("sktm", "Budi Santoso", "120378", {}, "Keringanan biaya sekolah anak", ("verify",)),
    ("usaha", "Rahmat Hidayat", "030785", {}, "Pengajuan KUR ke bank", ("verify", "start")),
    (
        "pengantar-ktp-kk",
        "Dewi Lestari",
        "571199",
        {},
        "Membuat KTP baru",
        ("verify", "start", "mark_ready"),
    ),
    (
        "domisili",
        "Agus Prasetyo",
        "150190",
        {},
        "Membuka rekening bank",
        ("verify", "start", "mark_ready", "hand_over"),
    ),
    ("kelahiran", "Nur Aini", "620595", {}, "Mengurus akta kelahiran", ("request_fix",)),
    ("sktm", "Joko Susilo", "010170", {}, "Pendaftaran bantuan sosial", ("reject",)),
    ("pengaduan", "Wahyu Nugroho", "220488", {}, "Jalan di dusun 2 berlubang dan tergenang saat hujan.", ()),
    (
        "pengaduan",
        "Sri Rahayu",
        "640793",
        {"kategori": "Air bersih dan saluran"},
        "Saluran air di dekat masjid tersumbat sampah.",
        ("verify", "start"),
    ),
)

_NOTES = {
    "request_fix": "Foto KK kurang jelas. Mohon kirim ulang foto KK yang terang dan tidak terpotong.",
    "reject": "Data penghasilan tidak sesuai dengan data DTKS desa. Silakan datang ke balai untuk klarifikasi.",
}

_DATA = {
    "domisili": {"tempat_lahir": "Pesawaran", "pekerjaan": "Wiraswasta", "alamat": "Dusun 1, RT 002/RW 001"},
    "sktm": {
        "tempat_lahir": "Lampung Barat",
        "pekerjaan": "Petani",
        "alamat": "Dusun 3, RT 001/RW 002",
        "penghasilan": "Rp 1.200.000",
        "tanggungan": "4",
    },
    "usaha": {
        "alamat": "Dusun 2, RT 003/RW 001",
        "nama_usaha": "Warung Berkah",
        "jenis_usaha": "Warung kelontong",
        "alamat_usaha": "Jl. Raya desa, depan balai",
        "mulai_usaha": "2019-05-01",
    },
    "pengantar-ktp-kk": {"alamat": "Dusun 1, RT 001/RW 001", "jenis_pengantar": "KTP baru"},
    "kelahiran": {
        "nama_bayi": "Muhammad Rizki",
        "jenis_kelamin_bayi": "Laki-laki",
        "tanggal_lahir_bayi": "2025-01-14",
        "tempat_lahir_bayi": "Puskesmas desa",
        "nama_ayah": "Ahmad Fauzi",
        "nama_ibu": "Nur Aini",
    },
    "pengaduan": {"kategori": "Jalan dan jembatan", "lokasi": "Dusun 2, dekat pos ronda"},
}

_PHOTO_COLOURS = {"ktp": (190, 215, 240), "kk": (235, 220, 180)}


def _nik(village: Village, ddmmyy: str, serial: int) -> str:
    province, regency, district = village.region_code.split(".")[:3]
    return f"{province}{regency}{district}{ddmmyy}{serial:04d}"


def _operator(village: Village, users: dict[str, User]) -> User | None:
    for user in users.values():
        if user.village_id == village.id and user.role == Role.OPERATOR:
            return user
    return None


def seed(villages: dict[str, Village], users: dict[str, User]) -> list[str]:
    """Add the default services and a request in every status to each demo village (once)."""
    store = PhotoStore(current_app.config["UPLOAD_DIR"])
    created = 0
    for slug, village in villages.items():
        add_default_services(village)
        services = {
            s.code: s for s in db.session.scalars(select(Service).where(Service.village_id == village.id))
        }
        operator = _operator(village, users)
        for n, (code, name, born, extra, purpose, path) in enumerate(_PEOPLE, start=1):
            service = services.get(code)
            if service is None:
                continue
            data = {**_DATA.get(code, {}), **extra}
            result = workflow.submit_request(
                village,
                service,
                nik=_nik(village, born, n),
                name=name,
                phone=f"+62812{village.id % 1000:03d}{n:04d}",
                idempotency_key=f"demo-{slug}-{n:02d}",
                data=data,
                purpose=purpose,
                category=data.get("kategori") if service.is_complaint else None,
                hide_name=service.is_complaint and n % 2 == 0,
                locale="id",
            )
            if not result.created:
                continue
            created += 1
            req = result.request
            for doc in service.documents:
                if not doc.get("required"):
                    continue
                photo = placeholder_image(
                    f"CONTOH {doc['label']} - {name}", _PHOTO_COLOURS.get(doc["key"], (220, 220, 220))
                )
                stored = store.save(photo, ".jpg")
                db.session.add(
                    Attachment(
                        request_id=req.id,
                        doc_key=doc["key"],
                        stored_name=stored,
                        mime="image/jpeg",
                        size=len(photo),
                        width=800,
                        height=600,
                        sha256=hashlib.sha256(photo).hexdigest(),
                    )
                )
            for action in path:
                workflow.apply_action(
                    req, action, actor=operator, note=_NOTES.get(action), by=states.OFFICIAL
                )
    db.session.flush()
    if not created:
        return []
    return [f"Permohonan demo: {created} dibuat (semua status, di {len(villages)} desa)."]
