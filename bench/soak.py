"""Soak: a mixed load against gunicorn + PostgreSQL + Redis + rq workers, then count what was lost.

Residents submit requests (with photos) and track them, buyers browse and order, officials work
the queue, notifications flow through the outbox to rq workers (`flask --app wsgi jobs worker`, as
the Procfile runs them) and the simulator gateway. When the time is up the load stops, the script
waits for the outbox to drain (up to --drain-seconds, printing progress), and counts:

- every request a resident got a receipt for is stored (lost = 0),
- every notification settled (delivered, cancelled or failed for good), none delivered twice on a
  channel; any still pending after the drain wait fails the run,
- responses with a 5xx status (must be 0),
- RSS of the gunicorn workers and of the rq workers over time (must stay flat after warm-up).

    .venv/bin/python -m bench.soak --seconds 600

It prints the counts and writes bench/results/soak.json; the exit status is 1 when a check fails. The PostgreSQL database named by
SOAK_PG_URL is dropped and rebuilt; SOAK_REDIS_URL's database is flushed.
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PG_URL = os.environ.get("SOAK_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/balai_h7")
REDIS_URL = os.environ.get("SOAK_REDIS_URL", "redis://127.0.0.1:6379/7")
PASSWORD = "soak-demo-password-2026"
NIK = "1809104508920001"
SLUG = "hanura"
OFFICIALS = ("operator.hanura@balai.test", "kades.hanura@balai.test")
FLOW_ACTIONS = ("verify", "start", "mark_ready", "hand_over")
# Final for a notification: delivered, superseded by a newer status (cancelled), or failed for good.
SETTLED = ("delivered", "cancelled", "permanent-failure")

_SEED = r"""
import sys
from sqlalchemy import update
from app import create_app
from app.extensions import db
from app.regions import import_regions
from app.cli.demo import seed_demo

app = create_app()
with app.app_context():
    db.drop_all()
    db.create_all()
    import_regions()
    seed_demo(sys.argv[1])
    from app.models.notifications import VillageChannels
    db.session.execute(update(VillageChannels).values(whatsapp_gateway="simulator", sms_gateway="simulator"))
    db.session.commit()
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _photo() -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (640, 480), "white")
    ImageDraw.Draw(image).rectangle((40, 40, 400, 300), fill="navy")
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


class Stack:
    """gunicorn and rq workers of the app, on a fresh database and Redis database."""

    def __init__(self, workers: int | None, rq_workers: int, rq_fork: bool = False):
        self.folder = Path(tempfile.mkdtemp(prefix="balai-soak-"))
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.rq_workers = rq_workers
        self.rq_fork = rq_fork
        self.processes: list[subprocess.Popen] = []
        self.logs: list = []

    def env(self) -> dict:
        env = dict(os.environ)
        env.update(
            BALAI_ENV="development",
            BALAI_INSTANCE=str(self.folder / "instance"),
            DATABASE_URL=PG_URL,
            REDIS_URL=REDIS_URL,
            RATELIMIT_STORAGE_URI=REDIS_URL,
            SECRET_KEY="soak-secret-key-long-enough-for-the-production-check",
            UPLOAD_DIR=str(self.folder / "uploads"),
            BASE_URL=self.url,
            PROXY_COUNT="1",  # the load says who it is in X-Forwarded-For, as nginx would
            NOTIFY_SWEEP_SECONDS="5",
            NOTIFY_RETRY_INTERVALS="2,5,10",
            PYTHONPATH=str(ROOT),
        )
        return env

    def start(self) -> Stack:
        from redis import Redis

        Redis.from_url(REDIS_URL).flushdb()
        subprocess.run(
            [sys.executable, "-c", _SEED, PASSWORD], cwd=ROOT, env=self.env(), check=True, timeout=900
        )
        bin_dir = Path(sys.executable).parent
        self._spawn(
            [
                str(bin_dir / "gunicorn"),  # with gunicorn.conf.py, as the Procfile runs it
                *(["--workers", str(self.workers)] if self.workers else []),
                "--bind",
                f"127.0.0.1:{self.port}",
                "wsgi:app",
            ],
            "gunicorn",
        )
        worker = [str(bin_dir / "flask"), "--app", "wsgi", "jobs", "worker"]
        if self.rq_fork:
            worker.append("--fork")
        for n in range(self.rq_workers):
            self._spawn(worker, f"worker{n}")
        for _ in range(200):
            try:
                if requests.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError("gunicorn did not come up")

    def _spawn(self, argv: list[str], name: str) -> None:
        log = open(self.folder / f"{name}.log", "wb")  # noqa: SIM115  (closed in stop())
        self.logs.append(log)
        self.processes.append(
            subprocess.Popen(argv, cwd=ROOT, env=self.env(), stdout=log, stderr=subprocess.STDOUT)
        )

    def gunicorn_worker_rss(self) -> int:
        """Summed RSS in KB of the gunicorn master's children (its workers)."""
        master = self.processes[0].pid
        total = 0
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(stat[1]) != master:
                    continue
                total += _rss(entry)
            except (OSError, ValueError, IndexError):
                continue
        return total

    def rq_worker_rss(self) -> int:
        """Summed RSS in KB of the rq worker processes (where their jobs run, unless they fork)."""
        total = 0
        for process in self.processes[1:]:
            try:
                total += _rss(Path(f"/proc/{process.pid}"))
            except (OSError, ValueError, IndexError):
                continue
        return total

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
        for log in self.logs:
            log.close()


