"""The Dell PowerConnect 55xx over telnet: the simulated switch's telnet
port as a telnet client that is not HaaS sees it, the driver's telnet
console (its login, refusals and lost sessions), and, through the API
and the networking daemon, switches registered with `protocol: telnet`.
"""

import re
import signal
import socket
import subprocess
import threading
import types

import pytest
import sqlalchemy as sa

from haas import migrations
from haas.errors import SwitchError, SwitchUnavailableError
from haas.ext.switches.cli.telnet import TelnetConsole
from haas.ext.switches.dell import PowerConnectSession
from haas.simulators import powerconnect, ssh

from support import switches
from support.commands import HAAS_ADMIN
from support.databases import make_app
from support.servers import eventually, free_port, running
from support.terminal import PROMPT, Screen, Terminal

DELL = 'http://schema.massopencloud.org/haas/v0/switches/powerconnect55xx'
DELL_BRANCH = 'haas.ext.switches.dell'
#: The dell branch's revision before the one that added `protocol`.
BEFORE_PROTOCOL = '4f1c2e8a7b30'

# RFC 854's commands and the options the device offers.
IAC, DONT, DO, WONT, WILL, SB, SE = 255, 254, 253, 252, 251, 250, 240
ECHO, SGA = 1, 3


class TelnetTerminal(Screen):
    """A person at a telnet port: a socket, and RFC 854's negotiation by
    hand (accept the device's echo and suppressed go-ahead, refuse the
    rest), nothing of HaaS or of telnetlib3."""

    ENTER = '\r\n'

    def __init__(self, address, username='admin', password='secret',
                 login=True):
        self.socket = socket.create_connection(address, timeout=10)
        self.seen = ''
        #: (command, option) of each negotiation the device sent.
        self.negotiated = []
        self._partial = b''
        if login:
            self.log_in(username, password)

    def type(self, keys):
        self.socket.sendall(keys.encode().replace(b'\xff', b'\xff\xff'))

    def _received(self, data):
        """The text of `data`, its telnet commands answered."""
        data, self._partial = self._partial + data, b''
        text, i = bytearray(), 0
        while i < len(data):
            if data[i] != IAC:
                text.append(data[i])
                i += 1
                continue
            if i + 2 >= len(data) and data[i + 1:i + 2] != bytes([IAC]):
                self._partial = data[i:]
                break
            command = data[i + 1]
            if command == IAC:
                text.append(IAC)
                i += 2
            elif command in (DO, DONT, WILL, WONT):
                option = data[i + 2]
                self.negotiated.append((command, option))
                if command == WILL:
                    answer = DO if option in (ECHO, SGA) else DONT
                    self.socket.sendall(bytes([IAC, answer, option]))
                elif command == DO:
                    self.socket.sendall(bytes([IAC, WONT, option]))
                i += 3
            elif command == SB:
                end = data.find(bytes([IAC, SE]), i)
                if end < 0:
                    self._partial = data[i:]
                    break
                i = end + 2
            else:
                i += 2
        return text.decode(errors='replace')

    def _receive(self, seconds):
        self.socket.settimeout(seconds)
        try:
            data = self.socket.recv(65536)
        except socket.timeout:
            return ''
        if not data:
            raise EOFError(self.seen)
        return self._received(data)

    def close(self):
        self.socket.close()


@pytest.fixture
def device(tmp_path):
    """A simulated PowerConnect on SSH and telnet ports."""
    with ssh.in_thread(powerconnect.PowerConnect55xx, str(tmp_path / 'sw'),
                       'admin', 'secret', telnet_port=0) as d:
        yield d


def session(address, password='secret', timeout=10):
    host, port = address
    s = PowerConnectSession(TelnetConsole('sw0', f'{host}:{port}', 'admin',
                                          password, timeout=timeout),
                            None, False)
    s.open()
    return s


def action(port, channel, vlan):
    """A networking action as the daemon hands it to a driver."""
    network = None if vlan is None else types.SimpleNamespace(
        network_id=str(vlan))
    return types.SimpleNamespace(
        nic=types.SimpleNamespace(port=types.SimpleNamespace(label=port)),
        channel=channel, new_network=network)


