"""The simulated SSH switches as OpenSSH's own `ssh` command sees them:
a client nobody here wrote reads on the device what HaaS's driver set,
and reads it gone after the port is reverted."""

import os
import shutil
import subprocess
import types

import pytest

from haas.ext.switches.cli.console import Console
from haas.ext.switches.dell import PowerConnectSession
from haas.ext.switches.nexus import NexusSession
from haas.simulators import nexus, powerconnect, ssh


@pytest.fixture(autouse=True)
def openssh_client():
    if shutil.which('ssh') is None:
        if os.environ.get('CI'):
            pytest.fail('CI needs the ssh command (Debian: openssh-client)')
        pytest.skip('the ssh command is not installed (Debian: '
                    'openssh-client)')


def openssh(tmp_path, address, typed):
    """What `ssh` prints for a session at `address` given `typed` as
    keyboard input, its password (secret) from an askpass program."""
    askpass = tmp_path / 'askpass'
    askpass.write_text('#!/bin/sh\necho secret\n')
    askpass.chmod(0o700)
    host, port = address
    done = subprocess.run(
        ['ssh', '-tt', '-F', '/dev/null', '-p', str(port),
         '-o', 'StrictHostKeyChecking=no',
         '-o', 'UserKnownHostsFile=/dev/null',
         '-o', 'PubkeyAuthentication=no', '-o', 'LogLevel=ERROR',
         f'admin@{host}'],
        input=typed, capture_output=True, text=True, timeout=60,
        env={**os.environ, 'SSH_ASKPASS': str(askpass),
             'SSH_ASKPASS_REQUIRE': 'force'})
    assert done.returncode == 0, done.stderr
    return done.stdout.replace('\r', '')


def action(port, channel, vlan):
    """A networking action as the daemon hands it to a driver."""
    return types.SimpleNamespace(
        nic=types.SimpleNamespace(port=types.SimpleNamespace(label=port)),
        channel=channel,
        new_network=types.SimpleNamespace(network_id=str(vlan)))


def console(device):
    host, port = device.address
    return Console('sw0', f'{host}:{port}', 'admin', 'secret', timeout=10)


def test_ssh_reads_on_a_nexus_what_the_driver_set(tmp_path):
    with ssh.in_thread(nexus.Nexus5500, str(tmp_path / 'sw'), 'admin',
                       'secret') as device:
        s = NexusSession(console(device), 2000, False)
        s.open()
        s.apply_networking(action('Ethernet1/5', 'vlan/105', 105))
        shown = openssh(tmp_path, device.address,
                        'show interface e1/5 switchport\nexit\n')
        assert 'Operational Mode: trunk' in shown
        assert 'Trunking VLANs Allowed: 105\n' in shown

        s.revert_port('Ethernet1/5')
        s.disconnect()
        shown = openssh(tmp_path, device.address,
                        'show interface e1/5 switchport\nexit\n')
        assert 'Trunking VLANs Allowed: 105' not in shown


def test_ssh_reads_on_a_powerconnect_what_the_driver_set(tmp_path):
    with ssh.in_thread(powerconnect.PowerConnect55xx, str(tmp_path / 'sw'),
                       'admin', 'secret') as device:
        s = PowerConnectSession(console(device), None, False)
        s.open()
        s.apply_networking(action('gi1/0/5', 'vlan/105', 105))
        # The device asks for its own login after SSH's.
        typed = 'admin\rsecret\rshow interfaces switchport gi1/0/5\rexit\r'
        shown = openssh(tmp_path, device.address, typed)
        assert 'User Name:' in shown
        member = [line.split() for line in shown.split('\n')
                  if line.startswith('105 ')]
        assert member and member[0][2] == 'Tagged'

        s.revert_port('gi1/0/5')
        s.disconnect()
        shown = openssh(tmp_path, device.address, typed)
        assert not [line for line in shown.split('\n')
                    if line.startswith('105 ')]
