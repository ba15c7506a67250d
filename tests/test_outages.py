"""HaaS while its PostgreSQL database restarts, stops or stalls.

The faults are real: a throwaway PostgreSQL cluster that these tests start
(never the shared server), restarted and stopped under a running networking
daemon and gunicorn, and a peer whose packets vanish, made with a network
namespace and a veth pair.  The few unit tests at the top need none of it.
"""

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request

import pytest
import sqlalchemy as sa

import haas
from haas import migrations
from haas.model import db

from support.api import OBM, SWITCH, calls
from support.commands import GUNICORN, HAAS_ADMIN
from support.config import NULL_AUTH_EXTENSIONS, config_text
from support.servers import eventually, free_port

#: In CI these faults must run: a skip there would pass for a success.
IN_CI = os.environ.get('CI') == 'true'


def cannot_run(reason):
    if IN_CI:
        pytest.fail(f'{reason} (CI=true: the outage tests must run)')
    pytest.skip(reason)


# --- without a cluster ------------------------------------------------------

def nowhere():
    """A PostgreSQL URI where nothing listens: a database that is down."""
    return f'postgresql://postgres@127.0.0.1:{free_port()}/haas'


def test_a_call_while_the_database_is_down_is_a_503_with_retry_after(
        caplog):
    app = haas.create_app(config_text(nowhere(), NULL_AUTH_EXTENSIONS))

    response = app.test_client().put('/project/p')

    assert (response.status_code, response.json,
            response.headers['Retry-After']) == (
        503, {'type': 'ServiceUnavailableError',
              'msg': 'The database is unavailable; try again shortly.'}, '5')
    # One line, no traceback: the database being away is not a bug.
    assert [(r.levelname, r.getMessage().split(' (')[0], r.exc_info)
            for r in caplog.records if r.name == 'haas.rest'] == [
        ('WARNING', 'PUT /project/p: the database is unavailable', None)]


def test_a_database_error_that_is_no_outage_stays_a_500(pg_databases,
                                                        caplog):
    # A database without HaaS's tables: the statement is refused, which
    # is a bug (or a bad installation), not an outage.
    app = haas.create_app(config_text(pg_databases.new(),
                                      NULL_AUTH_EXTENSIONS))

    response = app.test_client().get('/projects')

    assert (response.status_code, response.json) == (500, {
        'type': 'ServerError',
        'msg': "The server failed to handle the request; its log says why."})
    assert [r.exc_info is not None for r in caplog.records
            if r.name == 'haas.rest'] == [True]
    with app.app_context():
        db.engine.dispose()


def test_the_client_prints_a_503_in_one_line(monkeypatch, capsys):
    from haas import cli
    app = haas.create_app(config_text(nowhere(), NULL_AUTH_EXTENSIONS))
    with app.test_client() as client:
        class Answer:
            def __init__(self, response):
                self.status_code = response.status_code
                self.headers = response.headers
                self.text = response.get_data(as_text=True)
                self.content = response.data

            def json(self):
                return json.loads(self.text)
        monkeypatch.setattr(cli, 'send', lambda method, path, body=None:
                            Answer(client.open(path, method=method,
                                               json=body)))
        with pytest.raises(SystemExit) as exit:
            cli.main(['project', 'list'], prog_name='haas')

    assert (exit.value.code, capsys.readouterr().err) == (
        1, 'Error: ServiceUnavailableError: The database is unavailable; '
           'try again shortly. (try again in 5 s)\n')


def test_haas_wsgi_on_a_database_that_is_down_starts_and_says_one_line(
        tmp_path):
    path = tmp_path / 'haas.cfg'
    path.write_text(config_text(nowhere(), NULL_AUTH_EXTENSIONS))
    python = os.path.join(os.path.dirname(HAAS_ADMIN), 'python')

    loaded = subprocess.run(
        [python, '-c', 'import haas.wsgi'], capture_output=True, text=True,
        env={**os.environ, 'HAAS_CONFIG': str(path)}, timeout=60)

    assert (loaded.returncode, [re.sub(r' \(.*\)', ' (...)', line)
                                for line in loaded.stderr.splitlines()]) == (
        0, ['WARNING:haas.wsgi:the database is unavailable (...); its schema '
            'will be checked before the first request, which is answered '
            '503 until then'])


