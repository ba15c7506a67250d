"""Console capture end to end: served APIs (`haas-admin serve`) with the
IPMI driver, a console worker (`haas-admin serve-consoles`) in a process
of its own, and the simulated BMC in another, on SQLite and PostgreSQL.
What the worker captured is read through the API."""

import contextlib
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error

import pytest
import sqlalchemy as sa

from haas import consoles
from haas.model import Node
from haas.simulators import bmc, serial

from support.commands import HAAS_ADMIN, cli, error_line
from support.config import API_EXTENSIONS, config_text
from support.servers import Server, eventually, free_port, serving

IPMI = 'http://schema.massopencloud.org/haas/v0/obm/ipmi'
EXTENSIONS = API_EXTENSIONS + ['haas.ext.obm.ipmi']
USER, PASSWORD = 'admin', 'secret'

# At info, the worker logs each connect and loss, which the tests read.
EXTRA = ('[general]\nlog_level = info\n'
         '[haas.ext.obm.ipmi]\ntimeout = 10\nkeepalive = 5\n'
         '[consoles]\npoll = 0.2\n')
#: What the simulated node writes from power on (no boot device asked
#: for) to its login prompt.
BOOT = ''.join(line + '\r\n' for line in serial.boot_lines(
    'default', 'node')) + 'node login: '
NOT_CAPTURED = (404, {'type': 'NotFoundError',
                      'msg': 'The console log for n1 does not exist.'})


def register(server, address):
    """Node n1 with an IPMI OBM at `address`, in project p."""
    host, port = address
    for method, path, body in [
            ('PUT', '/node/n1', {'obm': {
                'type': IPMI, 'host': f'{host}:{port}', 'user': USER,
                'password': PASSWORD}}),
            ('PUT', '/project/p', None),
            ('POST', '/project/p/connect_node', {'node': 'n1'})]:
        assert server.call(method, path, body) == (200, b''), path


class Device:
    """The simulated BMC, restartable on the same port and state."""

    def __init__(self, folder):
        self.folder = folder
        self.stack = contextlib.ExitStack()
        self.address = self.stack.enter_context(
            bmc.running(folder, USER, PASSWORD))

    def restart(self):
        self.stack.close()
        self.stack = contextlib.ExitStack()
        self.stack.enter_context(bmc.running(
            self.folder, USER, PASSWORD, port=self.address[1]))


@pytest.fixture
def device(tmp_path):
    found = Device(str(tmp_path / 'bmc'))
    try:
        yield found
    finally:
        found.stack.close()


class Worker:
    """A `haas-admin serve-consoles` process, and what it logged."""

    def __init__(self, tmp_path):
        self.log_path = tmp_path / 'consoles.log'
        with open(self.log_path, 'wb') as log:
            self.process = subprocess.Popen(
                [HAAS_ADMIN, 'serve-consoles'],
                env={**os.environ, 'HAAS_CONFIG': str(tmp_path / 'haas.cfg')},
                stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)

    def lines(self, node='n1'):
        """What it logged about node `node`'s console, its label cut."""
        prefix = f'console of {node}: '
        return [line[line.index(prefix) + len(prefix):]
                for line in self.log_path.read_text().splitlines()
                if prefix in line]

    def connected(self, times=1):
        eventually(lambda: self.lines().count('connected') >= times,
                   seconds=120, what=f'connection {times} of the worker')

    def stop(self, timeout=30):
        self.process.terminate()
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            raise


@pytest.fixture
def site(databases, tmp_path, device):
    with serving(databases.new(), tmp_path, extensions=EXTENSIONS,
                 extra=EXTRA) as server:
        register(server, device.address)
        yield server


@pytest.fixture
def worker(site, tmp_path):
    found = Worker(tmp_path)
    try:
        yield found
    finally:
        if found.process.poll() is None:
            found.stop()


