"""Catalogue benchmark: 50,000 products across the province, timed search pages, first-page weight.

Fills a database with BUMDes in a few hundred villages of Lampung and 50,000 published products
(bulk inserts), then times the province search page (/produk) through the app in-process, so the
figures are server time: routing, queries and rendering, without the network. It also measures
the bytes a first catalogue page costs a phone: gzipped HTML, CSS and JS, and the lazy thumbnails.

    .venv/bin/python bench/catalog_bench.py                      # SQLite in a temp folder
    .venv/bin/python bench/catalog_bench.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/db
    .venv/bin/python bench/catalog_bench.py --postgres URL --without-trgm   # also without pg_trgm

The PostgreSQL database given is emptied. Prints the figures and writes bench/results/catalog.json.
Never run by the tests.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TMP = Path(tempfile.mkdtemp(prefix="balai-bench-"))
os.environ.setdefault("BALAI_INSTANCE", str(TMP / "instance"))

from sqlalchemy import insert, select, text  # noqa: E402

from app import create_app  # noqa: E402
from app.config import TestConfig  # noqa: E402
from app.extensions import db  # noqa: E402

SEARCHES = [
    "/produk",
    "/produk?q=kopi",
    "/produk?q=ikan+segar",
    "/produk?q=keripik+pisang",
    "/produk?kategori=perikanan",
    "/produk?wilayah=18.04",
    "/produk?urut=termurah",
    "/produk?q=robusta&urut=termahal",
    "/produk?q=kopi&wilayah=18.04&kategori=perkebunan",
    "/produk?q=tidakadayangcocok",
]

GOODS = {
    "pertanian": [
        "Beras",
        "Jagung Pipil",
        "Cabai Merah",
        "Bawang Merah",
        "Singkong",
        "Pisang Kepok",
        "Tomat",
    ],
    "perkebunan": [
        "Kopi Robusta",
        "Kopi Bubuk",
        "Lada Hitam",
        "Kakao Fermentasi",
        "Gula Aren",
        "Kelapa",
        "Cengkeh",
    ],
    "perikanan": [
        "Ikan Kakap",
        "Ikan Tongkol",
        "Udang Vaname",
        "Cumi Asin",
        "Ikan Teri",
        "Ikan Nila",
        "Kepiting",
    ],
    "peternakan": ["Telur Ayam Kampung", "Ayam Kampung", "Kambing", "Susu Kambing", "Madu Hutan", "Bebek"],
    "kerajinan": [
        "Tapis Lampung",
        "Anyaman Pandan",
        "Tas Rotan",
        "Sulam Usus",
        "Ukiran Kayu",
        "Caping Bambu",
    ],
    "kuliner": ["Keripik Pisang", "Kerupuk Ikan", "Lempok Durian", "Sambal Seruit", "Kemplang", "Engkak"],
    "jasa": ["Sewa Perahu", "Sewa Traktor", "Jasa Giling Padi", "Sewa Tenda", "Ojek Wisata", "Homestay"],
    "wisata": [
        "Paket Snorkeling",
        "Paket Kebun Kopi",
        "Wisata Air Terjun",
        "Paket Mangrove",
        "Camping Bukit",
    ],
}
WORDS = ["Segar", "Super", "Pilihan", "Asli", "Organik", "Premium", "Murah", "Grade A", "Khas Desa", "Kering"]
UNITS = {"perikanan": "kg", "pertanian": "kg", "perkebunan": "kg", "wisata": "orang", "jasa": "paket"}


class BenchConfig(TestConfig):
    WTF_CSRF_ENABLED = False
    PAGE_CACHE_SECONDS = 0  # time the search itself, not the micro-cache's copy of the page
    UPLOAD_DIR = str(TMP / "uploads")


def build(url: str, products: int, villages: int, seed: int = 7) -> object:
    """A fresh app over ``url`` filled with the province's catalogue."""
    cfg = type("Cfg", (BenchConfig,), {"SQLALCHEMY_DATABASE_URI": url})
    app = create_app(cfg)
    rng = random.Random(seed)
    with app.app_context():
        db.drop_all()
        db.create_all()
        from app.models import Region, Village
        from app.models.bumdes import Bumdes, Product
        from app.models.region import VILLAGE
        from app.regions import import_regions

        started = time.perf_counter()
        import_regions()
        codes = db.session.scalars(
            select(Region.code).where(Region.level == VILLAGE, Region.code.like("18.%")).order_by(Region.code)
        ).all()
        chosen = sorted(rng.sample(codes, villages))
        names = dict(
            db.session.execute(select(Region.code, Region.name).where(Region.code.in_(chosen))).all()
        )
        db.session.execute(
            insert(Village),
            [
                {"region_code": c, "slug": f"desa-{i}", "name": names[c], "term": "desa", "active": True}
                for i, c in enumerate(chosen)
            ],
        )
        village_ids = db.session.scalars(select(Village.id).order_by(Village.id)).all()
        db.session.execute(
            insert(Bumdes),
            [
                {"village_id": v, "name": f"BUMDes Desa {v}", "whatsapp": "+6281234567890"}
                for v in village_ids
            ],
        )
        bumdes = db.session.execute(select(Bumdes.id, Bumdes.village_id)).all()
        now = datetime.now(UTC)
        batch: list[dict] = []
        for i in range(products):
            category = rng.choice(list(GOODS))
            good = rng.choice(GOODS[category])
            name = f"{good} {rng.choice(WORDS)} {rng.randint(1, 999)}"
            b_id, v_id = rng.choice(bumdes)
            when = now - timedelta(minutes=products - i)
            batch.append(
                {
                    "bumdes_id": b_id,
                    "village_id": v_id,
                    "name": name,
                    "slug": name.lower().replace(" ", "-"),
                    "description": f"{good} dari BUMDes desa, {rng.choice(WORDS).lower()}.\nDikirim dari desa.",
                    "price": rng.randrange(5, 2000) * 1000,
                    "unit": UNITS.get(category, "pcs"),
                    "available": rng.random() > 0.1,
                    "category": category,
                    "published": rng.random() > 0.05,
                    "created_at": when,
                    "updated_at": when,
                    "published_at": when,
                }
            )
            if len(batch) == 5000:
                db.session.execute(insert(Product), batch)
                batch = []
        if batch:
            db.session.execute(insert(Product), batch)
        db.session.commit()
        _add_photos(app, rng)
        print(f"  filled {products} products in {villages} villages in {time.perf_counter() - started:.1f} s")
    return app


