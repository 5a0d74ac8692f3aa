"""The Kemendagri region tree: provinsi > kabupaten/kota > kecamatan > desa/kelurahan."""

from __future__ import annotations

from sqlalchemy import SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db

PROVINCE, REGENCY, DISTRICT, VILLAGE = 1, 2, 3, 4
LEVEL_NAMES = {
    PROVINCE: "provinsi",
    REGENCY: "kabupaten/kota",
    DISTRICT: "kecamatan",
    VILLAGE: "desa/kelurahan",
}


class Region(db.Model):
    __tablename__ = "regions"

    code: Mapped[str] = mapped_column(String(13), primary_key=True)
    parent_code: Mapped[str | None] = mapped_column(String(13), index=True)
    level: Mapped[int] = mapped_column(SmallInteger)
    name: Mapped[str] = mapped_column(String(120))

    @property
    def is_kelurahan(self) -> bool:
        """Village codes whose last part starts with 1 are urban wards."""
        return self.level == VILLAGE and self.code.rsplit(".", 1)[-1].startswith("1")

    def ancestor_codes(self) -> list[str]:
        """Codes of this region and every region above it, top first."""
        parts = self.code.split(".")
        return [".".join(parts[: i + 1]) for i in range(len(parts))]

    def __repr__(self) -> str:
        return f"<Region {self.code} {self.name}>"