def seen(address, port, terminal=TelnetTerminal):
    """Port `port` as a person at the telnet port `address` (or with
    `terminal`, another) sees it: (membership rows, admin state)."""
    t = terminal(address)
    shown = t.run(f'show interfaces switchport {port}')
    start = shown.index('Port is member in:') + 4
    rows = [(int(r.split()[0]), r.split()[2])
            for r in shown[start:shown.index('', start)]]
    state = t.run(f'show interfaces configuration {port}')[-1].split()[-1]
    t.close()
    return rows, state


@pytest.fixture
def cut_during_login():
    """The address of a telnet server that asks for the user name and
    the password, then hangs up: a device that goes away mid-login."""
    listener = socket.create_server(('127.0.0.1', 0))

    def serve():
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            with connection:
                connection.settimeout(10)
                for prompt in (b'\r\nUser Name:', b'Password:'):
                    connection.sendall(prompt)
                    typed = b''
                    while not typed.endswith(b'\n'):
                        data = connection.recv(1024)
                        if not data:
                            break
                        typed += data

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()
    # What wakes the thread's accept (Linux); a close alone does not.
    listener.shutdown(socket.SHUT_RDWR)
    listener.close()
    thread.join(10)


# The simulated switch over telnet, as any telnet client sees it.

def test_a_telnet_client_logs_in_at_the_devices_own_prompts(device):
    t = TelnetTerminal(device.telnet_address, login=False)
    assert t.read_until('User Name:').strip() == 'User Name:'
    t.type('admin\r\n')
    assert t.read_until('Password:') == 'admin\r\nPassword:'
    t.type('secret\r\n')
    # The password is not echoed; the device offered to echo, and to
    # send without go-ahead, as a switch's telnet server does.
    assert t.read_until(PROMPT) == '\r\n\r\nconsole>'
    assert t.negotiated == [(WILL, ECHO), (WILL, SGA)]
    assert [line.split()[0] for line in t.run('show vlan')[4:]] == ['1']
    t.close()


def test_a_wrong_password_at_the_telnet_port_is_asked_again(device):
    t = TelnetTerminal(device.telnet_address, login=False)
    t.read_until('User Name:')
    t.type('admin\r\n')
    t.read_until('Password:')
    t.type('wrong\r\n')
    assert t.read_until('User Name:').split('\r\n')[-3:] == [
        'Authentication failed!', '', 'User Name:']
    t.close()


def test_telnet_and_ssh_share_the_devices_configuration(device):
    s = session(device.telnet_address)
    s.apply_networking(action('gi1/0/5', 'vlan/native', 105))
    s.disconnect()

    assert seen(device.address, 'gi1/0/5', terminal=Terminal) == (
        [(105, 'Untagged')], 'Up')
    assert seen(device.telnet_address, 'gi1/0/5') == (
        [(105, 'Untagged')], 'Up')


def _simulate(state, *args):
    return subprocess.run(
        [HAAS_ADMIN, 'simulate', 'switch', '--state', str(state),
         '--username', 'admin', '--password', 'secret', *args],
        capture_output=True, text=True, timeout=60)


def test_only_a_powerconnect_is_simulated_over_telnet(tmp_path):
    result = _simulate(tmp_path, '--model', 'nexus', '--telnet',
                       '127.0.0.1:0')
    assert (result.returncode, result.stderr.splitlines()[-1]) == (
        2, "Error: Invalid value for '--telnet': nexus is served over SSH "
           'only; telnet is for powerconnect55xx')


def test_a_telnet_port_in_use_is_one_line(tmp_path):
    with socket.create_server(('127.0.0.1', 0)) as taken:
        port = taken.getsockname()[1]
        result = _simulate(tmp_path, '--model', 'powerconnect55xx',
                           '--telnet', f'127.0.0.1:{port}')
    assert (result.returncode, result.stderr) == (1, (
        f"Error: cannot serve the switch: error while attempting to bind "
        f"on address ('127.0.0.1', {port}): address already in use\n"))


# The driver's telnet console.

def test_the_driver_sets_and_removes_a_native_vlan_over_telnet(device):
    s = session(device.telnet_address)
    s.apply_networking(action('gi1/0/5', 'vlan/native', 105))
    assert seen(device.telnet_address, 'gi1/0/5') == (
        [(105, 'Untagged')], 'Up')
    configured = s.console.sent[s.console.sent.index('interface gi1/0/5'):]
    assert configured == [
        'interface gi1/0/5', 'shutdown', 'switchport mode trunk',
        'switchport trunk native vlan 105', 'no shutdown', 'end']
    s.revert_port('gi1/0/5')
    assert seen(device.telnet_address, 'gi1/0/5') == ([], 'Down')
    assert s.port_networks('gi1/0/5') == {}
    s.disconnect()


