"""People: accounts, sign-up links, sign-in throttling, the audit log, and an
owner and a visibility on every dataset, model, task and prediction.

Rows from before this revision keep no owner and are visible to the team; the
first admin who is created claims them (``shared/services/users.py``), so old
data belongs to the first admin without a reset.

Types are written out as in the baseline (enums by member name, native types on
Postgres, created once up front because two tables share ``role``).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ENUMS = {
    "role": ("admin", "member", "viewer"),
    "visibility": ("team", "private"),
    "outcome": ("ok", "denied", "failed"),
    "objectkind": ("dataset", "model", "task", "prediction", "user"),
    "auditaction": ("view", "download", "create", "change", "delete", "manage_users", "set_limits", "allow_network",
                    "view_audit", "sign_in", "sign_out", "sign_up", "change_password", "create_user", "set_role",
                    "disable_user", "enable_user", "signup_link"),
}
OWNED = ("dataset", "model_package", "task", "prediction")


def _enum(name: str, type_name: str, nullable: bool = False, **kw) -> sa.Column:
    return sa.Column(name, sa.Enum(*ENUMS[type_name], name=type_name, create_type=False), nullable=nullable, **kw)


def _when(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _str(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.String(), nullable=nullable)


def _int(name: str, nullable: bool = False, **kw) -> sa.Column:
    return sa.Column(name, sa.Integer(), nullable=nullable, **kw)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for type_name, values in ENUMS.items():
            sa.Enum(*values, name=type_name).create(bind, checkfirst=True)

    op.create_table(
        "app_user",
        _int("id"), _str("name"), _str("email", True), _str("password_hash", True), _enum("role", "role"),
        sa.Column("disabled", sa.Boolean(), nullable=False), _str("language", True),
        _int("session_version"), _when("created_at", False), _when("last_sign_in_at"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_app_user_email", "app_user", ["email"], unique=True)
    op.create_index("ix_app_user_name", "app_user", ["name"], unique=True)

    op.create_table(
        "sign_in_throttle",
        _str("key"), _int("failures"), _when("last_failure_at", False), _when("blocked_until"),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "audit_event",
        _int("id"), _when("time", False), _int("user_id", True), _str("user_name"),
        _enum("action", "auditaction"), _enum("object_kind", "objectkind", True), _int("object_id", True),
        _enum("outcome", "outcome"), sa.Column("detail", sa.Text(), nullable=False), _str("client", True),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], name="fk_audit_event_user_id"),
        sa.PrimaryKeyConstraint("id"),
    )
    for col in ("action", "time", "user_id"):
        op.create_index(f"ix_audit_event_{col}", "audit_event", [col])
    op.create_table(
        "signup_token",
        _int("id"), _str("token_hash"), _enum("role", "role"), _int("created_by_id", True),
        _when("created_at", False), _when("expires_at", False), _when("used_at"), _int("used_by_id", True),
        sa.ForeignKeyConstraint(["created_by_id"], ["app_user.id"], name="fk_signup_token_created_by_id"),
        sa.ForeignKeyConstraint(["used_by_id"], ["app_user.id"], name="fk_signup_token_used_by_id"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_signup_token_token_hash", "signup_token", ["token_hash"], unique=True)

    for table in OWNED:
        # batch mode: SQLite cannot add a foreign key to an existing table any other way.
        with op.batch_alter_table(table) as batch:
            batch.add_column(_int("owner_id", True))
            # Existing rows become team-visible: the server default fills them, then stays as a harmless default.
            batch.add_column(_enum("visibility", "visibility", server_default="team"))
            batch.create_index(f"ix_{table}_owner_id", ["owner_id"])
            batch.create_foreign_key(f"fk_{table}_owner_id", "app_user", ["owner_id"], ["id"])


def downgrade() -> None:
    for table in OWNED:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"fk_{table}_owner_id", type_="foreignkey")
            batch.drop_index(f"ix_{table}_owner_id")
            batch.drop_column("visibility")
            batch.drop_column("owner_id")
    op.drop_table("signup_token")
    op.drop_table("audit_event")
    op.drop_table("sign_in_throttle")
    op.drop_table("app_user")
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for type_name in ENUMS:
            sa.Enum(name=type_name).drop(bind, checkfirst=True)
