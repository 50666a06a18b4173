"""Alembic's entry point. Trainyard runs migrations in-process
(``shared.core.migrate``), handing over the connection it holds the migration
lock on; the ``alembic`` command line works too, from ``DATABASE_URL`` via the
settings, for writing new revisions."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

from shared import records  # noqa: F401 - registers the tables on SQLModel.metadata
from shared.core.migrate import context_options

config = context.config
target_metadata = SQLModel.metadata


def _configure(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things; batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        **context_options(),
    )


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    from shared.core.db import make_engine
    from shared.core.settings import get_settings

    engine = make_engine(get_settings().database_url)
    with engine.begin() as connection:
        _configure(connection)
        context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("Offline (--sql) migrations are not supported; run them against the database")
run_online()
