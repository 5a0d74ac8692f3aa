"""village search: a folded search text per village (name, kecamatan, kabupaten), trigram-indexed

Revision ID: 7d3e9b1c4a25
Revises: 7a3e5c1d9b42
Create Date: 2026-12-03 11:00:00

The front page finds villages by their kecamatan and kabupaten too, with one typo forgiven, each
typed word matched as LIKE '% word%' (a typo: '% w_rd %') against ``villages.search_text``. On PostgreSQL a pg_trgm GIN
index serves that (the extension was created by 7a3e5c1d9b42).
"""

import sqlalchemy as sa
from alembic import op

from app.domain.search import search_text

revision = "7d3e9b1c4a25"
down_revision = "7a3e5c1d9b42"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("villages") as batch:
        batch.add_column(sa.Column("search_text", sa.String(length=255), server_default="", nullable=False))
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT v.id, v.name, d.name AS district, r.name AS regency FROM villages v "
            "JOIN regions g ON g.code = v.region_code "
            "LEFT JOIN regions d ON d.code = g.parent_code "
            "LEFT JOIN regions r ON r.code = d.parent_code"
        )
    ).all()
    for row in rows:
        bind.execute(
            sa.text("UPDATE villages SET search_text = :text WHERE id = :id"),
            {"text": search_text(row.name, row.district, row.regency), "id": row.id},
        )
    if bind.dialect.name == "postgresql":
        op.create_index(
            "ix_villages_search_text_trgm",
            "villages",
            ["search_text"],
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_villages_search_text_trgm", table_name="villages")
    with op.batch_alter_table("villages") as batch:
        batch.drop_column("search_text")
