"""The simulated Nexus 5500, as any SSH client sees it: the banner and
prompts, interface names, abbreviations, NX-OS's error lines, trunk
settings, paging, save and reload, and the `haas-admin simulate`
process."""

import signal
import subprocess

import pytest

from haas.simulators import ssh
from haas.simulators.nexus import Nexus5500

from support.commands import HAAS_ADMIN
from support.servers import free_port
from support.terminal import PROMPT, Terminal


@pytest.fixture
def folder(tmp_path):
    return str(tmp_path / 'switch')


@pytest.fixture
def device(folder):
    with ssh.in_thread(Nexus5500, folder, 'admin', 'secret') as d:
        yield d


def login(address):
    """A Terminal at the device's first prompt: NX-OS asks nothing after
    SSH's own authentication."""
    t = Terminal(address, login=False)
    t.read_until(PROMPT)
    return t


@pytest.fixture
def terminal(device):
    t = login(device.address)
    yield t
    t.close()


def configure(terminal, *lines):
    """Run `lines` in config mode, from and back to the exec prompt;
    the device's answers."""
    answers = [terminal.run(line) for line in lines]
    return [a for a in answers if a]


def switchport(terminal, port):
    """`show interface PORT switchport` as {field: value}."""
    shown = terminal.run(f'show interface {port} switchport')
    fields = dict(line.strip().split(': ', 1) for line in shown[1:]
                  if ': ' in line)
    return shown[0], fields


def test_ssh_goes_straight_to_the_prompt_after_the_banner(device):
    t = Terminal(device.address, login=False)
    greeting = t.read_until(PROMPT)
    assert greeting.startswith(
        'Cisco Nexus Operating System (NX-OS) Software\r\n')
    assert greeting.endswith('\r\nswitch# ')
    assert t.run('configure terminal') == [
        'Enter configuration commands, one per line.  End with CNTL/Z.']
    assert t.prompt() == 'switch(config)# '
    t.run('interface ethernet 1/5')
    assert t.prompt() == 'switch(config-if)# '
    t.run('vlan 105')
    assert t.prompt() == 'switch(config-vlan)# '
    t.run('exit')
    assert t.prompt() == 'switch(config)# '
    t.run('end')
    assert t.prompt() == 'switch# '
    t.close()


def test_a_wrong_password_is_refused_by_ssh(device):
    import paramiko
    with pytest.raises(paramiko.AuthenticationException):
        Terminal(device.address, password='wrong', login=False)


@pytest.mark.parametrize('name', ['ethernet 1/5', 'Ethernet1/5', 'eth1/5',
                                  'e1/5', 'ETHERNET 1/5', 'ether 1/5'])
def test_a_port_is_named_as_nx_os_takes_it(terminal, name):
    assert switchport(terminal, name)[0] == 'Name: Ethernet1/5'
    assert terminal.run('conf t')
    assert terminal.run(f'int {name}') == []
    assert terminal.prompt() == 'switch(config-if)# '


def test_each_word_may_be_abbreviated_while_it_is_unique(terminal):
    full = terminal.run('show interface ethernet 1/5 switchport')
    assert terminal.run('sh int e1/5 sw') == full
    configure(terminal, 'conf t', 'int e1/5', 'sw mo tr',
              'sw tr al vl none', 'sw tr nat vl 105', 'end')
    fields = switchport(terminal, 'e1/5')[1]
    assert [fields['Operational Mode'], fields['Trunking Native Mode VLAN'],
            fields['Trunking VLANs Allowed']] == [
        'trunk', '105 (Inactive)', 'none']


def test_the_device_says_what_it_did_not_understand(terminal):
    assert terminal.run('frobnicate') == [
        '        ^', "% Invalid command at '^' marker."]
    assert terminal.run('show') == [
        '             ^', "% Incomplete command at '^' marker."]
    assert terminal.run('show interface ethernet 1/49 switchport') == [
        '                       ^', "% Invalid range at '^' marker."]
    assert terminal.run('show interface gi1/0/5 switchport') == [
        '                       ^',
        "% Invalid interface format at '^' marker."]
    terminal.run('configure terminal')
    assert terminal.run('interface') == [
        '                          ^', "% Incomplete command at '^' marker."]
    assert terminal.run('int e 1/50') == [
        '                    ^', "% Invalid range at '^' marker."]
    assert terminal.run('s') == [
        '                  ^', "% Incomplete command at '^' marker."]
    assert terminal.run('vlan 4000') == [
        'ERROR: VLAN 4000: VLANs 3968-4047 and 4094 are reserved for '
        'internal use']
    assert terminal.run('no vlan 1') == [
        'ERROR: Default VLAN 1 cannot be deleted']
    terminal.run('interface e1/5')
    assert terminal.run('sh') == [  # show, shutdown
        '                   ^', "% Ambiguous command at '^' marker."]
    assert terminal.run('switchport trunk native vlan 5000') == [
        "% Invalid number, range is (1:4094) at '^' marker."]
    # Exec mode has no switchport.
    terminal.run('end')
    assert terminal.run('switchport mode trunk') == [
        '        ^', "% Invalid command at '^' marker."]


