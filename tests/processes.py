"""Two web processes of one deployment, for tests that change data in one and read it in the other.

"one machine": both share the instance folder's stamp (app/datacache.py). "two machines and Redis":
each keeps its own stamp, so only Redis can tell it of a change.
"""

from __future__ import annotations

from app.extensions import db

KINDS = ["one machine", "two machines and Redis"]


def instance(redis_url: str | None = None, stamp: str | None = None, redis_seconds: float = 0):
    """Another web process of the same deployment: same database (and Redis), no page cache.

    With ``stamp`` it keeps its own stamp file, as a process on another machine would, and reads
    Redis on every request (``redis_seconds``, 0 unless asked): only Redis can tell it of a change.
    """
    from app import create_app
    from tests.conftest import Config

    class Process(Config):
        PAGE_CACHE_SECONDS = 0
        REDIS_URL = redis_url
        DATA_CACHE_STAMP = stamp
        DATA_CACHE_REDIS_SECONDS = redis_seconds

    return create_app(Process)


def close(*apps) -> None:
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def two_processes(request, tmp_path, redis_seconds: float = 0):
    """The body of a ``processes`` fixture parametrised with KINDS: yields the two apps, then closes them."""
    if request.param == "one machine":
        apps = (instance(), instance())
    else:
        redis_url = request.getfixturevalue("redis_url")
        apps = (
            instance(redis_url, str(tmp_path / "a.stamp"), redis_seconds),
            instance(redis_url, str(tmp_path / "b.stamp"), redis_seconds),
        )
    yield apps
    close(*apps)
