"""Shared column helpers."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DDL, DateTime, Index, event
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    """Now, as an aware UTC datetime."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Stores aware UTC datetimes; SQLite hands them back naive, so this puts the zone back."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def schema_filter(dialect_name: str):
    """Alembic's ``include_object`` for ``dialect_name``: model objects made only on another kind
    of database (``Index(...).ddl_if(dialect=...)``) are not expected there."""

    def include(obj, name, type_, reflected, compare_to) -> bool:
        ddl_if = getattr(obj, "_ddl_if", None)
        if reflected or ddl_if is None or not ddl_if.dialect:
            return True
        wanted = (ddl_if.dialect,) if isinstance(ddl_if.dialect, str) else tuple(ddl_if.dialect)
        return dialect_name in wanted

    return include


def trigram_indexes(table: str, *columns: str) -> tuple[Index, ...]:
    """Word search (ILIKE '%kopi%') on PostgreSQL: a pg_trgm GIN index per column. SQLite has no
    such index; it scans, fast enough at a village's or a regency's size."""
    return tuple(
        Index(
            f"ix_{table}_{column}_trgm",
            column,
            postgresql_using="gin",
            postgresql_ops={column: "gin_trgm_ops"},
        ).ddl_if(dialect="postgresql")
        for column in columns
    )


def needs_pg_trgm(table) -> None:
    """Create pg_trgm before ``table`` on PostgreSQL (a trusted extension: the database's owner may)."""
    event.listen(
        table, "before_create", DDL("CREATE EXTENSION IF NOT EXISTS pg_trgm").execute_if(dialect="postgresql")
    )
