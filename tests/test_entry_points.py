"""Flask-Migrate's functions and the `alembic` command cannot migrate a
HaaS database: they would bypass the schema lock, the ledger and the data
checks, so env.py refuses them in one line that names `haas-admin db`, and
the database is left as it was.  HaaS's own Alembic commands (`db migrate`,
`db revision`), which go through env.py too, still run.
"""

import logging
import os
import pathlib
import subprocess
import sys

import flask_migrate
import pytest
import sqlalchemy as sa

import haas
from haas import migrations
from haas.migrations import runner
from haas.migrations.registry import MIGRATIONS_DIR
from haas.model import db

EXTENSIONS = ('haas.ext.auth.null', 'haas.ext.network_allocators.null')
ALEMBIC_INI = pathlib.Path(MIGRATIONS_DIR, 'alembic.ini')


def config(uri):
    return '\n'.join(['[database]', f'uri = {uri}', '[extensions]'] +
                     [f'{name} =' for name in EXTENSIONS]) + '\n'


@pytest.fixture
def database(tmp_path):
    """A scratch SQLite file, not created yet."""
    return tmp_path / 'haas.db'


@pytest.fixture
def app(database):
    app = haas.create_app(config(f'sqlite:///{database}'))
    yield app
    with app.app_context():
        db.engine.dispose()


def contents(database):
    """The tables and version rows of `database`, or None if it was never
    created."""
    if not database.exists():
        return None
    engine = sa.create_engine(f'sqlite:///{database}',
                              poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        tables = sorted(sa.inspect(connection).get_table_names())
        rows = sorted(connection.exec_driver_sql(
            'SELECT version_num FROM alembic_version').scalars()) \
            if 'alembic_version' in tables else []
    return tables, rows


@pytest.mark.parametrize('call', [
    lambda: flask_migrate.upgrade(revision='heads'),
    lambda: flask_migrate.upgrade(revision='heads', sql=True),
    lambda: flask_migrate.downgrade(revision='base'),
    lambda: flask_migrate.stamp(revision='heads'),
    lambda: flask_migrate.migrate(message='drift'),
], ids=['upgrade', 'upgrade-sql', 'downgrade', 'stamp', 'migrate'])
def test_flask_migrate_is_refused_in_one_line(app, database, caplog, call):
    with app.app_context(), caplog.at_level(logging.ERROR), \
            pytest.raises(SystemExit) as exit:
        call()
    assert (exit.value.code, [r.getMessage() for r in caplog.records],
            contents(database)) == (1, [f'Error: {runner.REFUSAL}'], None)


def test_flask_migrate_refuses_a_created_database_and_changes_nothing(
        app, database, caplog):
    with app.app_context():
        migrations.create()
    before = contents(database)
    with app.app_context(), caplog.at_level(logging.ERROR), \
            pytest.raises(SystemExit):
        flask_migrate.downgrade(revision='haas@base')
    assert (contents(database), len(before[1])) == (before, 2)


def alembic(args, database, tmp_path):
    """`alembic -c haas/migrations/environment/alembic.ini ARGS` in a
    subprocess, with HAAS_CONFIG naming `database`."""
    path = tmp_path / 'haas.cfg'
    path.write_text(config(f'sqlite:///{database}'))
    env = dict(os.environ, HAAS_CONFIG=str(path))
    executable = pathlib.Path(sys.executable).with_name('alembic')
    return subprocess.run([str(executable), '-c', str(ALEMBIC_INI), *args],
                          capture_output=True, text=True, cwd=tmp_path,
                          env=env, timeout=120)


@pytest.mark.parametrize('args', [
    ['upgrade', 'heads'], ['downgrade', 'base'], ['stamp', 'heads'],
    ['upgrade', 'heads', '--sql'],
], ids=' '.join)
def test_the_alembic_command_is_refused_in_one_line(database, tmp_path,
                                                     args):
    result = alembic(args, database, tmp_path)
    # Alembic's own wrapper turns the CommandError into `FAILED: ...`.
    assert (result.returncode != 0, (result.stdout + result.stderr)
            .splitlines(), contents(database)) == (
        True, [f'FAILED: {runner.REFUSAL}'], None)


def test_haas_own_alembic_command_runs(app, capsys):
    """`db migrate` goes through env.py, marked as HaaS's own: it runs, and
    finds nothing to write on a database at every head."""
    with app.app_context():
        migrations.create()
        capsys.readouterr()
        written = migrations.migrate('nothing', head='haas@head')
    assert (written, capsys.readouterr().out) == (
        [], 'No schema change detected for branch haas; no script written.\n')