@contextlib.contextmanager
def another_server(tmp_path, uri):
    """`haas-admin serve` on the configuration and database `serving`
    made, on a port of its own."""
    port = free_port()
    server = Server(f'http://127.0.0.1:{port}', uri)
    with open(tmp_path / f'server-{port}.log', 'wb') as log:
        process = subprocess.Popen(
            [HAAS_ADMIN, 'serve', '--host', '127.0.0.1', '--port',
             str(port)],
            env={**os.environ, 'HAAS_CONFIG': str(tmp_path / 'haas.cfg')},
            stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        def answers():
            try:
                return server.raw('GET', '/projects', credentials=None)
            except (urllib.error.URLError, TimeoutError, ConnectionError):
                assert process.poll() is None, 'the server exited'
                return None
        eventually(answers, seconds=60, what='the server')
        yield server
    finally:
        process.terminate()
        process.wait(timeout=30)


def console(server, credentials=None):
    """(status, media type, text) of GET /node/n1/console."""
    args = {} if credentials is None else {'credentials': credentials}
    status, headers, data = server.raw('GET', '/node/n1/console', **args)
    if status != 200:
        return status, None, data
    return status, headers.get_content_type(), data.decode()


def captured(server, text):
    """Wait for the console log to be `text`; fails with what it was."""
    seen = []

    def check():
        seen[:] = [console(server)]
        return seen[0] == (200, 'text/plain', text)
    try:
        eventually(check, seconds=120, what=f'the log to be {text!r}')
    except AssertionError:
        raise AssertionError(f'the log is {seen[0]!r}') from None


def test_a_node_whose_console_is_not_captured_has_no_log(site):
    assert site.call('GET', '/node/n1/console') == NOT_CAPTURED


def test_a_started_capture_has_an_empty_log_until_the_worker_writes(site):
    assert site.call('PUT', '/node/n1/console') == (200, b'')
    assert console(site) == (200, 'text/plain', '')
    assert site.call('DELETE', '/node/n1/console') == (200, b'')
    assert site.call('GET', '/node/n1/console') == NOT_CAPTURED


def test_the_log_keeps_its_last_characters_and_only_its_captures(site):
    # What the worker does with what it read, on the served database.
    engine = sa.create_engine(site.uri, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            node_id = connection.execute(sa.select(Node.id)).scalar_one()
        assert site.call('PUT', '/node/n1/console') == (200, b'')
        with engine.connect() as connection:
            first = consoles.captured(connection)
        appended = [consoles.append(engine, node_id, first[node_id],
                                    'a' * 10, 8),
                    consoles.append(engine, node_id, first[node_id],
                                    'bcd', 8)]
        kept = console(site)
        assert site.call('DELETE', '/node/n1/console') == (200, b'')
        appended.append(consoles.append(engine, node_id, first[node_id],
                                        'gone', 8))
        assert site.call('PUT', '/node/n1/console') == (200, b'')
        # A capture read before the stop writes nothing into the next.
        appended.append(consoles.append(engine, node_id, first[node_id],
                                        'old', 8))
        with engine.connect() as connection:
            second = consoles.captured(connection)
    finally:
        engine.dispose()
    assert (appended, kept, console(site), set(first), set(second),
            first == second) == (
        [True, True, False, False], (200, 'text/plain', 'aaaaabcd'),
        (200, 'text/plain', ''), {node_id}, {node_id}, False)


def test_the_log_is_served_by_another_server_after_the_first_stopped(
        databases, tmp_path, device):
    uri = databases.new()
    with serving(uri, tmp_path, extensions=EXTENSIONS,
                 extra=EXTRA) as first:
        register(first, device.address)
        assert first.call('PUT', '/node/n1/console') == (200, b'')
        worker = Worker(tmp_path)
        try:
            worker.connected()
            assert first.call('POST', '/node/n1/power_on') == (200, b'')
        except BaseException:
            worker.stop()
            raise
    # The node boots while no API server runs; the worker goes on.
    try:
        with another_server(tmp_path, uri) as second:
            captured(second, BOOT)
        assert worker.lines() == ['connected']
    finally:
        assert worker.stop() == 0
    assert worker.lines() == ['connected']
    assert 'serving consoles: stopped' in worker.log_path.read_text()


def test_detaching_the_node_clears_its_log(site, worker):
    assert site.call('PUT', '/node/n1/console') == (200, b'')
    worker.connected()
    assert site.call('POST', '/node/n1/power_on') == (200, b'')
    captured(site, BOOT)
    assert site.call('POST', '/project/p/detach_node',
                     {'node': 'n1'}) == (200, b'')
    eventually(lambda: 'capture stopped' in worker.lines(),
               what='the capture stopped')
    gone = site.call('GET', '/node/n1/console')
    assert site.call('PUT', '/project/q') == (200, b'')
    assert site.call('POST', '/project/q/connect_node',
                     {'node': 'n1'}) == (200, b'')
    assert site.call('PUT', '/node/n1/console') == (200, b'')
    worker.connected(2)
    assert (gone, console(site)) == (NOT_CAPTURED, (200, 'text/plain', ''))


# The worker's reconnect owes nothing to the database, and a restarted
# BMC is noticed only after pyghmi's retries and its login again (about
# 45 s): one backend is enough.
@pytest.mark.parametrize('databases', ['sqlite'], indirect=True)
def test_a_restarted_bmc_is_reconnected_and_the_capture_goes_on(
        site, worker, device):
    assert site.call('PUT', '/node/n1/console') == (200, b'')
    worker.connected()
    # The worker notices at its session's next keepalive (every 0.1-5 s,
    # as [haas.ext.obm.ipmi] keepalive says) that the session is gone.
    device.restart()
    worker.connected(2)
    assert site.call('POST', '/node/n1/power_on') == (200, b'')
    captured(site, BOOT)
    lines = worker.lines()
    assert (lines[0], lines[1].startswith('lost ('), lines[-1]) == (
        'connected', True, 'connected')


def test_a_bmc_that_never_answers_holds_up_no_other_console(site, worker):
    # pyghmi sets a session up without blocking: the worker keeps pumping
    # n1's packets while n2's logins go unanswered and are retried.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(('127.0.0.1', 0))
        host, port = silent.getsockname()
        assert site.call('PUT', '/node/n2', {'obm': {
            'type': IPMI, 'host': f'{host}:{port}', 'user': USER,
            'password': PASSWORD}}) == (200, b'')
        assert site.call('PUT', '/node/n2/console') == (200, b'')
        assert site.call('PUT', '/node/n1/console') == (200, b'')
        worker.connected()
        assert site.call('POST', '/node/n1/power_on') == (200, b'')
        captured(site, BOOT)
        eventually(lambda: len(worker.lines('n2')) >= 2, seconds=120,
                   what='two failed set-ups of n2\'s session')

    assert (worker.lines(), worker.lines('n2')[:2]) == (
        ['connected'], ['lost (timeout); trying again in 1 s',
                        'lost (timeout); trying again in 2 s'])


def test_a_competing_sol_session_is_taken_back(site, worker, device):
    if shutil.which('ipmitool') is None:
        if os.environ.get('CI'):
            pytest.fail('ipmitool is not installed: .ci/run installs it')
        pytest.skip('ipmitool is not installed (apt-get install ipmitool)')
    assert site.call('PUT', '/node/n1/console') == (200, b'')
    worker.connected()
    host, port = device.address
    other = subprocess.Popen(
        ['ipmitool', '-I', 'lanplus', '-H', host, '-p', str(port),
         '-U', USER, '-P', PASSWORD, 'sol', 'activate'],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    try:
        eventually(lambda: any(line.startswith('lost (')
                               for line in worker.lines()),
                   seconds=120, what='the worker to lose the console')
        worker.connected(2)
    finally:
        other.kill()
        other.wait(timeout=10)
    assert site.call('POST', '/node/n1/power_on') == (200, b'')
    captured(site, BOOT)


def test_the_worker_stops_on_sigterm_and_says_so(site, worker):
    deadline = time.monotonic() + 60
    while 'serving consoles' not in worker.log_path.read_text():
        assert time.monotonic() < deadline, worker.log_path.read_text()
        time.sleep(0.05)
    assert worker.stop() == 0
    assert worker.log_path.read_text().splitlines()[-1].endswith(
        'serving consoles: stopped')


def test_a_worker_whose_bmc_is_gone_stops_without_waiting_for_it(
        site, worker, device):
    # Its session's close would be retried for 30 s: the worker gives
    # the BMCs CLOSE_WAIT (2 s) in all.
    assert site.call('PUT', '/node/n1/console') == (200, b'')
    worker.connected()
    device.stack.close()
    assert worker.stop(timeout=10) == 0
    assert worker.log_path.read_text().splitlines()[-1].endswith(
        'serving consoles: stopped')


def doctor_says(tmp_path):
    """doctor's line about the console worker, or None."""
    result = subprocess.run(
        [HAAS_ADMIN, 'doctor'], capture_output=True, text=True, timeout=120,
        env={**os.environ, 'HAAS_CONFIG': str(tmp_path / 'haas.cfg')},
        cwd=tmp_path)
    found = [line for line in result.stdout.splitlines()
             if 'console worker' in line]
    return found[0] if found else None


def test_doctor_reports_the_worker_while_a_console_is_captured(
        site, tmp_path):
    idle = doctor_says(tmp_path)
    assert site.call('PUT', '/node/n1/console') == (200, b'')
    missing = doctor_says(tmp_path)
    worker = Worker(tmp_path)
    try:
        worker.connected()
        alive = doctor_says(tmp_path)
    finally:
        assert worker.stop() == 0
    assert (idle, missing, alive) == (
        None,
        'FAIL  console worker: none running, and 1 console(s) to capture: '
        'start `haas-admin serve-consoles`',
        f'ok    console worker: 1 alive ({socket.gethostname()}:'
        f'{worker.process.pid}), 1 console(s) captured')


# --- authorization ------------------------------------------------------

MEMBER, OUTSIDER = ('member', 'member-pw'), ('outsider', 'outsider-pw')


@pytest.fixture
def users(site):
    for (name, password), project in [(MEMBER, 'p'), (OUTSIDER, 'o')]:
        assert site.call('PUT', f'/auth/basic/user/{name}',
                         {'password': password, 'is_admin': False}) \
            == (200, b'')
        assert site.call('PUT', f'/project/{project}') == (200, b'') \
            or project == 'p'
        assert site.call('POST', f'/auth/basic/user/{name}/add_project',
                         {'project': project}) == (200, b'')
    return site


NO_ACCESS = (401, {'type': 'AuthorizationError',
                  'msg': 'You do not have access to the required project.'})
AUTH_FAILED = (401, {'type': 'AuthorizationError',
                     'msg': 'Authentication failed. Authentication is '
                            'required to use this service.'})


@pytest.mark.parametrize('who, expected', [
    (('admin', 'admin-pw'), [(200, b''), (200, b''), (200, b''),
                             NOT_CAPTURED]),
    (MEMBER, [(200, b''), (200, b''), (200, b''), NOT_CAPTURED]),
    (OUTSIDER, [NO_ACCESS] * 4),
    (None, [AUTH_FAILED] * 4)])
def test_the_console_calls_of_an_ipmi_node_are_for_its_project_and_admins(
        users, who, expected):
    answers = [users.raw(method, '/node/n1/console', credentials=who)
               for method in ('PUT', 'GET', 'DELETE', 'GET')]
    found = [(status, json.loads(data) if status != 200 else data)
             for status, _, data in answers]
    # A refused PUT started nothing.
    assert (found, users.call('GET', '/node/n1/console')) == (
        expected, NOT_CAPTURED)


# --- configuration ------------------------------------------------------

@pytest.mark.parametrize('extra, expected', [
    ('[consoles]\npoll = 0\n',
     "[consoles] poll must be a number of seconds (more than 0), not '0'"),
    ('[consoles]\nkeep_kib = 0\n',
     "[consoles] keep_kib must be a whole number of KiB, 1-65536, not '0'"),
    ('[consoles]\nkeep_kib = lots\n',
     "[consoles] keep_kib must be a whole number of KiB, 1-65536, not "
     "'lots'")])
def test_serve_consoles_refuses_a_bad_option_with_one_line(
        databases, extra, expected):
    uri = databases.new()
    cli(['db', 'create'], config_text(uri))

    assert error_line(cli(['serve-consoles'], config_text(
        uri, extra=extra))) == expected


def test_serve_consoles_refuses_an_uninitialised_database(databases):
    assert error_line(cli(['serve-consoles'], config_text(
        databases.new()))) == ('the database is not initialised: run '
                               '`haas-admin db create`')
