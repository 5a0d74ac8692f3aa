"""PostgreSQL round trips a page does not need: BEGIN and ROLLBACK around reads, and a ping per checkout.

psycopg opens a transaction (``BEGIN``, one round trip) before a request's first statement, and
the session's end rolls it back (another); ``pool_pre_ping`` pinged the server at every checkout (a
third). A page that reads two rows paid five round trips for two answers.

- GET and HEAD requests read in autocommit: each SELECT runs alone, as it would under READ
  COMMITTED anyway (every statement sees the latest committed data either way). The first write,
  or a ``SELECT ... FOR UPDATE``, in such a request sends ``BEGIN`` first, so writes stay one
  transaction, committed or rolled back as a whole, exactly as before.
- A connection is pinged at checkout only after it sat idle in the pool for ``IDLE_PING_SECONDS``
  (a server restart or a dropped socket), instead of every time; one that fails is replaced.
"""

from __future__ import annotations

import time

from flask import Flask, has_request_context, request
from sqlalchemy import event, exc
from sqlalchemy.orm import Session

IDLE_PING_SECONDS = 10
_READS = ("GET", "HEAD")


def _reading_request() -> bool:
    return has_request_context() and request.method in _READS


def _dbapi(connection):
    """The psycopg connection under a SQLAlchemy one, when autocommit reads apply to it."""
    if connection.dialect.name != "postgresql":
        return None
    return connection.connection.dbapi_connection


def _after_begin(session, _transaction, connection) -> None:
    if session.info.get("balai_writes") or not _reading_request():
        return
    raw = _dbapi(connection)
    if raw is not None and not raw.autocommit and _idle(raw):
        raw.autocommit = True
        session.info["balai_autocommit"] = raw


def _idle(raw) -> bool:
    from psycopg.pq import TransactionStatus

    return raw.info.transaction_status == TransactionStatus.IDLE


def _writing(session) -> None:
    """Before a write: open the transaction the autocommit reads went without."""
    session.info["balai_writes"] = True
    raw = session.info.get("balai_autocommit")
    if raw is not None and raw.autocommit and _idle(raw):
        raw.execute("BEGIN")


def _before_flush(session, *_args) -> None:
    _writing(session)


def _orm_execute(state) -> None:
    if not state.is_select or state.statement._for_update_arg is not None:
        _writing(state.session)


def _after_end(session, transaction) -> None:
    if transaction.parent is not None:
        return
    session.info.pop("balai_writes", None)
    raw = session.info.pop("balai_autocommit", None)
    if raw is not None and not raw.closed and _idle(raw):
        raw.autocommit = False


event.listen(Session, "after_begin", _after_begin)
event.listen(Session, "before_flush", _before_flush)
event.listen(Session, "do_orm_execute", _orm_execute)
event.listen(Session, "after_transaction_end", _after_end)


def _checked_in(dbapi_connection, record) -> None:
    record.info["balai_idle_since"] = time.monotonic()
    if getattr(dbapi_connection, "autocommit", False) and not dbapi_connection.closed:
        try:
            if not _idle(dbapi_connection):
                dbapi_connection.rollback()
            dbapi_connection.autocommit = False
        except Exception:  # a broken connection: the next checkout's ping replaces it
            record.info["balai_idle_since"] = 0.0


def _checked_out(dbapi_connection, record, _proxy) -> None:
    since = record.info.get("balai_idle_since")
    fresh = since is None or time.monotonic() - since < IDLE_PING_SECONDS
    if fresh and not dbapi_connection.closed:
        return
    try:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        dbapi_connection.rollback()
    except Exception as error:  # any driver error: this connection is gone, the pool makes another
        raise exc.DisconnectionError() from error


def init_app(app: Flask) -> None:
    from app.extensions import db

    with app.app_context():
        engine = db.engine
    if engine.dialect.name != "postgresql":
        return
    event.listen(engine, "checkin", _checked_in)
    if not app.config["SQLALCHEMY_ENGINE_OPTIONS"].get("pool_pre_ping"):
        event.listen(engine, "checkout", _checked_out)
