"""The simulated PowerConnect 55xx, as any SSH client sees it: login,
abbreviations, errors, paging, state across restarts, save and reload,
latency, several sessions, and the `haas-admin simulate` process."""

import os
import signal
import subprocess
import time

import pytest

from haas.simulators import ssh
from haas.simulators.powerconnect import PowerConnect55xx

from support.commands import HAAS_ADMIN
from support.servers import free_port
from support.terminal import Terminal


@pytest.fixture
def folder(tmp_path):
    return str(tmp_path / 'switch')


@pytest.fixture
def device(folder):
    with ssh.in_thread(PowerConnect55xx, folder, 'admin', 'secret') as d:
        yield d


@pytest.fixture
def terminal(device):
    t = Terminal(device.address)
    yield t
    t.close()


def configure(terminal, *lines):
    """Run `lines` in config mode, from and back to privileged mode; the
    device's answers."""
    answers = [terminal.run('configure')]
    answers += [terminal.run(line) for line in lines]
    answers.append(terminal.run('end'))
    return [a for a in answers if a]


def members(terminal, port):
    """The rows of `show interfaces switchport PORT`'s membership."""
    shown = terminal.run(f'show interfaces switchport {port}')
    start = shown.index('Port is member in:') + 4
    return [row.split() for row in shown[start:shown.index('', start)]]


def test_the_login_asks_user_name_and_password_after_ssh(device):
    t = Terminal(device.address, login=False)
    assert t.read_until('User Name:') == 'User Name:'
    t.type('admin\r')
    assert t.read_until('Password:') == 'admin\r\nPassword:'
    t.type('wrong\r')  # not echoed
    assert t.read_until('User Name:') == \
        '\r\nAuthentication failed!\r\n\r\nUser Name:'
    t.type('admin\rsecret\r')
    assert t.read_until('console>') == 'admin\r\nPassword:\r\n\r\nconsole>'
    assert t.run('enable') == []
    assert t.prompt() == 'console#'


def test_the_ssh_password_is_checked_too(device):
    import paramiko
    with pytest.raises(paramiko.AuthenticationException):
        Terminal(device.address, password='wrong')


def test_each_word_may_be_abbreviated_while_it_is_unique(terminal):
    terminal.run('enable')
    full = terminal.run('show interfaces switchport gi1/0/5')
    assert terminal.run('sh int sw gi1/0/5') == full
    assert terminal.run('show interfaces switchport GigabitEthernet1/0/5') \
        == full
    assert full[:2] == ['Port : gi1/0/5', 'Port Mode: Access']
    assert configure(terminal, 'int gi1/0/5', 'sw mode tr', 'exit') == []
    assert terminal.run('sh int sw gi1/0/5')[1] == 'Port Mode: Trunk'


def test_the_device_says_what_it_did_not_understand(terminal):
    assert terminal.run('frobnicate') == ['% Unrecognized command']
    assert terminal.run('show') == ['% Incomplete command']
    terminal.run('enable')
    assert terminal.run('co') == ['% Ambiguous command']  # configure, copy
    assert terminal.run('show interfaces switchport gi1/0/49') == [
        '% Interface gi1/0/49 is not present on this switch']
    assert configure(terminal, 'interface gi1/0/5',
                     'switchport trunk allowed vlan add 105') == [
        ['% Port gi1/0/5 is not a trunk port: set switchport mode trunk '
         'first']]
    assert configure(terminal, 'interface gi1/0/5', 'switchport mode trunk',
                     'switchport trunk allowed vlan add 105') == [
        ['% VLAN 105 does not exist: create it in vlan database mode '
         'first']]
    # Exec mode has no configure.
    terminal.run('disable')
    assert terminal.run('configure') == ['% Unrecognized command']


def test_a_trunk_carries_created_vlans_and_falls_back_to_vlan_1(terminal):
    terminal.run('enable')
    assert configure(
        terminal, 'vlan database', 'vlan 105,200-201', 'exit',
        'interface gi1/0/5', 'switchport mode trunk',
        'switchport trunk native vlan 200',
        'switchport trunk allowed vlan add 105,201') == []
    assert members(terminal, 'gi1/0/5') == [
        ['105', '105', 'Tagged', 'Static'],
        ['200', '200', 'Untagged', 'Static'],
        ['201', '201', 'Tagged', 'Static']]
    configure(terminal, 'interface gi1/0/5', 'no switchport trunk native vlan',
              'switchport trunk allowed vlan remove 201')
    assert members(terminal, 'gi1/0/5') == [
        ['1', '1', 'Untagged', 'System'], ['105', '105', 'Tagged', 'Static']]
    configure(terminal, 'interface gi1/0/5',
              'switchport trunk allowed vlan remove 1')
    assert members(terminal, 'gi1/0/5') == [
        ['105', '105', 'Tagged', 'Static']]
    assert terminal.run('show vlan')[4:] == [
        '1     1                             gi1/0/1-4,gi1/0/6-48,te1/0/1-4'
        '  D',
        '105   105     gi1/0/5                                     S',
        '200   200                                                 S',
        '201   201                                                 S']


