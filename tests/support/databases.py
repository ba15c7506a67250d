"""Fresh databases on SQLite and PostgreSQL, applications on them, and what
the tests read back from them (schemas, rows).

PostgreSQL is the server at HAAS_TEST_POSTGRES_URL (default: local, trust
auth); when it is unreachable its tests skip, unless
HAAS_TEST_REQUIRE_POSTGRES=1, as in CI, makes that a failure.  Each test
database gets a unique name and is dropped when the process ends; no other
database is touched.
"""

import atexit
import contextlib
import os
import uuid

import pytest
import sqlalchemy as sa

import haas
from haas import migrations
from haas.config import with_driver
from haas.model import db

from support.config import DEFAULT_EXTENSIONS, config_text

# In haas.cfg's form: a bare postgresql:// URL means HaaS's driver, psycopg2.
POSTGRES_URL = with_driver(os.environ.get(
    'HAAS_TEST_POSTGRES_URL', 'postgresql://postgres@127.0.0.1:5432/postgres'))
REQUIRE_POSTGRES = os.environ.get('HAAS_TEST_REQUIRE_POSTGRES') == '1'


_postgres_error = None


def _postgres_admin():
    """An AUTOCOMMIT engine on the PostgreSQL server, or skip/fail."""
    global _postgres_error
    if _postgres_error is None:
        engine = sa.create_engine(POSTGRES_URL, isolation_level='AUTOCOMMIT',
                                  poolclass=sa.pool.NullPool)
        try:
            with engine.connect():
                pass
            _postgres_error = ''
        except sa.exc.OperationalError as e:
            _postgres_error = str(e.orig).strip().splitlines()[0]
    if _postgres_error:
        message = f'PostgreSQL unreachable at {POSTGRES_URL}: {_postgres_error}'
        if REQUIRE_POSTGRES:
            pytest.fail(message + ' (HAAS_TEST_REQUIRE_POSTGRES=1)')
        pytest.skip(message)
    return sa.create_engine(POSTGRES_URL, isolation_level='AUTOCOMMIT',
                            poolclass=sa.pool.NullPool)


class Databases:
    """Makes uniquely named empty databases on one backend; frees them.

    PostgreSQL's CREATE DATABASE takes half a second, so the databases a
    process has made are reused: once a test is done with them they go to
    `_free`, and a later "new" database is one of them with its schema
    dropped and made again, which takes milliseconds.  They are dropped
    when the process ends.
    """

    _free = []
    _made = []

    def __init__(self, backend, tmp_dir):
        self.backend = backend
        self.tmp = tmp_dir
        self.created = []
        self.admin = _postgres_admin() if backend == 'postgresql' else None

    def new(self):
        """The URI of a new empty database."""
        name = f'haas_test_{os.getpid()}_{uuid.uuid4().hex[:10]}'
        if self.backend == 'sqlite':
            return f'sqlite:///{self.tmp / (name + ".db")}'
        if self._free:
            name = self._free.pop()
            self._empty(name)
        else:
            with self.admin.connect() as c:
                c.exec_driver_sql(f'CREATE DATABASE {name}')
            if not self._made:
                atexit.register(_drop_databases, self.admin.url)
            self._made.append(name)
        self.created.append(name)
        return self._uri(name)

    def _uri(self, name):
        return sa.make_url(POSTGRES_URL).set(database=name).render_as_string(
            hide_password=False)

    def _empty(self, name):
        with self.admin.connect() as c:
            # Whatever a test left connected (a server, a killed command).
            c.execute(sa.text(
                'SELECT pg_terminate_backend(pid) FROM pg_stat_activity '
                'WHERE datname = :name AND pid <> pg_backend_pid()'),
                {'name': name})
        engine = sa.create_engine(self._uri(name), poolclass=sa.pool.NullPool,
                                  isolation_level='AUTOCOMMIT')
        with engine.connect() as c:
            c.exec_driver_sql('DROP SCHEMA public CASCADE')
            c.exec_driver_sql('CREATE SCHEMA public')
        engine.dispose()

    def drop_all(self):
        """Give this object's databases back for reuse."""
        if self.admin is None:
            return
        self._free.extend(self.created)
        self.created = []
        self.admin.dispose()


