"""National scale on PostgreSQL: every village of Indonesia on Balai, 50 million requests.

Builds (set-based SQL: generate_series and INSERT ... SELECT, no ORM) all 83,762 villages of the
region import as active tenants with eight services each, and 50 million requests spread over 24
months (busy and quiet villages, most finished, the recent ones still open, a small stuck backlog),
then the roll-up tables from those requests with GROUP BY, as the listener would have kept them.
Then it times, in one process, the region dashboards at every level (the national list, provinces,
kabupaten, kecamatan, villages, each over many different regions) and the village search, and
serves the same pages from gunicorn (as gunicorn.conf.py runs it) under load to see whether the
web workers' memory stays flat. Prints the figures and writes bench/results/national.json.

    NATIONAL_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/balai_national \\
        .venv/bin/python bench/national.py [--scale 0.1] [--reuse]

The database is dropped and rebuilt (give a scratch one). The full size takes a while (and about
30 GB of disk); ``--scale 0.1`` builds 5 million requests over the same 83,762 villages; ``--reuse``
times again on what a previous run built. ``--residents`` (10 million at the full size, scaled with
``--scale``; 0 for none) gives the villages population registers (bench/population_data.py: set-based,
the aggregates counted from the rows as the register counts them) and publishes every province, so
the dashboards show population figures and the population pages and API are timed at every level.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.support import (  # noqa: E402
    PYTHON,
    free_port,
    get,
    machine,
    postgres_reachable,
    write_result,
)

FULL_REQUESTS = 50_000_000
FULL_RESIDENTS = 10_000_000
MONTHS = 24
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/balai_national"
SERVICES = ("sktm", "domisili", "usaha", "kelahiran", "kematian", "pengantar-ktp", "pindah", "pengaduan")
SERVICE_WEIGHTS = (18, 20, 14, 10, 6, 16, 6, 10)
CHUNK = 2_000_000
TARGET_P95_MS = 100
WARMUP_ROUNDS = 3
LEVELS = {1: "province", 2: "kabupaten", 3: "kecamatan", 4: "village"}


def database_url() -> str:
    return os.environ.get("NATIONAL_DATABASE_URL") or DEFAULT_URL


def dsn(url: str) -> str:
    return url.replace("+psycopg", "")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- building -----------------------------------------------------------------------------------


def build(app, requests: int, residents: int | None) -> dict:
    import psycopg

    from app.extensions import db
    from app.models.deskcounts import PAUSE_FOR_BULK_LOAD, RECOUNT_AFTER_BULK_LOAD
    from app.regions import import_regions

    started = time.perf_counter()
    facts: dict = {"requests_wanted": requests}
    with app.app_context():
        db.drop_all()
        db.create_all()
        facts["regions"] = import_regions()["total"]
        db.session.commit()
        db.engine.dispose()
    url = dsn(database_url())
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '512MB'")
        _villages(conn)
        facts["villages"] = conn.execute("SELECT count(*) FROM villages WHERE active").fetchone()[0]
        facts["services"] = conn.execute("SELECT count(*) FROM services").fetchone()[0]
        log(f"{facts['villages']:,} active villages, {facts['services']:,} services")
        saved = _drop_secondary(conn, "service_requests")
        # Desk counts made once after the load, not row by row (app/models/deskcounts.py says why).
        for statement in PAUSE_FOR_BULK_LOAD["postgresql"]:
            conn.execute(statement)
    t = time.perf_counter()
    _requests(url, requests, facts["villages"])
    facts["requests_insert_seconds"] = round(time.perf_counter() - t)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '512MB'")
        with conn.transaction():
            for statement in RECOUNT_AFTER_BULK_LOAD["postgresql"]:
                conn.execute(statement)
        conn.execute("DROP TABLE bench_villages")
        t = time.perf_counter()
        _rollups(conn)
        facts["rollup_seconds"] = round(time.perf_counter() - t)
    t = time.perf_counter()
    _restore(url, saved)
    facts["index_seconds"] = round(time.perf_counter() - t)
    facts.update(_residents(app, url, residents or 0, facts["villages"]))
    with psycopg.connect(url, autocommit=True) as conn:
        log("VACUUM ANALYZE")
        conn.execute("VACUUM ANALYZE")  # what autovacuum does in production: statistics, visibility map
        for table in (
            "service_requests",
            "stat_requests",
            "stat_completions",
            "stat_region_requests",
            "stat_region_services",
            "stat_region_completions",
            "population_published",
        ):
            facts[f"{table}_rows"] = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        facts["database_size"] = conn.execute(
            "SELECT pg_size_pretty(pg_database_size(current_database()))"
        ).fetchone()[0]
    facts["build_seconds"] = round(time.perf_counter() - started)
    return facts


def _villages(conn) -> None:
    """Every village of the region tree as an active tenant, eight services each, ids in order."""
    conn.execute(
        """
        INSERT INTO villages (region_code, slug, name, term, head_name, head_title, address,
                              short_code, active, activated_at)
        SELECT code,
               left(trim(both '-' from regexp_replace(lower(name), '[^a-z0-9]+', '-', 'g')), 40)
                   || '-' || replace(code, '.', ''),
               name,
               CASE WHEN split_part(code, '.', 4) LIKE '1%' THEN 'kelurahan' ELSE 'desa' END,
               '',
               CASE WHEN split_part(code, '.', 4) LIKE '1%' THEN 'Lurah' ELSE 'Kepala Desa' END,
               '', upper(left(regexp_replace(name, '[^A-Za-z]', '', 'g'), 3)), true, now()
        FROM regions WHERE level = 4 ORDER BY code
        """
    )
    conn.execute(
        """
        INSERT INTO services (village_id, code, kind, name, description, fields, documents, sla_days,
                              fee, classification_code, letter_template, position, active)
        SELECT v.id, s.code, CASE WHEN s.code = 'pengaduan' THEN 'complaint' ELSE 'letter' END,
               initcap(replace(s.code, '-', ' ')), '', '[]', '[]', 3, 0, '470', '', s.pos, true
        FROM villages v
        CROSS JOIN unnest(%s::text[]) WITH ORDINALITY AS s(code, pos)
        ORDER BY v.id, s.pos
        """,
        (list(SERVICES),),
    )
    # Villages in a shuffled order (a permutation of their ids), so busy ones are all over the map.
    conn.execute("DROP TABLE IF EXISTS bench_villages")  # left by a run that stopped half way
    conn.execute(
        """
        CREATE UNLOGGED TABLE bench_villages AS
        SELECT (row_number() OVER (ORDER BY (v.id * 7919) % n.total, v.id) - 1) AS pos,
               v.id AS village_id, min(s.id) AS first_service,
               replace(left(v.region_code, 8), '.', '') AS nik_prefix
        FROM villages v JOIN services s ON s.village_id = v.id
        CROSS JOIN (SELECT count(*) AS total FROM villages) n
        GROUP BY v.id, v.region_code, n.total
        """
    )
    conn.execute("CREATE UNIQUE INDEX ON bench_villages (pos)")
    conn.execute("ANALYZE bench_villages")


def _drop_secondary(conn, table: str) -> list[str]:
    """Drop the table's indexes and unique constraints but its primary key; return how to remake them."""
    saved: list[str] = []
    for name, definition in conn.execute(
        """
        SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
        WHERE conrelid = %s::regclass AND contype = 'u'
        """,
        (table,),
    ).fetchall():
        saved.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, definition in conn.execute(
        """
        SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
        WHERE x.indrelid = %s::regclass AND NOT x.indisprimary
        """,
        (table,),
    ).fetchall():
        saved.append(definition)
        conn.execute(f'DROP INDEX "{name}"')
    for name, definition in conn.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass "
        "AND contype = 'f'",
        (table,),
    ).fetchall():
        saved.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    return saved


