"""gunicorn settings, read by `gunicorn wsgi:app` (the Procfile's web process) and by bench/.

gunicorn loads ./gunicorn.conf.py by itself; flags on the command line still win over it.
"""

import os
from pathlib import Path

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
# One worker per core, a few threads each: threads overlap database and disk waits, and one slow
# upload over 3G holds one thread instead of a whole worker.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("WEB_THREADS", "4"))


def _migrates_queued_connections() -> bool:
    try:
        return Path("/proc/sys/net/ipv4/tcp_migrate_req").read_text().strip() == "1"
    except OSError:
        return False


# Each worker listens on a socket of its own (SO_REUSEPORT) and the kernel spreads new connections
# over them. On one shared socket the worker that happens to be awake takes a burst of kept-alive
# connections, and one core serves them all while the other idles (p99 doubled in bench/load.py).
# But a worker that exits would reset the connections still waiting in its own queue, unless the
# kernel hands them to a sibling (Linux 5.14+, `sysctl net.ipv4.tcp_migrate_req=1`). Without that,
# the workers share one socket: less even, and no connection is ever dropped.
reuse_port = _migrates_queued_connections()
accesslog = "-"
# No query strings: a tracking code or a search may sit there, and logs keep no personal data.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'
# And no secrets in paths: private and verification links are logged as /permohonan/[token]
# (app/accesslog.py redacts every atom that can hold a path, a query string or a referrer).
logger_class = "app.accesslog.AccessLogger"
