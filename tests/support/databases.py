"""Fresh databases on SQLite and PostgreSQL, applications on them, and what
the tests read back from them (schemas, rows).

PostgreSQL is the server at HAAS_TEST_POSTGRES_URL (default: local, trust
auth), the one `haas.testing` makes an extension author's databases on;
when it is unreachable its tests skip, unless HAAS_TEST_REQUIRE_POSTGRES=1,
as in CI, makes that a failure.  Each test database gets a unique name and
is dropped when the process ends; no other database is touched.
"""

import atexit
import contextlib
import os
import uuid

import sqlalchemy as sa

import haas
from haas import crypto, migrations
from haas.config import with_driver
from haas.migrations.snapshot import tables_to_read
from haas.model import db
from haas.testing import plugin, postgresql_databases

from support.api import basic
from support.config import DEFAULT_EXTENSIONS, config_text

# In haas.cfg's form: a bare postgresql:// URL means HaaS's driver, psycopg2.
POSTGRES_URL = with_driver(plugin.postgres_url())

_server = {}  # 'new': haas.testing's factory, or 'error': why there is none


def _new_postgres_database():
    """haas.testing's factory of new PostgreSQL databases, one per process:
    its databases are dropped when the process ends.  Skips or fails the
    test when the server cannot be used, and asks once."""
    if not _server:
        stack = contextlib.ExitStack()
        try:
            _server['new'] = stack.enter_context(
                postgresql_databases(POSTGRES_URL))
        except ConnectionError as e:
            _server['error'] = str(e)
        else:
            atexit.register(stack.close)
    if 'error' in _server:
        plugin.unusable(_server['error'])
    return _server['new']


class Databases:
    """Makes uniquely named empty databases on one backend; frees them.

    PostgreSQL's CREATE DATABASE takes half a second, so the databases a
    process has made are reused: once a test is done with them they go to
    `_free`, and a later "new" database is one of them with its schema
    dropped and made again, which takes milliseconds.
    """

    _free = []  # the URIs of databases that no test uses any more

    def __init__(self, backend, tmp_dir):
        self.backend = backend
        self.tmp = tmp_dir
        self.created = []
        self._new = _new_postgres_database() if backend == 'postgresql' \
            else None

    def new(self):
        """The URI of a new empty database."""
        if self.backend == 'sqlite':
            name = f'haas_test_{os.getpid()}_{uuid.uuid4().hex[:10]}'
            return f'sqlite:///{self.tmp / (name + ".db")}'
        if self._free:
            uri = self._free.pop()
            _empty(uri)
        else:
            uri = self._new()
        self.created.append(uri)
        return uri

    def drop_all(self):
        """Give this object's databases back for reuse."""
        self._free.extend(self.created)
        self.created = []


def _empty(uri):
    """Drop every object of the PostgreSQL database at `uri`."""
    engine = sa.create_engine(uri, poolclass=sa.pool.NullPool,
                              isolation_level='AUTOCOMMIT')
    with engine.connect() as c:
        # Whatever a test left connected (a server, a killed command).
        c.exec_driver_sql(
            'SELECT pg_terminate_backend(pid) FROM pg_stat_activity '
            'WHERE datname = current_database() AND pid <> pg_backend_pid()')
        c.exec_driver_sql('DROP SCHEMA public CASCADE')
        c.exec_driver_sql('CREATE SCHEMA public')
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


def _fresh_session(app):
    """A new session for a test, which joins the transaction it finds
    through savepoints of its own, so that the code's commits stay
    inside it."""
    # The app outlives the test: its logins and failures must not.
    app.extensions['haas'].auth_backend.forget()
    db.session.remove()
    db.session.configure(join_transaction_mode='create_savepoint')


@contextlib.contextmanager
def rolled_back(app):
    """Run inside one transaction that is rolled back afterwards.

    The session joins it through savepoints, so the code's own commits
    stay inside it.
    """
    # A module's shared world would hold the database (SQLite's write
    # lock, PostgreSQL's row locks) and show its rows: this test starts
    # from the empty schema.
    _release_held(app)
    with app.app_context():
        _fresh_session(app)
        engines = db.engines
        engine = engines[None]
        connection = engine.connect()
        transaction = connection.begin()
        engines[None] = connection
        try:
            yield app
        finally:
            db.session.remove()
            engines[None] = engine
            transaction.rollback()
            connection.close()


_held = {}  # id(app) -> the Held whose transaction is open on it
_sharing = {}  # id(app) -> the Held of the test running on it, if shared


