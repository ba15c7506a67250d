"""`make run`'s demo (demo/run): the API, the daemon, the console worker,
a simulated PowerConnect and a simulated BMC in one process group; the
README's tour configures the switch over SSH, powers its node through the
BMC and reads its console, and stopping the script stops them all."""

import os
import signal
import socket
import subprocess

import pytest

from haas.simulators import serial
from haas.simulators.powerconnect import PowerConnect55xx
from haas.simulators.state import SwitchState

from support.commands import BIN
from support.servers import Server, eventually, free_port

RUN = os.path.join(os.path.dirname(__file__), '..', 'demo', 'run')
DELL = 'http://schema.massopencloud.org/haas/v0/switches/powerconnect55xx'
LOGIN = 'node login: '
#: What the simulated node writes on its console as it boots.
BOOT = ''.join(line + '\r\n' for line in serial.boot_lines(
    'default', 'node')) + LOGIN


def free_udp_port():
    """A UDP port of 127.0.0.1 that nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def gone(group):
    """Whether no process of process group `group` is left."""
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.fixture
def demo(tmp_path):
    """demo/run started in `tmp_path` as `make run` starts it, on free
    ports; (its API, its SSH port).  Stopped with Ctrl-C's signal at the
    end, which must leave no process behind."""
    port, switch_port, bmc_port = free_port(), free_port(), free_udp_port()
    env = {**os.environ, 'HOST': '127.0.0.1', 'PORT': str(port),
           'SWITCH_PORT': str(switch_port), 'BMC_PORT': str(bmc_port),
           'BIN': BIN}
    env.pop('HAAS_CONFIG', None)
    log = open(tmp_path / 'run.log', 'wb')
    # Ctrl-C reaches the script as it does in a terminal, even where this
    # run started with SIGINT ignored (in the background of a shell, under
    # nohup): an ignored signal stays ignored across exec, and bash cannot
    # trap one ignored when it started, where a handled one is reset.
    ignored = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        process = subprocess.Popen([RUN], cwd=tmp_path, env=env, stdout=log,
                                   stderr=subprocess.STDOUT,
                                   start_new_session=True)
    finally:
        signal.signal(signal.SIGINT, ignored)
    server = Server(f'http://127.0.0.1:{port}',
                    f'sqlite:///{tmp_path / "haas.db"}')

    def serving():
        assert process.poll() is None, (tmp_path / 'run.log').read_text()
        try:
            return server.raw('GET', '/projects', credentials=None)[0] == 200
        except OSError:
            return False
    try:
        eventually(serving, 60, 'the API of demo/run')
        yield server, switch_port, bmc_port
    finally:
        # What Ctrl-C does: SIGINT to the whole foreground group.
        os.killpg(process.pid, signal.SIGINT)
        try:
            returncode = process.wait(30)
        finally:
            log.close()
        eventually(lambda: gone(process.pid), 30,
                   'every process of demo/run to end')
    assert returncode == 130, (tmp_path / 'run.log').read_text()


def n1_at(bmc_port):
    """The body that registers n1 with its simulated BMC, as the tour
    does."""
    return {'obm': {'type': 'http://schema.massopencloud.org/haas/v0/obm/ipmi',
                    'host': f'127.0.0.1:{bmc_port}', 'user': 'admin',
                    'password': 'secret'}}


def test_the_tour_puts_a_vlan_on_the_simulated_powerconnect(demo, tmp_path):
    server, switch_port, bmc_port = demo
    for method, path, body in (
            ('PUT', '/project/demo', None),
            ('PUT', '/node/n1', n1_at(bmc_port)),
            ('PUT', '/node/n1/nic/eth0', {'macaddr': 'de:ad:be:ef:00:01'}),
            ('POST', '/project/demo/connect_node', {'node': 'n1'}),
            ('PUT', '/network/demo-net', {'creator': 'demo',
                                          'access': 'demo', 'net_id': ''}),
            ('PUT', '/switch/sw0', {'type': DELL,
                                    'hostname': f'127.0.0.1:{switch_port}',
                                    'username': 'admin',
                                    'password': 'secret'}),
            ('PUT', '/switch/sw0/port/gi1/0/5', None),
            ('POST', '/switch/sw0/port/gi1/0/5/connect_nic',
             {'node': 'n1', 'nic': 'eth0'})):
        assert server.call(method, path, body)[0] == 200, (method, path)
    status, answer = server.call('POST', '/node/n1/nic/eth0/connect_network',
                                 {'network': 'demo-net'})
    assert status == 202
    vlan = server.call('GET', '/network/demo-net')[1]['channels'][1]

    eventually(lambda: server.call(
        'GET', f'/networking_action/{answer["status_id"]}')[1]['status']
        == 'DONE', 60, 'the connect_network')

    state = SwitchState(str(tmp_path / '.demo' / 'sw0'),
                        PowerConnect55xx.ports)
    assert state.running()['ports']['gi1/0/5'] == {
        'mode': 'trunk', 'native': int(vlan.split('/')[1]), 'tagged': [],
        'shutdown': False}


def test_the_tour_powers_n1_on_and_reads_its_console(demo, tmp_path):
    server, _, bmc_port = demo
    assert server.call('PUT', '/node/n1', n1_at(bmc_port)) == (200, b'')
    assert server.call('PUT', '/node/n1/console') == (200, b'')
    # What the terminal shows (demo/haas.cfg logs at info) once the
    # console worker holds n1's console.
    eventually(lambda: 'console of n1: connected' in (
        tmp_path / 'run.log').read_text(), 120, 'the console worker')
    assert [server.call('POST', '/node/n1/power_on'),
            server.call('GET', '/node/n1/power_status')] == [
        (200, b''), (200, {'power_status': 'On'})]
    seen = []

    def at_the_prompt():
        seen[:] = [server.raw('GET', '/node/n1/console')]
        return seen[0][0] == 200 and seen[0][2].endswith(LOGIN.encode())
    eventually(at_the_prompt, 120, 'the console at the login prompt')

    status, headers, data = seen[0]
    assert (status, headers.get_content_type(), data.decode()) == (
        200, 'text/plain', BOOT)
