"""Notification throughput: 10,000 messages through the outbox and two rq workers to a local gateway.

Writes 10,000 outbox rows (100 requests x 100 status messages), starts two real workers
(`flask --app wsgi jobs worker`), relays the outbox to Redis the way the sweep does, and times
each message's arrival at a local HTTP gateway (the generic JSON webhook adapter). Prints
messages per second, end-to-end latency percentiles (from the moment the rows were committed)
and the SQL statements and commits per message (relay and workers, counted by bench/sqlcount.py),
and writes bench/results/notify.json. Not run by the tests. `--worker-class fork` starts
`jobs worker --fork` (a work-horse forked per job) for comparison.

`--announcement 100000` times instead a village announcement's fan-out: that many requests with a
push subscription, then the announcement event inside a transaction as the officials' page emits
it, the commit, and the relay: until every outbox row is written and handed to rq (no workers run).

    .venv/bin/python bench/notify_bench.py
    NOTIFY_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/scratch \\
    NOTIFY_BENCH_REDIS_URL=redis://127.0.0.1:6379/9 .venv/bin/python bench/notify_bench.py --messages 2000

The Redis database named by NOTIFY_BENCH_REDIS_URL is emptied first (FLUSHDB), and a PostgreSQL
database (NOTIFY_BENCH_DATABASE_URL, else make bench's BENCH_DATABASE_URL) is rebuilt (drop_all):
give both as scratch.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results"
SQLCOUNT = str(ROOT / "bench" / "sqlcount.py")


class Gateway:
    """Records when each reference first arrives; answers 200 at once."""

    def __init__(self):
        self.arrivals: dict[str, float] = {}
        self.lock = threading.Lock()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # As real servers do: without it the body, written after the headers, waits on the
            # client's delayed ACK (40 ms) on a kept-alive connection.
            disable_nagle_algorithm = True

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                reference = json.loads(body)["reference"]
                with gateway.lock:
                    gateway.arrivals.setdefault(reference, time.time())
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/send"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--announcement", type=int, default=0, help="time a fan-out to this many instead")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--worker-class",
        choices=("fork", "simple"),
        default="simple",
        help="simple: jobs in the worker process (the default of `jobs worker`); fork: `jobs worker --fork`",
    )
    args = parser.parse_args()

    instance = tempfile.mkdtemp(prefix="balai-notify-bench-")
    os.environ["BALAI_INSTANCE"] = instance
    database_url = (
        os.environ.get("NOTIFY_BENCH_DATABASE_URL")
        or os.environ.get("BENCH_DATABASE_URL")  # make bench's scratch PostgreSQL
        or f"sqlite:///{instance}/bench.sqlite"
    )
    redis_url = os.environ.get("NOTIFY_BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")
    os.environ.update(
        BALAI_ENV="development",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        SECRET_KEY="notify-bench-secret-key-long-enough-0123456789",
        GATEWAY_ALLOW_LOOPBACK="1",  # the local gateway stand-in (gateway calls go to public addresses only)
        LOG_LEVEL="WARNING",
    )

    from redis import Redis
    from sqlalchemy import func, select

    from app import create_app
    from app.extensions import db
    from app.models import Region, Service, ServiceRequest, Village, utcnow
    from app.models.notifications import DELIVERED, RESIDENT, Notification, VillageChannels
    from app.notifications import outbox
    from bench.sqlcount import install, totals

    Redis.from_url(redis_url).flushdb()
    counted = install(None)
    count_file = f"{instance}/sqlcount"
    gateway = Gateway()
    app = create_app()
    with app.app_context():
        db.drop_all()
        db.create_all()
        for code, parent, level, name in (
            ("18", None, 1, "Lampung"),
            ("18.09", "18", 2, "Pesawaran"),
            ("18.09.10", "18.09", 3, "Teluk Pandan"),
            ("18.09.10.2004", "18.09.10", 4, "Hanura"),
        ):
            db.session.add(Region(code=code, parent_code=parent, level=level, name=name))
        village = Village(region_code="18.09.10.2004", slug="hanura", name="Hanura", short_code="HNR")
        db.session.add(village)
        db.session.flush()
        db.session.add(
            VillageChannels(village_id=village.id, whatsapp_gateway="webhook", whatsapp_url=gateway.url)
        )
        service = Service(village_id=village.id, code="sk", name="Surat Keterangan Domisili", sla_days=3)
        db.session.add(service)
        db.session.flush()
        if args.announcement:
            announcement(args.announcement, village, service, redis_url, database_url)
            return
        per_request = 100
        requests = []
        for i in range((args.messages + per_request - 1) // per_request):
            req = ServiceRequest(
                village_id=village.id,
                service_id=service.id,
                tracking_code=f"BNCH-{i:04d}-XX"[:12],
                nik="1809100101900001",
                name="Warga",
                phone=f"+62812{i:07d}",
                idempotency_key=f"bench-{i}",
                fix_token_hash=f"{i:064d}",
                due_date=utcnow().date(),
            )
            requests.append(req)
        db.session.add_all(requests)
        db.session.flush()
        params = {"village": "Desa Hanura", "service": service.name, "status": "diproses"}
        rows = [
            {
                "kind": "status_changed",
                "route": RESIDENT,
                "village_id": village.id,
                "request_id": requests[i // per_request].id,
                "params": params | {"code": requests[i // per_request].tracking_code},
                "queue": "high",
                "state": "created",
                "attempts": 0,
                "last_error": "",
            }
            for i in range(args.messages)
        ]
        db.session.execute(Notification.__table__.insert(), rows)
        db.session.commit()
        db.engine.dispose()

        # The bench relays; the cron sweep stays idle. Each worker writes its SQL counts when it stops.
        env = {**os.environ, "NOTIFY_SWEEP_SECONDS": "3600", "SQLCOUNT_FILE": count_file}
        mode = "--fork" if args.worker_class == "fork" else "--no-fork"
        before = dict(counted)
        workers = [
            subprocess.Popen(
                [sys.executable, SQLCOUNT, "--app", "wsgi", "jobs", "worker", mode, "high"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(args.workers)
        ]
        try:
            time.sleep(3)  # let the workers start
            started = time.time()
            relayed = 0
            while relayed < args.messages:
                relayed += outbox.relay(limit=500)
            relay_seconds = time.time() - started
            relay_counts = {k: counted[k] - before[k] for k in counted}
            deadline = time.time() + max(600, args.messages / 5)
            while len(gateway.arrivals) < args.messages and time.time() < deadline:
                time.sleep(0.5)
            finished = max(gateway.arrivals.values()) if gateway.arrivals else time.time()
            delivered = db.session.scalar(
                select(func.count(Notification.id)).where(Notification.state == DELIVERED)
            )
        finally:
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
            for worker in workers:
                try:
                    worker.wait(20)
                except subprocess.TimeoutExpired:
                    worker.kill()
                    worker.wait(5)

    worker_counts = totals(count_file)
    per = max(len(gateway.arrivals), 1)
    latencies = [(t - started) * 1000 for t in gateway.arrivals.values()]
    elapsed = finished - started
    result = {
        "database": database_url.split(":", 1)[0],
        "messages": args.messages,
        "workers": args.workers,
        "worker_class": args.worker_class,
        "arrived_at_gateway": len(gateway.arrivals),
        "delivered_in_database": delivered,
        "relay_seconds": round(relay_seconds, 2),
        "elapsed_seconds": round(elapsed, 2),
        "messages_per_second": round(len(latencies) / elapsed, 1) if elapsed > 0 else None,
        "sql_statements_per_message": round(
            (worker_counts["statements"] + relay_counts["statements"]) / per, 2
        ),
        "commits_per_message": round((worker_counts["commits"] + relay_counts["commits"]) / per, 3),
        "sql_counts": {"relay": relay_counts, "workers": worker_counts},
        "latency_ms": {
            "p50": round(percentile(latencies, 50)),
            "p90": round(percentile(latencies, 90)),
            "p99": round(percentile(latencies, 99)),
            "max": round(max(latencies)),
            "mean": round(statistics.fmean(latencies)),
        }
        if latencies
        else None,
    }
    print(json.dumps(result, indent=2))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "notify.json").write_text(json.dumps(result, indent=2) + "\n")


def announcement(recipients: int, village, service, redis_url: str, database_url: str) -> None:
    """Time the fan-out of one announcement to ``recipients`` subscribed requests until all is in rq."""
    from redis import Redis
    from rq import Queue
    from sqlalchemy import func, insert, select, text

    from app import events
    from app.extensions import db
    from app.models import ServiceRequest, utcnow
    from app.models.notifications import Notification, PushSubscription
    from app.models.profile import Announcement
    from bench.support import requests_in_bulk

    today = utcnow().date()
    with requests_in_bulk(lambda sql: db.session.execute(text(sql)), db.engine.dialect.name):
        for lo in range(0, recipients, 10_000):
            chunk = range(lo, min(lo + 10_000, recipients))
            db.session.execute(
                insert(ServiceRequest),
                [
                    {
                        "village_id": village.id,
                        "service_id": service.id,
                        "tracking_code": f"A{i:09d}",
                        "nik": "1809100101900001",
                        "name": "Warga",
                        "idempotency_key": f"ann-{i}",
                        "fix_token_hash": f"{i:064d}",
                        "due_date": today,
                        "notify": True,
                        "version": 1,
                    }
                    for i in chunk
                ],
            )
    db.session.execute(
        insert(PushSubscription).from_select(
            ["request_id", "endpoint", "p256dh", "auth", "created_at"],
            select(
                ServiceRequest.id,
                func.concat("https://fcm.googleapis.com/fcm/send/bench-", ServiceRequest.id),
                func.concat("p256dh-", ServiceRequest.id),
                func.concat("auth-", ServiceRequest.id),
                func.now(),
            ).where(ServiceRequest.village_id == village.id),
        )
    )
    db.session.commit()
    started = time.time()
    item = Announcement(
        village_id=village.id, title="Kerja bakti Minggu", body="Di balai desa", broadcast=True
    )
    db.session.add(item)
    db.session.flush()
    events.emit(
        events.ANNOUNCEMENT_PUBLISHED,
        announcement_id=item.id,
        village_id=village.id,
        title=item.title,
        path=f"/desa/{village.slug}/pengumuman/{item.id}",
    )
    written = time.time()
    db.session.commit()  # the after-commit hook hands the rows to rq
    finished = time.time()
    relayed = db.session.scalar(
        select(func.count(Notification.id)).where(Notification.relayed_at.isnot(None))
    )
    jobs = Queue("low", connection=Redis.from_url(redis_url)).count
    result = {
        "database": database_url.split(":", 1)[0],
        "recipients": recipients,
        "rows_written_seconds": round(written - started, 2),
        "enqueued_seconds": round(finished - started, 2),
        "handed_to_rq": relayed,
        "jobs_in_queue": jobs,
    }
    print(json.dumps(result, indent=2))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "notify_announcement.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