def test_a_refused_command_over_telnet_is_a_switch_error_with_its_line(
        device):
    s = session(device.telnet_address)
    with pytest.raises(SwitchError) as e:
        s.apply_networking(action('gi2/0/5', 'vlan/native', 105))
    host, port = device.telnet_address
    assert str(e.value) == (
        f'switch sw0 ({host}:{port}) refused '
        f"'show interfaces switchport gi2/0/5': % Interface gi2/0/5 is "
        f'not present on this switch')
    s.disconnect()


def test_a_wrong_password_over_telnet_is_a_switch_error(device):
    host, port = device.telnet_address
    with pytest.raises(SwitchError) as e:
        session(device.telnet_address, password='wrong')
    assert type(e.value) is SwitchError
    assert str(e.value) == (f"switch sw0 ({host}:{port}) refused the "
                            f"login of 'admin'")


def test_a_connection_cut_during_the_login_is_unavailable_not_refused(
        cut_during_login):
    with pytest.raises(SwitchUnavailableError) as e:
        session(cut_during_login)
    host, port = cut_during_login
    assert str(e.value) == f'switch sw0 ({host}:{port}) closed the session'


def test_an_unreachable_telnet_switch_is_unavailable():
    port = free_port()
    with pytest.raises(SwitchUnavailableError) as e:
        session(('127.0.0.1', port))
    assert str(e.value).startswith(
        f'cannot reach switch sw0 (127.0.0.1:{port}): ')


def test_a_telnet_session_the_switch_drops_is_unavailable(device):
    s = session(device.telnet_address)
    device.hang_up()
    with pytest.raises(SwitchUnavailableError):
        s.port_networks('gi1/0/1')
    s.disconnect()


def test_a_telnet_switch_that_stops_answering_is_unavailable(device):
    # Each command takes longer than the console waits for an answer.
    device.latency = 5
    with pytest.raises(SwitchUnavailableError) as e:
        session(device.telnet_address, timeout=0.5)
    assert 'did not answer within 0.5 s' in str(e.value)


def test_telnet_without_a_port_means_port_23():
    console = TelnetConsole('sw0', '10.0.0.5', 'admin', 'secret')
    assert (console.host, console.port) == ('10.0.0.5', 23)


# Through the API and the networking daemon, in real processes.

DELL_EXTENSIONS = ['haas.ext.auth.database',
                   'haas.ext.network_allocators.vlan_pool',
                   'haas.ext.switches.dell', 'haas.ext.obm.mock']
OBM = {'type': 'http://schema.massopencloud.org/haas/v0/obm/mock',
       'host': 'h', 'user': 'u', 'password': 'p'}


def cabled(server, hostname, port='gi1/0/5', password='secret',
           settle=True):
    """Switch sw0 at `hostname` over telnet, node n1 of project runway
    cabled to its `port`, and network pub on VLAN 105."""
    for method, path, body in [
            ('PUT', '/project/runway', None),
            ('PUT', '/node/n1', {'obm': OBM}),
            ('PUT', '/node/n1/nic/eth0', {'macaddr': 'de:ad:be:ef:00:01'}),
            ('PUT', '/switch/sw0', {'type': DELL, 'hostname': hostname,
                                    'username': 'admin',
                                    'password': password,
                                    'protocol': 'telnet'}),
            ('PUT', f'/switch/sw0/port/{port}', None),
            ('POST', f'/switch/sw0/port/{port}/connect_nic',
             {'node': 'n1', 'nic': 'eth0'}),
            ('POST', '/project/runway/connect_node', {'node': 'n1'}),
            ('PUT', '/network/pub', {'owner': 'admin', 'access': 'runway',
                                     'net_id': '105'})]:
        status, answer = server.call(method, path, body)
        assert status == 200, (method, path, answer)
    if settle:
        # The port is reverted as it is registered: done before a
        # test's own actions, which would otherwise wait behind it.
        eventually(lambda: all(status != 'PENDING'
                               for _, _, status, _ in server.actions()),
                   what='the port revert of its registration')


