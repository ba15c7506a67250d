"""Fixtures: fresh databases on SQLite and PostgreSQL, applications built
once per run with each test rolled back, users, served sites.

Every test that takes `databases` runs once per database.  What the
fixtures are made of, and what tests share besides, is in `support`.
"""

import os
import shutil
import sys
import tempfile

import pytest

from haas import migrations

from support.api import caller
from support.config import (
    API_EXTENSIONS,
    CHEAP_HASHES,
    HEADNODE_CONFIG,
    NULL_AUTH_EXTENSIONS,
)
from support.databases import (
    Databases,
    Held,
    built_app,
    dispose_engines,
    make_users,
    rolled_back,
    sharing,
)
from support.example import EXAMPLE, EXAMPLE_MODULE
from support.legacy import read_dump
from support.servers import running

# The tests' files (SQLite databases, servers' state and logs) in memory
# where the system offers it: a SQLite commit waits for the disk, and the
# migrations commit once per revision.  An explicit TMPDIR wins; the
# processes the tests start inherit it.
if 'TMPDIR' not in os.environ and os.access('/dev/shm', os.W_OK):
    os.environ['TMPDIR'] = '/dev/shm'
    tempfile.tempdir = None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """The slow tests first, in their order: the two workers of a
    distributed run then end together, rather than one of them alone on
    a long test the last to start."""
    items.sort(key=lambda item: item.get_closest_marker('slow') is None)


@pytest.hookimpl(trylast=True, specname='pytest_collection_modifyitems')
def pytest_collection_modifyitems_sharing(items):
    """After pytest has grouped the tests by backend: within each module's
    run on one backend, the tests that share its world first, so that the
    world is built once (see `Held`)."""
    def run(item):
        params = getattr(item, 'callspec', None)
        params = params.params if params else {}
        return item.module, tuple(sorted(
            (k, v) for k, v in params.items() if k.endswith('api_app')))

    start = 0
    while start < len(items):
        end = start
        while end < len(items) and run(items[end]) == run(items[start]):
            end += 1
        items[start:end] = sorted(items[start:end],
                                  key=lambda item: not _shares(item))
        start = end


def _shares(item):
    """Whether the test runs from its module's shared world."""
    return hasattr(item.module, 'build_world') and \
        'world' in item.fixturenames


def _databases(backend, tmp_path_factory):
    dbs = Databases(backend, tmp_path_factory.mktemp('db'))
    yield dbs
    dispose_engines()
    dbs.drop_all()


@pytest.fixture(params=['sqlite', 'postgresql'])
def databases(request, tmp_path_factory):
    """Fresh databases on each backend, one run of the test per backend."""
    yield from _databases(request.param, tmp_path_factory)


@pytest.fixture(scope='module', params=['sqlite', 'postgresql'])
def module_databases(request, tmp_path_factory):
    """As `databases`, for what a module's tests share (a served site)."""
    yield from _databases(request.param, tmp_path_factory)


@pytest.fixture
def pg_databases(tmp_path_factory):
    """Fresh PostgreSQL databases, for tests that only make sense there."""
    yield from _databases('postgresql', tmp_path_factory)


@pytest.fixture(autouse=True)
def _close_apps():
    yield
    dispose_engines()


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


@pytest.fixture(scope='session', params=['sqlite', 'postgresql'])
def api_app(request, tmp_path_factory):
    """An application whose schema is built once per database per run:
    database auth, the VLAN pool (100-200, 300-500), mock drivers."""
    with built_app(request.param, tmp_path_factory.mktemp('db'),
                   API_EXTENSIONS, extra=CHEAP_HASHES) as app:
        yield app


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


# Shared worlds.  A module whose tests mostly start from the same rows,
# made through the API, defines `build_world(client, users)` (which makes
# them, and returns what its `world` fixture gives) and a `world` fixture
# that returns `sharing(app).world`; WORLD_APP names the fixture of the
# app it is built on ('api' unless said).  Its tests that take `world`
# then run from one world built per module and backend (per worker),
# each in a savepoint rolled back after it; its other tests keep a
# transaction of their own.


@pytest.fixture(scope='module')
def held_api(request, api_app):
    held = Held(api_app, request.module.build_world)
    yield held
    held.release()


@pytest.fixture(scope='module')
def held_dry_api(request, dry_api_app):
    held = Held(dry_api_app, request.module.build_world)
    yield held
    held.release()


def _test_transaction(request, app, name):
    """The test's own rolled-back transaction, or a savepoint in the
    module's shared world."""
    if _shares(request.node) and \
            getattr(request.module, 'WORLD_APP', 'api') == name:
        return request.getfixturevalue(f'held_{name}').test()
    return rolled_back(app)


@pytest.fixture
def api(request, api_app):
    """The app, with each test rolled back: the schema is built once."""
    with _test_transaction(request, api_app, 'api') as app:
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
def dry_api(request, dry_api_app):
    """The dry-run app, rolled back after the test."""
    with _test_transaction(request, dry_api_app, 'dry_api') as app:
        yield app


@pytest.fixture
def dry_client(dry_api):
    return dry_api.test_client()


@pytest.fixture
def dry_users(dry_api):
    """As `users`, for dry_client."""
    return _users(dry_api)


@pytest.fixture
def call(client, users):
    """call(who, method, path, body=None): the answer to `who`'s request
    (who: a key of `users`)."""
    return caller(client, users)


@pytest.fixture
def users(api):
    """Callers under database auth, as request headers: see
    `make_users`."""
    return _users(api)


def _users(app):
    held = sharing(app)
    return make_users() if held is None else held.users


@pytest.fixture
def live_site(databases, tmp_path):
    """`haas-admin serve` and a networking daemon on one database, in
    real processes; (the server, the mock switches' state directory)."""
    with running(databases.new(), tmp_path) as site:
        yield site


@pytest.fixture
def dump():
    """The SQL of the HaaS 0.2 dump; a skip (a failure in CI) when it is
    absent."""
    return read_dump()
