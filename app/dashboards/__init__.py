"""Village profiles, region dashboards, Smart Village indicators; the roll-ups behind them."""

from __future__ import annotations

import click
from flask import Blueprint, Flask
from flask.cli import AppGroup

bp = Blueprint("dashboards", __name__)

stats_cli = AppGroup("stats", help="Roll-up tables of the dashboards.")


@stats_cli.command("rebuild")
def stats_rebuild() -> None:
    """Recount every roll-up from the requests and orders, compare, and replace them."""
    from app.extensions import db
    from app.stats import rollups

    diff = rollups.rebuild()
    db.session.commit()
    after = rollups.differences(rollups.recount(), rollups.stored())
    for name, rows in diff.items():
        click.echo(f"{name}: {len(rows)} baris berbeda sebelum dibangun ulang")
        for key, want, have in rows[:10]:
            click.echo(f"  {key}: seharusnya {want}, tersimpan {have}")
    if any(after.values()):
        raise click.ClickException("Roll-up masih berbeda dari hitungan ulang.")
    click.echo("Roll-up cocok dengan hitungan ulang.")


@stats_cli.command("check")
def stats_check() -> None:
    """Compare the roll-ups with a full recount without changing anything (exit 1 if they differ)."""
    from app.stats import rollups

    diff = rollups.differences(rollups.recount(), rollups.stored())
    for name, rows in diff.items():
        click.echo(f"{name}: {len(rows)} baris berbeda")
    if any(diff.values()):
        raise click.ClickException("Roll-up tidak cocok; jalankan: flask --app wsgi stats rebuild")
    click.echo("Roll-up cocok dengan hitungan ulang.")


@stats_cli.command("import-idm")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def stats_import_idm(path: str) -> None:
    """Import Indeks Desa Membangun statuses from a CSV (kode_desa, tahun, skor, status)."""
    from app.dashboards.indicators import import_idm
    from app.extensions import db

    with open(path, encoding="utf-8-sig") as fh:
        result = import_idm(fh.read())
    db.session.commit()
    click.echo(f"IDM: {result['added']} baru, {result['updated']} diperbarui, {result['skipped']} dilewati.")


def init_app(app: Flask) -> None:
    from app import events
    from app.cli import demo
    from app.dashboards import population, routes  # noqa: F401
    from app.dashboards.seed import seed_profiles
    from app.models import profile, stats  # noqa: F401  (create_all and Alembic must see them)
    from app.stats.rollups import on_event, track_service_codes

    events.listeners["dashboards"] = on_event
    track_service_codes()
    demo.seeders["dashboards"] = seed_profiles
    app.register_blueprint(bp)
    app.cli.add_command(stats_cli)
