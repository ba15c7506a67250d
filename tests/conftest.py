"""Fixtures: fresh databases on SQLite and PostgreSQL, apps, clients, CLI runs.

Every test that takes `databases` runs once per database.  PostgreSQL is the
server at HAAS_TEST_POSTGRES_URL (default: local, trust auth); when it is
unreachable its tests skip, unless HAAS_TEST_REQUIRE_POSTGRES=1, as in CI,
makes that a failure.  Each test database gets a unique name and is dropped
afterwards; no other database is touched.
"""

import atexit
import contextlib
import os
import pathlib
import shutil
import subprocess
import sys
import uuid

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

import haas
from haas import migrations
from haas.commands import Script, admin
from haas.config import Config, with_driver
from haas.model import db

# In haas.cfg's form: a bare postgresql:// URL means HaaS's driver, psycopg2.
POSTGRES_URL = with_driver(os.environ.get(
    'HAAS_TEST_POSTGRES_URL', 'postgresql://postgres@127.0.0.1:5432/postgres'))
REQUIRE_POSTGRES = os.environ.get('HAAS_TEST_REQUIRE_POSTGRES') == '1'
HAAS_ADMIN = os.path.join(os.path.dirname(sys.executable), 'haas-admin')

#: The extensions HaaS runs with when haas.cfg names none.
DEFAULT_EXTENSIONS = [
    'haas.ext.auth.null',
    'haas.ext.network_allocators.null',
    'haas.ext.switches.mock',
    'haas.ext.obm.mock',
]

#: Every extension with tables, as loaded when the HaaS 0.2 dump was made.
LEGACY_EXTENSIONS = [
    'haas.ext.auth.database',
    'haas.ext.network_allocators.vlan_pool',
    'haas.ext.switches.mock',
    'haas.ext.switches.nexus',
    'haas.ext.switches.dell',
    'haas.ext.obm.mock',
    'haas.ext.obm.ipmi',
]
LEGACY_VLANS = '100-200, 300-500'

#: Core's revisions, first to last: its HaaS 0.2 baseline, where a 0.2
#: database is adopted, then HaaS 0.3's, ending at CORE_0_3, on which every
#: extension's 0.3 revision depends, then those made since (the head is
#: past release 0.3).
CORE_REVISIONS = ['6a8c19565060', 'b5f9f30f275f', '5a8438c6d019',
                  '956783fe5a7b', '153502badb2b', '3c2af72d0b46',
                  '6ab9ae569654', 'eba7cfa60973']
CORE_BASELINE, CORE_HEAD = CORE_REVISIONS[0], CORE_REVISIONS[-1]
CORE_0_3 = '6ab9ae569654'


def config_text(uri, extensions=DEFAULT_EXTENSIONS, vlans=LEGACY_VLANS,
                extra=''):
    """The text of a haas.cfg for `uri` with `extensions` enabled."""
    lines = ['[database]', f'uri = {uri}', '[extensions]']
    lines += [f'{name} =' for name in extensions]
    if 'haas.ext.network_allocators.vlan_pool' in extensions:
        lines += ['[haas.ext.network_allocators.vlan_pool]', f'vlans = {vlans}']
    return '\n'.join(lines) + '\n' + extra


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


def _databases(backend, tmp_path_factory):
    dbs = Databases(backend, tmp_path_factory.mktemp('db'))
    yield dbs
    _dispose_engines()
    dbs.drop_all()


@pytest.fixture(params=['sqlite', 'postgresql'])
def databases(request, tmp_path_factory):
    """Fresh databases on each backend, one run of the test per backend."""
    yield from _databases(request.param, tmp_path_factory)


@pytest.fixture
def pg_databases(tmp_path_factory):
    """Fresh PostgreSQL databases, for tests that only make sense there."""
    yield from _databases('postgresql', tmp_path_factory)


_apps = []


