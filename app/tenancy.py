"""Turning a village of the region tree into a tenant of Balai, and the hooks that follow."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from app.domain import search
from app.domain.errors import N_, DomainError
from app.domain.text import slugify
from app.extensions import db
from app.models import Region, Village
from app.models.region import VILLAGE

# Areas register, by their name, a callable taking the new Village (e.g. to add the default services).
on_activate: dict[str, Callable[[Village], None]] = {}


def suggest_slug(region: Region) -> str:
    """A free slug from the village name, with the kecamatan name added when taken."""
    base = slugify(region.name)
    if not _slug_taken(base):
        return base
    parent = db.session.get(Region, region.parent_code) if region.parent_code else None
    candidate = f"{base}-{slugify(parent.name)}" if parent else base
    n = 2
    while _slug_taken(candidate):
        candidate = f"{base}-{n}"
        n += 1
    return candidate


def _slug_taken(slug: str) -> bool:
    return db.session.scalar(select(Village.id).where(Village.slug == slug)) is not None


def short_code_for(name: str) -> str:
    """Three consonant-led letters for letter numbers, e.g. Hanura -> HNR."""
    letters = [c for c in name.upper() if c.isalpha()]
    consonants = [c for c in letters[1:] if c not in "AEIOU"]
    return "".join((letters[:1] + consonants)[:3])


def search_text_of(name: str, region: Region) -> str:
    """What the front page finds the village by: its name, its kecamatan's and its kabupaten's."""
    district = db.session.get(Region, region.parent_code) if region.parent_code else None
    regency = db.session.get(Region, district.parent_code) if district and district.parent_code else None
    return search.search_text(name, district.name if district else None, regency.name if regency else None)


def refresh_search_texts() -> int:
    """Recompute every village's search text (after regions were renamed); returns how many changed."""
    changed = 0
    for village in db.session.scalars(select(Village)):
        text = search_text_of(village.name, village.region)
        if village.search_text != text:
            village.search_text = text
            changed += 1
    db.session.flush()
    return changed


def activate_village(region_code: str, *, slug: str | None = None, **fields) -> Village:
    """Make the village at ``region_code`` a tenant (or update it when it already is one)."""
    region = db.session.get(Region, region_code)
    if region is None or region.level != VILLAGE:
        raise DomainError(N_("Kode desa %(code)s tidak ada di daftar wilayah."), code=region_code)
    village = db.session.scalar(select(Village).where(Village.region_code == region_code))
    slug = slug or (village.slug if village else suggest_slug(region))
    other = db.session.scalar(select(Village).where(Village.slug == slug))
    if other is not None and (village is None or other.id != village.id):
        raise DomainError(N_("Alamat singkat %(slug)s sudah dipakai desa lain."), slug=slug)
    created = village is None
    if created:
        village = Village(region_code=region_code, name=region.name)
        village.term = "kelurahan" if region.is_kelurahan else "desa"
        village.head_title = "Lurah" if region.is_kelurahan else "Kepala Desa"
        village.short_code = short_code_for(region.name)
        db.session.add(village)
    village.slug = slug
    village.active = True
    for key, value in fields.items():
        if value is not None:
            setattr(village, key, value)
    village.search_text = search_text_of(village.name, region)
    db.session.flush()
    if created:
        for hook in on_activate.values():
            hook(village)
    return village
