"""The simulated BMC (`haas-admin simulate bmc`), seen by clients HaaS did
not write: pyghmi's IPMI client, and `ipmitool -I lanplus` where it is
installed (a skip that says so outside CI, a failure in CI)."""

import contextlib
import os
import shutil
import subprocess
import threading

import pytest
from pyghmi import exceptions
from pyghmi.ipmi import command

from haas.simulators import bmc, serial

from support.commands import HAAS_ADMIN
from support.servers import eventually

USER, PASSWORD = 'admin', 'secret'


@pytest.fixture
def folder(tmp_path):
    return str(tmp_path / 'bmc')


@pytest.fixture
def device(folder):
    with bmc.running(folder, USER, PASSWORD) as address:
        yield address


@contextlib.contextmanager
def client(address, password=PASSWORD):
    """A pyghmi session with the BMC, logged out at the end (credentials
    as bytes, as haas.ext.obm.ipmi gives them: see there why)."""
    host, port = address
    c = command.Command(host, USER.encode(), password.encode(), port=port)
    try:
        yield c
    finally:
        c.ipmi_session.logout()


def ipmitool(address, *args, password=PASSWORD):
    """`ipmitool -I lanplus` against the BMC: (exit status, stdout)."""
    if shutil.which('ipmitool') is None:
        if os.environ.get('CI'):
            pytest.fail('ipmitool is not installed: .ci/run installs it')
        pytest.skip('ipmitool is not installed (apt-get install ipmitool)')
    host, port = address
    result = subprocess.run(
        ['ipmitool', '-I', 'lanplus', '-H', host, '-p', str(port),
         '-U', USER, '-P', password, '-R', '2', '-N', '1', *args],
        capture_output=True, text=True, timeout=60)
    return result.returncode, result.stdout


def boot_selector(address):
    """What `chassis bootparam get 5` says the boot device is."""
    status, out = ipmitool(address, 'chassis', 'bootparam', 'get', '5')
    assert status == 0, out
    found = [line.split(':', 1)[1].strip() for line in out.splitlines()
             if 'Boot Device Selector' in line]
    lifetime = [line.strip(' -') for line in out.splitlines()
                if 'Options apply to' in line]
    return found + lifetime


def test_a_new_bmc_has_its_node_off(device):
    with client(device) as c:
        assert c.get_power() == {'powerstate': 'off'}


def test_power_on_and_off_through_pyghmi(device):
    with client(device) as c:
        c.set_power('on')
        on = c.get_power()
        c.set_power('off')
        assert (on, c.get_power()) == ({'powerstate': 'on'},
                                       {'powerstate': 'off'})


def test_ipmitool_reads_the_power_pyghmi_set(device):
    assert ipmitool(device, 'chassis', 'power', 'status') == (
        0, 'Chassis Power is off\n')
    with client(device) as c:
        c.set_power('on')
    assert ipmitool(device, 'chassis', 'power', 'status') == (
        0, 'Chassis Power is on\n')


def test_ipmitool_switches_the_node_on_for_pyghmi(device):
    assert ipmitool(device, 'chassis', 'power', 'on')[0] == 0
    with client(device) as c:
        assert c.get_power() == {'powerstate': 'on'}


def test_ipmitool_names_pxe_after_a_network_boot_is_asked_for(device):
    with client(device) as c:
        c.set_bootdev('network')
    assert boot_selector(device) == ['Force PXE',
                                     'Options apply to only next boot']


def test_ipmitool_shows_no_override_on_a_new_bmc(device):
    assert boot_selector(device) == ['No override',
                                     'Options apply to only next boot']


def test_a_persistent_boot_device_set_by_ipmitool_reads_in_pyghmi(device):
    assert ipmitool(device, 'chassis', 'bootdev', 'disk',
                    'options=persistent')[0] == 0
    with client(device) as c:
        assert c.get_bootdev() == {'bootdev': 'hd', 'persistent': True,
                                   'uefimode': False}


def test_a_one_boot_device_is_used_once(device, folder):
    with client(device) as c:
        c.set_bootdev('network')
        c.set_power('on')
        assert c.get_bootdev() == {'bootdev': 'default', 'persistent': True}
    state = bmc.BmcState(folder).read()
    assert (state['booted_from'], state['history']) == (
        'network', ['bootdev', 'on'])