def queued(server, verb, body):
    status, answer = server.call(
        'POST', f'/node/n1/nic/eth0/{verb}_network', body)
    assert status == 202, answer
    return answer['status_id']


#: The tests that share the module's server, on one worker of a
#: distributed run (pytest-xdist's --dist loadgroup): set up once there.
#: Each cables a switch, node and network of its own, on its own device.
shared = pytest.mark.xdist_group('test_dell_telnet')


@pytest.fixture(scope='module')
def served(module_databases, tmp_path_factory):
    yield from switches.shared_site(module_databases, tmp_path_factory,
                                    DELL_EXTENSIONS)


@pytest.fixture
def site(served, device):
    host, port = device.telnet_address
    return switches.cabled(served, DELL, f'{host}:{port}', 'gi1/0/5',
                           protocol='telnet')


@shared
def test_show_switch_tells_the_protocol(site):
    assert site.call('GET', f'/switch/{site.switch}') == (200, {
        'name': site.switch, 'ports': [{'label': 'gi1/0/5'}],
        'capabilities': ['nativeless-trunk-mode'], 'protocol': 'telnet'})
    status, answer = site.call('PUT', f'/switch/{site.switch}-ssh', {
        'type': DELL, 'hostname': 'h', 'username': 'u', 'password': 'p'})
    assert status == 200, answer
    assert site.call('GET', f'/switch/{site.switch}-ssh')[1][
        'protocol'] == 'ssh'


@shared
def test_a_protocol_other_than_ssh_or_telnet_is_a_400(served):
    assert served.call('PUT', '/switch/sw-rlogin', {
        'type': DELL, 'hostname': 'h', 'username': 'u', 'password': 'p',
        'protocol': 'rlogin'}) == (400, {
            'type': 'ValidationError',
            'msg': f'The fields are not valid for switch type {DELL}: '
                   f"protocol: Input should be 'ssh' or 'telnet'"})
    assert served.call('GET', '/switch/sw-rlogin')[0] == 404


@shared
def test_connect_and_detach_over_telnet_through_the_daemon(site, device):
    connect = site.queued('connect', {'network': site.network,
                                      'channel': 'vlan/105'})
    assert site.settled(connect) == ('DONE', None)
    assert seen(device.telnet_address, 'gi1/0/5') == (
        [(105, 'Tagged')], 'Up')

    detach = site.queued('detach', {'network': site.network})
    assert site.settled(detach) == ('DONE', None)
    assert seen(device.telnet_address, 'gi1/0/5') == ([], 'Down')


@shared
def test_a_native_network_and_a_revert_over_telnet_through_the_daemon(
        site, device):
    connect = site.queued('connect', {'network': site.network})
    assert site.settled(connect) == ('DONE', None)
    assert seen(device.telnet_address, 'gi1/0/5') == (
        [(105, 'Untagged')], 'Up')
    status, answer = site.call(
        'POST', f'/switch/{site.switch}/port/gi1/0/5/revert')
    assert status == 200, answer
    assert site.settled(answer['status_id']) == ('DONE', None)
    assert seen(device.telnet_address, 'gi1/0/5') == ([], 'Down')
    assert site.networks() == {}


@shared
def test_a_command_refused_over_telnet_ends_the_action_in_error(
        served, device):
    host, port = device.telnet_address
    # A second unit of a stack this switch is not part of.
    site = switches.cabled(served, DELL, f'{host}:{port}', 'gi2/0/5',
                           protocol='telnet')
    found = site.queued('connect', {'network': site.network})
    assert site.settled(found) == ('ERROR', (
        f'switch {site.switch} ({host}:{port}) refused '
        f"'show interfaces switchport gi2/0/5': % Interface gi2/0/5 "
        f'is not present on this switch'))


def test_a_wrong_telnet_password_ends_the_action_in_error(
        databases, tmp_path, device):
    host, port = device.telnet_address
    with running(databases.new(), tmp_path,
                 extensions=DELL_EXTENSIONS) as (server, _):
        cabled(server, f'{host}:{port}', password='wrong', settle=False)
        # The port's revert as it is registered: the first session.
        [(_, found, _, _)] = server.actions()
        assert switches.settled(server, found) == (
            'ERROR', f"switch sw0 ({host}:{port}) refused the login of "
                     f"'admin'")