def _add_photos(app, rng: random.Random) -> None:
    """One photo row per product; the newest 60 get real files (the pages the benchmark opens)."""
    from app.bumdes import commerce
    from app.domain.photos import placeholder_image
    from app.domain.storage import PhotoStore
    from app.models.bumdes import Product, ProductPhoto

    store = PhotoStore(app.config["UPLOAD_DIR"])
    real = [
        commerce.prepare_photo(placeholder_image(f"Produk {i}", (rng.randrange(256), 90, 60), (1200, 900)))
        for i in range(6)
    ]
    ids = db.session.scalars(select(Product.id).order_by(Product.id.desc())).all()
    rows: list[dict] = []
    for n, pid in enumerate(ids):
        if n < 60:
            photo = real[n % len(real)]
            names = [store.save(p.data, p.ext) for p in (photo.full, photo.small, photo.medium)]
        else:
            names = [secrets.token_urlsafe(18) + ext for ext in (".jpg", ".webp", ".jpg")]
        rows.append(
            {
                "product_id": pid,
                "position": 0,
                "stored_name": names[0],
                "small_name": names[1],
                "medium_name": names[2],
                "width": 1200,
                "height": 900,
                "small_width": 320,
                "small_height": 240,
                "medium_width": 640,
                "medium_height": 480,
                "sha256": "0" * 64,
            }
        )
        if len(rows) == 5000:
            db.session.execute(insert(ProductPhoto), rows)
            rows = []
    if rows:
        db.session.execute(insert(ProductPhoto), rows)
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        _vacuum_analyze()


def _vacuum_analyze() -> None:
    """As autovacuum leaves tables in use: statistics fresh, and a bulk insert's pending entries
    merged into the GIN indexes (scanning that list made searches 10x slower)."""
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))


def drop_trigram_indexes() -> None:
    """For comparison: the catalogue as it was before its pg_trgm GIN indexes (b-trees only)."""
    for column in ("name", "description"):
        db.session.execute(text(f"DROP INDEX IF EXISTS ix_products_{column}_trgm"))
    db.session.commit()
    _vacuum_analyze()


