"""Notifications: the outbox, background delivery (WhatsApp/SMS, email, Web Push) and the in-app bell."""

from __future__ import annotations

import os

from flask import Blueprint, Flask

from app import events
from app.jobs import PERIODIC, PRELOAD, Periodic

bp = Blueprint("notifications", __name__)

PRELOAD.append("app.notifications.jobs")
PERIODIC.extend(
    [
        Periodic(
            "app.notifications.jobs.sweep",
            queue="default",
            interval=int(os.environ.get("NOTIFY_SWEEP_SECONDS", "30")),
            timeout=120,
            name="outbox-sweep",
        ),
        # Hourly, and a no-op once sent for the day: a worker down at 07:00 still sends at its next hour.
        Periodic("app.notifications.jobs.sla_digest", queue="low", cron="5 * * * *", name="sla-digest"),
        Periodic("app.notifications.jobs.cleanup", queue="low", cron="30 2 * * *", name="cleanup"),
    ]
)


def _env_list(name: str, default: str) -> list[str]:
    return [part.strip() for part in os.environ.get(name, default).split(",") if part.strip()]


def _flag(name: str) -> bool:
    return os.environ.get(name, "").lower() in ("1", "true", "yes", "on")


def _configure(app: Flask) -> None:
    """Settings of this area, from the environment; a value the app's config already has wins."""
    env = os.environ
    defaults = {
        "MAIL_SERVER": env.get("MAIL_SERVER") or None,
        "MAIL_PORT": int(env.get("MAIL_PORT", "25")),
        "MAIL_USERNAME": env.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": env.get("MAIL_PASSWORD") or None,
        "MAIL_USE_TLS": _flag("MAIL_USE_TLS"),
        "MAIL_USE_SSL": _flag("MAIL_USE_SSL"),
        "MAIL_FROM": env.get("MAIL_FROM") or "Balai <noreply@balai.local>",
        "VAPID_PRIVATE_KEY": env.get("VAPID_PRIVATE_KEY") or None,
        "VAPID_PUBLIC_KEY": env.get("VAPID_PUBLIC_KEY") or None,
        "VAPID_SUBJECT": env.get("VAPID_SUBJECT") or "mailto:admin@balai.local",
        "PUSH_ENDPOINT_HOSTS": _env_list("PUSH_ENDPOINT_HOSTS", ""),
        # Seconds before each retry of a temporary or technical failure (rq's Retry, and the sweep).
        "NOTIFY_RETRY_INTERVALS": [
            int(x) for x in _env_list("NOTIFY_RETRY_INTERVALS", "30,120,600,1800,7200")
        ],
        "NOTIFY_JOB_TIMEOUT": int(env.get("NOTIFY_JOB_TIMEOUT", "60")),
        # Notifications one job claims and sends together (a query or two per batch, not per message).
        "NOTIFY_BATCH_SIZE": int(env.get("NOTIFY_BATCH_SIZE", "50")),
        # A run that holds a notification longer than this is presumed dead (its worker was killed).
        "NOTIFY_LEASE_SECONDS": int(env.get("NOTIFY_LEASE_SECONDS", "120")),
        "NOTIFY_DIGEST_HOUR": int(env.get("NOTIFY_DIGEST_HOUR", "7")),
    }
    for key, value in defaults.items():
        app.config.setdefault(key, value)


def init_app(app: Flask) -> None:
    from app.cli.demo import seeders
    from app.models import notifications  # noqa: F401  (the tables must exist for create_all)
    from app.notifications import cli, demo, outbox, routes

    _configure(app)
    app.register_blueprint(bp)
    events.listeners["notifications"] = outbox.on_event
    seeders["notifications"] = demo.seed
    app.cli.add_command(cli.webpush_cli)
    app.cli.add_command(cli.notifications_cli)
    app.context_processor(routes.template_helpers)

    if not app.config.get("REDIS_URL") and not app.config.get("TESTING"):
        # The embedded default has no worker: the sweep, digest and clean-up run in this process.
        @app.before_request
        def _start_periodic() -> None:
            from app.jobs import start_inprocess_scheduler

            start_inprocess_scheduler(app)
