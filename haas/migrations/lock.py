"""The schema lock: one schema-writing command at a time, per database.

On PostgreSQL it is a session advisory lock, taken by polling a try-lock
so that the wait is bounded and the waiter can say who holds it: the holder
puts its command, process, host and start time in its session's
``application_name``.  On SQLite it is an exclusive ``flock`` on a file
beside the database, holding the same facts as JSON.  A killed holder
releases both.
"""

import contextlib
import datetime
import fcntl
import json
import os
import socket
import sys
import time

import sqlalchemy as sa

from haas.errors import MigrationError

#: PostgreSQL advisory lock key held by every command that writes the schema.
KEY = 0x48414153  # "HAAS"
_PREFIX = 'haas-lock'
_HELD = 'haas_schema_lock'  # connection.info key, while it holds the lock
_POLL = 0.2


class Holder:
    """Who holds the schema lock, as far as the database can tell."""

    def __init__(self, command=None, pid=None, host=None, since=None,
                 backend=None):
        self.command = command
        self.pid = pid
        self.host = host
        self.since = since
        self.backend = backend

    def as_dict(self):
        return {'command': self.command, 'pid': self.pid, 'host': self.host,
                'since': None if self.since is None else _utc(self.since),
                'backend_pid': self.backend}

    def __str__(self):
        facts = []
        if self.pid is not None:
            facts.append(f'pid {self.pid}' + (f' on {self.host}'
                                              if self.host else ''))
        if self.since is not None:
            facts.append(f'since {_utc(self.since)}')
        if self.backend is not None:
            facts.append(f'database backend pid {self.backend}')
        what = self.command or 'an unknown session'
        return f'{what} ({", ".join(facts)})' if facts else what

    def __eq__(self, other):
        return isinstance(other, Holder) and self.as_dict() == other.as_dict()


def _utc(epoch):
    return datetime.datetime.fromtimestamp(
        epoch, datetime.timezone.utc).strftime('%Y-%m-%d %H:%M:%S UTC')


def current_command():
    """What this process is, for others waiting for the lock."""
    click = sys.modules.get('click')
    ctx = click.get_current_context(silent=True) if click else None
    if ctx is not None:
        return ctx.command_path
    return os.path.basename(sys.argv[0] or 'python')


def _application_name(command):
    """``haas-lock|<pid>|<since>|<host>|<command>``, cut to PostgreSQL's
    63 bytes (the command is cut, not the facts before it)."""
    head = f'{_PREFIX}|{os.getpid()}|{int(time.time())}|' \
           f'{socket.gethostname()[:20]}|'
    return (head + command).encode()[:63].decode(errors='ignore')


def _parse_application_name(name, backend):
    parts = (name or '').split('|', 4)
    if len(parts) == 5 and parts[0] == _PREFIX:
        try:
            return Holder(command=parts[4], pid=int(parts[1]),
                          since=int(parts[2]), host=parts[3],
                          backend=backend)
        except ValueError:
            pass
    return Holder(command=f'application {name!r}' if name else None,
                  backend=backend)


def holder(connection):
    """Who holds the schema lock of `connection`'s database, or None."""
    mine = connection.info.get(_HELD)
    if mine is not None:
        return mine  # this very connection: no need to ask the database
    if connection.dialect.name == 'postgresql':
        began = not connection.in_transaction()
        row = connection.execute(sa.text(
            'SELECT a.pid, a.application_name, a.client_addr, '
            'CAST(EXTRACT(EPOCH FROM a.backend_start) AS bigint) '
            'FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid '
            "WHERE l.locktype = 'advisory' AND l.granted "
            'AND l.classid = 0 AND l.objid = :key AND l.objsubid = 1 '
            'AND l.database = (SELECT oid FROM pg_database '
            '                  WHERE datname = current_database())'),
            {'key': KEY}).first()
        if began:
            connection.rollback()
        if row is None:
            return None
        found = _parse_application_name(row[1], row[0])
        if found.pid is None:
            found.host = str(row[2]) if row[2] else None
            found.since = row[3]
        return found
    path = lock_file(connection)
    if path is None or not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return _read_holder(path)
            fcntl.flock(f, fcntl.LOCK_UN)
    except OSError:
        return None  # unreadable: whoever holds it, this cannot tell
    return None


