"""The schema lock, PostgreSQL's lock and statement timeouts, retries, and
concurrent schema-writing commands, on real databases and processes."""

import contextlib
import fcntl
import json
import os
import pathlib
import re
import shutil
import socket
import subprocess
import sys
import threading
import uuid

import pytest
import sqlalchemy as sa

from haas import migrations
from haas.migrations import LEDGER

from support.commands import HAAS_ADMIN, cli, error_line
from support.config import DEFAULT_EXTENSIONS, config_text
from support.databases import Databases
from support.revisions import CORE_HEAD, SCRIPTS
from support.servers import eventually

KEY = 0x48414153
# Core's row goes once a revision that depends on it is there.
MOCK_HEADS = ['8bdf5c902a41', 'bf6ad6510a60']
# The built-in branch of the migration ledger keeps its own row.
LEDGER_HEAD = '82a6f7041729'
# Enough for an application, with no tables of their own: the branches
# are then core's and the test's.
NO_TABLES = ['haas.ext.auth.null', 'haas.ext.network_allocators.null']
# What the test's own lock holder says about itself.
HOLDER_PID = 4242
HOLDER_HOST = 'ops-host-7'
HOLDER_COMMAND = 'haas-admin db downgrade'
HOLDER_SINCE = 1700000000
HOLDER_SINCE_TEXT = '2023-11-14 22:13:20 UTC'
# Long enough never to be what ends a test; a deadlock still ends it.
BOUND = 60

EXAMPLE = pathlib.Path(__file__).parent / 'extensions' / 'haas_example_ext'
EXAMPLE_MODULE = 'haas_example_ext'


# --- scripts and extensions -------------------------------------------------

def script_text(revision, down, message, body, branch=None, attributes=''):
    """A version script: `body` is the code of upgrade(), indented."""
    first = down is None
    return (
        f'"""{message}\n\nRevision ID: {revision}\n"""\n'
        'from alembic import op\n'
        'import sqlalchemy as sa\n\n'
        f'revision = {revision!r}\n'
        f'down_revision = {down!r}\n'
        f'branch_labels = {(branch,) if first else None!r}\n'
        f'depends_on = {CORE_HEAD if first else None!r}\n'
        f'{attributes}\n\n'
        'def upgrade():\n'
        f'{body}\n\n'
        'def downgrade():\n'
        '    raise NotImplementedError("these tests never downgrade")\n')


def write_scripts(folder, branch, scripts):
    """Write `scripts` [(revision, message, body, attributes)], a chain."""
    folder.mkdir(parents=True, exist_ok=True)
    down = None
    for revision, message, body, attributes in scripts:
        (folder / f'{revision}_test.py').write_text(script_text(
            revision, down, message, body, branch, attributes))
        down = revision


@pytest.fixture
def extension(tmp_path, monkeypatch):
    """Make an extension, importable here, whose only content is a branch
    of the scripts given; returns its module name.

    Each gets a new name, so that this process never meets a stale module
    or folder of an earlier test, and it has no models, so that the
    models of other tests stay HaaS's own.
    """
    made = []
    site = tmp_path / 'site'
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))

    def make(scripts):
        name = f'haas_lock_test_{uuid.uuid4().hex[:8]}'
        package = site / name
        package.mkdir()
        (package / '__init__.py').write_text(
            'import os\n\nfrom haas import migrations\n\n'
            'migrations.paths[__name__] = os.path.join(\n'
            '    os.path.dirname(__file__), "migrations")\n')
        write_scripts(package / 'migrations', name, scripts)
        made.append(name)
        return name

    yield make
    for name in made:
        sys.modules.pop(name, None)
        migrations.paths.pop(name, None)


def install_example(tmp_path, scripts):
    """The example extension in a scratch import path, with `scripts`;
    the folder to put on PYTHONPATH."""
    site = tmp_path / 'example-site'
    target = site / EXAMPLE_MODULE
    shutil.copytree(EXAMPLE, target,
                    ignore=shutil.ignore_patterns('__pycache__', 'migrations'))
    write_scripts(target / 'migrations', EXAMPLE_MODULE, scripts)
    return site


