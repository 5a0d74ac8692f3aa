"""`flask --app wsgi webpush keys`, `notifications sweep|digest|cleanup`."""

from __future__ import annotations

import click
from flask.cli import AppGroup

webpush_cli = AppGroup("webpush", help="Web Push (VAPID).")
notifications_cli = AppGroup("notifications", help="Notifications and the outbox.")


@webpush_cli.command("keys")
def webpush_keys() -> None:
    """Make a VAPID key pair; put both lines in the environment of the web and worker processes."""
    from app.notifications.channels.push import generate_keys

    private, public = generate_keys()
    click.echo(f"VAPID_PRIVATE_KEY={private}")
    click.echo(f"VAPID_PUBLIC_KEY={public}")


@notifications_cli.command("sweep")
def sweep_command() -> None:
    """Hand every waiting notification to the queue now (the worker does this every 30 seconds)."""
    from app.notifications.outbox import sweep

    click.echo(f"{sweep()} notifikasi diserahkan ke antrean.")


@notifications_cli.command("digest")
def digest_command() -> None:
    """Send today's deadline summary to each village's officials (once a day)."""
    from app.notifications.jobs import sla_digest

    click.echo(f"{sla_digest()} ringkasan dikirim.")


@notifications_cli.command("cleanup")
def cleanup_command() -> None:
    """Remove old read messages, finished notifications and stale push subscriptions."""
    from app.notifications.jobs import cleanup

    click.echo(", ".join(f"{k}: {v}" for k, v in cleanup().items()))
