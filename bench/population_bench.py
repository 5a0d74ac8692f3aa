"""How fast are population figures with a whole province's registers in Balai?

Builds, on PostgreSQL, the 2,651 villages of Lampung (every village of province 18) with a register
of about 3,000 residents each (8 million rows) and their aggregates, a few villages stale, typed-only
or without data (bench/population_data.py, set-based SQL, shared with bench/national.py); publishes the province (sums up the tree and applies small-cell
suppression). Then times:

- the region pages (/wilayah/<code>, /wilayah/<code>/penduduk, /api/v1/population/<code>) at each
  level, server side, as bench/dashboard_bench.py does (target p95 < 100 ms);
- a 3,000-resident OpenSID push: the storedata request, the job that reads it (xlsx, atomic swap,
  aggregates) and the province's publication that follows (target: seconds);
- the same push again (nothing changes).

    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench_opendk \\
        .venv/bin/python bench/population_bench.py

The database's tables are dropped and recreated (BENCH_REUSE=1 times again on the data a previous
run built). Figures are printed and written to bench/results/population.json. Not run by the tests.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import random
import statistics
import sys
import time
import zipfile
from datetime import date, timedelta
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BALAI_INSTANCE", str(ROOT / "instance"))

from sqlalchemy import func, select, text  # noqa: E402

from app import create_app  # noqa: E402
from app.config import TestConfig  # noqa: E402
from app.domain import opensid  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import Region, Village  # noqa: E402
from app.models.population import PublishedStat  # noqa: E402
from bench import population_data  # noqa: E402  (registers built with set-based SQL)
from bench.dashboard_bench import fresh_lampung_villages  # noqa: E402  (the same Lampung villages)

RESIDENTS = int(os.environ.get("BENCH_RESIDENTS", 3000))  # average per village
RUNS = int(os.environ.get("BENCH_RUNS", 21))
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/4")


class BenchConfig(TestConfig):
    SQLALCHEMY_DATABASE_URI = os.environ.get("BENCH_DATABASE_URL", "")
    WTF_CSRF_ENABLED = False
    TESTING = False
    REDIS_URL = None


def build(app) -> dict:
    started = time.perf_counter()
    with app.app_context():
        codes = fresh_lampung_villages()
        db.session.commit()
        # Most villages push from OpenSID; some are stale, some only typed figures, some nothing yet.
        with psycopg.connect(
            BenchConfig.SQLALCHEMY_DATABASE_URI.replace("+psycopg", ""), autocommit=True
        ) as conn:
            facts = population_data.build(conn, "18", RESIDENTS, minimum=RESIDENTS // 10)
        checked = population_data.check()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
        built = time.perf_counter() - started
        publish_seconds = population_data.publish(["18"])
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE population_published"))
        published = db.session.scalar(select(func.count()).select_from(PublishedStat))
    return {
        "villages": len(codes),
        **facts,
        "checked_villages": checked,
        "build_seconds": round(built, 1),
        "first_publish_seconds": round(publish_seconds, 1),
        "published_cells": published,
    }


def _timed(client, url: str) -> dict:
    assert client.get(url).status_code == 200, url
    times = []
    for _ in range(RUNS):
        t = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - t) * 1000)
        assert response.status_code == 200
    return {
        "url": url,
        "median_ms": round(statistics.median(times), 1),
        "p95_ms": round(statistics.quantiles(times, n=20, method="inclusive")[18], 1),
        "max_ms": round(max(times), 1),
        "gzip_kb": round(len(gzip.compress(response.get_data())) / 1024, 1),
    }


def measure_pages(app) -> dict:
    client = app.test_client()
    with app.app_context():
        kec = db.session.scalar(
            select(Region.code).where(Region.parent_code == "18.04").order_by(Region.code)
        )
        village = db.session.scalar(
            select(Village.region_code)
            .where(Village.region_code.like(kec + ".%"))
            .order_by(Village.region_code)
        )
    targets = {}
    for label, code in (("provinsi", "18"), ("kabupaten", "18.04"), ("kecamatan", kec), ("desa", village)):
        targets[f"{label} {code}: /wilayah"] = f"/wilayah/{code}"
        targets[f"{label} {code}: penduduk"] = f"/wilayah/{code}/penduduk"
        targets[f"{label} {code}: API"] = f"/api/v1/population/{code}"
    targets["provinsi 18: CSV rincian"] = "/wilayah/18/penduduk.csv?tabel=rincian"
    return {label: _timed(client, url) for label, url in targets.items()}


def _opensid_xlsx(code: str, n: int, seed: int) -> bytes:
    """A resident sheet as OpenSID v2410 writes it: 42 columns, every value a string."""
    from openpyxl import Workbook

    rnd = random.Random(seed)
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Sheet1")
    sheet.append(list(opensid.XLSX_COLUMNS))
    for i in range(n):
        born = date(1930, 1, 1) + timedelta(days=rnd.randrange(0, 35000))
        row = dict.fromkeys(opensid.XLSX_COLUMNS)
        row.update(
            alamat="Jl. Desa", dusun=f"Dusun {rnd.randint(1, 6)}", rw="001", rt=f"{rnd.randint(1, 9):03d}",
            nama=f"WARGA {i}", nomor_kk=f"1804150{i // 4:09d}", nomor_nik=f"1804154{i:09d}",
            jenis_kelamin=str(rnd.randint(1, 2)), tempat_lahir="LAMPUNG BARAT", tanggal_lahir=born.isoformat(),
            agama="1", pendidikan_dlm_kk=str(rnd.randint(1, 10)), pekerjaan=str(rnd.choice((1, 2, 3, 9, 88))),
            kawin=str(rnd.randint(1, 4)), hubungan_keluarga=str(rnd.randint(1, 11)), kewarganegaraan="1",
            gol_darah="13", ktp_el="2", status_rekam="3", id=str(i + 1), status_dasar="1",
            created_at="2026-12-01 08:00:00", updated_at="2026-12-01 08:00:00", desa_id=code,
        )  # fmt: skip
        sheet.append([row[c] for c in opensid.XLSX_COLUMNS])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _zip(name: str, xlsx: bytes, photos: int) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name.replace(".zip", ".xlsx"), xlsx)
        for i in range(photos):  # small photos ride along; Balai never unpacks them
            archive.writestr(f"kecil_foto_{i}.jpg", os.urandom(4000))
    return out.getvalue()


def measure_push(app) -> dict:
    from app.models.population import SyncPush
    from app.population import pushes, tokens
    from app.stats import population

    with app.app_context():
        village = db.session.scalar(
            select(Village).where(Village.region_code.like("18.04.15.%")).order_by(Village.id)
        )
        code, village_id = village.region_code, village.id
        raw = tokens.issue(village, "bench")
        db.session.commit()
    client = app.test_client()
    name = "penduduk_01_12_2026_opendk.zip"
    out = {}
    for run, seed in (("first push (new data)", 1), ("same push again", 1), ("changed push", 2)):
        body = _zip(name, _opensid_xlsx(code, 3000, seed), photos=300)
        t = time.perf_counter()
        response = client.post(
            "/opendk/api/v1/penduduk/storedata",
            data={"file": (io.BytesIO(body), "desa/upload/sinkronisasi/" + name)},
            headers={"Authorization": f"Bearer {raw}"},
            content_type="multipart/form-data",
        )
        request_ms = (time.perf_counter() - t) * 1000
        assert response.status_code == 200, response.get_data(as_text=True)
        with app.app_context():
            t = time.perf_counter()
            pushes.process_village(village_id)
            job_s = time.perf_counter() - t
            push = db.session.scalar(select(SyncPush).order_by(SyncPush.id.desc()).limit(1))
            state, rows = push.state, push.rows
            t = time.perf_counter()
            population.publish_due()
            publish_s = time.perf_counter() - t
        out[run] = {
            "zip_kb": round(len(body) / 1024),
            "request_ms": round(request_ms, 1),
            "job_seconds": round(job_s, 2),
            "publish_seconds": round(publish_s, 2),
            "state": state,
            "rows": rows,
        }
    return out


def main() -> None:
    if not BenchConfig.SQLALCHEMY_DATABASE_URI.startswith("postgresql"):
        raise SystemExit("Set BENCH_DATABASE_URL to a PostgreSQL database the bench may wipe.")
    app = create_app(BenchConfig)
    # The receiver hands pushes to rq; no worker runs here, the bench reads them itself to time the job.
    app.config["REDIS_URL"] = REDIS_URL if _redis() else None
    app.config["JOBS_INLINE"] = False
    app.config["OPENDK_WAIT_SECONDS"] = 0
    result_path = ROOT / "bench" / "results" / "population.json"
    reuse = os.environ.get("BENCH_REUSE")  # time again on the data a previous run built
    data = json.loads(result_path.read_text())["data"] if reuse else build(app)
    print(json.dumps(data, indent=2))
    pages = measure_pages(app)
    for label, t in pages.items():
        print(
            f"{label:40} median {t['median_ms']:7.1f} ms  p95 {t['p95_ms']:7.1f} ms  max {t['max_ms']:7.1f} ms  {t['gzip_kb']:5.1f} KB gz"
        )
    push = measure_push(app) if app.config["REDIS_URL"] else {"skipped": "no Redis at " + REDIS_URL}
    for label, t in push.items():
        print(f"{label:24} {t}")
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")
    result = {
        "data": data,
        "pages": pages,
        "push": push,
        "runs": RUNS,
        "load_average": [round(x, 2) for x in load],
    }
    result_path.parent.mkdir(parents=True, exist_ok=True)
    result_path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written {result_path.relative_to(ROOT)}")
    if app.config["REDIS_URL"]:
        from redis import Redis

        Redis.from_url(REDIS_URL).flushdb()


def _redis() -> bool:
    try:
        from redis import Redis

        Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except Exception:  # no Redis: the push is timed end to end instead
        return False
    return True


if __name__ == "__main__":
    main()
