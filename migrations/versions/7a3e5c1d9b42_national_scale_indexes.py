"""national scale: indexes for the village list and search, region prefixes, overdue counts, roll-ups

Revision ID: 7a3e5c1d9b42
Revises: c73beb357ada
Create Date: 2026-12-03 10:30:00

Measured with every village of Indonesia active (83,762) and 50 million requests (bench/national.py):
- the front page sorted all villages for its first 50, and the village search (ILIKE '%word%')
  read them all: a b-tree on (active, name), and pg_trgm GIN indexes on name and slug;
- "a region and every village beneath it" (region_code LIKE '35.78.%') read all villages: a
  varchar_pattern_ops b-tree answers the prefix (PostgreSQL; the C collation would not need it);
- overdue counts read every overdue request in the country: a small partial index of the requests
  still waiting on the village, by village and due date, probed once per village;
- a region's roll-up rows lie on as many heap pages as rows: covering indexes (INCLUDE) let the
  dashboards read them index-only (PostgreSQL).
"""

import sqlalchemy as sa
from alembic import op

revision = "7a3e5c1d9b42"
down_revision = "c73beb357ada"
branch_labels = None
depends_on = None

TRIGRAM_COLUMNS = ("name", "slug")
OVERDUE = "status IN ('diajukan', 'diverifikasi', 'diproses')"
COVERING = (
    ("ix_stat_region_requests_children", "stat_region_requests", ["parent_code", "month"], ["region_code", "status", "n"]),
    (
        "ix_stat_region_completions_children",
        "stat_region_completions",
        ["parent_code", "month"],
        ["region_code", "bucket", "n", "within_sla"],
    ),
    ("ix_stat_region_services_region", "stat_region_services", ["region_code", "month"], ["service_code", "status", "n"]),
    ("ix_stat_requests_village_month", "stat_requests", ["village_id", "month"], ["service_id", "status", "n"]),
    ("ix_stat_completions_village_month", "stat_completions", ["village_id", "month"], ["bucket", "n", "within_sla"]),
)


def upgrade():
    postgres = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("villages", schema=None) as batch_op:
        batch_op.create_index("ix_villages_active_name", ["active", "name"], unique=False)
    with op.batch_alter_table("service_requests", schema=None) as batch_op:
        batch_op.create_index(
            "ix_service_requests_overdue",
            ["village_id", "due_date"],
            unique=False,
            postgresql_where=sa.text(OVERDUE),
            sqlite_where=sa.text(OVERDUE),
        )
    if not postgres:
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for column in TRIGRAM_COLUMNS:
        op.create_index(
            f"ix_villages_{column}_trgm",
            "villages",
            [column],
            postgresql_using="gin",
            postgresql_ops={column: "gin_trgm_ops"},
        )
    op.create_index(
        "ix_villages_region_code_prefix",
        "villages",
        ["region_code"],
        postgresql_ops={"region_code": "varchar_pattern_ops"},
    )
    for name, table, keys, include in COVERING:
        op.create_index(name, table, keys, postgresql_include=include)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for name, table, _keys, _include in COVERING:
            op.drop_index(name, table_name=table)
        op.drop_index("ix_villages_region_code_prefix", table_name="villages")
        for column in TRIGRAM_COLUMNS:
            op.drop_index(f"ix_villages_{column}_trgm", table_name="villages")
    with op.batch_alter_table("service_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_service_requests_overdue")
    with op.batch_alter_table("villages", schema=None) as batch_op:
        batch_op.drop_index("ix_villages_active_name")
