"""Console capture end to end: served APIs (`haas-admin serve`) with the
IPMI driver, a console worker (`haas-admin serve-consoles`) in a process
of its own, and the simulated BMC in another, on SQLite and PostgreSQL.
What the worker captured is read through the API.

Most tests share one served site and one console worker (a module's, per
database), which always runs beside it: starting them is most of what a
test would otherwise spend.  Each such test has a node and project of
its own names, behind a simulated BMC of its own, and reads only what
the worker logged about its node, so that none sees another's and their
order does not matter.  A test's BMC outlives the shared worker: a
session closed on a BMC that is gone would hold the worker's loop up
for pyghmi's retries.  The test of a worker's stop starts one of its
own there.  The tests whose point is a process's life beside a capture
(a worker that must not run yet, an API server stopped, a worker
stopped as its BMC is gone, a BMC restarted) have a site, worker and
BMC of their own.
"""

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
from support.servers import (
    ADMIN,
    Server,
    eventually,
    free_port,
    new_serial,
    serving,
)

IPMI = 'http://schema.massopencloud.org/haas/v0/obm/ipmi'
EXTENSIONS = API_EXTENSIONS + ['haas.ext.obm.ipmi']
USER, PASSWORD = 'admin', 'secret'

# At info, the worker logs each connect and loss, which the tests read.
EXTRA = ('[general]\nlog_level = info\n'
         '[haas.ext.obm.ipmi]\ntimeout = 10\nkeepalive = 5\n'
         'packet_timeout = 1\n'
         '[consoles]\npoll = 0.2\n')
#: What the simulated node writes from power on (no boot device asked
#: for) to its login prompt.
BOOT = ''.join(line + '\r\n' for line in serial.boot_lines(
    'default', 'node')) + 'node login: '


def not_captured(node):
    """The answer to GET /node/`node`/console while it has no log."""
    return (404, {'type': 'NotFoundError',
                  'msg': f'The console log for {node} does not exist.'})


def register(server, address, node='n1', project='p'):
    """Node `node` with an IPMI OBM at `address`, in project `project`
    (made here)."""
    host, port = address
    for method, path, body in [
            ('PUT', f'/node/{node}', {'obm': {
                'type': IPMI, 'host': f'{host}:{port}', 'user': USER,
                'password': PASSWORD}}),
            ('PUT', f'/project/{project}', None),
            ('POST', f'/project/{project}/connect_node', {'node': node})]:
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

    def close(self):
        self.stack.close()


class Worker:
    """A `haas-admin serve-consoles` process on the site whose haas.cfg
    is in `folder`, and what it logged (in `log_name` there)."""

    def __init__(self, folder, log_name='consoles.log'):
        self.log_path = folder / log_name
        with open(self.log_path, 'wb') as log:
            self.process = subprocess.Popen(
                [HAAS_ADMIN, 'serve-consoles'],
                env={**os.environ, 'HAAS_CONFIG': str(folder / 'haas.cfg')},
                stdout=log, stderr=subprocess.STDOUT, cwd=folder)

    def lines(self, node):
        """What it logged about node `node`'s console, its label cut."""
        prefix = f'console of {node}: '
        return [line[line.index(prefix) + len(prefix):]
                for line in self.log_path.read_text().splitlines()
                if prefix in line]

    def connected(self, node, times=1):
        eventually(lambda: self.lines(node).count('connected') >= times,
                   seconds=120,
                   what=f'connection {times} of the worker to {node}')

    def stop(self, timeout=30):
        self.process.terminate()
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            raise


class Site:
    """A served site as one test sees it: node `node` of project
    `project`, behind BMC `device`."""

    def __init__(self, server, node, project, device):
        self.server, self.node, self.project = server, node, project
        self.device = device

    def call(self, method, path, body=None, credentials=ADMIN):
        return self.server.call(method, path, body, credentials)

    def raw(self, method, path, body=None, credentials=ADMIN):
        return self.server.raw(method, path, body, credentials)


def console(site, credentials=ADMIN):
    """(status, media type, text) of GET /node/<the node>/console."""
    status, headers, data = site.raw('GET', f'/node/{site.node}/console',
                                     credentials=credentials)
    if status != 200:
        return status, None, data
    return status, headers.get_content_type(), data.decode()


def captured(site, text):
    """Wait for the node's console log to be `text`; fails with what it
    was."""
    seen = []

    def check():
        seen[:] = [console(site)]
        return seen[0] == (200, 'text/plain', text)
    try:
        eventually(check, seconds=120, what=f'the log to be {text!r}')
    except AssertionError:
        raise AssertionError(f'the log is {seen[0]!r}') from None


