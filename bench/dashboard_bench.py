"""How fast are the region dashboards with a whole province on Balai?

Builds, on PostgreSQL, the 2,651 villages of Lampung (every village of province 18) with eight
services each, roll-up rows equal to 5 million requests over 24 months (bulk COPY), and a
realistic sample of raw requests (every still-open request plus some finished ones, which is
what the overdue counts read). Then times the dashboard's server side at each level.

    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/balai_bench \
        .venv/bin/python bench/dashboard_bench.py

The database's tables are dropped and recreated (BENCH_REUSE=1 times again on the data a previous
run built). Figures are printed and written to
bench/results/dashboard.json. Not run by the tests.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import time
from contextlib import nullcontext
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BALAI_INSTANCE", str(ROOT / "instance"))

from sqlalchemy import func, select, text  # noqa: E402

from app import create_app  # noqa: E402
from app.config import TestConfig  # noqa: E402
from app.domain import states  # noqa: E402
from app.domain.tracking import tracking_key  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import Region, Village  # noqa: E402
from app.models.stats import BUCKET_BOUNDS  # noqa: E402
from app.stats.rollups import ancestors, bucket_of  # noqa: E402
from bench.support import requests_in_bulk  # noqa: E402

TOTAL_REQUESTS = int(os.environ.get("BENCH_REQUESTS", 5_000_000))
MONTHS = 24
SERVICES = ("sktm", "domisili", "usaha", "kelahiran", "kematian", "pengantar-ktp", "pindah", "pengaduan")
SERVICE_WEIGHTS = (18, 20, 14, 10, 6, 16, 6, 10)
RAW_FINISHED_SAMPLE = int(os.environ.get("BENCH_RAW_FINISHED", 100_000))
RUNS = int(os.environ.get("BENCH_RUNS", 21))


class BenchConfig(TestConfig):
    SQLALCHEMY_DATABASE_URI = os.environ.get("BENCH_DATABASE_URL", "")
    WTF_CSRF_ENABLED = False


def _months(today: date) -> list[date]:
    first = today.replace(day=1)
    out = []
    for i in range(MONTHS):
        index = first.year * 12 + first.month - 1 - i
        out.append(date(index // 12, index % 12 + 1, 1))
    return out


def _copy(table: str, columns: tuple[str, ...], rows) -> int:
    """COPY rows (tuples) into ``table`` through psycopg; returns the row count."""
    raw = db.session.connection().connection.driver_connection
    n = 0
    with (
        requests_in_bulk(raw.execute, "postgresql") if table == "service_requests" else nullcontext(),
        raw.cursor() as cur,
        cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)
            n += 1
    return n


def fresh_lampung_villages() -> list[str]:
    """A fresh schema with every region of Indonesia and every Lampung village active (COPY); their codes."""
    db.drop_all()
    db.create_all()
    if not db.session.scalar(select(func.count()).select_from(Region)):
        from app.regions import import_regions

        import_regions()
    codes = list(
        db.session.scalars(
            select(Region.code).where(Region.level == 4, Region.code.like("18.%")).order_by(Region.code)
        )
    )
    now = datetime.now(UTC)
    _copy(
        "villages",
        (
            "region_code",
            "slug",
            "name",
            "term",
            "head_name",
            "head_title",
            "address",
            "short_code",
            "active",
            "activated_at",
        ),
        (
            (c, "v-" + c.replace(".", "-"), "Desa " + c, "desa", "", "Kepala Desa", "", "DSA", True, now)
            for c in codes
        ),
    )
    return codes


def build(app) -> dict:
    rnd = random.Random(2651)
    today = date.today()
    months = _months(today)
    started = time.perf_counter()
    with app.app_context():
        fresh_lampung_villages()
        villages = db.session.execute(select(Village.id, Village.region_code)).all()
        db.session.execute(
            text(
                "INSERT INTO services (village_id, code, kind, name, description, fields, documents, sla_days, fee,"
                " classification_code, letter_template, position, active)"
                " SELECT v.id, s.code, CASE WHEN s.code = 'pengaduan' THEN 'complaint' ELSE 'letter' END,"
                " initcap(s.code), '', '[]', '[]', 3, 0, '470', '', s.pos, true"
                " FROM villages v CROSS JOIN (SELECT unnest(CAST(:codes AS text[])) AS code,"
                " generate_series(1, :n) AS pos) s"
            ),
            {"codes": list(SERVICES), "n": len(SERVICES)},
        )
        service_ids = {}
        for vid, code, sid in db.session.execute(text("SELECT village_id, code, id FROM services")):
            service_ids[(vid, code)] = sid

        per_village_month = TOTAL_REQUESTS / (len(villages) * MONTHS)
        request_rows, completion_rows = [], {}
        total = 0
        open_sample = []
        for vid, _code in villages:
            size = rnd.uniform(0.3, 1.7)  # busy and quiet villages
            for age, month in enumerate(months):
                n_month = max(0, int(rnd.gauss(per_village_month * size, per_village_month * 0.15)))
                counts = _split(rnd, n_month, SERVICE_WEIGHTS)
                for service, n in zip(SERVICES, counts, strict=True):
                    if not n:
                        continue
                    sid = service_ids[(vid, service)]
                    for status, k in _statuses(rnd, n, age).items():
                        if k:
                            request_rows.append((vid, month, sid, status, k))
                            total += k
                            if status in states.OPEN_STATUSES:
                                open_sample.append((vid, sid, status, month, k))
                    finished = max(0, int(n * (0.97 if age else 0.6)))
                    for _ in range(min(finished, 12)):
                        minutes = int(rnd.lognormvariate(8.2, 0.9))
                        key = (vid, month, bucket_of(minutes))
                        acc = completion_rows.setdefault(key, [0, 0, 0])
                        share = max(1, finished // 12)
                        acc[0] += share
                        acc[1] += share if minutes < 3 * 24 * 60 else 0
                        acc[2] += minutes * share
        n_requests = _copy(
            "stat_requests", ("village_id", "month", "service_id", "status", "n"), request_rows
        )
        n_completions = _copy(
            "stat_completions",
            ("village_id", "month", "bucket", "n", "within_sla", "minutes"),
            ((*k, *v) for k, v in completion_rows.items()),
        )
        n_regional = _regional_rows(villages, request_rows, completion_rows)
        n_raw = _raw_requests(rnd, open_sample, service_ids, villages, today)
        db.session.commit()
        # What autovacuum does in production: statistics, and the visibility map index-only scans need.
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    return {
        "villages": len(villages),
        "requests_rolled_up": total,
        "stat_requests_rows": n_requests,
        "stat_completions_rows": n_completions,
        **n_regional,
        "raw_requests": n_raw,
        "build_seconds": round(time.perf_counter() - started, 1),
    }


def _regional_rows(villages, request_rows, completion_rows) -> dict[str, int]:
    """The per-region roll-ups summed from the per-village rows, as the listener would keep them."""
    up = {vid: ancestors(code) for vid, code in villages}
    service_code = dict(db.session.execute(text("SELECT id, code FROM services")).all())
    requests, services, completions = {}, {}, {}
    for vid, month, sid, status, n in request_rows:
        for parent, code in up[vid]:
            key = (parent, code, month, status)
            requests[key] = requests.get(key, 0) + n
            key = (code, month, service_code[sid], status)
            services[key] = services.get(key, 0) + n
    for (vid, month, bucket), values in completion_rows.items():
        for parent, code in up[vid]:
            acc = completions.setdefault((parent, code, month, bucket), [0, 0, 0])
            for i, v in enumerate(values):
                acc[i] += v
    return {
        "stat_region_requests_rows": _copy(
            "stat_region_requests",
            ("parent_code", "region_code", "month", "status", "n"),
            ((*k, v) for k, v in requests.items()),
        ),
        "stat_region_services_rows": _copy(
            "stat_region_services",
            ("region_code", "month", "service_code", "status", "n"),
            ((*k, v) for k, v in services.items()),
        ),
        "stat_region_completions_rows": _copy(
            "stat_region_completions",
            ("parent_code", "region_code", "month", "bucket", "n", "within_sla", "minutes"),
            ((*k, *v) for k, v in completions.items()),
        ),
    }


def _split(rnd: random.Random, n: int, weights: tuple[int, ...]) -> list[int]:
    total = sum(weights)
    out = [int(n * w / total) for w in weights]
    for _ in range(n - sum(out)):
        out[rnd.randrange(len(out))] += 1
    return out


def _statuses(rnd: random.Random, n: int, age: int) -> dict[str, int]:
    """Old months are nearly all finished; this month still has most requests open."""
    if age == 0:
        shares = {
            "diajukan": 0.15,
            "diverifikasi": 0.1,
            "diproses": 0.1,
            "siap_diambil": 0.05,
            "perlu_perbaikan": 0.03,
            "selesai": 0.52,
            "ditolak": 0.05,
        }
    elif age == 1:
        shares = {"diajukan": 0.01, "diproses": 0.01, "siap_diambil": 0.01, "selesai": 0.92, "ditolak": 0.05}
    else:
        shares = {"selesai": 0.94, "ditolak": 0.06}
    out, left = {}, n
    for status, share in shares.items():
        k = min(left, round(n * share * rnd.uniform(0.8, 1.2)))
        out[status] = k
        left -= k
    out["selesai"] = out.get("selesai", 0) + left
    return out


def _raw_requests(rnd, open_sample, service_ids, villages, today: date) -> int:
    """Every open request as a raw row (the overdue count reads them), plus finished ones."""
    now = datetime.now(UTC)
    counter = iter(range(10**9))

    def rows():
        for vid, sid, status, month, k in open_sample:
            for _ in range(k):
                i = next(counter)
                day = month + timedelta(days=rnd.randrange(0, 28))
                submitted = datetime(day.year, day.month, day.day, 3, tzinfo=UTC)
                due = day + timedelta(days=rnd.choice((3, 5, 7)))
                yield _raw(i, vid, sid, status, submitted, due, now, None)
        all_services = list(service_ids.values())
        for _ in range(RAW_FINISHED_SAMPLE):
            i = next(counter)
            vid, _code = rnd.choice(villages)
            submitted = now - timedelta(days=rnd.randrange(30, 700))
            yield _raw(
                i,
                vid,
                rnd.choice(all_services),
                "selesai",
                submitted,
                submitted.date() + timedelta(days=5),
                now,
                submitted + timedelta(days=2),
            )

    columns = (
        "village_id",
        "service_id",
        "tracking_code",
        "tracking_key",
        "status",
        "version",
        "nik",
        "name",
        "data",
        "purpose",
        "hide_name",
        "idempotency_key",
        "fix_token_hash",
        "channel",
        "notify",
        "submitted_at",
        "due_date",
        "updated_at",
        "finished_at",
    )
    return _copy("service_requests", columns, rows())


def _raw(i, vid, sid, status, submitted, due, now, finished):
    return (
        vid,
        sid,
        f"B{i:09d}",
        tracking_key(f"B{i:09d}"),
        status,
        1,
        "0000000000000000",
        "-",
        "{}",
        "",
        False,
        f"bench-{i}",
        f"{i:064d}",
        "online",
        False,
        submitted,
        due,
        now,
        finished,
    )


def measure(app) -> dict:
    client = app.test_client()
    with app.app_context():
        kab = "18.04"
        kec = db.session.scalar(select(Region.code).where(Region.parent_code == kab).order_by(Region.code))
        village = db.session.scalar(
            select(Region.code).where(Region.parent_code == kec).order_by(Region.code)
        )
    targets = {
        "provinsi 18": "/wilayah/18",
        "kabupaten 18.04": "/wilayah/18.04",
        f"kecamatan {kec}": f"/wilayah/{kec}",
        f"desa {village}": f"/wilayah/{village}",
        "provinsi 18, semua waktu": "/wilayah/18?periode=semua",
        "provinsi 18, urut terlambat": "/wilayah/18?urut=overdue&arah=turun",
        "API stats 18": "/api/v1/stats/18",
        "API stats 18.04": "/api/v1/stats/18.04",
        "CSV provinsi 18": "/wilayah/18/unduh/wilayah.csv",
    }
    out = {}
    for label, url in targets.items():
        assert client.get(url).status_code == 200, url  # warm caches
        times = []
        for _ in range(RUNS):
            t = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - t) * 1000)
            assert response.status_code == 200
        out[label] = {
            "url": url,
            "median_ms": round(statistics.median(times), 1),
            "p95_ms": round(statistics.quantiles(times, n=20, method="inclusive")[18], 1),
            "max_ms": round(max(times), 1),
        }
    return out


def main() -> None:
    if not BenchConfig.SQLALCHEMY_DATABASE_URI.startswith("postgresql"):
        raise SystemExit("Set BENCH_DATABASE_URL to a PostgreSQL database the bench may wipe.")
    app = create_app(BenchConfig)
    if os.environ.get("BENCH_REUSE"):  # time again on the data a previous run built
        previous = json.loads((ROOT / "bench" / "results" / "dashboard.json").read_text())
        data = previous["data"]
    else:
        data = build(app)
    print(json.dumps(data, indent=2))
    timings = measure(app)
    for label, t in timings.items():
        print(
            f"{label:32} median {t['median_ms']:8.1f} ms   p95 {t['p95_ms']:8.1f} ms   max {t['max_ms']:8.1f} ms"
        )
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")
    result = {
        "data": data,
        "timings": timings,
        "runs": RUNS,
        "load_average": [round(x, 2) for x in load],
        "cpus": os.cpu_count(),
        "buckets_minutes": list(BUCKET_BOUNDS),
    }
    out = ROOT / "bench" / "results" / "dashboard.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