def test_a_persistent_boot_device_stays_across_boots(device, folder):
    with client(device) as c:
        c.set_bootdev('hd', persist=True)
        c.set_power('on')
        c.raw_command(netfn=0, command=2, data=[3])  # hard reset
        assert c.get_bootdev() == {'bootdev': 'hd', 'persistent': True,
                                   'uefimode': False}
    assert bmc.BmcState(folder).read()['history'] == ['bootdev', 'on',
                                                      'reset']


def test_cycling_a_node_that_is_off_is_refused(device):
    with client(device) as c:
        answer = c.raw_command(netfn=0, command=2, data=[2])
        assert (answer['code'], c.get_power()) == (0xd5,
                                                   {'powerstate': 'off'})


def test_the_state_survives_a_restart(folder):
    with bmc.running(folder, USER, PASSWORD) as address:
        with client(address) as c:
            c.set_power('on')
            c.set_bootdev('hd', persist=True)
    with bmc.running(folder, USER, PASSWORD) as address:
        with client(address) as c:
            assert (c.get_power(), c.get_bootdev()) == (
                {'powerstate': 'on'},
                {'bootdev': 'hd', 'persistent': True, 'uefimode': False})


def test_a_wrong_password_is_refused(device):
    with pytest.raises(exceptions.IpmiException):
        with client(device, password='wrong'):
            pass
    status, _ = ipmitool(device, 'chassis', 'power', 'status',
                         password='wrong')
    assert status != 0


def test_the_command_prints_where_it_listens(folder):
    with bmc.running(folder, USER, PASSWORD) as (host, port):
        assert (host, port > 0) == ('127.0.0.1', True)


def test_a_bad_listen_address_is_one_line_and_an_exit_status(folder):
    result = subprocess.run(
        [HAAS_ADMIN, 'simulate', 'bmc', '--listen', 'nowhere',
         '--state', folder, '--username', USER, '--password', PASSWORD],
        capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stderr.splitlines()[-1]) == (
        2, "Error: Invalid value for '--listen': 'nowhere' is not "
           "HOST:PORT")


# --- serial over LAN --------------------------------------------------------

BOOT = ''.join(line + '\r\n' for line in serial.boot_lines('hd', 'node')) \
    + 'node login: '


def test_the_console_log_keeps_what_the_booting_node_wrote(device, folder):
    with client(device) as c:
        c.set_bootdev('hd')
        c.set_power('on')
    assert eventually(lambda: serial.SerialConsole(folder).log() == BOOT,
                      what='the boot messages and the login prompt')


class Sol:
    """`ipmitool sol activate`, with what it printed so far.

    Its output line-buffered (coreutils' stdbuf), as on a terminal: into
    a pipe ipmitool keeps "SOL Session operational" until the console
    next writes, which a node already at its prompt never does."""

    def __init__(self, address):
        ipmitool(address, 'chassis', 'power', 'status')  # skips without it
        host, port = address
        self.process = subprocess.Popen(
            ['stdbuf', '-oL', 'ipmitool', '-I', 'lanplus', '-H', host,
             '-p', str(port), '-U', USER, '-P', PASSWORD, 'sol',
             'activate'],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT)
        self.output = b''
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        while chunk := self.process.stdout.read1(4096):
            self.output += chunk

    def shown(self, text):
        try:
            return eventually(lambda: text.encode() in self.output,
                              what=f'{text!r} on the SOL console')
        except AssertionError as e:
            # What ipmitool said instead, if it gave up.
            code = self.process.poll()
            state = 'is still running' if code is None else f'exited {code}'
            raise AssertionError(f'{e}; ipmitool printed {self.output!r} '
                                 f'and {state}') from None

    def type(self, text):
        self.process.stdin.write(text.encode())
        self.process.stdin.flush()

    def close(self):
        self.type('~.')  # ipmitool's escape: deactivate and quit
        self.process.wait(timeout=30)
        self.reader.join(timeout=10)


