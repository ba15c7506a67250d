"""Alembic's environment for HaaS: every enabled branch, online or offline.

Run through `haas-admin db` (or `flask --app haas db`), inside the HaaS
application's context.  The hooks that keep autogenerate to one branch live
in haas.migrations.
"""

import contextlib
import logging
import logging.config

from alembic import context
from haas import migrations
from haas.model import db

config = context.config
if logging.getLogger().handlers:
    # HaaS configured logging already; still report each migration run.
    logging.getLogger('alembic').setLevel(logging.INFO)
elif config.config_file_name is not None:
    logging.config.fileConfig(config.config_file_name,
                              disable_existing_loggers=False)

options = dict(
    target_metadata=db.metadata,
    include_object=migrations.include_object,
    process_revision_directives=migrations.process_revision_directives,
    compare_type=True,
    # A failure leaves the database at the last revision that completed.
    transaction_per_migration=True,
)


def run_migrations_offline():
    """Write the SQL of the migrations instead of running them."""
    url = db.engine.url
    context.configure(url=url, literal_binds=True,
                      render_as_batch=url.get_backend_name() == 'sqlite',
                      **options)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    with db.engine.connect() as connection:
        sqlite = connection.dialect.name == 'sqlite'
        if sqlite:
            # Batch mode recreates tables, which SQLite refuses while it
            # enforces foreign keys; the pragma only works outside BEGIN.
            connection.connection.driver_connection.execute(
                'PRAGMA foreign_keys=OFF')
        lock = (migrations.schema_lock(connection)
                if config.attributes.get('writes_schema')
                else contextlib.nullcontext())
        try:
            # HaaS's engine makes SQLite DDL transactional (it emits BEGIN
            # itself), so each migration is atomic there too.
            context.configure(connection=connection, render_as_batch=sqlite,
                              transactional_ddl=True, **options)
            with lock, context.begin_transaction():
                context.run_migrations()
        finally:
            if sqlite:
                connection.rollback()
                connection.connection.driver_connection.execute(
                    'PRAGMA foreign_keys=ON')


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
