"""Demo data: every demo village sends WhatsApp and SMS through the simulator (no real gateway)."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models.notifications import SIMULATOR, VillageChannels


def seed(villages: dict, users: dict) -> list[str]:
    added = 0
    for village in villages.values():
        if (
            db.session.scalar(select(VillageChannels.id).where(VillageChannels.village_id == village.id))
            is None
        ):
            db.session.add(
                VillageChannels(village_id=village.id, whatsapp_gateway=SIMULATOR, sms_gateway=SIMULATOR)
            )
            added += 1
    db.session.flush()
    if not added:
        return []
    return ["", "Pesan WhatsApp/SMS desa demo lewat simulator (nomor +62 8999…1–5 mensimulasikan kegagalan)."]
