"""desk counts and the open queue: the officials' queue read from what it shows

Revision ID: c5f2a8d1e6b4
Revises: b4e1d7a2c9f3
Create Date: 2026-12-03 17:30:00

The officials' queue showed counts per status read from the requests themselves: 2-3 ms a page
for a village with 100,000 requests, growing with its years. desk_counts holds them, a row per
village and status, counted once here from the existing requests and then kept exact by triggers
on service_requests in the transaction of every insert, status change and deletion (see
app/models/deskcounts.py; the statements are repeated here so that this migration never changes).
On SQLite, a later batch_alter_table of service_requests drops these triggers: make them again there.

ix_service_requests_open (village_id, submitted_at, id) holds open requests only: the queue's
default page walks it in time order and reads its 25 rows, where a merge of one index walk per open
status cost more to plan than to run.
"""

import sqlalchemy as sa
from alembic import op

revision = "c5f2a8d1e6b4"
down_revision = "b4e1d7a2c9f3"
branch_labels = None
depends_on = None

POSTGRESQL = (
    """
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
""",
    "CREATE TRIGGER desk_counts_add_remove AFTER INSERT OR DELETE ON service_requests "
    "FOR EACH ROW EXECUTE FUNCTION desk_counts_follow()",
    "CREATE TRIGGER desk_counts_move AFTER UPDATE OF village_id, status, routed_to ON service_requests "
    "FOR EACH ROW WHEN ((OLD.village_id, OLD.status, OLD.routed_to) IS DISTINCT FROM "
    "(NEW.village_id, NEW.status, NEW.routed_to)) EXECUTE FUNCTION desk_counts_follow()",
)
_TAKE = (
    "INSERT INTO desk_counts (village_id, status, n) SELECT NEW.village_id, NEW.status, 1 "
    "WHERE NEW.routed_to = 'desa' ON CONFLICT (village_id, status) DO UPDATE SET n = n + 1;"
)
_GIVE = (
    "UPDATE desk_counts SET n = n - 1 "
    "WHERE OLD.routed_to = 'desa' AND village_id = OLD.village_id AND status = OLD.status;"
)
SQLITE = (
    f"CREATE TRIGGER desk_counts_add AFTER INSERT ON service_requests BEGIN {_TAKE} END",
    f"CREATE TRIGGER desk_counts_remove AFTER DELETE ON service_requests BEGIN {_GIVE} END",
    "CREATE TRIGGER desk_counts_move AFTER UPDATE OF village_id, status, routed_to ON service_requests "
    "WHEN (OLD.village_id, OLD.status, OLD.routed_to) IS NOT (NEW.village_id, NEW.status, NEW.routed_to) "
    f"BEGIN {_GIVE} {_TAKE} END",
)


OPEN = "status IN ('diajukan', 'diproses', 'diverifikasi', 'perlu_perbaikan', 'siap_diambil')"


def upgrade():
    op.create_index(
        "ix_service_requests_open",
        "service_requests",
        ["village_id", "submitted_at", "id"],
        unique=False,
        postgresql_where=sa.text(OPEN),
        sqlite_where=sa.text(OPEN),
    )
    op.create_table(
        "desk_counts",
        sa.Column("village_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["village_id"], ["villages.id"], name=op.f("fk_desk_counts_village_id_villages")
        ),
        sa.PrimaryKeyConstraint("village_id", "status", name=op.f("pk_desk_counts")),
    )
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        # No request may change between the count and the triggers' first move.
        op.execute("LOCK TABLE service_requests IN SHARE ROW EXCLUSIVE MODE")
    for statement in POSTGRESQL if postgresql else SQLITE:
        op.execute(statement)
    op.execute(
        "INSERT INTO desk_counts (village_id, status, n) "
        "SELECT village_id, status, count(*) FROM service_requests WHERE routed_to = 'desa' "
        "GROUP BY village_id, status"
    )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER desk_counts_move ON service_requests")
        op.execute("DROP TRIGGER desk_counts_add_remove ON service_requests")
        op.execute("DROP FUNCTION desk_counts_follow()")
    else:
        for name in ("desk_counts_move", "desk_counts_remove", "desk_counts_add"):
            op.execute(f"DROP TRIGGER {name}")
    op.drop_table("desk_counts")
    op.drop_index(
        "ix_service_requests_open",
        table_name="service_requests",
        postgresql_where=sa.text(OPEN),
        sqlite_where=sa.text(OPEN),
    )