def _drop_databases(url):
    engine = sa.create_engine(url, isolation_level='AUTOCOMMIT',
                              poolclass=sa.pool.NullPool)
    with engine.connect() as c:
        for name in Databases._made:
            c.exec_driver_sql(f'DROP DATABASE IF EXISTS {name} WITH (FORCE)')
    engine.dispose()


_apps = []


def make_app(uri, extensions=DEFAULT_EXTENSIONS, **kwargs):
    """A HaaS application on `uri`; its engine is closed after the test."""
    app = haas.create_app(config_text(uri, extensions, **kwargs))
    _apps.append(app)
    return app


def dispose_engines():
    """Close the engines of the applications make_app made."""
    while _apps:
        app = _apps.pop()
        with app.app_context():
            db.engine.dispose()


@contextlib.contextmanager
def built_app(kind, tmp_path, extensions, extra=''):
    """An application on a new `kind` database, its schema created."""
    dbs = Databases(kind, tmp_path)
    app = haas.create_app(config_text(dbs.new(), extensions, extra=extra))
    with app.app_context():
        migrations.create()
    try:
        yield app
    finally:
        with app.app_context():
            db.engine.dispose()
        dbs.drop_all()


@contextlib.contextmanager
def rolled_back(app):
    """Run inside one transaction that is rolled back afterwards.

    The session joins it through savepoints, so the code's own commits
    stay inside it.
    """
    with app.app_context():
        # The app outlives the test: its logins and failures must not.
        app.extensions['haas'].auth_backend.forget()
        engines = db.engines
        engine = engines[None]
        connection = engine.connect()
        transaction = connection.begin()
        db.session.remove()
        db.session.configure(join_transaction_mode='create_savepoint')
        engines[None] = connection
        try:
            yield app
        finally:
            db.session.remove()
            engines[None] = engine
            transaction.rollback()
            connection.close()


def table_names(uri):
    """The tables of the database at `uri`, sorted."""
    engine = sa.create_engine(uri, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            return sorted(sa.inspect(connection).get_table_names())
    finally:
        engine.dispose()


def snapshot(app):
    """The schema of the app's database plus its alembic_version rows."""
    with app.app_context(), db.engine.connect() as connection:
        schema = migrations.schema_snapshot(connection)
        schema['alembic_version'] = sorted(connection.exec_driver_sql(
            'SELECT version_num FROM alembic_version').scalars())
    return schema


_reflected = {}  # id(app) -> MetaData, for apps under `rolled_back`


def table_rows(app, mask=None):
    """Every row of every table, ordered, with `mask` {table: columns} hidden."""
    mask = mask or {}
    rows = {}
    with app.app_context():
        bind = db.engines[None]
        # Inside `rolled_back`, the test's own connection: what it sees.
        opened = contextlib.nullcontext(bind) \
            if isinstance(bind, sa.engine.Connection) else bind.connect()
    with app.app_context(), opened as connection:
        if isinstance(bind, sa.engine.Connection):
            # An API test: the schema is the session's, built once.
            metadata = _reflected.get(id(app))
            if metadata is None:
                metadata = _reflected[id(app)] = sa.MetaData()
                metadata.reflect(connection)
        else:
            metadata = sa.MetaData()
            metadata.reflect(connection)
        for name, table in sorted(metadata.tables.items()):
            result = connection.execute(
                sa.select(table).order_by(*table.columns)).mappings()
            rows[name] = [
                {k: ('<masked>' if k in mask.get(name, ()) else v)
                 for k, v in row.items()}
                for row in result]
    return rows


#: Tables of history, not state: how a database was built, which is what
#: differs between builds that must come out the same.
HISTORY = ('haas_schema_ledger',)


def state_rows(app, mask=None):
    """table_rows without the tables of HISTORY."""
    rows = table_rows(app, mask)
    for name in HISTORY:
        rows.pop(name, None)
    return rows


@contextlib.contextmanager
def no_change(app=None):
    """Assert that the block leaves every table of `app` (by default the
    current one) as it was."""
    if app is None:
        from flask import current_app
        app = current_app._get_current_object()
    before = table_rows(app)
    yield
    assert table_rows(app) == before