def test_shutdown_shows_in_the_configuration(terminal):
    terminal.run('enable')
    configure(terminal, 'interface te1/0/2', 'shutdown')
    assert terminal.run('show interfaces configuration te1/0/2')[-1].split(
        )[-1] == 'Down'
    configure(terminal, 'interface te1/0/2', 'no shutdown')
    assert terminal.run('show interfaces configuration te1/0/2')[-1].split(
        )[-1] == 'Up'


def test_long_output_is_paged_until_terminal_datadump(terminal):
    terminal.run('enable')
    configure(terminal, *(line for n in range(1, 11)
                          for line in (f'interface gi1/0/{n}', 'shutdown')))
    terminal.type('show running-config\r')
    page = terminal.read_until(PowerConnect55xx.more).split('\r\n')
    assert len(page) == 1 + PowerConnect55xx.page_lines + 1
    terminal.type('q')
    terminal.read_until('console#')
    assert terminal.run('terminal datadump') == []
    shown = terminal.run('show running-config')
    assert len(shown) > PowerConnect55xx.page_lines
    assert shown[-2:] == ['exit', '!']


def test_the_configuration_and_host_key_survive_a_restart(folder):
    with ssh.in_thread(PowerConnect55xx, folder, 'admin', 'secret') as d:
        t = Terminal(d.address)
        t.run('enable')
        configure(t, 'vlan database', 'vlan 105', 'exit',
                  'interface gi1/0/7', 'switchport mode trunk',
                  'switchport trunk allowed vlan add 105')
        key = t.host_key
        t.close()
    with ssh.in_thread(PowerConnect55xx, folder, 'admin', 'secret') as d:
        t = Terminal(d.address)
        assert t.host_key == key
        assert members(t, 'gi1/0/7') == [
            ['1', '1', 'Untagged', 'System'],
            ['105', '105', 'Tagged', 'Static']]
        t.close()


def test_reload_keeps_only_what_was_copied_to_startup(device, terminal):
    terminal.run('enable')
    configure(terminal, 'vlan database', 'vlan 105', 'exit',
              'interface gi1/0/1', 'switchport mode trunk')
    terminal.type('copy running-config startup-config\r')
    terminal.read_until('(Y/N)[N] ?')
    terminal.type('y')
    assert terminal.read_until('console#') == 'y\r\nCopy succeeded\r\n' \
        'console#'
    configure(terminal, 'interface gi1/0/2', 'switchport mode trunk')
    other = Terminal(device.address)
    terminal.type('reload\r')
    terminal.read_until('(Y/N)[N] ')
    terminal.type('y')
    with pytest.raises(EOFError):
        terminal.read_until('never')
    with pytest.raises(EOFError):  # a reload ends every session
        other.read_until('never')
    again = Terminal(device.address)
    assert again.run('show int sw gi1/0/1')[1] == 'Port Mode: Trunk'
    assert again.run('show int sw gi1/0/2')[1] == 'Port Mode: Access'


def test_sessions_at_once_see_each_others_changes(device, terminal):
    other = Terminal(device.address)
    terminal.run('enable')
    configure(terminal, 'interface gi1/0/3', 'switchport mode general')
    assert other.run('show int sw gi1/0/3')[1] == 'Port Mode: General'
    other.close()


def test_each_command_takes_the_latency(folder):
    with ssh.in_thread(PowerConnect55xx, folder, 'admin', 'secret',
                       latency=0.5) as d:
        t = Terminal(d.address)
        started = time.monotonic()
        t.run('show vlan')
        assert time.monotonic() - started >= 0.5
        t.close()


def test_haas_admin_simulate_serves_until_sigterm(folder):
    port = free_port()
    process = subprocess.Popen(
        [HAAS_ADMIN, 'simulate', 'switch', '--model', 'powerconnect55xx',
         '--listen', f'127.0.0.1:{port}', '--state', folder,
         '--username', 'admin', '--password', 'secret'],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline() == f'listening on 127.0.0.1:{port}\n'
        t = Terminal(('127.0.0.1', port))
        assert t.run('show int sw te1/0/4')[0] == 'Port : te1/0/4'
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
        with pytest.raises(EOFError):
            t.read_until('never')
        assert process.stderr.read() == ''
        assert os.path.exists(os.path.join(folder, ssh.HOST_KEY))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