EXAMPLE_SCRIPTS = [
    ('e1a000000001', 'add example_widget', '''\
    op.create_table(
        'example_widget',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('label', sa.String(), nullable=False),
        sa.Column('project_id',
                  sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                  nullable=False),
        sa.ForeignKeyConstraint(['project_id'], ['project.id']),
        sa.PrimaryKeyConstraint('id'))''', ''),
    ('e1a000000002', 'index example_widget labels', '''\
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('CREATE INDEX CONCURRENTLY ix_example_widget_label '
                   'ON example_widget (label)')
    else:
        op.create_index('ix_example_widget_label', 'example_widget',
                        ['label'])''',
     '# CREATE INDEX CONCURRENTLY cannot run in a transaction.\n'
     'transactional = False'),
]


# --- holding the lock, as another command would -----------------------------

def expected_holder(backend_pid=None):
    """How a waiter names the test's holder."""
    facts = f'pid {HOLDER_PID} on {HOLDER_HOST}, since {HOLDER_SINCE_TEXT}'
    if backend_pid is not None:
        facts += f', database backend pid {backend_pid}'
    return f'{HOLDER_COMMAND} ({facts})'


def _take_lock(uri):
    """Take the schema lock of `uri`'s database as a HaaS command does;
    how waiters name the holder, and what releases it."""
    url = sa.make_url(uri)
    if url.get_backend_name() == 'sqlite':
        f = open(os.path.abspath(url.database) + '.haas-lock', 'a+')
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        f.seek(0)
        f.truncate()
        json.dump({'command': HOLDER_COMMAND, 'pid': HOLDER_PID,
                   'host': HOLDER_HOST, 'since': HOLDER_SINCE}, f)
        f.flush()
        return expected_holder(), f.close  # closing it releases the flock
    name = f'haas-lock|{HOLDER_PID}|{HOLDER_SINCE}|{HOLDER_HOST}|' \
           f'{HOLDER_COMMAND}'
    engine = sa.create_engine(uri, isolation_level='AUTOCOMMIT',
                              poolclass=sa.pool.NullPool,
                              connect_args={'application_name': name})
    connection = engine.connect()
    assert connection.scalar(sa.text('SELECT pg_try_advisory_lock(:k)'),
                             {'k': KEY})
    backend = connection.scalar(sa.text('SELECT pg_backend_pid()'))

    def release():  # the session's end releases its advisory lock
        connection.close()
        engine.dispose()
    return expected_holder(backend), release


@contextlib.contextmanager
def holding_lock(uri):
    """Hold the schema lock of `uri`'s database; yields how waiters name
    the holder.

    It is released on exit, or after `BOUND` s: a waiter that would wait
    for ever then takes it and the test fails, instead of hanging.
    """
    holder, release = _take_lock(uri)
    once = threading.Lock()

    def release_once():
        if once.acquire(blocking=False):
            release()

    timer = threading.Timer(BOUND, release_once)
    timer.daemon = True
    timer.start()
    try:
        yield holder
    finally:
        timer.cancel()
        release_once()


def waiting_line(holder, wait):
    return f'Waiting up to {wait:g} s for the schema lock, held by {holder}'


# --- real processes ---------------------------------------------------------

class Admin:
    """A running `haas-admin`, whose output is read as it comes, so that
    a test can see a waiter say that it waits."""

    def __init__(self, args, config_path, pythonpath=None):
        env = dict(os.environ, HAAS_CONFIG=str(config_path))
        if pythonpath is not None:
            env['PYTHONPATH'] = os.pathsep.join(
                p for p in (str(pythonpath), env.get('PYTHONPATH')) if p)
        self.process = subprocess.Popen(
            [HAAS_ADMIN, *args], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, env=env)
        self.lines = []
        self.out = []
        self._readers = [
            threading.Thread(target=self._read, daemon=True,
                             args=(self.process.stderr, self.lines)),
            threading.Thread(target=self._read, daemon=True,
                             args=(self.process.stdout, self.out))]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream, into):
        for line in stream:
            into.append(line.rstrip('\n'))

    def finish(self):
        """(exit status, stdout lines, stderr lines), within the bound."""
        try:
            self.process.wait(timeout=BOUND)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f'still running after {BOUND} s: '
                                 f'{self.lines}')
        for reader in self._readers:
            reader.join(BOUND)
        return self.process.returncode, list(self.out), list(self.lines)


