"""How many requests routed to each village office are in each status, kept by the database itself.

The officials' queue shows these counts on every page. Counting them from the requests costs a
scan of the village's open requests (thousands, after a few years of overdue ones) and of its
finished ones (nearly all of its requests); this table holds them instead, a row per village and
status. Triggers on ``service_requests`` keep it exact in the transaction of every change, whatever
makes the change (a resident's form, an official's action, a job, a bulk import, a deletion): the
count moves with the row, commits with it and rolls back with it. Two transactions moving requests
of the same village and status take turns on that one row until each commits.

The triggers are written here for ``create_all`` (tests, benches) and again, frozen, in the
migration that made the table (migrations/versions/c5f2a8d1e6b4_desk_counts.py). On SQLite, a later
migration that rebuilds ``service_requests`` (``batch_alter_table`` copies the table) drops them:
such a migration must create them again (tests/test_migrations.py checks the counts after upgrade).
"""

from __future__ import annotations

from sqlalchemy import DDL, ForeignKey, Integer, String, event
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.services import ServiceRequest


class DeskCount(db.Model):
    """Requests routed to a village office (``routed_to`` = desa) in one status."""

    __tablename__ = "desk_counts"

    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), primary_key=True)
    status: Mapped[str] = mapped_column(String(20), primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)


# 'desa' below is TO_VILLAGE (tests/test_officials.py checks the counts of both routes).
#
# The two rows a transition touches are locked in (village, status) order, so that two officials
# moving requests in opposite directions at the same moment (a fix asked for, a fix sent back) wait
# for each other instead of deadlocking.
POSTGRESQL_FUNCTION = """
CREATE OR REPLACE FUNCTION desk_counts_follow() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  take boolean := TG_OP <> 'DELETE' AND NEW.routed_to = 'desa';
  give boolean := TG_OP <> 'INSERT' AND OLD.routed_to = 'desa';
BEGIN
  IF take AND give AND (NEW.village_id, NEW.status) < (OLD.village_id, OLD.status) THEN
    INSERT INTO desk_counts (village_id, status, n) VALUES (NEW.village_id, NEW.status, 1)
      ON CONFLICT (village_id, status) DO UPDATE SET n = desk_counts.n + 1;
    take := false;
  END IF;
  IF give THEN
    UPDATE desk_counts SET n = n - 1 WHERE village_id = OLD.village_id AND status = OLD.status;
  END IF;
  IF take THEN
    INSERT INTO desk_counts (village_id, status, n) VALUES (NEW.village_id, NEW.status, 1)
      ON CONFLICT (village_id, status) DO UPDATE SET n = desk_counts.n + 1;
  END IF;
  RETURN NULL;
END
$$
"""
POSTGRESQL_TRIGGERS = (
    "CREATE TRIGGER desk_counts_add_remove AFTER INSERT OR DELETE ON service_requests "
    "FOR EACH ROW EXECUTE FUNCTION desk_counts_follow()",
    "CREATE TRIGGER desk_counts_move AFTER UPDATE OF village_id, status, routed_to ON service_requests "
    "FOR EACH ROW WHEN ((OLD.village_id, OLD.status, OLD.routed_to) IS DISTINCT FROM "
    "(NEW.village_id, NEW.status, NEW.routed_to)) EXECUTE FUNCTION desk_counts_follow()",
)
# SQLite runs one writer at a time: no order to keep.
_SQLITE_TAKE = (
    "INSERT INTO desk_counts (village_id, status, n) SELECT NEW.village_id, NEW.status, 1 "
    "WHERE NEW.routed_to = 'desa' ON CONFLICT (village_id, status) DO UPDATE SET n = n + 1;"
)
_SQLITE_GIVE = (
    "UPDATE desk_counts SET n = n - 1 "
    "WHERE OLD.routed_to = 'desa' AND village_id = OLD.village_id AND status = OLD.status;"
)
SQLITE_TRIGGERS = (
    f"CREATE TRIGGER desk_counts_add AFTER INSERT ON service_requests BEGIN {_SQLITE_TAKE} END",
    f"CREATE TRIGGER desk_counts_remove AFTER DELETE ON service_requests BEGIN {_SQLITE_GIVE} END",
    "CREATE TRIGGER desk_counts_move AFTER UPDATE OF village_id, status, routed_to ON service_requests "
    "WHEN (OLD.village_id, OLD.status, OLD.routed_to) IS NOT (NEW.village_id, NEW.status, NEW.routed_to) "
    f"BEGIN {_SQLITE_GIVE} {_SQLITE_TAKE} END",
)


# Bulk loads of requests (benches, imports): the insert trigger paused while the rows go in, then
# every count made once. Counted row by row inside one long transaction, each count's row gets a new
# version per request that nothing may clean up before the commit, and finding the live one grows
# slower with each: 100,000 requests in one transaction took minutes instead of seconds.
PAUSE_FOR_BULK_LOAD = {
    "postgresql": ("ALTER TABLE service_requests DISABLE TRIGGER desk_counts_add_remove",),
    "sqlite": ("DROP TRIGGER desk_counts_add",),
}
RECOUNT_AFTER_BULK_LOAD = {
    dialect: (
        first,
        "DELETE FROM desk_counts",
        "INSERT INTO desk_counts (village_id, status, n) "
        "SELECT village_id, status, count(*) FROM service_requests WHERE routed_to = 'desa' "
        "GROUP BY village_id, status",
    )
    for dialect, first in (
        ("postgresql", "ALTER TABLE service_requests ENABLE TRIGGER desk_counts_add_remove"),
        ("sqlite", SQLITE_TRIGGERS[0]),
    )
}

# With service_requests: the bodies name desk_counts only when they run, made or not by then.
for _dialect, _statements in (
    ("postgresql", (POSTGRESQL_FUNCTION, *POSTGRESQL_TRIGGERS)),
    ("sqlite", SQLITE_TRIGGERS),
):
    for _statement in _statements:
        event.listen(ServiceRequest.__table__, "after_create", DDL(_statement).execute_if(dialect=_dialect))