class Held:
    """A world built once for a module's tests, on one application.

    Building the same rows through the API before each test is most of
    what such tests cost.  Here one connection holds an outer transaction
    for as long as the module's shared tests run on this backend; the
    world (the users, then what `build` makes) is made in it once, and
    each test runs inside a SAVEPOINT that is rolled back after it, so
    every test starts from the same rows.  The session joins that
    savepoint through savepoints of its own, as in `rolled_back`, so the
    code's commits stay inside it.

    A test that needs another start (no world, or a different one) goes
    through `rolled_back`, which ends the held transaction first; the
    next shared test builds the world again.  Sorting a module's shared
    tests together (conftest.py) keeps that rare.
    """

    def __init__(self, app, build):
        self.app = app
        self.build = build
        self.connection = None
        self.users = self.world = None

    def _open(self):
        _release_held(self.app)
        with self.app.app_context():
            engines = db.engines
            self.engine = engines[None]
            self.connection = self.engine.connect()
            self.transaction = self.connection.begin()
            engines[None] = self.connection
            _held[id(self.app)] = self
            _fresh_session(self.app)
            self.users = make_users()
            self.world = self.build(self.app.test_client(), self.users)
            # What the build loaded must not reach a test's session.
            db.session.remove()

    def release(self):
        """Roll the world back and give the engine back to the app."""
        if self.connection is None:
            return
        with self.app.app_context():
            db.session.remove()
            db.engines[None] = self.engine
        try:
            self.transaction.rollback()
        finally:
            self.connection.close()
            self.connection = None
            self.users = self.world = None
            _held.pop(id(self.app), None)

    @contextlib.contextmanager
    def test(self):
        """Run one test from the world, rolled back to it afterwards."""
        if self.connection is not None and not self.transaction.is_active:
            self.release()  # something ended it: build it again
        if self.connection is None:
            self._open()
        with self.app.app_context():
            _fresh_session(self.app)
            savepoint = self.connection.begin_nested()
            _sharing[id(self.app)] = self
            try:
                yield self.app
            finally:
                _sharing.pop(id(self.app), None)
                db.session.remove()
                if savepoint.is_active:
                    savepoint.rollback()


def _release_held(app):
    held = _held.get(id(app))
    if held is not None:
        held.release()


def sharing(app):
    """The Held whose world the current test on `app` runs from, or
    None when the test has a transaction of its own."""
    return _sharing.get(id(app))


def make_users():
    """Callers under database auth, as request headers: `admin` (an
    administrator), `runway` (a member of project runway), `other` (a
    member of project manhattan) and `anonymous` (no credentials).  The
    two projects exist."""
    from haas.ext.auth.database import User
    from haas.model import Project
    runway, manhattan = Project(label='runway'), Project(label='manhattan')
    people = {'admin': (True, []), 'runway': (False, [runway]),
              'other': (False, [manhattan])}
    for label, (is_admin, projects) in people.items():
        user = User(label=label, is_admin=is_admin, projects=projects)
        user.set_password(f'{label}-pw')
        db.session.add(user)
    db.session.add_all([runway, manhattan])
    db.session.commit()
    headers = {label: basic(label, f'{label}-pw') for label in people}
    headers['anonymous'] = {}
    return headers


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


_reflected = {}  # id(app) -> its tables, for apps under `rolled_back`


def table_rows(app, mask=None):
    """Every row of every table, ordered, with `mask` {table: columns}
    hidden."""
    mask = mask or {}
    rows = {}
    keyring = app.extensions['haas'].keyring
    with app.app_context():
        bind = db.engines[None]
        # Inside `rolled_back`, the test's own connection: what it sees.
        opened = contextlib.nullcontext(bind) \
            if isinstance(bind, sa.engine.Connection) else bind.connect()
    with app.app_context(), opened as connection:
        if isinstance(bind, sa.engine.Connection):
            # An API test: the schema is the session's, built once.
            tables = _reflected.get(id(app))
            if tables is None:
                tables = _reflected[id(app)] = tables_to_read(connection)
        else:
            tables = tables_to_read(connection)
        for name, table in tables.items():
            result = connection.execute(
                sa.select(table).order_by(*table.columns)).mappings()
            rows[name] = [
                {k: ('<masked>' if k in mask.get(name, ()) else
                     _readable(keyring, v))
                 for k, v in row.items()}
                for row in result]
    return rows


def _readable(keyring, value):
    """A value as a comparison between databases sees it: a Fernet token,
    new at every encryption, as its text when the app's key file decrypts
    it (tests/test_secrets.py reads the tokens themselves)."""
    if isinstance(value, str) and crypto.is_token(value) and \
            keyring.exists() and keyring.decrypts(value):
        return keyring.decrypt(value)
    return value


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


def waiting_for_a_lock(engine):
    """How many sessions of the PostgreSQL database at `engine` wait for
    a lock."""
    with engine.connect() as connection:
        return connection.execute(sa.text(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = "
            "'Lock' AND datname = current_database()")).scalar()