def _rss(proc: Path) -> int:
    for line in (proc / "status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.statuses: Counter = Counter()
        self.server_errors: list[str] = []
        self.receipts: list[str] = []
        self.orders = 0
        self.actions = 0

    def seen(self, response: requests.Response, what: str) -> requests.Response:
        with self.lock:
            self.statuses[response.status_code] += 1
            if response.status_code >= 500:
                self.server_errors.append(f"{what} {response.status_code}")
        return response


_addresses = (f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}" for n in itertools.count(1 << 16))
_phones = (f"0812{n:08d}" for n in itertools.count(10_000_000))
_next_lock = threading.Lock()


def _next(gen):
    with _next_lock:
        return next(gen)


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    return match.group(1) if match else ""


def _hidden(html: str) -> dict[str, str]:
    import html as html_lib

    form = html[html.find('<form method="post"') :]
    return {
        k: html_lib.unescape(v)
        for k, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form)
    }


def resident(base: str, tally: Tally, stop: threading.Event, photo: bytes) -> None:
    while not stop.is_set():
        session = requests.Session()
        session.headers["X-Forwarded-For"] = _next(_addresses)
        url = f"{base}/desa/{SLUG}/layanan/domisili"
        page = tally.seen(session.get(url, timeout=30), "form")
        key = re.search(r'name="idempotency_key"[^>]*value="([^"]+)"', page.text)
        if key is None:
            continue
        data = {
            "csrf_token": _csrf(page.text),
            "idempotency_key": key.group(1),
            "nik": NIK,
            "name": "Warga Soak",
            "phone": _next(_phones),
            "email": "",
            "purpose": "Uji beban",
            "d_tempat_lahir": "Pesawaran",
            "d_pekerjaan": "Petani",
            "d_alamat": "Dusun 1",
        }
        files = {"doc_ktp": ("ktp.jpg", photo, "image/jpeg"), "doc_kk": ("kk.jpg", photo, "image/jpeg")}
        checked = tally.seen(session.post(url, data=data, files=files, timeout=60), "check")
        if checked.status_code != 200:
            continue
        sent = tally.seen(
            session.post(
                url, data={**_hidden(checked.text), "step": "send"}, allow_redirects=False, timeout=60
            ),
            "send",
        )
        if sent.status_code == 303 and "/tanda-terima/" in sent.headers.get("Location", ""):
            code = sent.headers["Location"].rsplit("/", 1)[-1]
            with tally.lock:
                tally.receipts.append(code)
            for _ in range(2):
                tally.seen(session.get(f"{base}/lacak/{code}", timeout=30), "track")


