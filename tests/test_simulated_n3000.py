"""The simulated Dell N3000, as any SSH client sees it: SSH's login,
abbreviations, errors, trunks that allow every VLAN, the native VLAN's
rules, paging, save and reload, and the `haas-admin simulate` process."""

import re
import signal
import subprocess

import pytest

from haas.simulators import ssh
from haas.simulators.n3000 import N3000

from support.commands import HAAS_ADMIN
from support.servers import free_port
from support.terminal import Terminal

#: The N3000's prompts name the interface being configured:
#: `console(config-if-Gi1/0/5)#`.
PROMPT = re.compile(r'[\r\n]?[\w.-]+(?:\([\w/-]+\))?[>#] ?$')


class N3000Terminal(Terminal):
    """A Terminal at an N3000: SSH's login is the only one, and the
    prompts hold slashes."""

    def __init__(self, address, **kwargs):
        super().__init__(address, login=False, **kwargs)
        self.first = self.read_until(PROMPT)

    def run(self, line):
        self.type(line + '\r')
        lines = self.read_until(PROMPT).split('\r\n')
        assert lines[0] == line, lines
        return lines[1:-1]

    def prompt(self):
        self.type('\r')
        return self.read_until(PROMPT).split('\r\n')[-1]


@pytest.fixture
def folder(tmp_path):
    return str(tmp_path / 'switch')


@pytest.fixture
def device(folder):
    with ssh.in_thread(N3000, folder, 'admin', 'secret') as d:
        yield d


@pytest.fixture
def terminal(device):
    t = N3000Terminal(device.address)
    t.run('enable')
    yield t
    t.close()


def configure(terminal, *lines):
    """Run `lines` in config mode, from and back to privileged mode; the
    device's answers that are not empty."""
    answers = [terminal.run('configure')]
    answers += [terminal.run(line) for line in lines]
    answers.append(terminal.run('end'))
    return [a for a in answers if a]


def switchport(terminal, port):
    """`show interfaces switchport PORT` as {field: value}, continuation
    lines joined to their field."""
    fields, last = {}, None
    for line in terminal.run(f'show interfaces switchport {port}'):
        if line.startswith(' ') and last:
            fields[last] += line.strip()
        elif ':' in line:
            last, _, value = line.partition(':')
            last = last.strip()
            fields[last] = value.strip()
    return fields


def test_ssh_logs_in_straight_to_the_user_prompt(device):
    t = N3000Terminal(device.address)
    assert t.first == 'console>'
    assert t.run('enable') == []
    assert t.prompt() == 'console#'
    assert t.run('configure') == []
    assert t.run('interface gi1/0/5') == []
    assert t.prompt() == 'console(config-if-Gi1/0/5)#'
    assert t.run('exit') == []
    assert t.run('vlan 105') == []
    assert t.prompt() == 'console(config-vlan105)#'
    t.close()


def test_each_word_may_be_abbreviated_while_it_is_unique(terminal):
    full = switchport(terminal, 'gi1/0/5')
    assert full['Port'] == 'Gi1/0/5'
    assert full['VLAN Membership Mode'] == 'Access Mode'
    assert switchport(terminal, 'Gi1/0/5') == full
    assert switchport(terminal, 'gigabitethernet 1/0/5') == full
    assert terminal.run('sh int sw gi1/0/5') == terminal.run(
        'show interfaces switchport gi1/0/5')
    assert configure(terminal, 'int gi1/0/5', 'sw mode tr') == []
    assert switchport(terminal, 'gi1/0/5')['VLAN Membership Mode'] == \
        'Trunk Mode'


def test_the_device_says_what_it_did_not_understand(terminal):
    assert terminal.run('shw vlan') == [
        ' ' * len('console#') + '^', "% Invalid input detected at '^' "
        "marker."]
    assert terminal.run('show') == [
        '', 'Command not found / Incomplete command. Use ? to list '
        'commands.']
    assert terminal.run('co') == [' ' * len('console#') + '^',
                                  '% Ambiguous command.']  # configure, copy
    assert configure(terminal, 'interface gi1/0/49') == [
        ['An invalid interface has been used for this function.']]
    assert configure(terminal, 'interface gi1/0/5', 'sh') == [
        [' ' * len('console(config-if-Gi1/0/5)#') + '^',
         '% Ambiguous command.']]  # shutdown, show
    assert configure(terminal, 'interface gi1/0/5',
                     'switchport access vlan 105') == [
        ['VLAN ID not found.']]
    assert configure(terminal, 'vlan 4094') == [
        ['VLAN ID 4094 is out of range. The range is 1 to 4093.']]
    terminal.run('disable')
    assert terminal.run('configure') == [
        ' ' * len('console>') + '^', "% Invalid input detected at '^' "
        "marker."]