@pytest.fixture
def start():
    """Start `haas-admin` processes; any left running when a test fails
    is killed, so that none outlives its database."""
    started = []

    def start(*args, **kwargs):
        started.append(Admin(*args, **kwargs))
        return started[-1]

    yield start
    for admin in started:
        if admin.process.poll() is None:
            admin.process.kill()
            admin.process.wait()


def write_config(tmp_path, text):
    path = tmp_path / f'haas-{uuid.uuid4().hex[:8]}.cfg'
    path.write_text(text)
    return path


_TIME = re.compile(r' in \d+\.\d\d s$')


def timeless(lines):
    """`lines` without the durations of progress lines."""
    return [_TIME.sub(' in <t> s', line) for line in lines]


def upgraded(branch, revision, message):
    return f'upgraded {branch} to {revision} ({message}) in <t> s'


# An upgrade from nothing applies the ledger's revision first.
LEDGER_UPGRADED = upgraded(LEDGER, LEDGER_HEAD, 'Create the migration '
                           'ledger, `haas_schema_ledger`.')
# Then core's, and the mock drivers' of DEFAULT_EXTENSIONS.
CORE_UPGRADED = [upgraded('haas', revision, message)
                 for revision, message, _ in SCRIPTS['haas']]
MOCKS_UPGRADED = [upgraded(branch, revision, message)
                  for branch in ('haas.ext.obm.mock', 'haas.ext.switches.mock')
                  for revision, message, _ in SCRIPTS[branch]]


# --- reading the database ---------------------------------------------------

def query(uri, sql, **params):
    """Run `sql` in a transaction of its own; its rows, if any."""
    engine = sa.create_engine(uri, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as connection:
            result = connection.execute(sa.text(sql), params)
            return [tuple(r) for r in result] if result.returns_rows else None
    finally:
        engine.dispose()


def versions(uri):
    return sorted(r for r, in query(
        uri, 'SELECT version_num FROM alembic_version'))


def invalid_indexes(uri):
    return query(uri, 'SELECT c.relname FROM pg_index i '
                      'JOIN pg_class c ON c.oid = i.indexrelid '
                      'WHERE NOT i.indisvalid ORDER BY 1')


# --- the lock ---------------------------------------------------------------

@pytest.mark.parametrize('command', [
    ['upgrade'], ['create'], ['stamp', 'heads'], ['forget', 'haas.ext.nope'],
    ['downgrade', 'haas@base']])
def test_lock_held_past_the_wait_fails_naming_the_holder(databases, command):
    uri = databases.new()
    config = config_text(uri)

    with holding_lock(uri) as holder:
        result = cli(['db', *command, '--lock-wait', '1'], config)

    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        waiting_line(holder, 1),
        f'Error: the schema lock is still held by {holder} after 1 s: let '
        f'that command finish, or stop it, then run this one again '
        f'(--lock-wait sets the wait)']
    assert sa.inspect(sa.create_engine(
        uri, poolclass=sa.pool.NullPool)).get_table_names() == []


@pytest.mark.parametrize('n', [2, 4])
def test_concurrent_upgrades_wait_then_apply_each_revision_once(
        databases, tmp_path, start, n):
    uri = databases.new()
    site = install_example(tmp_path, EXAMPLE_SCRIPTS)
    config = write_config(tmp_path, config_text(
        uri, DEFAULT_EXTENSIONS + [EXAMPLE_MODULE],
        extra=f'[migrations]\nlock_wait = {BOUND}\n'))

    with holding_lock(uri) as holder:
        # Every revision, so that each is seen applied once.
        admins = [start(['db', 'upgrade', '--no-checkpoints'], config, site)
                  for _ in range(n)]
        # Each has met the test's lock before any may take it.
        eventually(lambda: all(a.lines[:1] == [waiting_line(holder, BOUND)]
                               for a in admins),
                   BOUND, f'every upgrade waiting for {holder}')
    results = [a.finish() for a in admins]

    assert [status for status, _, _ in results] == [0] * n, results
    # Alembic may order independent branches either way: compare sets.
    told = [sorted(timeless(line for line in lines
                            if not line.startswith('Waiting up to ')))
            for _, _, lines in results]
    assert sorted(told, key=len) == [[]] * (n - 1) + [sorted(
        [LEDGER_UPGRADED] + CORE_UPGRADED + MOCKS_UPGRADED + [
            upgraded(EXAMPLE_MODULE, 'e1a000000001', 'add example_widget'),
            upgraded(EXAMPLE_MODULE, 'e1a000000002',
                     'index example_widget labels')])], results
    assert versions(uri) == sorted([LEDGER_HEAD] + MOCK_HEADS +
                                   ['e1a000000002'])
    engine = sa.create_engine(uri, poolclass=sa.pool.NullPool)
    assert [i['name'] for i in sa.inspect(engine).get_indexes(
        'example_widget')] == ['ix_example_widget_label']
    if databases.backend == 'postgresql':
        assert invalid_indexes(uri) == []