def test_a_switch_killed_mid_session_leaves_the_action_pending_until_back(
        pg_databases, tmp_path):
    folder, port = str(tmp_path / 'sw'), free_port()

    def start(*latency):
        process = subprocess.Popen(
            [HAAS_ADMIN, 'simulate', 'switch', '--model',
             'powerconnect55xx', '--listen', '127.0.0.1:0', '--telnet',
             f'127.0.0.1:{port}', '--state', folder, '--username', 'admin',
             '--password', 'secret', *latency],
            stdout=subprocess.PIPE, text=True)
        assert process.stdout.readline().startswith('listening on')
        assert process.stdout.readline() == f'telnet on 127.0.0.1:{port}\n'
        return process

    simulator = start()
    try:
        with running(pg_databases.new(), tmp_path,
                     extensions=DELL_EXTENSIONS) as (server, _):
            cabled(server, f'127.0.0.1:{port}')
            simulator.terminate()
            simulator.wait(10)
            # Each command now takes a minute: the daemon is logged in,
            # waiting for its first answer, when the switch dies.
            simulator = start('--latency', '60')
            found = queued(server, 'connect', {'network': 'pub',
                                               'channel': 'vlan/105'})
            eventually(lambda: switches.sessions_at(port) > 0,
                       what='the daemon to open its telnet session')
            simulator.send_signal(signal.SIGKILL)
            simulator.wait(10)
            reason = switches.failed_attempt(server, found)
            # The dead simulator's end of the connection is closed with
            # a FIN, or with a reset when what the daemon sent was still
            # unread there (a loaded machine): the driver says each.
            where = re.escape(f'switch sw0 (127.0.0.1:{port})')
            assert re.fullmatch(f'{where} closed the session|'
                                f'lost {where}: .+', reason), reason

            simulator = start()
            assert switches.settled(server, found) == ('DONE', None)
            assert seen(('127.0.0.1', port), 'gi1/0/5') == (
                [(105, 'Tagged')], 'Up')
            # Applied once: the registration's revert and the connect,
            # each done, and nothing queued again.
            assert [(uuid == found, status)
                    for _, uuid, status, _ in server.actions()] == [
                (False, 'DONE'), (True, 'DONE')]
    finally:
        simulator.kill()
        simulator.wait(10)


# The schema.

def _columns(uri):
    engine = sa.create_engine(uri, poolclass=sa.pool.NullPool)
    try:
        return [c['name'] for c in
                sa.inspect(engine).get_columns('power_connect55xx')]
    finally:
        engine.dispose()


def _powerconnect_before_telnet(databases):
    """The URI and app of a database whose dell branch is at the
    revision before `protocol`, with switch sw0 on it."""
    uri = databases.new()
    app = make_app(uri, DELL_EXTENSIONS)
    with app.app_context():
        migrations.upgrade(f'{DELL_BRANCH}@{BEFORE_PROTOCOL}')
    engine = sa.create_engine(uri, poolclass=sa.pool.NullPool)
    with engine.begin() as c:
        c.execute(sa.text("INSERT INTO switch (id, label, type) "
                          "VALUES (1, 'sw0', :type)"), {'type': DELL})
        c.execute(sa.text(
            "INSERT INTO power_connect55xx (id, hostname, username, "
            "password) VALUES (1, 'h', 'u', 'token')"))
    engine.dispose()
    return uri, app


def test_a_powerconnect_registered_before_telnet_stays_on_ssh(databases):
    uri, app = _powerconnect_before_telnet(databases)
    with app.app_context():
        migrations.upgrade('heads')
    engine = sa.create_engine(uri, poolclass=sa.pool.NullPool)
    with engine.connect() as c:
        rows = c.execute(sa.text(
            'SELECT id, save, protocol FROM power_connect55xx')).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [(1, False, 'ssh')]


def test_going_back_before_telnet_drops_the_protocol(databases):
    uri, app = _powerconnect_before_telnet(databases)
    before = _columns(uri)
    with app.app_context():
        migrations.upgrade('heads')
        migrations.downgrade(f'{DELL_BRANCH}@{BEFORE_PROTOCOL}')
    assert _columns(uri) == before
    assert 'protocol' not in before
