"""Soak: a mixed load against gunicorn + PostgreSQL + Redis + rq workers, then count what was lost.

Residents submit requests (with photos) and track them, buyers browse and order, officials work
the queue, notifications flow through the outbox to rq workers and the simulator gateway. When
the time is up the load stops, the queue drains, and the script counts:

- every request a resident got a receipt for is stored (lost = 0),
- every notification reached a final state, none delivered twice on a channel, none left behind,
- responses with a 5xx status (must be 0),
- RSS of the gunicorn workers over time (must stay flat after warm-up).

    .venv/bin/python -m bench.soak --seconds 600

It prints the counts and writes bench/results/soak.json. The PostgreSQL database named by
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

    def __init__(self, workers: int, rq_workers: int):
        self.folder = Path(tempfile.mkdtemp(prefix="balai-soak-"))
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.rq_workers = rq_workers
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
                str(bin_dir / "gunicorn"),
                "--workers",
                str(self.workers),
                "--threads",
                "4",
                "--bind",
                f"127.0.0.1:{self.port}",
                "wsgi:app",
            ],
            "gunicorn",
        )
        for n in range(self.rq_workers):
            self._spawn([str(bin_dir / "flask"), "--app", "wsgi", "jobs", "worker"], f"worker{n}")
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
                for line in (entry / "status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
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


def _drain(timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    counts = _notification_counts()
    while time.monotonic() < deadline:
        counts = _notification_counts()
        pending = sum(n for state, n in counts["by_state"].items() if state not in SETTLED)
        if pending == 0:
            break
        time.sleep(2)
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=600)
    parser.add_argument("--residents", type=int, default=6)
    parser.add_argument("--buyers", type=int, default=3)
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers")
    parser.add_argument("--rq-workers", type=int, default=2)
    args = parser.parse_args()

    stack = Stack(args.workers, args.rq_workers)
    print(
        f"seeding {PG_URL.rsplit('/', 1)[-1]} and starting gunicorn + {args.rq_workers} rq workers ...",
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
    started = time.monotonic()
    try:
        for thread in threads:
            thread.start()
        while time.monotonic() - started < args.seconds:
            rss.append((round(time.monotonic() - started, 1), stack.gunicorn_worker_rss()))
            time.sleep(min(5, max(args.seconds - (time.monotonic() - started), 0.1)))
        stop.set()
        for thread in threads:
            thread.join(120)
        rss.append((round(time.monotonic() - started, 1), stack.gunicorn_worker_rss()))
        notifications = _drain(120)
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
    pending = sum(n for state, n in notifications["by_state"].items() if state not in SETTLED)
    warm = [kb for t, kb in rss if t >= args.seconds * 0.2] or [kb for _t, kb in rss]
    growth = (warm[-1] - warm[0]) if warm else 0
    flat = growth <= max(0.15 * warm[0], 30_000) if warm else False
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
        "notifications": notifications["by_state"],
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
        f"  notifications {notifications['by_state']}, pending {pending}, "
        f"delivered twice {notifications['duplicates']}"
    )
    print(
        f"  gunicorn workers RSS after warm-up {warm[0] if warm else '?'} KB, end {warm[-1] if warm else '?'} KB, flat {flat}"
    )
    print(f"  written to {RESULTS / 'soak.json'}")
    ok = not lost and not tally.server_errors and pending == 0 and notifications["duplicates"] == 0 and flat
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