def test_concurrent_sqlite_creates_wait_then_create_once(tmp_path, start):
    # Without the lock file, some of them met "database is locked".
    uri = Databases('sqlite', tmp_path).new()
    config = write_config(tmp_path, config_text(
        uri, extra=f'[migrations]\nlock_wait = {BOUND}\n'))

    with holding_lock(uri) as holder:
        admins = [start(['db', 'create'], config) for _ in range(4)]
        eventually(lambda: all(a.lines[:1] == [waiting_line(holder, BOUND)]
                               for a in admins),
                   BOUND, f'every create waiting for {holder}')
    results = [a.finish() for a in admins]

    assert [status for status, _, _ in results] == [0] * 4, results
    assert sorted(out for _, out, _ in results) == [
        [f'Created branches: haas, {LEDGER}, haas.ext.switches.mock, '
         f'haas.ext.obm.mock']
    ] + [['Every enabled branch already exists; nothing created.']] * 3
    told = [[line for line in lines if not line.startswith('Waiting up to ')]
            for _, _, lines in results]
    assert sorted(told, key=len) == [[]] * 3 + [[
        f'stamped haas at {CORE_HEAD}',
        f'stamped {LEDGER} at {LEDGER_HEAD}',
        f'stamped haas.ext.switches.mock at {MOCK_HEADS[0]}',
        f'stamped haas.ext.obm.mock at {MOCK_HEADS[1]}']], results
    # Core's head is past the 0.3 the mocks' heads imply: a row of its own.
    assert versions(uri) == sorted([LEDGER_HEAD, CORE_HEAD] + MOCK_HEADS)


# --- revisions: transactions, failures, timeouts ----------------------------

def test_failing_revision_leaves_the_last_completed_one(databases, extension):
    uri = databases.new()
    branch = extension([
        ('f00000000001', 'add gadget',
         "    op.create_table('gadget', sa.Column('id', sa.Integer()))", ''),
        ('f00000000002', 'seed gadget',
         "    op.execute('INSERT INTO gadget (id) VALUES (1)')", ''),
        ('f00000000003', 'break gadget', '''\
    op.create_table('half_done', sa.Column('id', sa.Integer()))
    op.execute('UPDATE no_such_table SET id = 2')''', ''),
    ])
    config = config_text(uri, NO_TABLES + [branch])

    result = cli(['db', 'upgrade', '--no-checkpoints'], config)

    cause = {'sqlite': 'no such table: no_such_table',
             'postgresql': 'relation "no_such_table" does not exist'}
    assert result.exit_code == 1
    assert timeless(result.stderr.splitlines()) == [
        LEDGER_UPGRADED,
        *CORE_UPGRADED,
        upgraded(branch, 'f00000000001', 'add gadget'),
        upgraded(branch, 'f00000000002', 'seed gadget'),
        f'Error: revision f00000000003 (break gadget) of branch {branch} '
        f'failed: {cause[databases.backend]} (nothing of it was applied; the '
        f'database stays at the last revision that completed)']
    assert versions(uri) == sorted([LEDGER_HEAD, 'f00000000002'])
    engine = sa.create_engine(uri, poolclass=sa.pool.NullPool)
    assert 'half_done' not in sa.inspect(engine).get_table_names()
    assert query(uri, 'SELECT id FROM gadget') == [(1,)]


