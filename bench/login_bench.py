"""Login timing: does the answer to a wrong password tell whether the email has an account?

Times ``POST /akun/masuk`` in-process (no network) with production's scrypt hashes, for a known
email with a wrong password and for an unknown email, interleaved. Before the dummy hash an unknown
email answered 25 times faster (6.3 ms against 155 ms median here; the review saw 7 against 103);
since, both take the same (156 ms each, 2026-12-03, 2-core VM). Prints medians and writes
bench/results/login.json.

    .venv/bin/python bench/login_bench.py [--rounds 30]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
FOLDER = Path(tempfile.mkdtemp(prefix="balai-bench-"))
os.environ.setdefault("BALAI_INSTANCE", str(FOLDER))

from app import create_app  # noqa: E402
from app.config import TestConfig  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import Role, User  # noqa: E402
from bench.support import table, write_result  # noqa: E402

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


class Config(TestConfig):
    SQLALCHEMY_DATABASE_URI = f"sqlite:///{FOLDER / 'login.sqlite'}"
    UPLOAD_DIR = str(FOLDER / "uploads")
    PASSWORD_HASH_METHOD = "scrypt"
    WTF_CSRF_ENABLED = True
    LOGIN_RATE_LIMIT = "100000 per minute"
    LOGIN_LOCKOUT_AFTER = 10**9  # time every attempt, not the lock


def timed_login(client, email: str) -> float:
    token = CSRF.search(client.get("/akun/masuk").get_data(as_text=True)).group(1)
    started = time.perf_counter()
    response = client.post(
        "/akun/masuk", data={"email": email, "password": "salah-sekali", "csrf_token": token}
    )
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 422, response.status_code
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    app = create_app(Config)
    with app.app_context():
        db.create_all()
        user = User(email="kades@balai.test", name="Kades", role=Role.SUPERADMIN)
        user.set_password("sandi-yang-benar-panjang")
        db.session.add(user)
        db.session.commit()
        client = app.test_client()
        timed_login(client, "kades@balai.test")  # warm up: templates, the dummy hash
        timed_login(client, "tidak.ada@balai.test")
        known, unknown = [], []
        for _ in range(args.rounds):
            known.append(timed_login(client, "kades@balai.test"))
            unknown.append(timed_login(client, "tidak.ada@balai.test"))
    rows = [
        ["known email, wrong password", round(statistics.median(known), 1), round(max(known), 1)],
        ["unknown email", round(statistics.median(unknown), 1), round(max(unknown), 1)],
    ]
    print(table(rows, ["login attempt", "median ms", "max ms"]))
    ratio = statistics.median(unknown) / statistics.median(known)
    print(f"unknown / known median: {ratio:.2f}")
    write_result(
        "login",
        {
            "rounds": args.rounds,
            "known_median_ms": rows[0][1],
            "unknown_median_ms": rows[1][1],
            "ratio": round(ratio, 3),
        },
    )


if __name__ == "__main__":
    main()