def _restore(url: str, statements: list[str]) -> None:
    """Remake the dropped indexes and constraints, two at a time (one per core)."""
    import psycopg

    def run(statement: str) -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SET maintenance_work_mem = '512MB'")
            conn.execute("SET max_parallel_maintenance_workers = 0")
            t = time.perf_counter()
            conn.execute(statement)
            log(f"{time.perf_counter() - t:6.0f} s  {statement[:110]}")

    indexes = [s for s in statements if not s.startswith("ALTER")]
    constraints = [s for s in statements if s.startswith("ALTER")]
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(run, indexes))
    with ThreadPoolExecutor(2) as pool:  # unique ones first, then the foreign keys that check rows
        list(pool.map(run, [c for c in constraints if "FOREIGN KEY" not in c]))
        list(pool.map(run, [c for c in constraints if "FOREIGN KEY" in c]))


# Requests: ids grow with time (as they do), villages drawn with a skew (busy and quiet ones),
# completion times log-normal (median about 2.5 days). A request whose completion would fall after
# now is still open; 0.3 % of the rest never moved (the backlog the overdue counts show).
REQUESTS_SQL = """
WITH g AS (
    SELECT i,
           %(start)s::timestamptz + (i - 1) * %(step)s::interval AS sub,
           (floor(%(villages)s * power(random(), 1.6)))::int AS vpos,
           floor(random() * 100)::int AS spick,
           exp(8.2 + 0.9 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())) AS mins,
           random() AS r
    FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) AS i
), s AS (
    SELECT g.*, b.village_id, b.first_service, b.nik_prefix,
           g.sub + g.mins * interval '1 minute' AS fin
    FROM g JOIN bench_villages b ON b.pos = g.vpos
), t AS (
    SELECT s.*,
           CASE
               WHEN fin > now() THEN CASE
                   WHEN r < 0.40 THEN 'diajukan' WHEN r < 0.60 THEN 'diverifikasi'
                   WHEN r < 0.85 THEN 'diproses' WHEN r < 0.95 THEN 'siap_diambil'
                   ELSE 'perlu_perbaikan' END
               WHEN r < 0.003 THEN 'diproses'
               WHEN r < 0.06 THEN 'ditolak'
               ELSE 'selesai'
           END AS status
    FROM s
)
INSERT INTO service_requests (id, village_id, service_id, tracking_code, tracking_key, status, version,
    nik, name,
    data, purpose, hide_name, idempotency_key, fix_token_hash, channel, notify, submitted_at,
    due_date, updated_at, finished_at)
SELECT i, village_id,
       first_service + CASE WHEN spick < 18 THEN 0 WHEN spick < 38 THEN 1 WHEN spick < 52 THEN 2
                            WHEN spick < 62 THEN 3 WHEN spick < 68 THEN 4 WHEN spick < 84 THEN 5
                            WHEN spick < 90 THEN 6 ELSE 7 END,
       'N' || lpad(i::text, 9, '0'), translate('N' || lpad(i::text, 9, '0'), %(fold_from)s, %(fold_to)s),
       status, 1, nik_prefix || lpad((i %% 100000000)::text, 10, '0'),
       'Warga', '{}', '', false, i::text, md5(i::text), 'online', false, sub,
       (sub AT TIME ZONE 'Asia/Jakarta')::date + 3,
       CASE WHEN status IN ('selesai', 'ditolak') THEN fin ELSE sub END,
       CASE WHEN status IN ('selesai', 'ditolak') THEN fin END
FROM t
"""