# --- the module's site and worker, shared -------------------------------

#: The tests that share the module's site and worker, on one worker of a
#: distributed run (pytest-xdist's --dist loadgroup): set up once there.
shared = pytest.mark.xdist_group('test_console_worker')


class Served:
    """The module's served site (its haas.cfg in `folder`), its console
    worker, and the tests' BMCs (`devices`, closed once the worker
    stopped)."""

    def __init__(self, server, folder, worker, devices):
        self.server, self.folder = server, folder
        self.worker, self.devices = worker, devices


@pytest.fixture(scope='module')
def served(module_databases, tmp_path_factory):
    folder = tmp_path_factory.mktemp('site')
    with serving(module_databases.new(), folder, extensions=EXTENSIONS,
                 extra=EXTRA) as server, \
            contextlib.ExitStack() as devices:
        worker = Worker(folder)
        try:
            yield Served(server, folder, worker, devices)
        finally:
            if worker.process.poll() is None:
                worker.stop()


@pytest.fixture
def site(served, tmp_path):
    """A node and project of this test's own on the shared site, behind
    a BMC of its own; its capture is stopped after the test (any other
    node's that the test added to `others` too), so that the worker
    closes the session while the BMC still answers."""
    n = new_serial()
    device = Device(str(tmp_path / 'bmc'))
    served.devices.callback(device.close)
    found = Site(served.server, f'node{n}', f'project{n}', device)
    found.others = []
    register(served.server, device.address, found.node, found.project)
    yield found
    for node in [found.node, *found.others]:
        found.call('DELETE', f'/node/{node}/console')


@pytest.fixture
def worker(served):
    """The shared console worker; no test stops it."""
    return served.worker


# --- a site and worker of a test's own ----------------------------------

@pytest.fixture
def device(tmp_path):
    found = Device(str(tmp_path / 'bmc'))
    try:
        yield found
    finally:
        found.close()


@pytest.fixture
def own_site(databases, tmp_path, device):
    """Node n1 of project p on a site of this test's own, with no
    worker."""
    with serving(databases.new(), tmp_path, extensions=EXTENSIONS,
                 extra=EXTRA) as server:
        register(server, device.address)
        yield Site(server, 'n1', 'p', device)


@pytest.fixture
def own_worker(own_site, tmp_path):
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


# --- on the shared site -------------------------------------------------

@shared
def test_a_node_whose_console_is_not_captured_has_no_log(site):
    assert site.call('GET', f'/node/{site.node}/console') == \
        not_captured(site.node)


@shared
def test_a_started_capture_has_an_empty_log_until_the_worker_writes(site):
    assert site.call('PUT', f'/node/{site.node}/console') == (200, b'')
    assert console(site) == (200, 'text/plain', '')
    assert site.call('DELETE', f'/node/{site.node}/console') == (200, b'')
    assert site.call('GET', f'/node/{site.node}/console') == \
        not_captured(site.node)


@shared
def test_the_log_keeps_its_last_characters_and_only_its_captures(site):
    # What the worker does with what it read, on the served database; of
    # the captures, only this test's node's.
    engine = sa.create_engine(site.server.uri, poolclass=sa.pool.NullPool)

    def mine():
        with engine.connect() as connection:
            return {node: epoch for node, epoch
                    in consoles.captured(connection).items()
                    if node == node_id}
    try:
        with engine.connect() as connection:
            node_id = connection.execute(sa.select(Node.id).where(
                Node.label == site.node)).scalar_one()
        assert site.call('PUT', f'/node/{site.node}/console') == (200, b'')
        first = mine()
        appended = [consoles.append(engine, node_id, first[node_id],
                                    'a' * 10, 8),
                    consoles.append(engine, node_id, first[node_id],
                                    'bcd', 8)]
        kept = console(site)
        assert site.call('DELETE', f'/node/{site.node}/console') == \
            (200, b'')
        appended.append(consoles.append(engine, node_id, first[node_id],
                                        'gone', 8))
        assert site.call('PUT', f'/node/{site.node}/console') == (200, b'')
        # A capture read before the stop writes nothing into the next.
        appended.append(consoles.append(engine, node_id, first[node_id],
                                        'old', 8))
        second = mine()
    finally:
        engine.dispose()
    assert (appended, kept, console(site), set(first), set(second),
            first == second) == (
        [True, True, False, False], (200, 'text/plain', 'aaaaabcd'),
        (200, 'text/plain', ''), {node_id}, {node_id}, False)