def make_app(uri, extensions=DEFAULT_EXTENSIONS, **kwargs):
    """A HaaS application on `uri`; its engine is closed after the test."""
    app = haas.create_app(config_text(uri, extensions, **kwargs))
    _apps.append(app)
    return app


def _dispose_engines():
    while _apps:
        app = _apps.pop()
        with app.app_context():
            db.engine.dispose()


@pytest.fixture(autouse=True)
def _close_apps():
    yield
    _dispose_engines()


def run_admin(args, config=None, cwd=None, env=None, check=True):
    """Run `haas-admin` in a subprocess; returns the CompletedProcess."""
    environ = dict(os.environ)
    environ.pop('HAAS_CONFIG', None)
    if config is not None:
        path = os.path.join(cwd or os.getcwd(), f'haas-{uuid.uuid4().hex[:8]}.cfg')
        with open(path, 'w') as f:
            f.write(config)
        environ['HAAS_CONFIG'] = path
    environ.update(env or {})
    result = subprocess.run([HAAS_ADMIN, *args], capture_output=True, text=True,
                            cwd=cwd, env=environ, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f'haas-admin {" ".join(args)} failed '
                             f'({result.returncode}):\n{result.stderr}')
    return result


def cli(args, config=None, input=None):
    """Run `haas-admin ARGS` in this process, with the haas.cfg text
    `config` (None: the defaults) and `input` on stdin; returns Click's
    Result.

    Output and errors are checked here without a subprocess; a bug (an
    exception the command line does not turn into one line) fails the
    test with its traceback.
    """
    script = Script(None if config is None else Config.from_string(config))
    result = CliRunner().invoke(admin.main, args, obj=script, input=input)
    if script._app is not None:
        with script._app.app_context():
            db.engine.dispose()
    if result.exception is not None and not isinstance(result.exception,
                                                       SystemExit):
        raise result.exception
    return result


def error_line(result):
    """The one line a failed command printed, checked to be the only one."""
    assert result.exit_code == 1, (result.exit_code, result.output)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith('Error: '), result.stderr
    return lines[0][len('Error: '):]


SCRIPT = '''"""{message}

Revision ID: {revision}
Revises: {down}
"""
from alembic import op
import sqlalchemy as sa

revision = {revision!r}
down_revision = {down!r}
branch_labels = {labels!r}
depends_on = {depends!r}
{attributes}

def upgrade():
    {upgrade}


def downgrade():
    {downgrade}
'''


def write_script(folder, revision, down=None, labels=(), depends=None,
                 upgrade='pass', downgrade='pass', message=None,
                 attributes=''):
    """A migration script written by hand into `folder`: `upgrade` and
    `downgrade` are the bodies of its functions, `attributes` module-level
    lines (``transactional = False``)."""
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f'{revision}_test.py').write_text(SCRIPT.format(
        message=message or f'revision {revision}', revision=revision,
        down=down, labels=labels or None, depends=depends,
        attributes=attributes, upgrade=upgrade, downgrade=downgrade))