def _fold() -> dict:
    """app.domain.tracking.tracking_key as SQL translate() arguments."""
    from app.domain.tracking import LOOKALIKES

    return {"fold_from": "".join(LOOKALIKES), "fold_to": "".join(LOOKALIKES.values())}


def _requests(url: str, total: int, villages: int) -> None:
    """Insert ``total`` requests in chunks, two connections at a time."""
    import psycopg

    span_seconds = MONTHS * 30.44 * 86400
    step = f"{span_seconds / max(total, 1):.6f} seconds"
    with psycopg.connect(url) as conn:  # the last request was made just now
        start = conn.execute("SELECT now() - %s::interval * %s", (step, total)).fetchone()[0]
    chunks = [(lo, min(lo + CHUNK - 1, total)) for lo in range(1, total + 1, CHUNK)]
    done = [0]
    lock = threading.Lock()
    t0 = time.perf_counter()

    def run(chunk: tuple[int, int]) -> None:
        lo, hi = chunk
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SET synchronous_commit = off")
            conn.execute(
                REQUESTS_SQL,
                {"start": start, "step": step, "villages": villages, "lo": lo, "hi": hi, **_fold()},
            )
        with lock:
            done[0] += hi - lo + 1
            rate = done[0] / (time.perf_counter() - t0)
            log(f"requests {done[0]:,} / {total:,} ({rate:,.0f}/s)")

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(run, chunks))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "SELECT setval(pg_get_serial_sequence('service_requests', 'id'), "
            "(SELECT coalesce(max(id), 1) FROM service_requests))"
        )