def lock_file(connection):
    """The lock file of a SQLite database, or None for one in memory."""
    database = connection.engine.url.database
    if not database or database == ':memory:' or database.startswith('file:'):
        return None
    return os.path.abspath(database) + '.haas-lock'


def _read_holder(path):
    try:
        with open(path) as f:
            facts = json.load(f)
        return Holder(command=facts.get('command'), pid=facts.get('pid'),
                      host=facts.get('host'), since=facts.get('since'))
    except (OSError, ValueError):
        return Holder()


@contextlib.contextmanager
def schema_lock(connection, wait, report=None, command=None):
    """Hold HaaS's schema lock on `connection` while writing the schema.

    Waits at most `wait` seconds; `report` is told once who holds the lock
    (and again whenever the holder changes).  Raises MigrationError naming
    the holder when the wait runs out.  The lock belongs to the session,
    so it spans the per-revision transactions.
    """
    command = command or current_command()
    if connection.dialect.name == 'postgresql':
        manager = _postgresql_lock(connection, command)
    elif connection.dialect.name == 'sqlite' and lock_file(connection):
        manager = _file_lock(lock_file(connection), command)
    else:
        yield
        return
    with manager as try_lock:
        _wait_for(try_lock, lambda: holder(connection), wait, report)
        connection.info[_HELD] = Holder(
            command=command, pid=os.getpid(), host=socket.gethostname(),
            since=int(time.time()))
        try:
            yield
        finally:
            del connection.info[_HELD]


def begin(connection):
    """A new transaction on `connection`, after ending the one that its
    reads began."""
    if connection.in_transaction():
        connection.rollback()
    return connection.begin()


def _wait_for(try_lock, who, wait, report):
    deadline = time.monotonic() + wait
    told = None
    blank = 0
    while not try_lock():
        current = who()
        if current is None and blank < 3:
            # Released in between, or (SQLite) another command only looked
            # at the lock file: try again now, whatever the wait.
            blank += 1
            continue
        blank = 0
        if time.monotonic() >= deadline:
            held_by = current or 'another session'
            raise MigrationError(
                f'the schema lock is still held by {held_by} after {wait:g} '
                f's: let that command finish, or stop it, then run this one '
                f'again (--lock-wait sets the wait)')
        if report is not None and current is not None and current != told:
            report(f'Waiting up to {wait:g} s for the schema lock, held by '
                   f'{current}')
            told = current
        time.sleep(_POLL)


@contextlib.contextmanager
def _postgresql_lock(connection, command):
    name = _application_name(command)
    held = False
    original = connection.execute(sa.text(
        'SELECT current_setting(\'application_name\')')).scalar()
    connection.commit()

    # Named before the first try, so that a waiter never sees the lock
    # held by a session that has not said who it is yet.
    connection.execute(sa.text(
        'SELECT set_config(\'application_name\', :n, false)'), {'n': name})
    connection.commit()

    def try_lock():
        nonlocal held
        held = connection.execute(sa.text('SELECT pg_try_advisory_lock(:k)'),
                                  {'k': KEY}).scalar()
        connection.commit()
        return held

    try:
        yield try_lock
    finally:
        connection.rollback()
        if held:
            connection.execute(sa.text('SELECT pg_advisory_unlock(:k)'),
                               {'k': KEY})
        connection.execute(sa.text(
            'SELECT set_config(\'application_name\', :n, false)'),
            {'n': original})
        connection.commit()


@contextlib.contextmanager
def _file_lock(path, command):
    # Read-write without append, so that the facts overwrite the last ones.
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise MigrationError(f'cannot open the schema lock file {path}: '
                             f'{e.strerror}') from None
    with os.fdopen(descriptor, 'r+') as f:
        def try_lock():
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            # Written over the last holder's facts, then cut to length, so
            # that a waiter never reads an empty file.
            f.seek(0)
            json.dump({'command': command, 'pid': os.getpid(),
                       'host': socket.gethostname(),
                       'since': int(time.time())}, f)
            f.truncate()
            f.flush()
            return True

        try:
            yield try_lock
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
