"""Command-line tools: `flask --app wsgi regions import`, `users create-admin`, `seed-demo`."""

from __future__ import annotations

import time

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import func, select

from app.extensions import db
from app.models import Role, User

regions_cli = AppGroup("regions", help="The Kemendagri region tree.")
users_cli = AppGroup("users", help="Accounts.")


@regions_cli.command("import")
def regions_import() -> None:
    """Import (or refresh) every province, regency, district and village of Indonesia."""
    from app.regions import import_regions

    started = time.perf_counter()
    result = import_regions()
    click.echo(
        f"Wilayah: {result['inserted']} baru, {result['renamed']} berganti nama, {result['total']} seluruhnya "
        f"({time.perf_counter() - started:.1f} detik)."
    )


@users_cli.command("create-admin")
@click.option("--email", prompt=True)
@click.option("--name", default="Superadmin")
@click.password_option()
def create_admin(email: str, name: str, password: str) -> None:
    """Create the first superadmin account."""
    email = email.strip().lower()
    if len(password) < 10:
        raise click.ClickException("Kata sandi paling sedikit 10 karakter.")
    if db.session.scalar(select(User.id).where(func.lower(User.email) == email)):
        raise click.ClickException(f"Akun {email} sudah ada.")
    user = User(email=email, name=name, role=Role.SUPERADMIN)
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    click.echo(f"Superadmin {email} dibuat.")


@click.command("seed-demo")
@click.option("--password", default=None, help="Give every demo account this password.")
def seed_demo_command(password: str | None) -> None:
    """Build the demo villages, accounts and data; running it again changes nothing."""
    from app.cli.demo import seed_demo

    for line in seed_demo(password):
        click.echo(line)


jobs_cli = AppGroup("jobs", help="Background jobs.")


@jobs_cli.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option(
    "--fork/--no-fork",
    default=None,
    help="Run each job in a forked work-horse (rq's Worker) instead of in this process; "
    "the default comes from JOBS_FORK (off).",
)
@click.argument("queues", nargs=-1)
def jobs_worker(burst: bool, fork: bool | None, queues: tuple[str, ...]) -> None:
    """Run an rq worker on the high, default and low queues (needs REDIS_URL).

    Jobs run in the worker process itself (rq's SimpleWorker), many times faster for short jobs;
    --fork (or JOBS_FORK=1) forks a work-horse per job. Run several workers for more throughput.
    """
    from flask import current_app

    from app.jobs import QUEUES, run_worker

    if not current_app.config.get("REDIS_URL"):
        raise click.ClickException(
            "REDIS_URL belum diatur; tanpa Redis pekerjaan berjalan di dalam proses web."
        )
    run_worker(current_app._get_current_object(), tuple(queues) or QUEUES, burst=burst, fork=fork)


uploads_cli = AppGroup("uploads", help="Stored photos.")


@uploads_cli.command("sweep")
@click.option("--dry-run", is_flag=True, help="Only count what would be removed.")
@click.option("--force", is_flag=True, help="Remove even when most old photos look unreferenced.")
def uploads_sweep(dry_run: bool, force: bool) -> None:
    """Remove stored photos no row refers to (forms never sent, interrupted writes)."""
    from flask import current_app

    from app.uploads import sweep_folder

    result = sweep_folder(current_app.config["UPLOAD_DIR"], dry_run=dry_run, force=force)
    if result.refused:
        raise click.ClickException(
            f"Tidak ada yang dihapus: {result.photos} dari {result.photos + result.kept} foto lama tidak "
            "dirujuk basis data ini. Periksa DATABASE_URL dan UPLOAD_DIR; kalau memang benar, ulangi dengan --force."
        )
    verb = "akan dihapus" if dry_run else "dihapus"
    click.echo(
        f"{result.photos} foto tanpa pemilik dan {result.leftovers} sisa tulisan gagal {verb}; "
        f"{result.kept} foto lama masih dipakai."
    )


def register(app: Flask) -> None:
    app.cli.add_command(regions_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(jobs_cli)
    app.cli.add_command(uploads_cli)