# --- a throwaway cluster ----------------------------------------------------

def as_postgres(args, **kwargs):
    """Run a PostgreSQL program as the postgres user when we are root
    (initdb and the server refuse to run as root)."""
    if os.geteuid() == 0:
        args = ['runuser', '-u', 'postgres', '--', *args]
    return subprocess.run(args, capture_output=True, text=True, timeout=60,
                          **kwargs)


class Cluster:
    """A PostgreSQL cluster of these tests' own, on 127.0.0.1:`port`."""

    def __init__(self, folder, port):
        self.folder, self.port = folder, port
        self.data = os.path.join(folder, 'data')
        self.log = os.path.join(folder, 'server.log')

    def pg_ctl(self, *args):
        result = as_postgres(['pg_ctl', '-D', self.data, '-l', self.log,
                              '-w', '-t', '30', *args])
        assert result.returncode == 0, (args, result.stderr, result.stdout)

    def start(self):
        self.pg_ctl('start')

    def stop(self):
        self.pg_ctl('stop', '-m', 'fast')

    def restart(self):
        self.pg_ctl('restart', '-m', 'fast')

    def uri(self, database='postgres', host='127.0.0.1', port=None):
        return (f'postgresql+psycopg2://postgres@{host}:{port or self.port}/'
                f'{database}')

    def new_database(self):
        """The name of a new empty database, and its URI."""
        name = f'haas_outage_{os.urandom(5).hex()}'
        engine = sa.create_engine(self.uri(), isolation_level='AUTOCOMMIT',
                                  poolclass=sa.pool.NullPool)
        with engine.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE {name}')
        return name


@pytest.fixture(scope='session')
def cluster():
    if not (shutil.which('initdb') and shutil.which('pg_ctl')):
        cannot_run('initdb and pg_ctl are not on PATH')
    if os.geteuid() == 0 and not shutil.which('runuser'):
        cannot_run('running as root without runuser to become postgres')
    folder = tempfile.mkdtemp(prefix='haas-outage-')
    try:
        if os.geteuid() == 0:
            shutil.chown(folder, 'postgres', 'postgres')
        cluster = Cluster(folder, free_port())
        made = as_postgres(['initdb', '-D', cluster.data, '-A', 'trust',
                            '-U', 'postgres', '--no-sync'])
        if made.returncode != 0:
            cannot_run(f'initdb failed: {made.stderr.strip()}')
        with open(os.path.join(cluster.data, 'postgresql.conf'), 'a') as f:
            f.write(f"port = {cluster.port}\n"
                    f"listen_addresses = '127.0.0.1'\n"
                    f"unix_socket_directories = '{folder}'\n"
                    f"fsync = off\n")
        cluster.start()
        try:
            yield cluster
        finally:
            as_postgres(['pg_ctl', '-D', cluster.data, 'stop', '-m',
                         'immediate'])
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# --- what runs on it --------------------------------------------------------

#: Short bounds, so that the faults take seconds.
FAST = ('connect_timeout = 2\nkeepalives_idle = 1\nkeepalives_interval = 1\n'
        'keepalives_count = 2\ntcp_user_timeout = 2\n')
NODES = 12