RECORD = '''\
    op.execute("INSERT INTO timeouts SELECT '{revision}', "
               "current_setting('lock_timeout'), "
               "current_setting('statement_timeout'), "
               "EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' "
               "AND granted AND pid = pg_backend_pid() "
               "AND objid = {key})")'''


def test_revisions_run_under_the_lock_with_their_timeouts(pg_databases,
                                                          extension):
    uri = pg_databases.new()
    branch = extension([
        ('d00000000001', 'own timeouts', '''\
    op.create_table('timeouts', sa.Column('revision', sa.String()),
                    sa.Column('lock_timeout', sa.String()),
                    sa.Column('statement_timeout', sa.String()),
                    sa.Column('locked', sa.Boolean()))
''' + RECORD.format(revision='d00000000001', key=KEY),
         'lock_timeout = 3\nstatement_timeout = 7'),
        ('d00000000002', 'outside a transaction',
         RECORD.format(revision='d00000000002', key=KEY),
         'transactional = False\nlock_timeout = 2'),
        # The session settings of the one before must not leak here.
        ('d00000000003', 'configured timeouts',
         RECORD.format(revision='d00000000003', key=KEY), ''),
    ])
    config = config_text(uri, NO_TABLES + [branch], extra=(
        '[migrations]\nlock_timeout = 4\nstatement_timeout = 50\n'))

    assert cli(['db', 'upgrade'], config).exit_code == 0

    assert query(uri, 'SELECT * FROM timeouts ORDER BY revision') == [
        ('d00000000001', '3s', '7s', True),
        ('d00000000002', '2s', '50s', True),
        ('d00000000003', '4s', '50s', True),
    ]


BUSY_SCRIPTS = [
    ('b00000000001', 'add busy',
     "    op.create_table('busy', sa.Column('id', sa.Integer()))", ''),
    ('b00000000002', 'fill busy',
     "    op.execute('INSERT INTO busy (id) VALUES (1)')",
     'lock_timeout = 0.2'),
]
BUSY_FAILED = ('revision b00000000002 (fill busy) of branch {branch} failed: '
               'canceling statement due to lock timeout (nothing of it was '
               'applied; the database stays at the last revision that '
               'completed)')