def _bucket_sql(minutes: str) -> str:
    from app.models.stats import BUCKET_BOUNDS

    whens = " ".join(f"WHEN {minutes} < {bound} THEN {i}" for i, bound in enumerate(BUCKET_BOUNDS))
    return f"CASE {whens} ELSE {len(BUCKET_BOUNDS)} END"


def _rollups(conn) -> None:
    """The roll-up tables from the requests, counted the way app.stats.rollups counts them."""
    month = "date_trunc('month', {} AT TIME ZONE 'Asia/Jakarta')::date"
    log("roll-up: stat_requests")
    conn.execute(
        f"""
        INSERT INTO stat_requests (village_id, month, service_id, status, n)
        SELECT village_id, {month.format("submitted_at")}, service_id, status, count(*)
        FROM service_requests GROUP BY 1, 2, 3, 4
        """
    )
    log("roll-up: stat_completions")
    conn.execute(
        f"""
        INSERT INTO stat_completions (village_id, month, bucket, n, within_sla, minutes)
        SELECT village_id, {month.format("finished_at")}, {_bucket_sql("m")}, count(*),
               count(*) FILTER (WHERE (finished_at AT TIME ZONE 'Asia/Jakarta')::date <= due_date),
               sum(m)
        FROM (SELECT village_id, finished_at, due_date,
                     (floor(extract(epoch FROM finished_at))::bigint
                      - floor(extract(epoch FROM submitted_at))::bigint) / 60 AS m
              FROM service_requests
              WHERE status IN ('selesai', 'ditolak') AND finished_at IS NOT NULL) f
        GROUP BY 1, 2, 3
        """
    )
    up = """CROSS JOIN LATERAL (VALUES ('', left(v.region_code, 2)),
                                       (left(v.region_code, 2), left(v.region_code, 5)),
                                       (left(v.region_code, 5), left(v.region_code, 8))) AS a(p, c)"""
    log("roll-up: region tables")
    conn.execute(
        f"""
        INSERT INTO stat_region_requests (parent_code, region_code, month, status, n)
        SELECT a.p, a.c, r.month, r.status, sum(r.n)
        FROM stat_requests r JOIN villages v ON v.id = r.village_id {up}
        GROUP BY 1, 2, 3, 4
        """
    )
    conn.execute(
        f"""
        INSERT INTO stat_region_services (region_code, month, service_code, status, n)
        SELECT a.c, r.month, s.code, r.status, sum(r.n)
        FROM stat_requests r JOIN villages v ON v.id = r.village_id
        JOIN services s ON s.id = r.service_id {up}
        GROUP BY 1, 2, 3, 4
        """
    )
    conn.execute(
        f"""
        INSERT INTO stat_region_completions (parent_code, region_code, month, bucket, n, within_sla,
                                             minutes)
        SELECT a.p, a.c, r.month, r.bucket, sum(r.n), sum(r.within_sla), sum(r.minutes)
        FROM stat_completions r JOIN villages v ON v.id = r.village_id {up}
        GROUP BY 1, 2, 3, 4
        """
    )


def _residents(app, url: str, residents: int, villages: int) -> dict:
    """Population registers of ``residents`` people over every village, then every province published."""
    import psycopg
    from sqlalchemy import select

    from app.extensions import db
    from app.models import Village
    from bench import population_data

    if not residents:
        return {"residents": "not asked for (--residents 0)"}
    t = time.perf_counter()
    log(f"population registers: {residents:,} residents over {villages:,} villages")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '512MB'")
        facts = population_data.build(conn, None, residents / villages)
    facts["population_build_seconds"] = round(time.perf_counter() - t)
    log(f"population registers built: {facts}")
    with app.app_context():
        facts["population_checked_villages"] = population_data.check()
        provinces = sorted({code[:2] for code in db.session.scalars(select(Village.region_code))})
        facts["publish_seconds"] = round(population_data.publish(provinces))
    log(f"{len(provinces)} provinces published in {facts['publish_seconds']} s")
    return facts


# --- measuring ----------------------------------------------------------------------------------