def buyer(base: str, tally: Tally, stop: threading.Event) -> None:
    session = requests.Session()
    while not stop.is_set():
        session.headers["X-Forwarded-For"] = _next(_addresses)
        catalogue = tally.seen(session.get(f"{base}/produk", timeout=30), "catalogue")
        links = sorted(set(re.findall(r'href="(/produk/\d+-[a-z0-9-]+)"', catalogue.text)))
        if not links:
            time.sleep(0.5)
            continue
        link = random.choice(links)
        page = tally.seen(session.get(base + link, timeout=30), "product")
        if random.random() < 0.3 and 'action="' + link + '/pesan"' in page.text:
            form = page.text[page.text.index('action="' + link + '/pesan"') :]
            key = re.search(r'name="key"[^>]*value="([^"]+)"', form)
            data = {
                "csrf_token": _csrf(form),
                "quantity": "1",
                "buyer_name": "Pembeli Soak",
                "buyer_phone": _next(_phones),
                "fulfilment": "pickup",
                "address": "",
                "note": "",
                "key": key.group(1) if key else "",
            }
            done = tally.seen(
                session.post(base + link + "/pesan", data=data, allow_redirects=False, timeout=30), "order"
            )
            if done.status_code == 303:
                with tally.lock:
                    tally.orders += 1
        tally.seen(session.get(f"{base}/desa/{SLUG}/", timeout=30), "profile")


def official(base: str, email: str, tally: Tally, stop: threading.Event) -> None:
    session = requests.Session()
    session.headers["X-Forwarded-For"] = _next(_addresses)
    login = session.get(f"{base}/akun/masuk", timeout=30)
    tally.seen(
        session.post(
            f"{base}/akun/masuk",
            data={"email": email, "password": PASSWORD, "csrf_token": _csrf(login.text)},
            timeout=30,
        ),
        "login",
    )
    while not stop.is_set():
        queue = tally.seen(session.get(f"{base}/kantor/", timeout=30), "queue")
        ids = sorted(set(re.findall(r'href="/kantor/permohonan/(\d+)"', queue.text)))
        if not ids:
            time.sleep(1)
            continue
        detail_path = f"/kantor/permohonan/{random.choice(ids)}"
        detail = tally.seen(session.get(base + detail_path, timeout=30), "detail")
        forms = re.findall(
            r'name="action" value="([a-z_]+)">\s*<input type="hidden" name="version" value="(\d+)">',
            detail.text,
        )
        doable = [(a, v) for a, v in forms if a in FLOW_ACTIONS]
        if not doable:
            continue
        action, version = doable[0]
        acted = tally.seen(
            session.post(
                f"{base}{detail_path}/aksi",
                data={"action": action, "version": version, "note": "", "csrf_token": _csrf(detail.text)},
                allow_redirects=False,
                timeout=60,
            ),
            "act",
        )
        if acted.status_code == 303:
            with tally.lock:
                tally.actions += 1
        time.sleep(0.2)


def _sql(query: str, params: tuple = ()) -> list[tuple]:
    import psycopg

    with psycopg.connect(PG_URL.replace("+psycopg", "")) as conn:
        return conn.execute(query, params).fetchall()


def _notification_counts() -> dict:
    states = dict(_sql("SELECT state, count(*) FROM notifications GROUP BY state"))
    duplicates = _sql(
        "SELECT count(*) FROM (SELECT notification_id FROM notification_deliveries "
        "WHERE state = 'delivered' GROUP BY notification_id HAVING count(*) > 1) AS twice"
    )[0][0]
    delivered_without_delivery = _sql(
        "SELECT count(*) FROM notifications n WHERE n.state = 'delivered' AND n.route <> 'user-email' "
        "AND NOT EXISTS (SELECT 1 FROM notification_deliveries d WHERE d.notification_id = n.id "
        "AND d.state = 'delivered')"
    )[0][0]
    return {
        "by_state": states,
        "duplicates": duplicates,
        "delivered_without_delivery": delivered_without_delivery,
    }