def time_searches(app, runs: int) -> dict:
    """Median and 95th percentile server time (ms) of each search page, and of all of them together."""
    client = app.test_client()
    for url in SEARCHES:  # warm caches, templates and the query planner
        assert client.get(url).status_code == 200, url
    per_url: dict[str, list[float]] = {url: [] for url in SEARCHES}
    for _ in range(runs):
        for url in SEARCHES:
            started = time.perf_counter()
            response = client.get(url)
            per_url[url].append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
    everything = [t for ts in per_url.values() for t in ts]
    return {
        "median_ms": round(statistics.median(everything), 2),
        "p95_ms": round(_p95(everything), 2),
        "pages": {
            url: {"median_ms": round(statistics.median(ts), 2), "p95_ms": round(_p95(ts), 2)}
            for url, ts in per_url.items()
        },
    }


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def first_page_bytes(app) -> dict:
    """What a phone downloads for a first /produk: gzipped HTML, CSS, JS; thumbnails of the page."""
    import re

    client = app.test_client()
    page = client.get("/produk", headers={"Accept-Encoding": "gzip"})
    html_gz = len(page.data)
    html = (
        gzip.decompress(page.data).decode()
        if page.headers.get("Content-Encoding") == "gzip"
        else page.get_data(as_text=True)
    )

    def static_gz(pattern: str) -> int:
        total = 0
        for path in re.findall(pattern, html):
            body = client.get(path.replace("&amp;", "&")).data
            total += len(gzip.compress(body, 9))
        return total

    css = static_gz(r'<link rel="stylesheet" href="([^"]+)"')
    js = static_gz(r'<script src="([^"]+)"')
    thumbs = re.findall(r'<img src="(/produk/foto/\d+/320)"', html)
    images = sum(len(client.get(src).data) for src in thumbs)
    return {
        "html_bytes": len(html.encode()),
        "html_gzip_bytes": html_gz,
        "css_gzip_bytes": css,
        "js_gzip_bytes": js,
        "thumbnails": len(thumbs),
        "thumbnail_bytes": images,
        "first_four_thumbnail_bytes": sum(len(client.get(s).data) for s in thumbs[:4]),
        "total_bytes": html_gz + css + js + images,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=50_000)
    parser.add_argument("--villages", type=int, default=300)
    parser.add_argument("--runs", type=int, default=30, help="rounds over every search page")
    parser.add_argument("--sqlite", default=str(TMP / "bench.sqlite"))
    parser.add_argument("--postgres", default=os.environ.get("BENCH_DATABASE_URL"))
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument(
        "--without-trgm", action="store_true", help="also time PostgreSQL with its pg_trgm indexes dropped"
    )
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "catalog.json"))
    args = parser.parse_args()

    results: dict = {
        "products": args.products,
        "villages": args.villages,
        "runs": args.runs,
        "searches": SEARCHES,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "databases": {},
    }
    targets = [("sqlite", f"sqlite:///{args.sqlite}")]
    if args.postgres:
        targets.append(("postgresql", args.postgres))
    targets = [(label, url) for label, url in targets if args.only in (None, label)]
    for label, url in targets:
        print(f"{label}: filling…")
        build(url, args.products, args.villages)
        # Time in a fresh app, as a web worker would serve it, not the one that did the bulk load.
        app = create_app(type("Cfg", (BenchConfig,), {"SQLALCHEMY_DATABASE_URI": url}))
        with app.app_context():
            figures = time_searches(app, args.runs)
            if label == "sqlite":
                results["first_page"] = first_page_bytes(app)
            results["databases"][label] = figures
            print(f"  search pages: median {figures['median_ms']} ms, p95 {figures['p95_ms']} ms")
            if label == "postgresql" and args.without_trgm:
                drop_trigram_indexes()
                plain = time_searches(app, args.runs)
                results["databases"]["postgresql without pg_trgm"] = plain
                print(f"  without pg_trgm: median {plain['median_ms']} ms, p95 {plain['p95_ms']} ms")
            db.session.remove()
            db.engine.dispose()
    if "first_page" in results:
        fp = results["first_page"]
        print(
            f"first /produk page: HTML {fp['html_gzip_bytes']} B gz ({fp['html_bytes']} B raw), CSS {fp['css_gzip_bytes']} B gz, "
            f"JS {fp['js_gzip_bytes']} B gz, {fp['thumbnails']} lazy thumbnails {fp['thumbnail_bytes']} B; total {fp['total_bytes']} B"
        )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(f"written {out}")


if __name__ == "__main__":
    main()