def table_names(uri):
    """The tables of the database at `uri`, sorted."""
    engine = sa.create_engine(uri, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            return sorted(sa.inspect(connection).get_table_names())
    finally:
        engine.dispose()


EXAMPLE = os.path.join(os.path.dirname(__file__), 'extensions',
                       'haas_example_ext')
EXAMPLE_MODULE = 'haas_example_ext'


@pytest.fixture(scope='session')
def example_module(tmp_path_factory):
    """The example third-party extension, imported in this process once.

    Its model joins the metadata for the rest of the run, harmlessly:
    every command filters tables by enabled branch.  A test points its
    branch at a folder of its own with `example_scripts`.
    """
    if EXAMPLE_MODULE not in sys.modules:
        site = tmp_path_factory.mktemp('site')
        shutil.copytree(EXAMPLE, site / EXAMPLE_MODULE,
                        ignore=shutil.ignore_patterns('__pycache__',
                                                      'migrations'))
        sys.path.insert(0, str(site))
        try:
            __import__(EXAMPLE_MODULE)
        finally:
            sys.path.remove(str(site))
    return sys.modules[EXAMPLE_MODULE]


@pytest.fixture
def example_scripts(example_module, tmp_path, monkeypatch):
    """An empty folder that is the example branch's, for this test only."""
    folder = tmp_path / 'example-migrations'
    folder.mkdir()
    monkeypatch.setitem(migrations.paths, EXAMPLE_MODULE, str(folder))
    return folder


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


API_EXTENSIONS = ['haas.ext.auth.database',
                  'haas.ext.network_allocators.vlan_pool',
                  'haas.ext.switches.mock', 'haas.ext.obm.mock']


#: Argon2 at its lowest cost: a login costs a fraction of a millisecond
#: instead of a tenth of a second.
CHEAP_HASHES = ('[haas.ext.auth.database]\nhash_time_cost = 1\n'
                'hash_memory_cost = 8\nhash_parallelism = 1\n')

#: The same without authentication: everyone is an administrator.
NULL_AUTH_EXTENSIONS = ['haas.ext.auth.null',
                        'haas.ext.network_allocators.null',
                        'haas.ext.switches.mock', 'haas.ext.obm.mock']


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


@pytest.fixture(scope='session', params=['sqlite', 'postgresql'])
def api_app(request, tmp_path_factory):
    """An application whose schema is built once per database per run:
    database auth, the VLAN pool (100-200, 300-500), mock drivers."""
    with built_app(request.param, tmp_path_factory.mktemp('db'),
                   API_EXTENSIONS, extra=CHEAP_HASHES) as app:
        yield app


#: Headnode images, libvirt's test driver, and dry_run: no VM is touched.
HEADNODE_CONFIG = ('[headnode]\nbase_imgs = base-headnode, img1 ,img2\n'
                   'libvirt_endpoint = test:///default\n'
                   '[devel]\ndry_run =\n')


@pytest.fixture(scope='session', params=['sqlite', 'postgresql'])
def dry_api_app(request, tmp_path_factory):
    """As api_app, with [headnode] images and [devel] dry_run."""
    with built_app(request.param, tmp_path_factory.mktemp('db'),
                   API_EXTENSIONS, extra=CHEAP_HASHES + HEADNODE_CONFIG) \
            as app:
        yield app


@pytest.fixture(scope='session', params=['sqlite', 'postgresql'])
def null_api_app(request, tmp_path_factory):
    """As api_app, with null auth and the null allocator."""
    with built_app(request.param, tmp_path_factory.mktemp('db'),
                   NULL_AUTH_EXTENSIONS) as app:
        yield app


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


@pytest.fixture
def api(api_app):
    """The app, with each test rolled back: the schema is built once."""
    with rolled_back(api_app) as app:
        yield app


@pytest.fixture
def client(api):
    return api.test_client()


@pytest.fixture
def null_client(null_api_app):
    """A client of the null-auth application, rolled back after the test."""
    with rolled_back(null_api_app) as app:
        yield app.test_client()


@pytest.fixture
def dry_api(dry_api_app):
    """The dry-run app, rolled back after the test."""
    with rolled_back(dry_api_app) as app:
        yield app


@pytest.fixture
def dry_client(dry_api):
    return dry_api.test_client()


@pytest.fixture
def dry_users(dry_api):
    """As `users`, for dry_client."""
    return _make_users()


def basic(user, password):
    """The Authorization header of HTTP basic auth."""
    import base64
    token = base64.b64encode(f'{user}:{password}'.encode()).decode()
    return {'Authorization': f'Basic {token}'}


@pytest.fixture
def users(api):
    """Callers under database auth, as request headers: `admin` (an
    administrator), `runway` (a member of project runway), `other` (a
    member of project manhattan) and `anonymous` (no credentials).  The
    two projects exist."""
    return _make_users()


def _make_users():
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
