"""Search: the samplers ``auto`` and ``gp``, a choice of pruner, warm starts, and
which sampler ran and why.

Existing tasks keep the sampler they were made with; ``sampler_used`` stays empty
for them and is worked out at ask time (``shared/services/search.py``).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SAMPLER = ("auto", "gp", "tpe", "random", "grid")
PRUNER = ("median", "successive_halving", "hyperband")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        # New values of a native enum; not used in this transaction, which Postgres requires.
        for value in ("auto", "gp"):
            op.execute(f"ALTER TYPE sampler ADD VALUE IF NOT EXISTS '{value}'")
        sa.Enum(*PRUNER, name="pruner").create(bind, checkfirst=True)
    with op.batch_alter_table("task") as batch:
        batch.add_column(sa.Column("sampler_used", sa.Enum(*SAMPLER, name="sampler", create_type=False),
                                   nullable=True))
        batch.add_column(sa.Column("sampler_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("pruner", sa.Enum(*PRUNER, name="pruner", create_type=False), nullable=False,
                                   server_default="median"))
        batch.add_column(sa.Column("rank_pruned", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("warm_start_task_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_task_warm_start_task_id", "task", ["warm_start_task_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("task") as batch:
        batch.drop_constraint("fk_task_warm_start_task_id", type_="foreignkey")
        for col in ("warm_start_task_id", "rank_pruned", "pruner", "sampler_reason", "sampler_used"):
            batch.drop_column(col)
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        sa.Enum(name="pruner").drop(bind, checkfirst=True)
