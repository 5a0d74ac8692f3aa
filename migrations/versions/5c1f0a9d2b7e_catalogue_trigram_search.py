"""catalogue word search: pg_trgm GIN indexes on product name and description (PostgreSQL only)

Revision ID: 5c1f0a9d2b7e
Revises: e91c6effec61
Create Date: 2026-11-30 23:55:00

The catalogue searches with ILIKE '%word%', which no b-tree index serves. pg_trgm is a trusted
extension (PostgreSQL 13+): the database's owner may create it. Where the application's user may
not, a superuser runs `CREATE EXTENSION pg_trgm;` in that database once, then `flask db upgrade`.
"""

from alembic import op

revision = "5c1f0a9d2b7e"
down_revision = "e91c6effec61"
branch_labels = None
depends_on = None

COLUMNS = ("name", "description")


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for column in COLUMNS:
        op.create_index(
            f"ix_products_{column}_trgm",
            "products",
            [column],
            postgresql_using="gin",
            postgresql_ops={column: "gin_trgm_ops"},
        )


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for column in COLUMNS:
        op.drop_index(f"ix_products_{column}_trgm", table_name="products")