@shared
def test_detaching_the_node_clears_its_log(site, worker):
    node = site.node
    assert site.call('PUT', f'/node/{node}/console') == (200, b'')
    worker.connected(node)
    assert site.call('POST', f'/node/{node}/power_on') == (200, b'')
    captured(site, BOOT)
    assert site.call('POST', f'/project/{site.project}/detach_node',
                     {'node': node}) == (200, b'')
    eventually(lambda: 'capture stopped' in worker.lines(node),
               what='the capture stopped')
    gone = site.call('GET', f'/node/{node}/console')
    other = f'{site.project}-next'
    assert site.call('PUT', f'/project/{other}') == (200, b'')
    assert site.call('POST', f'/project/{other}/connect_node',
                     {'node': node}) == (200, b'')
    assert site.call('PUT', f'/node/{node}/console') == (200, b'')
    worker.connected(node, 2)
    assert (gone, console(site)) == (not_captured(node),
                                     (200, 'text/plain', ''))


@shared
def test_a_competing_sol_session_is_taken_back(site, worker):
    if shutil.which('ipmitool') is None:
        if os.environ.get('CI'):
            pytest.fail('ipmitool is not installed: .ci/run installs it')
        pytest.skip('ipmitool is not installed (apt-get install ipmitool)')
    node = site.node
    assert site.call('PUT', f'/node/{node}/console') == (200, b'')
    worker.connected(node)
    host, port = site.device.address
    other = subprocess.Popen(
        ['ipmitool', '-I', 'lanplus', '-H', host, '-p', str(port),
         '-U', USER, '-P', PASSWORD, 'sol', 'activate'],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    try:
        eventually(lambda: any(line.startswith('lost (')
                               for line in worker.lines(node)),
                   seconds=120, what='the worker to lose the console')
        worker.connected(node, 2)
    finally:
        other.kill()
        other.wait(timeout=10)
    assert site.call('POST', f'/node/{node}/power_on') == (200, b'')
    captured(site, BOOT)


# A worker of its own, beside the shared one, on the shared site: no
# capture is on between two tests, and it is given none.
@shared
def test_the_worker_stops_on_sigterm_and_says_so(served):
    worker = Worker(served.folder, f'consoles-{new_serial()}.log')
    try:
        deadline = time.monotonic() + 60
        while 'serving consoles' not in worker.log_path.read_text():
            assert time.monotonic() < deadline, worker.log_path.read_text()
            time.sleep(0.05)
        assert worker.stop() == 0
    finally:
        if worker.process.poll() is None:
            worker.stop()
    assert worker.log_path.read_text().splitlines()[-1].endswith(
        'serving consoles: stopped')


# --- authorization, on the shared site ----------------------------------

#: Stands for not_captured(the test's node) in what a test expects.
NOT_CAPTURED = 'not captured'
NO_ACCESS = (401, {'type': 'AuthorizationError',
                  'msg': 'You do not have access to the required project.'})
AUTH_FAILED = (401, {'type': 'AuthorizationError',
                     'msg': 'Authentication failed. Authentication is '
                            'required to use this service.'})


@pytest.fixture
def users(site):
    """{who: credentials}: the administrator, a member of the node's
    project, a member of another project only, and no one; the users and
    the other project of names of this test's own."""
    member = (f'{site.node}-member', 'member-pw')
    outsider = (f'{site.node}-outsider', 'outsider-pw')
    elsewhere = f'{site.project}-other'
    assert site.call('PUT', f'/project/{elsewhere}') == (200, b'')
    for (name, password), project in [(member, site.project),
                                      (outsider, elsewhere)]:
        assert site.call('PUT', f'/auth/basic/user/{name}',
                         {'password': password, 'is_admin': False}) \
            == (200, b'')
        assert site.call('POST', f'/auth/basic/user/{name}/add_project',
                         {'project': project}) == (200, b'')
    return {'admin': ADMIN, 'member': member, 'outsider': outsider,
            'nobody': None}


@shared
@pytest.mark.parametrize('who, expected', [
    ('admin', [(200, b''), (200, b''), (200, b''), NOT_CAPTURED]),
    ('member', [(200, b''), (200, b''), (200, b''), NOT_CAPTURED]),
    ('outsider', [NO_ACCESS] * 4),
    ('nobody', [AUTH_FAILED] * 4)])
def test_the_console_calls_of_an_ipmi_node_are_for_its_project_and_admins(
        site, users, who, expected):
    path = f'/node/{site.node}/console'
    answers = [site.raw(method, path, credentials=users[who])
               for method in ('PUT', 'GET', 'DELETE', 'GET')]
    found = [(status, json.loads(data) if status != 200 else data)
             for status, _, data in answers]
    # A refused PUT started nothing.
    assert (found, site.call('GET', path)) == (
        [not_captured(site.node) if answer == NOT_CAPTURED else answer
         for answer in expected], not_captured(site.node))


# --- with processes of their own ----------------------------------------

def test_the_log_is_served_by_another_server_after_the_first_stopped(
        databases, tmp_path, device):
    uri = databases.new()
    with serving(uri, tmp_path, extensions=EXTENSIONS,
                 extra=EXTRA) as first:
        register(first, device.address)
        assert first.call('PUT', '/node/n1/console') == (200, b'')
        worker = Worker(tmp_path)
        try:
            worker.connected('n1')
            assert first.call('POST', '/node/n1/power_on') == (200, b'')
        except BaseException:
            worker.stop()
            raise
    # The node boots while no API server runs; the worker goes on.
    try:
        with another_server(tmp_path, uri) as second:
            captured(Site(second, 'n1', 'p', device), BOOT)
        assert worker.lines('n1') == ['connected']
    finally:
        assert worker.stop() == 0
    assert worker.lines('n1') == ['connected']
    assert 'serving consoles: stopped' in worker.log_path.read_text()


# The worker's sessions owe nothing to the database, and each failed
# login takes pyghmi about 5 s: one backend is enough.
@pytest.mark.parametrize('databases', ['sqlite'], indirect=True)
def test_a_bmc_that_never_answers_holds_up_no_other_console(
        own_site, own_worker):
    # pyghmi sets a session up without blocking: the worker keeps pumping
    # the node's packets while the silent one's logins go unanswered and
    # are retried.
    site, worker = own_site, own_worker
    node, silent_node = site.node, f'{site.node}-silent'
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(('127.0.0.1', 0))
        host, port = silent.getsockname()
        assert site.call('PUT', f'/node/{silent_node}', {'obm': {
            'type': IPMI, 'host': f'{host}:{port}', 'user': USER,
            'password': PASSWORD}}) == (200, b'')
        assert site.call('PUT', f'/node/{silent_node}/console') == \
            (200, b'')
        assert site.call('PUT', f'/node/{node}/console') == (200, b'')
        worker.connected(node)
        assert site.call('POST', f'/node/{node}/power_on') == (200, b'')
        captured(site, BOOT)
        eventually(lambda: len(worker.lines(silent_node)) >= 2,
                   seconds=120,
                   what='two failed set-ups of the silent node\'s session')

    assert (worker.lines(node), worker.lines(silent_node)[:2]) == (
        ['connected'], ['lost (timeout); trying again in 1 s',
                        'lost (timeout); trying again in 2 s'])


# The worker's reconnect owes nothing to the database: one backend is
# enough.  A site of its own: the shared ones run on the other worker of
# a distributed run meanwhile.
@pytest.mark.parametrize('databases', ['sqlite'], indirect=True)
def test_a_restarted_bmc_is_reconnected_and_the_capture_goes_on(
        own_site, own_worker):
    site, worker = own_site, own_worker
    assert site.call('PUT', '/node/n1/console') == (200, b'')
    worker.connected('n1')
    # The worker notices at its session's next keepalive (every 0.1-5 s,
    # as [haas.ext.obm.ipmi] keepalive says), unanswered for
    # packet_timeout (1 s), that the session is gone.
    site.device.restart()
    worker.connected('n1', 2)
    assert site.call('POST', '/node/n1/power_on') == (200, b'')
    captured(site, BOOT)
    lines = worker.lines('n1')
    assert (lines[0], lines[1].startswith('lost ('), lines[-1]) == (
        'connected', True, 'connected')


def test_a_worker_whose_bmc_is_gone_stops_without_waiting_for_it(
        own_site, own_worker):
    # Its session's close would be retried for 30 s: the worker gives
    # the BMCs CLOSE_WAIT (2 s) in all.
    site, worker = own_site, own_worker
    assert site.call('PUT', '/node/n1/console') == (200, b'')
    worker.connected('n1')
    site.device.close()
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
        own_site, tmp_path):
    # A site of its own: no worker may run on it before this test's.
    site = own_site
    idle = doctor_says(tmp_path)
    assert site.call('PUT', '/node/n1/console') == (200, b'')
    missing = doctor_says(tmp_path)
    worker = Worker(tmp_path)
    try:
        worker.connected('n1')
        alive = doctor_says(tmp_path)
    finally:
        assert worker.stop() == 0
    assert (idle, missing, alive) == (
        None,
        'FAIL  console worker: none running, and 1 console(s) to capture: '
        'start `haas-admin serve-consoles`',
        f'ok    console worker: 1 alive ({socket.gethostname()}:'
        f'{worker.process.pid}), 1 console(s) captured')


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
