"""Shared helpers of the dashboards and API tests: services and requests made through the workflow."""

from __future__ import annotations

import itertools

from sqlalchemy import select

from app import workflow
from app.extensions import db
from app.models import Service, Village
from app.models.services import COMPLAINT, LETTER

SECRET_NIK = "1809104101900007"
SECRET_PHONE = "+6281399887766"
SECRET_EMAIL = "rahasia.warga@example.com"
SECRET_NAME = "Siti Rahasiawati"
SECRET_TEXT = "Rumah Bu Siti di RT 03 kebanjiran"

_counter = itertools.count()


def village(slug: str) -> Village:
    return db.session.scalar(select(Village).where(Village.slug == slug))


def test_services(v: Village) -> tuple[Service, Service]:
    """A letter and a complaint service of our own, so tests do not depend on another area's defaults."""
    found = {s.code: s for s in db.session.scalars(select(Service).where(Service.village_id == v.id))}
    letter = found.get("uji-surat") or Service(
        village_id=v.id, code="uji-surat", kind=LETTER, name="Surat Uji", sla_days=3
    )
    complaint = found.get("uji-aduan") or Service(
        village_id=v.id,
        code="uji-aduan",
        kind=COMPLAINT,
        name="Pengaduan Jalan Rusak",
        sla_days=5,
        fields=[{"name": "dusun", "label": "Dusun", "type": "text", "required": False}],
    )
    db.session.add_all([letter, complaint])
    db.session.flush()
    return letter, complaint


def submit(v: Village, service: Service, **overrides):
    n = next(_counter)
    fields = {
        "nik": SECRET_NIK,
        "name": SECRET_NAME,
        "phone": SECRET_PHONE,
        "email": SECRET_EMAIL,
        "idempotency_key": f"test-{n}",
        "purpose": SECRET_TEXT,
    }
    fields.update(overrides)
    return workflow.submit_request(v, service, **fields).request


test_services.__test__ = False  # a helper, not a test
