"""Demo data: the BUMDes of Rigis Jaya (robusta coffee) and Hanura (fish, seafood, island trips)."""

from __future__ import annotations

import functools

from flask import current_app
from sqlalchemy import select

from app.bumdes import commerce
from app.domain.photos import placeholder_image
from app.domain.storage import PhotoStore
from app.extensions import db
from app.models import User, Village
from app.models.bumdes import CONFIRMED, DELIVERY, DONE, NEW, PICKUP, Bumdes, Order, Product

COFFEE, SEA, GREEN, CRAFT = (92, 58, 33), (24, 96, 140), (58, 120, 66), (196, 150, 60)

ENTERPRISES = [
    {
        "village": "rigis-jaya",
        "manager": "bumdes.rigisjaya@balai.test",
        "name": "BUMDes Rigis Jaya Makmur",
        "legal_number": "AHU-0012345.AH.01.33.2022",
        "whatsapp": "+6281234567101",
        "description": (
            "Mengolah kopi robusta petani Pekon Rigis Jaya, Air Hitam, di lereng Bukit Barisan.\n"
            "Dipetik merah, dijemur di para-para, disangrai setiap pekan."
        ),
        "payment_info": "Transfer BRI 0123-01-000456-50-1 a.n. BUMDes Rigis Jaya Makmur\nAtau bayar tunai di balai pekon.",
        "products": [
            (
                "Kopi Robusta Bubuk Air Hitam 250 g",
                "perkebunan",
                35000,
                "bungkus",
                COFFEE,
                True,
                "Robusta petik merah dari kebun petani Rigis Jaya, disangrai medium.\nGiling halus, cocok untuk kopi tubruk.",
            ),
            (
                "Kopi Robusta Biji Sangrai 1 kg",
                "perkebunan",
                120000,
                "kg",
                COFFEE,
                True,
                "Biji sangrai medium-dark, dikemas dengan katup satu arah.\nBisa digiling sesuai permintaan.",
            ),
            (
                "Green Bean Robusta Grade 1",
                "perkebunan",
                65000,
                "kg",
                GREEN,
                True,
                "Biji mentah sortir tangan, kadar air 12%.\nMinimal pesan 5 kg untuk roastery.",
            ),
            (
                "Lada Hitam Lampung Barat 250 g",
                "perkebunan",
                45000,
                "bungkus",
                (40, 40, 40),
                True,
                "Lada hitam kebun campuran kopi-lada, dijemur matahari.",
            ),
            (
                "Paket Wisata Kebun Kopi",
                "wisata",
                150000,
                "orang",
                GREEN,
                False,
                "Setengah hari ikut petik, jemur dan sangrai kopi bersama petani.\nTermasuk makan siang.",
            ),
        ],
    },
    {
        "village": "hanura",
        "manager": "bumdes.hanura@balai.test",
        "name": "BUMDes Hanura Bahari",
        "legal_number": "AHU-0023456.AH.01.33.2021",
        "whatsapp": "+6281234567102",
        "description": (
            "Usaha desa nelayan Teluk Lampung: ikan segar dan olahan hasil tangkapan nelayan Hanura,\n"
            "serta perahu dan paket wisata ke pulau-pulau di Teluk Pandan."
        ),
        "payment_info": "Transfer BNI 0987654321 a.n. BUMDes Hanura Bahari\nQRIS tersedia di kantor BUMDes.",
        "products": [
            (
                "Ikan Kakap Merah Segar",
                "perikanan",
                85000,
                "kg",
                SEA,
                True,
                "Tangkapan pagi nelayan Hanura.\nBisa dibersihkan dan dipotong sesuai permintaan.",
            ),
            (
                "Ikan Teri Asin Jengki",
                "perikanan",
                90000,
                "kg",
                SEA,
                True,
                "Teri jengki dijemur di dermaga Hanura, asin sedang.",
            ),
            (
                "Cumi Asin Kering 500 g",
                "perikanan",
                75000,
                "bungkus",
                SEA,
                True,
                "Cumi kecil pilihan, kering dan bersih.",
            ),
            (
                "Kerupuk Ikan Tenggiri",
                "kuliner",
                25000,
                "bungkus",
                CRAFT,
                True,
                "Kerupuk mentah 500 g buatan ibu-ibu PKK Hanura.\nGoreng dengan minyak panas.",
            ),
            (
                "Paket Snorkeling Pulau Tangkil",
                "wisata",
                175000,
                "orang",
                SEA,
                True,
                "Perahu pulang-pergi dari dermaga Hanura, alat snorkel, pelampung dan pemandu.\nMinimal 4 orang.",
            ),
            (
                "Sewa Perahu ke Pulau Pahawang",
                "jasa",
                650000,
                "paket",
                SEA,
                True,
                "Perahu kayu untuk 10 orang, seharian, dengan nakhoda.",
            ),
            (
                "Paket Wisata Mangrove (segera)",
                "wisata",
                50000,
                "orang",
                GREEN,
                False,
                "Jalur mangrove sedang dibangun; paket dibuka setelah selesai.",
            ),
        ],
    },
]