def targets(app, rnd: random.Random, per_level: int) -> dict[str, list[str]]:
    """The URLs timed at each level: every province, ``per_level`` drawn kabupaten, kecamatan,
    villages, and village searches for pieces of real village names."""
    from sqlalchemy import select

    from app.extensions import db
    from app.models import Region

    with app.app_context():
        by_level = {
            level: list(db.session.scalars(select(Region.code).where(Region.level == level)))
            for level in (1, 2, 3, 4)
        }
        names = list(db.session.scalars(select(Region.name).where(Region.level == 4)))

    def some(level: int) -> list[str]:
        codes = by_level[level]
        return sorted(rnd.sample(codes, min(per_level, len(codes))))

    drawn = {1: sorted(by_level[1]), 2: some(2), 3: some(3), 4: some(4)}
    words = []
    for name in rnd.sample(names, per_level):
        word = name.split()[0]
        cut = rnd.randint(3, max(3, min(len(word), 8)))
        words.append(word[:cut].lower())
    groups = {
        "national list": ["/wilayah/"],
        "province": [f"/wilayah/{c}" for c in drawn[1]],
        "province, all time": [f"/wilayah/{c}?periode=semua" for c in drawn[1]],
        "kabupaten": [f"/wilayah/{c}" for c in drawn[2]],
        "kecamatan": [f"/wilayah/{c}" for c in drawn[3]],
        "village": [f"/wilayah/{c}" for c in drawn[4]],
        "village search": ["/", *(f"/?q={urllib.parse.quote(w)}" for w in words)],
    }
    # The population page and its API for the same regions as the dashboards.
    for suffix, url in ((" penduduk", "/wilayah/{}/penduduk"), (" population API", "/api/v1/population/{}")):
        for level, label in LEVELS.items():
            groups[label + suffix] = [url.format(c) for c in drawn[level]]
    return groups


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def time_pages(app, groups: dict[str, list[str]], repeats: int = 3) -> dict:
    """Each URL in one process (the page cache off): a first visit, then ``repeats`` more whose
    median is the page's time (on a shared machine one run can be preempted; the median of three
    is what the page costs, not what the scheduler did)."""
    client = app.test_client()
    out = {}
    for label, urls in groups.items():
        first, again, slowest = [], [], ("", 0.0)
        for url in urls:
            runs = []
            for i in range(repeats + 1):
                t = time.perf_counter()
                response = client.get(url)
                ms = (time.perf_counter() - t) * 1000
                if response.status_code != 200:
                    raise SystemExit(f"{url} answered {response.status_code}")
                if i == 0:
                    first.append(ms)
                else:
                    runs.append(ms)
            again.append(statistics.median(runs))
            slowest = max(slowest, (url, again[-1]), key=lambda x: x[1])
        out[label] = {
            "pages": len(urls),
            "first_p95_ms": round(percentile(first, 95), 1),
            "median_ms": round(statistics.median(again), 1),
            "p95_ms": round(percentile(again, 95), 1),
            "max_ms": round(max(again), 1),
            "slowest": slowest[0],
            "status": "ok" if percentile(again, 95) < TARGET_P95_MS else f"over {TARGET_P95_MS} ms",
        }
        log(
            f"{label:26} {len(urls):4} pages  median {out[label]['median_ms']:7.1f} ms  "
            f"p95 {out[label]['p95_ms']:7.1f} ms (first visit {out[label]['first_p95_ms']:7.1f})  "
            f"max {out[label]['max_ms']:7.1f} ms  {slowest[0]}"
        )
    return out


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        out.extend(int(x) for x in text)
    return out