class Site:
    """A HaaS database on the cluster: project p, network net, and NODES
    nodes of p cabled to switch sw; the daemons and gunicorn serving it."""

    def __init__(self, cluster, folder):
        self.cluster, self.folder = cluster, folder
        self.name = cluster.new_database()
        self.uri = cluster.uri(self.name)
        self.state = folder / 'switches'
        self.processes = []
        self.app = haas.create_app(self.config())
        with self.app.app_context():
            migrations.create()
        client = self.app.test_client()
        calls(client, {}, ('PUT', '/project/p', None),
              ('PUT', '/switch/sw', SWITCH),
              ('PUT', '/network/net', {'owner': 'p', 'access': 'p',
                                       'net_id': ''}))
        for n in range(NODES):
            calls(client, {},
                  ('PUT', f'/node/n{n}', {'obm': OBM}),
                  ('PUT', f'/node/n{n}/nic/eth0', {'macaddr': 'm'}),
                  ('PUT', f'/switch/sw/port/port{n}', None),
                  ('POST', f'/switch/sw/port/port{n}/connect_nic',
                   {'node': f'n{n}', 'nic': 'eth0'}),
                  ('POST', '/project/p/connect_node', {'node': f'n{n}'}))
        with self.app.app_context():
            db.engine.dispose()

    def config(self, uri=None, extra=''):
        uri = uri or self.uri
        text = config_text(uri, NULL_AUTH_EXTENSIONS, extra=(
            f'[haas.ext.switches.mock]\nstate_dir = {self.state}\n'
            f'[general]\nlog_level = info\n'))
        # [database] options beyond the uri: short bounds, and the test's.
        return text.replace(f'uri = {uri}\n', f'uri = {uri}\n{FAST}{extra}')

    def config_file(self, **kwargs):
        path = self.folder / f'haas-{len(self.processes)}.cfg'
        path.write_text(self.config(**kwargs))
        return path

    def spawn(self, args, name, prefix=(), **config):
        """Start `args` with its own haas.cfg; its stderr goes to a file."""
        environ = {**os.environ, 'HAAS_CONFIG': str(self.config_file(
            **config))}
        log = open(self.folder / f'{name}.log', 'w')
        process = subprocess.Popen([*prefix, *args], env=environ,
                                   stderr=log, stdout=log, text=True,
                                   cwd=self.folder)
        process.log_path = self.folder / f'{name}.log'
        self.processes.append(process)
        return process

    def daemon(self, prefix=(), **config):
        return self.spawn([HAAS_ADMIN, 'serve-networks'], 'daemon', prefix,
                          **config)

    def gunicorn(self, workers=2):
        port = free_port()
        process = self.spawn([GUNICORN, '-w', str(workers), '-b',
                              f'127.0.0.1:{port}', '--graceful-timeout', '5',
                              'haas.wsgi:application'], 'gunicorn')
        process.base = f'http://127.0.0.1:{port}'
        eventually(lambda: answered(process.base, 'GET', '/projects')
                   or process.poll() is not None, 30, 'gunicorn')
        assert process.poll() is None, log_of(process)
        return process

    def statuses(self):
        """How many of the nics' networking actions have each status
        (not the ports' reverts at registration)."""
        engine = sa.create_engine(self.uri, poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as connection:
                return dict(connection.exec_driver_sql(
                    'SELECT status, count(*) FROM networking_action '
                    'WHERE nic_id IS NOT NULL GROUP BY status').all())
        finally:
            engine.dispose()

    def close(self):
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait(10)


@pytest.fixture
def site(cluster, tmp_path):
    site = Site(cluster, tmp_path)
    try:
        yield site
    finally:
        site.close()
        if not cluster_up(cluster):
            cluster.start()  # for the next test, whatever this one did


def cluster_up(cluster):
    return as_postgres(['pg_ctl', '-D', cluster.data, 'status']) \
        .returncode == 0


def log_of(process):
    return process.log_path.read_text()


def request(base, method, path, body=None):
    """(status, JSON answer or None)."""
    data = None if body is None else json.dumps(body).encode()
    try:
        with urllib.request.urlopen(urllib.request.Request(
                base + path, data=data, method=method), timeout=30) as r:
            text = r.read()
            return r.status, json.loads(text) if text else None
    except urllib.error.HTTPError as e:
        with e:
            return e.code, json.loads(e.read())


def answered(base, method, path):
    try:
        return request(base, method, path)[0]
    except urllib.error.URLError:
        return None


class Caller(threading.Thread):
    """Connects nic eth0 of nodes n0, n1, ... to net through gunicorn, one
    after the other (a 503 is tried again), and lists projects between
    two: the calls of a client that goes on through an outage."""

    def __init__(self, base):
        super().__init__(daemon=True)
        self.base = base
        self.answers = []  # (status, type), in order
        self.connected = 0
        self.stopping = threading.Event()
        # Set, the caller makes no call (holding says it waits): a worker
        # the test kills then has no call in hand.
        self.hold, self.holding = threading.Event(), threading.Event()

    def run(self):
        while not self.stopping.is_set() and self.connected < NODES:
            for method, path, body in [
                    ('POST', f'/node/n{self.connected}/nic/eth0/'
                             f'connect_network', {'network': 'net'}),
                    ('GET', '/projects', None)]:
                while self.hold.is_set() and not self.stopping.is_set():
                    self.holding.set()
                    time.sleep(0.01)
                self.holding.clear()
                try:
                    status, answer = request(self.base, method, path, body)
                except OSError as e:  # gunicorn is gone, or its worker
                    self.answers.append((None, type(e).__name__))
                    continue
                self.answers.append((status, (answer or {}).get('type')
                                     if status >= 400 else None))
                if method == 'POST' and status == 202:
                    self.connected += 1
            time.sleep(0.02)

    def finish(self):
        self.stopping.set()
        self.join(60)
        assert not self.is_alive()
        return self.answers


def outage_lines(daemon):
    """The daemon's log lines about the database coming and going, and
    whether it logged a traceback."""
    text = log_of(daemon)
    lines = [re.sub(r' \(.*', '', line.split(':', 2)[-1]) for line in
             text.splitlines() if 'the database' in line]
    return lines, 'Traceback' in text


def back_line(daemon):
    """Wait for the daemon to say the database is back.  It says so once
    it has applied what was queued: an action can be DONE a moment before
    the line is written."""
    eventually(lambda: 'the database is back' in log_of(daemon), 15,
               'the daemon to say the database is back')


# --- the scenarios ----------------------------------------------------------

def test_a_restart_under_the_daemon_and_gunicorn(site):
    daemon = site.daemon()
    server = site.gunicorn()
    eventually(lambda: 'waiting for actions' in log_of(daemon), 20,
               'the daemon')
    caller = Caller(server.base)
    caller.start()
    eventually(lambda: caller.connected >= 2, 20, 'the first connects')

    site.cluster.restart()
    back = len(caller.answers) + 1  # past the call in flight, if any
    eventually(lambda: caller.connected >= 6, 20, 'connects after it')
    answers = caller.finish()
    eventually(lambda: site.statuses() == {'DONE': caller.connected}, 20,
               'every action applied')
    back_line(daemon)

    # Nothing failed: each call either succeeded or was told to wait.
    assert set(answers) <= {(200, None), (202, None),
                            (503, 'ServiceUnavailableError')}
    # Once it is back, no call fails: not even on a pooled connection
    # that the restart closed.
    assert set(answers[back:]) <= {(200, None), (202, None)}
    assert (daemon.poll(), server.poll()) == (None, None)
    lines, traceback = outage_lines(daemon)
    assert ([line.split(' after')[0] for line in lines], traceback) == (
        ['lost the database', 'the database is back'], False)
    assert 'Traceback' not in log_of(server)


def test_stop_and_start_with_every_gunicorn_worker_replaced_meanwhile(site):
    daemon = site.daemon()
    server = site.gunicorn(workers=2)
    eventually(lambda: 'waiting for actions' in log_of(daemon), 20,
               'the daemon')
    workers = gunicorn_workers(server)
    caller = Caller(server.base)
    caller.start()
    eventually(lambda: caller.connected >= 2, 20, 'the first connects')

    site.cluster.stop()
    during = len(caller.answers)
    caller.hold.set()
    eventually(caller.holding.is_set, 20, 'the caller to hold')
    for pid in workers:
        os.kill(pid, signal.SIGKILL)
    caller.hold.clear()
    # The workers gunicorn starts in their place boot with the database
    # away (a worker that fails to boot stops gunicorn for good).
    eventually(lambda: log_of(server).count('its schema will be checked')
               >= len(workers) or server.poll() is not None, 20,
               'new workers')
    eventually(lambda: len(caller.answers) > during + 4, 20, 'calls in the '
               'outage')
    assert server.poll() is None, log_of(server)
    site.cluster.start()
    back = len(caller.answers) + 1  # past the call in flight, if any
    eventually(lambda: caller.connected == NODES, 30, 'every connect')
    answers = caller.finish()
    eventually(lambda: site.statuses() == {'DONE': NODES}, 30,
               'every action applied')
    back_line(daemon)
    after = [request(server.base, 'GET', '/projects') for _ in range(20)]

    assert not set(workers) & set(gunicorn_workers(server))
    outage = answers[during:]
    assert (503, 'ServiceUnavailableError') in outage
    assert set(answers) <= {(200, None), (202, None),
                            (503, 'ServiceUnavailableError')}
    assert set(answers[back:]) <= {(200, None), (202, None)}
    assert after == [(200, ['p'])] * 20
    assert (daemon.poll(), server.poll()) == (None, None)
    lines, traceback = outage_lines(daemon)
    assert ([line.split(' after')[0] for line in lines], traceback) == (
        ['lost the database', 'the database is back'], False)
    assert 'Traceback' not in log_of(server)


def gunicorn_workers(server):
    with open(f'/proc/{server.pid}/task/{server.pid}/children') as f:
        return [int(pid) for pid in f.read().split()]


# --- a peer that stops answering ---------------------------------------------

def ip(*args, check=True):
    result = subprocess.run(['ip', *args], capture_output=True, text=True,
                            timeout=30)
    if check and result.returncode != 0:
        raise AssertionError(f'ip {" ".join(args)}: {result.stderr.strip()}')
    return result


class Partition:
    """A network namespace reached from here over a veth pair: what runs
    in it talks to `address`, this side's end, whose link `cut` takes
    down: its packets then vanish, neither answered nor refused."""

    def __init__(self):
        tag = os.getpid() % 100000
        self.ns = f'haas-outage-{tag}'
        self.here, self.there = f'hov{tag}a', f'hov{tag}b'
        third = tag % 250 + 1
        self.address, self.peer = f'10.251.{third}.1', f'10.251.{third}.2'
        self.made = False

    def make(self):
        result = ip('netns', 'add', self.ns, check=False)
        if result.returncode != 0:
            cannot_run(f'cannot make a network namespace: '
                       f'{result.stderr.strip()}')
        self.made = True
        ip('link', 'add', self.here, 'type', 'veth', 'peer', 'name',
           self.there)
        ip('link', 'set', self.there, 'netns', self.ns)
        ip('addr', 'add', f'{self.address}/30', 'dev', self.here)
        ip('link', 'set', self.here, 'up')
        inside = ('netns', 'exec', self.ns, 'ip')
        ip(*inside, 'addr', 'add', f'{self.peer}/30', 'dev', self.there)
        ip(*inside, 'link', 'set', self.there, 'up')
        ip(*inside, 'link', 'set', 'lo', 'up')

    def cut(self):
        ip('link', 'set', self.here, 'down')

    def mend(self):
        ip('link', 'set', self.here, 'up')

    def remove(self):
        ip('link', 'del', self.here, check=False)
        if self.made:
            ip('netns', 'del', self.ns, check=False)

    def prefix(self):
        return ['ip', 'netns', 'exec', self.ns]


@pytest.fixture
def partition():
    if os.geteuid() != 0:
        cannot_run('network namespaces need root')
    if not shutil.which('ip'):
        cannot_run('ip (iproute2) is not on PATH')
    partition = Partition()
    try:
        partition.make()
        yield partition
    finally:
        partition.remove()


class Proxy:
    """Forwards TCP connections made to `host` to the cluster, so that a
    client in the namespace reaches it over the veth link.  `forget` stops
    relaying the connections it has and closes their server side, as a
    host that froze: the clients' side hears nothing, ever."""

    def __init__(self, host, target):
        self.target = target
        self.listener = socket.create_server((host, 0))
        self.port = self.listener.getsockname()[1]
        self.pairs = []  # (client, upstream, forgotten)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
                upstream = socket.create_connection(self.target)
            except OSError:
                return
            forgotten = threading.Event()
            self.pairs.append((client, upstream, forgotten))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, daemon=True,
                                 args=(source, sink, forgotten)).start()

    @staticmethod
    def _pump(source, sink, forgotten):
        with contextlib.suppress(OSError):
            while (data := source.recv(65536)) and not forgotten.is_set():
                sink.sendall(data)
            if not forgotten.is_set():
                sink.shutdown(socket.SHUT_WR)

    def forget(self):
        for client, upstream, forgotten in self.pairs:
            forgotten.set()
            with contextlib.suppress(OSError):
                upstream.shutdown(socket.SHUT_RDWR)

    def close(self):
        self.listener.close()
        for client, upstream, _ in self.pairs:
            client.close()
            upstream.close()


