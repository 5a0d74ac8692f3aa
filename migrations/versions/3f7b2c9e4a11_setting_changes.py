"""setting_changes: the audit trail of village settings that govern officials

Revision ID: 3f7b2c9e4a11
Revises: 5c1f0a9d2b7e
Create Date: 2026-12-03 10:00:00

Who turned the head's approval of letters on or off (and changed the numbering), when, old -> new.
Rows are only ever added (app/officials/audit.py).
"""

import sqlalchemy as sa
from alembic import op

revision = "3f7b2c9e4a11"
down_revision = "5c1f0a9d2b7e"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "setting_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("village_id", sa.Integer(), nullable=False),
        sa.Column("setting", sa.String(length=40), nullable=False),
        sa.Column("old_value", sa.String(length=200), nullable=False),
        sa.Column("new_value", sa.String(length=200), nullable=False),
        sa.Column("changed_by_id", sa.Integer(), nullable=True),
        sa.Column("changed_by_name", sa.String(length=120), nullable=False),
        sa.Column("changed_by_role", sa.String(length=20), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["changed_by_id"], ["users.id"], name=op.f("fk_setting_changes_changed_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["village_id"], ["villages.id"], name=op.f("fk_setting_changes_village_id_villages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_setting_changes")),
    )
    with op.batch_alter_table("setting_changes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_setting_changes_village_id"), ["village_id"], unique=False)


def downgrade():
    with op.batch_alter_table("setting_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_setting_changes_village_id"))
    op.drop_table("setting_changes")
