"""desk counts index: the officials' per-status and workload counts read from one index alone

Revision ID: b4e1d7a2c9f3
Revises: 7d3e5a1c9b20
Create Date: 2026-12-03 15:15:00

ix_service_requests_workload (village_id, status, due_date) left out routed_to, which the desk
counts filter on (complaints about the village office go to the region), so every counted row
was a heap visit: 60 ms for a village with 100,000 requests. It is replaced by
ix_service_requests_desk (village_id, routed_to, status, due_date).
"""

from alembic import op

revision = "b4e1d7a2c9f3"
down_revision = "7d3e5a1c9b20"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        "ix_service_requests_desk",
        "service_requests",
        ["village_id", "routed_to", "status", "due_date"],
        unique=False,
    )
    op.drop_index("ix_service_requests_workload", table_name="service_requests")


def downgrade():
    op.create_index(
        "ix_service_requests_workload", "service_requests", ["village_id", "status", "due_date"], unique=False
    )
    op.drop_index("ix_service_requests_desk", table_name="service_requests")