def test_the_daemon_notices_a_peer_that_stopped_answering_and_reconnects(
        site, partition):
    proxy = Proxy(partition.address, ('127.0.0.1', site.cluster.port))
    try:
        daemon = site.daemon(prefix=partition.prefix(), uri=site.cluster.uri(
            site.name, host=partition.address, port=proxy.port))
        client = site.app.test_client()
        calls(client, {}, ('POST', '/node/n0/nic/eth0/connect_network',
                           {'network': 'net'}))
        eventually(lambda: site.statuses() == {'DONE': 1}, 20,
                   'the daemon to apply the first action')

        partition.cut()
        proxy.forget()
        calls(client, {}, ('POST', '/node/n1/nic/eth0/connect_network',
                           {'network': 'net'}))
        # Idle on its LISTEN connection, the daemon hears nothing: only
        # its keepalives can tell it that the server is gone.
        eventually(lambda: 'lost the database' in log_of(daemon), 15,
                   'the daemon to notice')
        partition.mend()
        eventually(lambda: site.statuses() == {'DONE': 2}, 30,
                   'the action queued meanwhile')
        back_line(daemon)

        assert daemon.poll() is None
        lines, traceback = outage_lines(daemon)
        assert ([line.split(' after')[0] for line in lines], traceback) == (
            ['lost the database', 'the database is back'], False)
    finally:
        with site.app.app_context():
            db.engine.dispose()
        site.close()
        proxy.close()