def test_a_trunk_allows_every_vlan_until_told_otherwise(terminal):
    configure(terminal, 'configure terminal', 'interface ethernet 1/7',
              'switchport mode trunk', 'end')
    assert switchport(terminal, 'e1/7')[1]['Trunking VLANs Allowed'] == \
        '1-4094'
    configure(terminal, 'configure terminal', 'vlan 105,106', 'exit',
              'interface ethernet 1/7',
              'switchport trunk allowed vlan none',
              'switchport trunk allowed vlan add 105,106,300',
              'switchport trunk native vlan 105', 'end')
    fields = switchport(terminal, 'e1/7')[1]
    assert (fields['Trunking Native Mode VLAN'],
            fields['Trunking VLANs Allowed']) == (
        '105 (VLAN0105)', '105,106,300')
    others = [f'Eth1/{n}' for n in range(1, 49) if n != 7]
    rows = [', '.join(others[i:i + 4]) for i in range(0, 47, 4)]
    assert terminal.run('show vlan brief') == [
        '', 'VLAN Name                             Status    Ports',
        '---- -------------------------------- --------- '
        '-------------------------------',
        '1    default                          active    ' + rows[0],
        *(' ' * 48 + row for row in rows[1:]),
        '105  VLAN0105                         active    Eth1/7',
        '106  VLAN0106                         active    Eth1/7',
        '']
    configure(terminal, 'configure terminal', 'interface ethernet 1/7',
              'switchport trunk allowed vlan remove 105',
              'no switchport trunk native vlan', 'end')
    fields = switchport(terminal, 'e1/7')[1]
    assert (fields['Trunking Native Mode VLAN'],
            fields['Trunking VLANs Allowed']) == ('1 (default)', '106,300')


def test_trunk_settings_wait_on_an_access_port(terminal):
    configure(terminal, 'configure terminal', 'interface ethernet 1/8',
              'switchport trunk native vlan 200',
              'switchport trunk allowed vlan 200-202', 'end')
    fields = switchport(terminal, 'e1/8')[1]
    assert fields['Operational Mode'] == 'access'
    assert terminal.run('show running-config interface ethernet 1/8') == [
        '', '!Command: show running-config', '!Time: (simulated)', '',
        'version 7.0(8)N1(1)', '', 'interface Ethernet1/8',
        '  switchport trunk native vlan 200',
        '  switchport trunk allowed vlan 200-202', '']
    configure(terminal, 'configure terminal', 'interface ethernet 1/8',
              'switchport mode trunk', 'end')
    fields = switchport(terminal, 'e1/8')[1]
    assert (fields['Operational Mode'], fields['Trunking VLANs Allowed']) \
        == ('trunk', '200-202')


def test_long_output_is_paged_until_terminal_length_0(terminal):
    terminal.type('show interface switchport\r')
    page = terminal.read_until(Nexus5500.more).split('\r\n')
    assert len(page) == 1 + Nexus5500.page_lines + 1
    terminal.type('q')
    terminal.read_until(PROMPT)
    assert terminal.run('terminal length 0') == []
    shown = terminal.run('show interface switchport')
    assert len(shown) == 48 * 21
    assert shown[-21] == 'Name: Ethernet1/48'


def test_reload_keeps_only_what_was_copied_to_startup(device, terminal):
    configure(terminal, 'configure terminal', 'vlan 105',
              'interface e1/1', 'switchport mode trunk', 'end')
    assert terminal.run('copy running-config startup-config') == [
        '[########################################] 100%',
        'Copy complete, now saving to disk (please wait)...',
        'Copy complete.']
    configure(terminal, 'configure terminal', 'interface e1/2',
              'switchport mode trunk', 'end')
    other = login(device.address)
    terminal.type('reload\r')
    terminal.read_until('(y/n)?  [n] ')
    terminal.type('y')
    with pytest.raises(EOFError):
        terminal.read_until('never')
    with pytest.raises(EOFError):  # a reload ends every session
        other.read_until('never')
    again = login(device.address)
    assert switchport(again, 'e1/1')[1]['Operational Mode'] == 'trunk'
    assert switchport(again, 'e1/2')[1]['Operational Mode'] == 'access'
    again.close()


def test_haas_admin_simulate_serves_a_nexus_until_sigterm(folder):
    port = free_port()
    process = subprocess.Popen(
        [HAAS_ADMIN, 'simulate', 'switch', '--model', 'nexus',
         '--listen', f'127.0.0.1:{port}', '--state', folder,
         '--username', 'admin', '--password', 'secret'],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline() == f'listening on 127.0.0.1:{port}\n'
        t = login(('127.0.0.1', port))
        assert switchport(t, 'e1/48')[0] == 'Name: Ethernet1/48'
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
        with pytest.raises(EOFError):
            t.read_until('never')
        assert process.stderr.read() == ''
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
