"""officials' attendance: office hours and check-in rules per village, check-ins, used codes, corrections

Revision ID: 3aa141e26f8d
Revises: 3f7b2c9e4a11
Create Date: 2026-12-03 10:24:56

One open check-in per official is a partial unique index (WHERE checked_out_at IS NULL), which
SQLite and PostgreSQL both build.
"""

import sqlalchemy as sa
from alembic import op

revision = '3aa141e26f8d'
down_revision = '3f7b2c9e4a11'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('attendance_settings',
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('hours', sa.JSON(), nullable=False),
    sa.Column('grace_minutes', sa.Integer(), nullable=False),
    sa.Column('require_location', sa.Boolean(), nullable=False),
    sa.Column('radius_m', sa.Integer(), nullable=False),
    sa.Column('code_nonce', sa.String(length=32), nullable=False),
    sa.Column('poster_version', sa.Integer(), nullable=False),
    sa.Column('screen_key', sa.String(length=32), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['village_id'], ['villages.id'], name=op.f('fk_attendance_settings_village_id_villages')),
    sa.PrimaryKeyConstraint('village_id', name=op.f('pk_attendance_settings'))
    )
    op.create_table('attendance_code_uses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_attendance_code_uses_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attendance_code_uses')),
    sa.UniqueConstraint('user_id', 'digest', name=op.f('uq_attendance_code_uses_user_id'))
    )
    with op.batch_alter_table('attendance_code_uses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attendance_code_uses_used_at'), ['used_at'], unique=False)

    op.create_table('attendance_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('checked_in_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('checked_out_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('auto_out_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_by', sa.String(length=10), nullable=True),
    sa.Column('method', sa.String(length=10), nullable=False),
    sa.Column('location_ok', sa.Boolean(), nullable=True),
    sa.Column('edited', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_attendance_records_user_id_users')),
    sa.ForeignKeyConstraint(['village_id'], ['villages.id'], name=op.f('fk_attendance_records_village_id_villages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attendance_records'))
    )
    with op.batch_alter_table('attendance_records', schema=None) as batch_op:
        batch_op.create_index('ix_attendance_records_open_until', ['checked_out_at', 'auto_out_at'], unique=False)
        batch_op.create_index('ix_attendance_records_user_day', ['user_id', 'day'], unique=False)
        batch_op.create_index('ix_attendance_records_village_day', ['village_id', 'day'], unique=False)
        batch_op.create_index('uq_attendance_records_open', ['user_id'], unique=True, sqlite_where=sa.text('checked_out_at IS NULL'), postgresql_where=sa.text('checked_out_at IS NULL'))

    op.create_table('attendance_edits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('editor_id', sa.Integer(), nullable=True),
    sa.Column('editor_name', sa.String(length=120), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('old_in', sa.DateTime(timezone=True), nullable=True),
    sa.Column('old_out', sa.DateTime(timezone=True), nullable=True),
    sa.Column('new_in', sa.DateTime(timezone=True), nullable=False),
    sa.Column('new_out', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['editor_id'], ['users.id'], name=op.f('fk_attendance_edits_editor_id_users')),
    sa.ForeignKeyConstraint(['record_id'], ['attendance_records.id'], name=op.f('fk_attendance_edits_record_id_attendance_records')),
    sa.ForeignKeyConstraint(['village_id'], ['villages.id'], name=op.f('fk_attendance_edits_village_id_villages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attendance_edits'))
    )
    with op.batch_alter_table('attendance_edits', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attendance_edits_record_id'), ['record_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_attendance_edits_village_id'), ['village_id'], unique=False)



def downgrade():
    with op.batch_alter_table('attendance_edits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attendance_edits_village_id'))
        batch_op.drop_index(batch_op.f('ix_attendance_edits_record_id'))

    op.drop_table('attendance_edits')
    with op.batch_alter_table('attendance_records', schema=None) as batch_op:
        batch_op.drop_index('uq_attendance_records_open', sqlite_where=sa.text('checked_out_at IS NULL'), postgresql_where=sa.text('checked_out_at IS NULL'))
        batch_op.drop_index('ix_attendance_records_village_day')
        batch_op.drop_index('ix_attendance_records_user_day')
        batch_op.drop_index('ix_attendance_records_open_until')

    op.drop_table('attendance_records')
    with op.batch_alter_table('attendance_code_uses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attendance_code_uses_used_at'))

    op.drop_table('attendance_code_uses')
    op.drop_table('attendance_settings')