def test_haas_wsgi_started_while_the_database_was_down_checks_its_schema(
        cluster, tmp_path, monkeypatch):
    import importlib
    import sys
    path = tmp_path / 'haas.cfg'
    path.write_text(config_text(cluster.uri(cluster.new_database()),
                                NULL_AUTH_EXTENSIONS))
    monkeypatch.setenv('HAAS_CONFIG', str(path))
    monkeypatch.delitem(sys.modules, 'haas.wsgi', raising=False)
    cluster.stop()
    try:
        wsgi = importlib.import_module('haas.wsgi')
        client = wsgi.application.test_client()
        away = client.get('/projects')
        cluster.start()
        # Back, but with no schema: HaaS's tables are not there yet.
        stale = client.get('/projects')
        with wsgi.application.app_context():
            migrations.create()
        current = client.get('/projects')
    finally:
        if not cluster_up(cluster):
            cluster.start()
        sys.modules.pop('haas.wsgi', None)
    with wsgi.application.app_context():
        db.engine.dispose()

    assert [(r.status_code, r.json) for r in (away, stale, current)] == [
        (503, {'type': 'ServiceUnavailableError',
               'msg': 'The database is unavailable; try again shortly.'}),
        (503, {'type': 'ServiceUnavailableError',
               'msg': "The database schema is not current; the server's "
                      "log says what to run."}),
        (200, [])]
