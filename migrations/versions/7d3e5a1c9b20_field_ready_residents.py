"""field_ready_residents: look-alike-proof tracking keys, extra private links, routed complaints

Revision ID: 7d3e5a1c9b20
Revises: 7d3e9b1c4a25
Create Date: 2026-12-03 12:00:00

- service_requests.tracking_key: the tracking code with S/5, Z/2, B/8 folded, what a typed code is
  looked up by (filled here for every existing request).
- service_requests.routed_to: "desa", or "wilayah" for a complaint about the village office that
  goes to the region's admins instead.
- private_links: further private links to a request (sent in messages that ask the resident to act,
  or asked for on another phone), kept as digests, each lapsing after a while.
"""

import sqlalchemy as sa
from alembic import op

revision = "7d3e5a1c9b20"
down_revision = "7d3e9b1c4a25"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("service_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tracking_key", sa.String(length=12), nullable=True))
    op.execute(
        "UPDATE service_requests SET tracking_key = "
        "REPLACE(REPLACE(REPLACE(tracking_code, 'S', '5'), 'Z', '2'), 'B', '8')"
    )
    with op.batch_alter_table("service_requests", schema=None) as batch_op:
        batch_op.alter_column("tracking_key", existing_type=sa.String(length=12), nullable=False)
        batch_op.create_index(batch_op.f("ix_service_requests_tracking_key"), ["tracking_key"], unique=False)
        batch_op.add_column(sa.Column("routed_to", sa.String(length=10), server_default="desa", nullable=False))

    op.create_table(
        "private_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["service_requests.id"],
            name=op.f("fk_private_links_request_id_service_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_private_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_private_links_token_hash")),
    )
    with op.batch_alter_table("private_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_private_links_request_id"), ["request_id"], unique=False)


def downgrade():
    with op.batch_alter_table("private_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_private_links_request_id"))
    op.drop_table("private_links")
    with op.batch_alter_table("service_requests", schema=None) as batch_op:
        batch_op.drop_column("routed_to")
        batch_op.drop_index(batch_op.f("ix_service_requests_tracking_key"))
        batch_op.drop_column("tracking_key")
