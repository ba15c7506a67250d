"""HaaS in real processes: free ports, waiting for what another process
does, a served API (`haas-admin serve` or gunicorn) with a networking
daemon, and the `haas` client run against it."""

import base64
import contextlib
import itertools
import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid

import pytest
import sqlalchemy as sa

from haas.config import Config
from haas.ext.switches import mock
from haas.model import NetworkingAction

from support.commands import GUNICORN, HAAS, HAAS_ADMIN, cli
from support.config import (
    API_EXTENSIONS,
    CHEAP_HASHES,
    LEGACY_VLANS,
    config_text,
)

#: The administrator `serving` makes, as (user, password).
ADMIN = ('admin', 'admin-pw')


def free_port():
    """A TCP port of 127.0.0.1 that nothing listens on."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


_serial = itertools.count()


def new_serial():
    """A number no other call in this process gave: the names of what a
    test makes on a site it shares with others, whatever their order."""
    return next(_serial)


def eventually(check, seconds=30, what='the condition'):
    """The first true value `check()` gives within `seconds`: what another
    process does shows after a while.  Fails naming `what` if none came."""
    deadline = time.monotonic() + seconds
    while not (value := check()):
        assert time.monotonic() < deadline, \
            f'timed out after {seconds} s waiting for {what}'
        time.sleep(0.05)
    return value


class Server:
    """A `haas-admin serve` process and an HTTP client of it."""

    def __init__(self, base, uri):
        self.base, self.uri = base, uri

    def call(self, method, path, body=None, credentials=ADMIN):
        """(status, JSON body, or the raw bytes of an empty answer)."""
        status, headers, data = self.raw(method, path, body, credentials)
        return status, json.loads(data) if data else data

    def raw(self, method, path, body=None, credentials=ADMIN):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data,
                                         method=method)
        if credentials is not None:
            token = base64.b64encode(':'.join(credentials).encode()).decode()
            request.add_header('Authorization', f'Basic {token}')
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as e:
            with e:
                return e.code, e.headers, e.read()

    def rows(self, tables):
        """Every row of each of `tables`, ordered."""
        engine = sa.create_engine(self.uri, poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as connection:
                metadata = sa.MetaData()
                metadata.reflect(connection, only=tables)
                return {name: [tuple(row) for row in connection.execute(
                            sa.select(table).order_by(*table.columns))]
                        for name, table in metadata.tables.items()}
        finally:
            engine.dispose()

    def actions(self):
        """The networking actions: (channel, uuid, status, type) each."""
        table = NetworkingAction.__table__
        engine = sa.create_engine(self.uri, poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as connection:
                return [tuple(row) for row in connection.execute(
                    sa.select(table.c.channel, table.c.uuid, table.c.status,
                              table.c.type).order_by(table.c.id))]
        finally:
            engine.dispose()

    def refuse_pending_actions(self):
        """Mark the pending networking actions ERROR, as the networking
        daemon (none runs here) does when their switch refuses them;
        returns how many there were."""
        table = NetworkingAction.__table__
        engine = sa.create_engine(self.uri, poolclass=sa.pool.NullPool)
        try:
            with engine.begin() as connection:
                return connection.execute(
                    sa.update(table).where(table.c.status == 'PENDING')
                    .values(status='ERROR')).rowcount
        finally:
            engine.dispose()


def _admin(args, config, input=None):
    # In this process: the server is the process these tests are about.
    result = cli(args, config, input=input)
    assert result.exit_code == 0, (args, result.output)


@contextlib.contextmanager
def serving(uri, tmp_path, extra='', gunicorn=False,
            extensions=API_EXTENSIONS, vlans=LEGACY_VLANS):
    """A server on a new schema of `uri`, with one administrator, ADMIN
    (when `extensions` keep users); `extensions` enabled (the VLAN pool
    of `vlans`), and `extra` in its haas.cfg (tmp_path / 'haas.cfg').
    The server is `haas-admin serve`, or with `gunicorn` two gunicorn
    workers."""
    path = tmp_path / 'haas.cfg'
    config = config_text(uri, extensions, vlans=vlans,
                         extra=CHEAP_HASHES + extra)
    path.write_text(config)
    env = {**os.environ, 'HAAS_CONFIG': str(path)}
    _admin(['db', 'create'], config)
    if 'haas.ext.auth.database' in extensions:
        _admin(['create-admin-user', ADMIN[0], '--password-stdin'], config,
               input=ADMIN[1] + '\n')
    port = free_port()
    server = Server(f'http://127.0.0.1:{port}', uri)
    log_path = tmp_path / 'server.log'
    with open(log_path, 'wb') as log:
        command = [HAAS_ADMIN, 'serve', '--host', '127.0.0.1', '--port',
                   str(port)]
        if gunicorn:
            command = [GUNICORN, '-w', '2', '-b', f'127.0.0.1:{port}',
                       'haas.wsgi:application']
        process = subprocess.Popen(command, env=env, stdout=log,
                                   stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                server.raw('GET', '/projects', credentials=None)
                break
            # Refused before it listens; a first answer may also take
            # longer than a request's timeout on a busy machine.
            except (urllib.error.URLError, TimeoutError, ConnectionError):
                if process.poll() is not None:
                    pytest.fail(f'the server exited ({process.returncode}):\n'
                                f'{log_path.read_text()}')
                if time.monotonic() > deadline:
                    pytest.fail(f'the server did not answer within 60 s:\n'
                                f'{log_path.read_text()}')
                time.sleep(0.05)
        yield server
    finally:
        stop(process)


def stop(process):
    """Stop `process`: SIGTERM, and SIGKILL if it is still there after
    10 s."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