@contextlib.contextmanager
def table_locked(uri, table):
    """Hold an ACCESS EXCLUSIVE lock on `table` until the block ends."""
    engine = sa.create_engine(uri, poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        connection.exec_driver_sql(
            f'LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE')
        try:
            yield
        finally:
            connection.rollback()
    engine.dispose()


def test_reading_the_schema_behind_a_locked_table_fails_after_lock_timeout(
        pg_databases):
    from support.config import LEGACY_EXTENSIONS
    from support.legacy import load_dump, read_dump
    uri = pg_databases.new()
    load_dump(uri, read_dump())  # adoptable: its tables are read closely
    config = config_text(uri, LEGACY_EXTENSIONS,
                         extra='[migrations]\nlock_timeout = 1\n')

    with table_locked(uri, 'networkattachment'):
        status = cli(['db', 'status'], config)
        upgrade = cli(['db', 'upgrade'], config)

    message = ('a table is locked by another session, and reading the schema '
               'waited for it 1 s ([migrations] lock_timeout): let that '
               'session finish, or stop it, then run this again')
    assert (error_line(status), error_line(upgrade)) == (message, message)
    assert cli(['db', 'upgrade'], config).exit_code == 0


def test_revision_that_hits_the_lock_timeout_is_retried(pg_databases,
                                                        extension, tmp_path,
                                                        start):
    uri = pg_databases.new()
    branch = extension(BUSY_SCRIPTS)
    text = config_text(uri, NO_TABLES + [branch])
    assert cli(['db', 'upgrade', f'{branch}@b00000000001'],
               text).exit_code == 0
    failed = BUSY_FAILED.format(branch=branch)

    with table_locked(uri, 'busy'):
        admin = start(['db', 'upgrade'], write_config(tmp_path, text),
                      tmp_path / 'site')
        eventually(lambda: admin.lines[:1] == [
            f'{failed}; retry 1 of 5 in 1 s'], BOUND, 'the first retry')
    status, _, lines = admin.finish()

    assert status == 0, lines
    # Retries go on until the test lets go; the one after that succeeds.
    retries = [f'{failed}; retry {k} of 5 in {2 ** (k - 1)} s'
               for k in range(1, len(lines))]
    assert timeless(lines) == retries + [
        upgraded(branch, 'b00000000002', 'fill busy')]
    assert query(uri, 'SELECT id FROM busy') == [(1,)]


def test_lock_timeout_without_retries_fails_naming_the_script(pg_databases,
                                                              extension):
    uri = pg_databases.new()
    branch = extension(BUSY_SCRIPTS)
    text = config_text(uri, NO_TABLES + [branch],
                       extra='[migrations]\nlock_retries = 0\n')
    assert cli(['db', 'upgrade', f'{branch}@b00000000001'],
               text).exit_code == 0

    with table_locked(uri, 'busy'):
        result = cli(['db', 'upgrade'], text)

    assert error_line(result) == BUSY_FAILED.format(branch=branch)
    assert versions(uri) == sorted([LEDGER_HEAD, 'b00000000001'])


def test_invalid_index_of_a_failed_attempt_is_dropped_before_the_retry(
        pg_databases, extension):
    uri = pg_databases.new()
    branch = extension([
        ('c00000000001', 'add tag',
         "    op.create_table('tag', sa.Column('label', sa.String()))", ''),
        ('c00000000002', 'unique tag labels',
         "    op.execute('CREATE UNIQUE INDEX CONCURRENTLY ix_tag_label '\n"
         "               'ON tag (label)')", 'transactional = False'),
    ])
    text = config_text(uri, NO_TABLES + [branch])
    assert cli(['db', 'upgrade', f'{branch}@c00000000001'],
               text).exit_code == 0
    query(uri, "INSERT INTO tag VALUES ('red'), ('red'), ('blue')")

    failed = cli(['db', 'upgrade'], text)

    assert error_line(failed) == (
        f'revision c00000000002 (unique tag labels) of branch {branch} '
        f'failed: could not create unique index "ix_tag_label" (it is not '
        f'transactional: what it did before the error stays; the database '
        f'stays at the last revision that completed)')
    assert versions(uri) == sorted([LEDGER_HEAD, 'c00000000001'])
    assert invalid_indexes(uri) == [('ix_tag_label',)]

    query(uri, "DELETE FROM tag WHERE ctid = (SELECT max(ctid) FROM tag "
               "WHERE label = 'red')")
    again = cli(['db', 'upgrade'], text)

    assert again.exit_code == 0, again.stderr
    assert timeless(again.stderr.splitlines()) == [
        'dropping invalid index ix_tag_label, left by an earlier failed '
        'attempt',
        upgraded(branch, 'c00000000002', 'unique tag labels')]
    assert invalid_indexes(uri) == []
    engine = sa.create_engine(uri, poolclass=sa.pool.NullPool)
    assert sa.inspect(engine).get_indexes('tag') == [
        {'name': 'ix_tag_label', 'column_names': ['label'], 'unique': True,
         'dialect_options': {'postgresql_include': []}}]
    assert versions(uri) == sorted([LEDGER_HEAD, 'c00000000002'])


# --- connecting -------------------------------------------------------------

@contextlib.contextmanager
def silent_listener():
    """A loopback port that accepts connections and never says a word."""
    server = socket.socket()
    server.bind(('127.0.0.1', 0))
    server.listen()
    accepted = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except socket.timeout:
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        for connection in accepted:
            connection.close()
        server.close()


def test_unanswered_connection_fails_in_one_line_after_connect_timeout(
        tmp_path):
    with silent_listener() as port:
        config = write_config(tmp_path, (
            f'[database]\nuri = postgresql://postgres@127.0.0.1:{port}/x\n'
            f'connect_timeout = 2\n'))
        # The bound only stops a hang; connect_timeout ends the command.
        result = subprocess.run(
            [HAAS_ADMIN, 'db', 'status'], capture_output=True, text=True,
            timeout=30, env=dict(os.environ, HAAS_CONFIG=str(config)))

    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f'Error: cannot use the database: connection to server at '
        f'"127.0.0.1", port {port} failed: timeout expired']