def test_sol_shows_the_boot_and_echoes_at_the_prompt(device):
    with client(device) as c:
        c.set_power('on')
    sol = Sol(device)
    try:
        sol.shown('SOL Session operational')
        with client(device) as c:
            c.set_bootdev('hd')
            c.raw_command(netfn=0, command=2, data=[3])  # hard reset
        sol.shown(BOOT)
        sol.type('hello\r')
        sol.shown(BOOT + 'hello\r\nnode login: ')
    finally:
        sol.close()
    assert sol.process.returncode == 0


def test_a_second_sol_session_takes_the_console_over(device, folder):
    with client(device) as c:
        c.set_power('on')
    first = Sol(device)
    first.shown('SOL Session operational')
    second = Sol(device)
    try:
        second.shown('SOL Session operational')
        eventually(lambda: serial.SerialConsole(folder).log().endswith(
            'node login: '), what='the login prompt')
        second.type('x\r')
        second.shown('x\r\nnode login: ')
    finally:
        second.close()
        first.process.kill()
        first.process.wait(timeout=10)


def test_pyghmis_sol_client_reads_the_boot_and_the_echo(device):
    # The client a console capture would use.
    from pyghmi.ipmi import console
    with client(device) as c:
        c.set_power('on')
    received = []

    def got(data):
        received.append(data)

    def text():
        console.Console.wait_for_rsp(0.1)
        return ''.join(d.decode() if isinstance(d, bytes) else str(d)
                       for d in received)

    host, port = device
    sol = console.Console(host, USER.encode(), PASSWORD.encode(), got,
                          port=port)
    try:
        eventually(lambda: text() is not None and sol.activated,
                   what='the SOL payload activated')
        # A hard reset, through the console's own session: pyghmi would
        # hand a second client in this process that same session, and
        # its logout would end the console.
        sol.ipmi_session.raw_command(netfn=0, command=2, data=[3])
        boot = ''.join(line + '\r\n' for line in serial.boot_lines(
            'default', 'node')) + 'node login: '
        eventually(lambda: text().endswith(boot), what='the boot again')
        sol.send_data('root\r')
        eventually(lambda: text().endswith(boot + 'root\r\nnode login: '),
                   what='the echo')
    finally:
        sol.close()
        if sol.ipmi_session is not None:
            sol.ipmi_session.logout()


def test_pyghmis_sol_keepalive_finds_its_session_holding_the_console(
        device):
    # pyghmi's console asks Get Payload Instance Info (netfn 6, 0x4b) as
    # its keepalive ([haas.ext.obm.ipmi] keepalive), and ends the session
    # unless the answer names it: asked here at once, through its own
    # session.
    from pyghmi.ipmi import console
    host, port = device
    with client(device) as c:
        idle = c.raw_command(netfn=6, command=0x4b, data=(1, 1))
    sol = console.Console(host, USER.encode(), PASSWORD.encode(),
                          lambda data: None, port=port)
    try:
        eventually(lambda: console.Console.wait_for_rsp(0.1) is not None
                   and sol.activated, what='the SOL payload activated')
        mine = list(sol.ipmi_session.sessionid.to_bytes(4, 'little'))
        held = sol.ipmi_session.raw_command(netfn=6, command=0x4b,
                                            data=(1, 1))
        assert [(r['code'], list(r['data'])) for r in (idle, held)] == [
            (0, [0] * 12), (0, mine + [0] * 8)]
    finally:
        sol.close()
        if sol.ipmi_session is not None:
            sol.ipmi_session.logout()


def test_ipmitool_sees_which_session_holds_the_console(device):
    # Asked from another process, as soon as pyghmi's console is active
    # (its keepalive may come that early), and after it closed.
    from pyghmi.ipmi import console
    host, port = device
    sol = console.Console(host, USER.encode(), PASSWORD.encode(),
                          lambda data: None, port=port)

    def holder():
        status, out = ipmitool(device, 'raw', '0x06', '0x4b', '0x01', '0x01')
        assert status == 0, out
        return bytes.fromhex(''.join(out.split()))[:4]
    try:
        eventually(lambda: console.Console.wait_for_rsp(0.1) is not None
                   and sol.activated, what='the SOL payload activated')
        assert holder() == sol.ipmi_session.sessionid.to_bytes(4, 'little')
    finally:
        sol.close()
        if sol.ipmi_session is not None:
            sol.ipmi_session.logout()
    assert holder() == bytes(4)