def _pending(by_state: dict) -> int:
    return sum(n for state, n in by_state.items() if state not in SETTLED)


def _drain(timeout: float) -> tuple[dict, int, float]:
    """Wait (up to ``timeout`` seconds) until every notification has settled, printing progress.

    Returns the final counts, the number pending when the wait began, and the seconds it took.
    """
    started = time.monotonic()
    counts = _notification_counts()
    at_start = _pending(counts["by_state"])
    last_print = -10.0
    while True:
        pending = _pending(counts["by_state"])
        waited = time.monotonic() - started
        if pending == 0 or waited >= timeout:
            break
        if waited - last_print >= 10:
            unsettled = {state: n for state, n in sorted(counts["by_state"].items()) if state not in SETTLED}
            print(f"  draining the outbox: {pending} pending {unsettled} after {waited:.0f} s", flush=True)
            last_print = waited
        time.sleep(2)
        counts = _notification_counts()
    return counts, at_start, time.monotonic() - started


def _flat(samples: list[tuple[float, int]], seconds: int) -> tuple[list[int], bool]:
    """RSS samples after the warm-up (the first fifth of the run), and whether they stayed flat."""
    warm = [kb for t, kb in samples if t >= seconds * 0.2] or [kb for _t, kb in samples]
    if not warm:
        return warm, False
    return warm, warm[-1] - warm[0] <= max(0.15 * warm[0], 30_000)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=600)
    parser.add_argument("--residents", type=int, default=6)
    parser.add_argument("--buyers", type=int, default=3)
    parser.add_argument("--workers", type=int, help="gunicorn workers (default: as gunicorn.conf.py)")
    parser.add_argument("--rq-workers", type=int, default=2, help="rq worker processes (one per core)")
    parser.add_argument("--rq-fork", action="store_true", help="run them as `jobs worker --fork`")
    parser.add_argument(
        "--drain-seconds", type=int, default=300, help="how long to wait for the outbox after the load"
    )
    args = parser.parse_args()

    from bench.support import postgres_reachable

    if not postgres_reachable(PG_URL):
        raise SystemExit(f"PostgreSQL at {PG_URL} is needed (SOAK_PG_URL)")
    stack = Stack(args.workers, args.rq_workers, args.rq_fork)
    mode = "forking a work-horse per job" if args.rq_fork else "jobs in the worker process"
    print(
        f"seeding {PG_URL.rsplit('/', 1)[-1]} and starting gunicorn + {args.rq_workers} rq workers "
        f"({mode}) ...",
        flush=True,
    )
    stack.start()
    tally, stop, photo = Tally(), threading.Event(), _photo()
    threads = [
        threading.Thread(target=resident, args=(stack.url, tally, stop, photo)) for _ in range(args.residents)
    ]
    threads += [threading.Thread(target=buyer, args=(stack.url, tally, stop)) for _ in range(args.buyers)]
    threads += [
        threading.Thread(target=official, args=(stack.url, email, tally, stop)) for email in OFFICIALS
    ]
    rss: list[tuple[float, int]] = []
    rq_rss: list[tuple[float, int]] = []
    started = time.monotonic()
    next_report = 60.0
    try:
        for thread in threads:
            thread.start()
        while (elapsed := time.monotonic() - started) < args.seconds:
            rss.append((round(elapsed, 1), stack.gunicorn_worker_rss()))
            rq_rss.append((round(elapsed, 1), stack.rq_worker_rss()))
            if elapsed >= next_report:
                print(
                    f"  {elapsed:.0f} s: {len(tally.receipts)} requests submitted, "
                    f"{_pending(_notification_counts()['by_state'])} notifications pending, "
                    f"5xx {len(tally.server_errors)}",
                    flush=True,
                )
                next_report += 60
            time.sleep(min(5, max(args.seconds - (time.monotonic() - started), 0.1)))
        stop.set()
        for thread in threads:
            thread.join(120)
        rss.append((round(time.monotonic() - started, 1), stack.gunicorn_worker_rss()))
        rq_rss.append((round(time.monotonic() - started, 1), stack.rq_worker_rss()))
        print("load stopped; waiting for the outbox to drain ...", flush=True)
        notifications, pending_at_stop, drain_seconds = _drain(args.drain_seconds)
        rq_rss.append((round(time.monotonic() - started, 1), stack.rq_worker_rss()))
        stored = set()
        if tally.receipts:
            stored = {
                row[0]
                for row in _sql(
                    "SELECT tracking_code FROM service_requests WHERE tracking_code = ANY(%s)",
                    (tally.receipts,),
                )
            }
    finally:
        stop.set()
        stack.stop()

    lost = sorted(set(tally.receipts) - stored)
    pending = _pending(notifications["by_state"])
    warm, flat = _flat(rss, args.seconds)
    rq_warm, rq_flat = _flat(rq_rss, args.seconds)
    result = {
        "seconds": args.seconds,
        "requests_submitted": len(tally.receipts),
        "requests_stored": len(stored),
        "requests_lost": len(lost),
        "orders_placed": tally.orders,
        "official_actions": tally.actions,
        "responses": dict(sorted(tally.statuses.items())),
        "responses_5xx": len(tally.server_errors),
        "server_errors": tally.server_errors[:20],
        "rq_workers": args.rq_workers,
        "rq_fork": args.rq_fork,
        "notifications": notifications["by_state"],
        "notifications_pending_at_load_stop": pending_at_stop,
        "drain_seconds": round(drain_seconds, 1),
        "notifications_pending": pending,
        "notifications_delivered_twice": notifications["duplicates"],
        "notifications_delivered_without_a_delivery": notifications["delivered_without_delivery"],
        "gunicorn_rss_kb": {
            "after_warmup": warm[0] if warm else None,
            "end": warm[-1] if warm else None,
            "max": max(kb for _t, kb in rss) if rss else None,
            "samples": rss,
        },
        "memory_flat": flat,
        "rq_worker_rss_kb": {
            "after_warmup": rq_warm[0] if rq_warm else None,
            "end": rq_warm[-1] if rq_warm else None,
            "max": max(kb for _t, kb in rq_rss) if rq_rss else None,
            "samples": rq_rss,
        },
        "rq_memory_flat": rq_flat,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "soak.json").write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"soak: {args.seconds} s, {args.residents} residents, {args.buyers} buyers, {len(OFFICIALS)} officials"
    )
    print(f"  requests submitted {len(tally.receipts)}, stored {len(stored)}, lost {len(lost)}")
    print(f"  orders placed {tally.orders}, official actions {tally.actions}")
    print(f"  responses {dict(sorted(tally.statuses.items()))}, 5xx {len(tally.server_errors)}")
    print(
        f"  notifications {dict(sorted(notifications['by_state'].items()))}, "
        f"pending at load stop {pending_at_stop}, drained in {drain_seconds:.0f} s"
    )
    print(
        f"  notifications pending after the drain wait {pending}, "
        f"delivered twice {notifications['duplicates']}, "
        f"delivered without a delivery {notifications['delivered_without_delivery']}"
    )
    print(
        f"  gunicorn workers RSS after warm-up {warm[0] if warm else '?'} KB, end {warm[-1] if warm else '?'} KB, flat {flat}"
    )
    print(
        f"  rq workers RSS after warm-up {rq_warm[0] if rq_warm else '?'} KB, "
        f"end {rq_warm[-1] if rq_warm else '?'} KB, flat {rq_flat}"
    )
    print(f"  written to {RESULTS / 'soak.json'}")
    failures = {
        "requests lost": bool(lost),
        "5xx responses": bool(tally.server_errors),
        "notifications pending": pending > 0,
        "notifications delivered twice": notifications["duplicates"] > 0,
        "gunicorn memory grew": not flat,
        "rq worker memory grew": not rq_flat,
    }
    failed = [what for what, bad in failures.items() if bad]
    print("soak: FAILED (" + ", ".join(failed) + ")" if failed else "soak: OK")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
