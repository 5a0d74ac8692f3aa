"""Can the tests reach PostgreSQL at this URL, and if not, why: no server, login refused, or no database.

    python .ci/postgres_check.py postgresql+psycopg://postgres@127.0.0.1:5432/test

Prints one line and exits 0 (reachable), 10 (no server listening), 11 (the server refused the
login: wrong password, or peer/scram authentication the URL cannot satisfy), 12 (the server is up and
the login works, but the database does not exist), 13 (anything else). `make test` and `.ci/run`
act on the code; a person reads the line.
"""

from __future__ import annotations

import sys

import psycopg

NO_SERVER, AUTH, NO_DATABASE, OTHER = 10, 11, 12, 13
AUTH_STATES = {"28000", "28P01"}  # invalid_authorization_specification (pg_hba, peer), invalid_password
AUTH_WORDS = ("authentication failed", "no password supplied", "pg_hba.conf", "role", "password")


def diagnose(url: str) -> tuple[int, str]:
    """(exit code, one line for a person) for the database at ``url``."""
    plain = url.replace("+psycopg", "", 1)
    where = plain.rsplit("@", 1)[-1]
    try:
        psycopg.connect(plain, connect_timeout=3).close()
    except psycopg.OperationalError as err:
        text = str(err).strip().splitlines()[0] if str(err).strip() else repr(err)
        state = getattr(getattr(err, "diag", None), "sqlstate", None) or getattr(err, "sqlstate", None)
        lowered = str(err).lower()
        if state == "3D000" or ("database" in lowered and "does not exist" in lowered):
            return (
                NO_DATABASE,
                f"PostgreSQL at {where}: the server is up and the login works, but the database does not exist ({text})",
            )
        if state in AUTH_STATES or any(word in lowered for word in AUTH_WORDS):
            return AUTH, f"PostgreSQL at {where}: the server refused the login ({text})"
        if (
            "refused" in lowered
            or "no such file" in lowered
            or "could not connect" in lowered
            or "timeout" in lowered
        ):
            return NO_SERVER, f"PostgreSQL at {where}: no server answers ({text})"
        return OTHER, f"PostgreSQL at {where}: {text}"
    return 0, f"PostgreSQL at {where}: reachable"


if __name__ == "__main__":
    code, line = diagnose(sys.argv[1])
    print(line)
    sys.exit(code)