def test_a_trunk_allows_every_vlan_that_exists(terminal):
    configure(terminal, 'vlan 105', 'exit', 'vlan 106', 'exit',
              'interface gi1/0/5', 'switchport mode trunk')
    shown = switchport(terminal, 'gi1/0/5')
    assert shown['Member of VLANs'] == '(1),105-106'
    assert shown['Trunking Mode Native VLAN'] == '1 (default)'
    assert shown['Trunking Mode VLANs Enabled'] == 'All'
    configure(terminal, 'interface gi1/0/5',
              'switchport trunk allowed vlan remove 1-4093',
              'switchport trunk allowed vlan add 106')
    shown = switchport(terminal, 'gi1/0/5')
    assert shown['Member of VLANs'] == '106'
    assert shown['Trunking Mode VLANs Enabled'] == '106'
    # A VLAN made later joins the trunks that allow it.
    configure(terminal, 'interface gi1/0/5',
              'switchport trunk allowed vlan add 300', 'exit', 'vlan 300')
    assert switchport(terminal, 'gi1/0/5')['Member of VLANs'] == '106,300'


def test_the_native_vlan_must_exist_and_be_allowed(terminal):
    configure(terminal, 'vlan 105', 'exit', 'interface gi1/0/5',
              'switchport mode trunk',
              'switchport trunk allowed vlan remove 1-4093')
    assert configure(terminal, 'interface gi1/0/5',
                     'switchport trunk native vlan 200') == [
        ['VLAN ID not found.']]
    assert configure(terminal, 'interface gi1/0/5',
                     'switchport trunk native vlan 105') == [
        ['VLAN 105 is not an allowed VLAN of this trunk: add it with '
         'switchport trunk allowed vlan add 105 first.']]
    assert configure(terminal, 'interface gi1/0/5',
                     'switchport trunk allowed vlan add 105',
                     'switchport trunk native vlan 105') == []
    assert switchport(terminal, 'gi1/0/5')['Member of VLANs'] == '(105)'
    # Taken off the allowed list, the native VLAN carries nothing.
    configure(terminal, 'interface gi1/0/5',
              'switchport trunk allowed vlan remove 105')
    shown = switchport(terminal, 'gi1/0/5')
    assert (shown['Member of VLANs'], shown['Trunking Mode Native VLAN']) \
        == ('', '105')
    assert terminal.run('show running-config interface gi1/0/5') == [
        'switchport mode trunk', 'switchport trunk native vlan 105',
        'switchport trunk allowed vlan none', '']


def test_long_vlan_lists_wrap_onto_indented_lines(terminal):
    configure(terminal, 'interface te1/0/1', 'switchport mode trunk',
              'switchport trunk allowed vlan ' + ','.join(
                  str(n) for n in range(100, 140, 2)))
    shown = terminal.run('show interfaces switchport te1/0/1')
    start = [i for i, line in enumerate(shown)
             if line.startswith('Trunking Mode VLANs Enabled:')][0]
    assert shown[start + 1].startswith(' ' * 29 + '1')
    assert switchport(terminal, 'te1/0/1')[
        'Trunking Mode VLANs Enabled'] == ','.join(
            str(n) for n in range(100, 140, 2))


def test_long_output_is_paged_until_terminal_length_0(terminal):
    configure(terminal, *(line for n in range(1, 11)
                          for line in (f'interface gi1/0/{n}', 'shutdown')))
    terminal.type('show running-config\r')
    page = terminal.read_until(N3000.more).split('\r\n')
    assert len(page) == 1 + N3000.page_lines + 1
    terminal.type('q')
    terminal.read_until('console#')
    assert terminal.run('terminal length 0') == []
    shown = terminal.run('show running-config')
    assert len(shown) > N3000.page_lines
    assert shown[-3:] == ['shutdown', 'exit', 'exit']


def test_reload_keeps_only_what_was_saved(device, terminal):
    configure(terminal, 'interface gi1/0/1', 'switchport mode trunk')
    terminal.type('copy running-config startup-config\r')
    assert terminal.read_until('(y/n) ') == (
        'copy running-config startup-config\r\n\r\n'
        'This operation may take a few minutes.\r\n'
        'Management interfaces will not be available during this time.'
        '\r\n\r\nAre you sure you want to save? (y/n) ')
    terminal.type('y')
    assert terminal.read_until('console#') == \
        'y\r\n\r\nConfiguration Saved!\r\nconsole#'
    configure(terminal, 'interface gi1/0/2', 'switchport mode trunk')
    terminal.type('reload\r')
    terminal.read_until('(y/n) ')
    terminal.type('y')
    with pytest.raises(EOFError):
        terminal.read_until('never')
    again = N3000Terminal(device.address)
    assert switchport(again, 'gi1/0/1')['VLAN Membership Mode'] == \
        'Trunk Mode'
    assert switchport(again, 'gi1/0/2')['VLAN Membership Mode'] == \
        'Access Mode'
    again.close()


def test_haas_admin_simulate_serves_the_n3000(folder):
    port = free_port()
    process = subprocess.Popen(
        [HAAS_ADMIN, 'simulate', 'switch', '--model', 'n3000',
         '--listen', f'127.0.0.1:{port}', '--state', folder,
         '--username', 'admin', '--password', 'secret'],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline() == f'listening on 127.0.0.1:{port}\n'
        t = N3000Terminal(('127.0.0.1', port))
        assert switchport(t, 'te1/0/4')['Port'] == 'Te1/0/4'
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
        assert process.stderr.read() == ''
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