DEMO_ORDERS = [
    # village, product name, quantity, buyer, phone, fulfilment, status
    ("hanura", "Ikan Kakap Merah Segar", 2, "Budi Santoso", "+6285712345001", DELIVERY, NEW),
    ("hanura", "Paket Snorkeling Pulau Tangkil", 6, "Maya Lestari", "+6285712345002", PICKUP, CONFIRMED),
    (
        "rigis-jaya",
        "Kopi Robusta Bubuk Air Hitam 250 g",
        4,
        "Rahmat Hidayat",
        "+6285712345003",
        DELIVERY,
        DONE,
    ),
]


def seed(villages: dict[str, Village], users: dict[str, User]) -> list[str]:
    """Create the demo BUMDes, products (with placeholder photos) and a few orders; idempotent."""
    store = PhotoStore(current_app.config["UPLOAD_DIR"])
    created = 0
    for spec in ENTERPRISES:
        village = villages[spec["village"]]
        bumdes = db.session.scalar(
            select(Bumdes).where(Bumdes.village_id == village.id, Bumdes.name == spec["name"])
        )
        if bumdes is None:
            bumdes = commerce.create_bumdes(
                village,
                spec["name"],
                legal_number=spec["legal_number"],
                whatsapp=spec["whatsapp"],
                description=spec["description"],
                payment_info=spec["payment_info"],
            )
        manager = users.get(spec["manager"])
        if manager is not None and manager.bumdes_id != bumdes.id:
            manager.bumdes_id = bumdes.id
        existing = set(db.session.scalars(select(Product.name).where(Product.bumdes_id == bumdes.id)))
        for name, category, price, unit, color, published, description in spec["products"]:
            if name in existing:
                continue
            product = commerce.create_product(
                bumdes,
                name=name,
                category=category,
                price=price,
                unit=unit,
                description=description,
                published=published,
                available=True,
            )
            commerce.add_photo(product, _placeholder(name, color), store)
            created += 1
    db.session.flush()
    _seed_orders(villages)
    return [f"BUMDes demo: {created} produk baru." if created else "BUMDes demo: sudah lengkap."]


@functools.cache
def _placeholder(text: str, color: tuple[int, int, int]) -> commerce.PreparedPhoto:
    # Drawn and encoded once per process: the demo is seeded again and again in tests.
    return commerce.prepare_photo(placeholder_image(text, color, (640, 480)))


def _seed_orders(villages: dict[str, Village]) -> None:
    for n, (slug, name, quantity, buyer, phone, fulfilment, status) in enumerate(DEMO_ORDERS, 1):
        product = db.session.scalar(
            select(Product).where(Product.village_id == villages[slug].id, Product.name == name)
        )
        key = f"demo-{n}"
        if product is None or db.session.scalar(
            select(Order.id).where(Order.product_id == product.id, Order.idempotency_key == key)
        ):
            continue
        # Written directly, without the order event: demo orders must not send anyone a message.
        db.session.add(
            Order(
                bumdes_id=product.bumdes_id,
                product_id=product.id,
                product_name=product.name,
                unit=product.unit,
                unit_price=product.price,
                quantity=quantity,
                buyer_name=buyer,
                buyer_phone=phone,
                fulfilment=fulfilment,
                address="Jl. Teuku Umar No. 10, Bandar Lampung" if fulfilment == DELIVERY else "",
                status=status,
                idempotency_key=key,
            )
        )
