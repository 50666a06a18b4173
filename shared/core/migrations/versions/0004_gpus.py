"""Scale-out: GPUs per run on a task, distributed launch on a model, and the
shared store's id (``store_mark``), which ``up`` also writes into
``DATA_DIR/.trainyard-store`` so a joining worker can prove it sees the same store.

Existing tasks get one GPU per run and existing models a plain launch, as before.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-15
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "store_mark",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    # Server defaults fill the rows that exist; they stay as harmless defaults.
    with op.batch_alter_table("task") as batch:
        batch.add_column(sa.Column("gpus_per_run", sa.Integer(), nullable=False, server_default="1"))
    with op.batch_alter_table("model_package") as batch:
        batch.add_column(sa.Column("distributed", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("model_package") as batch:
        batch.drop_column("distributed")
    with op.batch_alter_table("task") as batch:
        batch.drop_column("gpus_per_run")
    op.drop_table("store_mark")