def memory_under_load(url: str, app, rnd: random.Random, rounds: int, seconds: float) -> dict:
    """gunicorn as gunicorn.conf.py runs it; each round requests a fresh draw of pages at every
    level from 8 threads; the web workers' RSS after the first round and after the last."""
    folder = Path(tempfile.mkdtemp(prefix="balai-national-"))
    port = free_port()
    env = {
        **os.environ,
        "BALAI_ENV": "development",
        "BALAI_INSTANCE": str(folder),
        "DATABASE_URL": url,
        "SECRET_KEY": "national-bench-secret-key-long-enough-0123456789",
        "UPLOAD_DIR": str(folder / "uploads"),
        "RATELIMIT_STORAGE_URI": "memory://",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("REDIS_URL", None)
    server = subprocess.Popen(
        [str(Path(PYTHON).parent / "gunicorn"), "--bind", f"127.0.0.1:{port}", "wsgi:app"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(folder / "gunicorn.log", "wb"),  # noqa: SIM115  (closed with the process)
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if get(base, "/healthz").status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("gunicorn did not start: " + (folder / "gunicorn.log").read_text()[-2000:])
            time.sleep(0.3)
        samples: list[dict] = []
        requests_sent = errors = 0
        stop_at = time.monotonic() + seconds
        for n in range(rounds + 1):
            urls = [u for group in targets(app, rnd, 40).values() for u in group]
            rnd.shuffle(urls)
            with ThreadPoolExecutor(8) as pool:
                statuses = list(pool.map(lambda u: get(base, u).status, urls))
            requests_sent += len(statuses)
            errors += sum(1 for s in statuses if s != 200)
            workers = sorted(_children(server.pid))
            samples.append({"round": n, "rss_mb": [round(_rss_kb(p) / 1024, 1) for p in workers]})
            log(f"load round {n}: {requests_sent} requests, worker RSS {samples[-1]['rss_mb']} MB")
            if time.monotonic() > stop_at:
                break
    finally:
        os.killpg(server.pid, 15)
        server.wait(30)
    # The page cache fills (to its bound) and the connection pools open in the first rounds.
    warm = samples[min(WARMUP_ROUNDS, len(samples) - 1)]
    first, last = warm["rss_mb"], samples[-1]["rss_mb"]
    growth = max((b - a for a, b in zip(first, last, strict=False)), default=0.0)
    return {
        "requests": requests_sent,
        "errors": errors,
        "rounds": len(samples) - 1,
        "rss_at_start_mb": samples[0]["rss_mb"],
        "warmup_rounds": warm["round"],
        "rss_after_warmup_mb": first,
        "rss_after_load_mb": last,
        "max_growth_mb": round(growth, 1),
        "samples": samples,
    }


def make_app():
    os.environ["PAGE_CACHE_SECONDS"] = "0"  # time the pages themselves, not the micro-cache
    os.environ.setdefault("BALAI_INSTANCE", tempfile.mkdtemp(prefix="balai-national-"))
    from app import create_app
    from app.config import TestConfig

    class NationalConfig(TestConfig):
        SQLALCHEMY_DATABASE_URI = database_url()
        PAGE_CACHE_SECONDS = 0
        WTF_CSRF_ENABLED = False

    return create_app(NationalConfig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="share of the 50 million requests")
    parser.add_argument("--reuse", action="store_true", help="time again on the data already built")
    parser.add_argument(
        "--residents",
        type=int,
        default=FULL_RESIDENTS,
        help="residents in the population registers at the full size (scaled with --scale; 0: none)",
    )
    parser.add_argument("--per-level", type=int, default=100, help="regions timed per level")
    parser.add_argument("--load-rounds", type=int, default=20)
    parser.add_argument("--load-seconds", type=float, default=300)
    args = parser.parse_args(argv)
    url = database_url()
    if not url.startswith("postgresql") or not postgres_reachable(url):
        print(f"SKIPPED: no PostgreSQL at NATIONAL_DATABASE_URL ({url})")
        return 1
    app = make_app()
    requests = int(FULL_REQUESTS * args.scale)
    previous = Path(ROOT / "bench" / "results" / "national.json")
    if args.reuse and previous.exists():
        data = json.loads(previous.read_text())["data"]
        log(f"reusing the data built before: {data.get('service_requests_rows', '?'):,} requests")
    else:
        log(f"building: 83,762 villages, {requests:,} requests (scale {args.scale})")
        data = build(app, requests, int(args.residents * args.scale))
        log(json.dumps(data))
    rnd = random.Random(83762)
    timings = time_pages(app, targets(app, rnd, args.per_level))
    memory = memory_under_load(url, app, rnd, args.load_rounds, args.load_seconds)
    result = {
        "scale": args.scale,
        "data": data,
        "timings": timings,
        "target_p95_ms": TARGET_P95_MS,
        "memory": memory,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    path = write_result("national", result)
    print(f"\n{machine()}")
    for label, t in timings.items():
        print(f"  {label:26} p95 {t['p95_ms']:6.1f} ms (first visit {t['first_p95_ms']:6.1f})  {t['status']}")
    print(
        f"  web workers' RSS {memory['rss_after_warmup_mb']} MB after warm-up, "
        f"{memory['rss_after_load_mb']} MB after {memory['requests']} requests"
    )
    print(f"written {path.relative_to(ROOT)}")
    return 0 if all(t["status"] == "ok" for t in timings.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
