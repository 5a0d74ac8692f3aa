"""The schema comes from the migrations alone, on SQLite and on PostgreSQL, and matches the models."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy import inspect, make_url

from app import create_app
from app.extensions import db
from app.models.base import schema_filter
from tests.conftest import TMP, Config, is_postgres


def _on_test_server(database: str) -> str:
    """A database of the server and role the test database uses (a CI role may carry a password)."""
    return (
        make_url(Config.SQLALCHEMY_DATABASE_URI).set(database=database).render_as_string(hide_password=False)
    )


@pytest.fixture
def fresh_database_url():
    """An empty database of the kind under test, dropped afterwards."""
    if not is_postgres():
        yield f"sqlite:///{TMP / f'migrate-{uuid.uuid4().hex}.sqlite'}"
        return
    name = f"balai_migrate_{uuid.uuid4().hex[:8]}"
    admin = _on_test_server("postgres").replace("+psycopg", "")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield _on_test_server(name)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_upgrade_builds_the_schema_the_models_describe(fresh_database_url):
    class Fresh(Config):
        SQLALCHEMY_DATABASE_URI = fresh_database_url

    app = create_app(Fresh)
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            diff = compare_metadata(
                MigrationContext.configure(
                    conn, opts={"compare_type": True, "include_object": schema_filter(conn.dialect.name)}
                ),
                db.metadata,
            )
            tables = set(inspect(conn).get_table_names())
        db.engine.dispose()
    assert {"regions", "villages", "users", "service_requests"} <= tables
    # Index differences of expression-free indexes and types would show here; none are allowed.
    assert diff == [], f"models and migrations differ: {diff}"


def test_desk_counts_are_counted_at_upgrade_then_kept_by_the_database(fresh_database_url):
    """The migration counts the requests already there; its triggers keep the counts afterwards."""
    from flask_migrate import downgrade
    from sqlalchemy import select

    from app import workflow
    from app.models import Service
    from app.models.deskcounts import DeskCount
    from app.regions import import_regions
    from app.tenancy import activate_village

    class Fresh(Config):
        SQLALCHEMY_DATABASE_URI = fresh_database_url

    def kept() -> dict[str, int]:
        db.session.expire_all()
        return {s: n for s, n in db.session.execute(select(DeskCount.status, DeskCount.n)) if n}

    def submit(village, service, key: str):
        return workflow.submit_request(
            village, service, nik="1809104506900001", name="Siti Wulandari", phone=None, idempotency_key=key
        ).request

    app = create_app(Fresh)
    with app.app_context():
        upgrade(revision="b4e1d7a2c9f3")
        import_regions()
        village = activate_village("18.09.10.2004", slug="hanura", short_code="HNR", head_name="Sutarno")
        service = Service(village_id=village.id, code="uji", name="Surat Uji", sla_days=3)
        db.session.add(service)
        db.session.commit()
        first, second, third = (submit(village, service, f"k{i}") for i in range(3))
        workflow.apply_action(third, "reject", actor=None, note="Berkas tidak lengkap")
        db.session.commit()
        upgrade()
        assert kept() == {"diajukan": 2, "ditolak": 1}
        workflow.apply_action(first, "verify", actor=None)
        submit(village, service, "k3")
        db.session.commit()
        assert kept() == {"diajukan": 2, "diverifikasi": 1, "ditolak": 1}
        second_id = second.id
        db.session.remove()
        downgrade(revision="b4e1d7a2c9f3")
        second = db.session.get(type(second), second_id)
        workflow.apply_action(second, "verify", actor=None)  # no trigger left behind
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
