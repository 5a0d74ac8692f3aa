"""The demo: villages named in the programme's news, one account per role, and each area's data."""

from __future__ import annotations

import secrets
from collections.abc import Callable

from sqlalchemy import func, select

from app.domain.errors import DomainError
from app.extensions import db
from app.models import Region, Role, User, Village
from app.tenancy import activate_village

DEMO_VILLAGES = [
    # region code, slug, term, head title, head name, short code, address, whatsapp
    (
        "18.09.10.2004",
        "hanura",
        "desa",
        "Kepala Desa",
        "Sutarno",
        "HNR",
        "Jl. Raya Hanura No. 1, Teluk Pandan, Pesawaran",
        "+6281234560001",
    ),
    (
        "18.04.15.2004",
        "trimulyo",
        "pekon",
        "Peratin",
        "Wagiman",
        "TML",
        "Balai Pekon Trimulyo, Gedung Surian, Lampung Barat",
        "+6281234560002",
    ),
    (
        "18.04.08.2001",
        "pampangan",
        "pekon",
        "Peratin",
        "Hasanuddin",
        "PMP",
        "Balai Pekon Pampangan, Sekincau, Lampung Barat",
        "+6281234560003",
    ),
    (
        "18.04.19.2008",
        "rigis-jaya",
        "pekon",
        "Peratin",
        "Suhendri",
        "RGJ",
        "Balai Pekon Rigis Jaya, Air Hitam, Lampung Barat",
        "+6281234560004",
    ),
    (
        "18.04.23.2004",
        "ringinjaya",
        "pekon",
        "Peratin",
        "Mulyadi",
        "RGN",
        "Balai Pekon Ringin Jaya, Bandar Negeri Suoh, Lampung Barat",
        "+6281234560005",
    ),
]

# email, name, role, region code, village slug
DEMO_USERS = [
    ("admin@balai.test", "Admin Balai", Role.SUPERADMIN, None, None),
    ("provinsi@balai.test", "Admin Provinsi Lampung", Role.REGION_ADMIN, "18", None),
    ("lambar@balai.test", "Admin Kabupaten Lampung Barat", Role.REGION_ADMIN, "18.04", None),
    ("pesawaran@balai.test", "Admin Kabupaten Pesawaran", Role.REGION_ADMIN, "18.09", None),
    ("operator.hanura@balai.test", "Rina Operator Hanura", Role.OPERATOR, None, "hanura"),
    ("kades.hanura@balai.test", "Sutarno", Role.HEAD, None, "hanura"),
    ("operator.trimulyo@balai.test", "Dedi Operator Trimulyo", Role.OPERATOR, None, "trimulyo"),
    ("peratin.trimulyo@balai.test", "Wagiman", Role.HEAD, None, "trimulyo"),
    ("operator.pampangan@balai.test", "Yuni Operator Pampangan", Role.OPERATOR, None, "pampangan"),
    ("operator.rigisjaya@balai.test", "Andi Operator Rigis Jaya", Role.OPERATOR, None, "rigis-jaya"),
    ("operator.ringinjaya@balai.test", "Sari Operator Ringinjaya", Role.OPERATOR, None, "ringinjaya"),
    ("bumdes.hanura@balai.test", "Pengelola BUMDes Hanura", Role.BUMDES_MANAGER, None, "hanura"),
    ("bumdes.rigisjaya@balai.test", "Pengelola BUMDes Rigis Jaya", Role.BUMDES_MANAGER, None, "rigis-jaya"),
]

# Each area registers, by its name, a callable(villages_by_slug, users_by_email) -> lines to print.
seeders: dict[str, Callable[[dict[str, Village], dict[str, User]], list[str]]] = {}


def seed_demo(password: str | None = None) -> list[str]:
    """Create what is missing of the demo and return what to print."""
    if db.session.scalar(select(func.count()).select_from(Region)) == 0:
        raise DomainError("Impor wilayah dulu: flask --app wsgi regions import")
    villages = {}
    for code, slug, term, title, head, short, address, wa in DEMO_VILLAGES:
        village = db.session.scalar(select(Village).where(Village.region_code == code))
        if village is None:
            village = activate_village(
                code,
                slug=slug,
                term=term,
                head_title=title,
                head_name=head,
                short_code=short,
                address=address,
                whatsapp=wa,
            )
        villages[slug] = village
    db.session.flush()

    lines = ["", "Akun demo (email / kata sandi / peran):"]
    users = {}
    for email, name, role, region_code, slug in DEMO_USERS:
        user = db.session.scalar(select(User).where(User.email == email))
        shown = "(tidak diubah)"
        if user is None:
            user = User(email=email, name=name, role=role, region_code=region_code)
            user.village_id = villages[slug].id if slug else None
            new_password = password or secrets.token_urlsafe(9)
            user.set_password(new_password)
            db.session.add(user)
            shown = new_password
        elif password and not user.check_password(password):
            user.set_password(password)
            shown = password
        elif password:
            shown = password
        users[email] = user
        lines.append(f"  {email:34} {shown:18} {role.value}")
    db.session.flush()
    for seeder in seeders.values():
        lines.extend(seeder(villages, users))
    db.session.commit()
    lines.append("")
    lines.append("Desa demo: " + ", ".join(f"/desa/{slug}/" for slug in villages))
    return lines