#: How often a daemon on SQLite, which has no notifications, looks for
#: actions: every action of a test waits for its next look.
SQLITE_POLL = '[daemon]\npoll = 0.1\n'


@contextlib.contextmanager
def running(uri, tmp_path, gunicorn=False, extensions=API_EXTENSIONS,
            extra='', vlans=LEGACY_VLANS):
    """`serving`, and a networking daemon beside it; (the server, the
    mock switches' state directory)."""
    state = tmp_path / 'switches'
    if uri.startswith('sqlite') and '[daemon]' not in extra:
        extra += SQLITE_POLL
    with serving(uri, tmp_path, gunicorn=gunicorn, extensions=extensions,
                 vlans=vlans,
                 extra=f'[haas.ext.switches.mock]\nstate_dir = {state}\n'
                 + extra) as server:
        env = {**os.environ, 'HAAS_CONFIG': str(tmp_path / 'haas.cfg')}
        daemon = subprocess.Popen([HAAS_ADMIN, 'serve-networks'], env=env,
                                  stderr=subprocess.DEVNULL)
        try:
            yield server, state
        finally:
            daemon.terminate()
            daemon.wait(30)


def ports(state, switch):
    """What the mock switch's ports carry, as the mock reads its files."""
    return mock.read_state(Config.from_string(
        f'[haas.ext.switches.mock]\nstate_dir = {state}\n'), switch)['ports']


def haas(server, *args, credentials=ADMIN, check=True):
    """Run `haas ARGS` against `server`; (exit status, stdout, stderr)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ('HAAS_CONFIG', 'HAAS_USERNAME', 'HAAS_PASSWORD')}
    env['HAAS_ENDPOINT'] = server.base if hasattr(server, 'base') else server
    if credentials:
        env['HAAS_USERNAME'], env['HAAS_PASSWORD'] = credentials
    result = subprocess.run([HAAS, *args], capture_output=True, text=True,
                            env=env, timeout=60)
    if check:
        assert result.returncode == 0, (args, result.stderr)
    return result.returncode, result.stdout, result.stderr


def status_id(result):
    """The status_id a queued change printed, checked to be all it
    printed, and a version 4 UUID."""
    status, out, err = result
    assert (status, out[:len('status_id: ')], out[-1:], err) == (
        0, 'status_id: ', '\n', '')
    found = out[len('status_id: '):-1]
    assert uuid.UUID(found).version == 4
    return found


def action_status(server, found):
    """The status of networking action `found`, as `haas action show`
    prints it."""
    return json.loads(haas(server, 'action', 'show', found, '--json')[1])[
        'status']
