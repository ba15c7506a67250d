"""The SSH drivers' host keys, against the simulated PowerConnect: with
`[haas.ext.switches.cli] known_hosts` only the key it has is accepted
(an unknown or changed one is a SwitchError of one line); without, any
key is, its fingerprint logged once per switch."""

import logging
import os

import paramiko
import pytest

from haas.config import Config
from haas.errors import SwitchError
from haas.ext.switches.cli import console as cli_console
from haas.ext.switches.cli.console import Console, known_hosts
from haas.ext.switches.dell import PowerConnectSession
from haas.simulators import powerconnect, ssh


@pytest.fixture
def device(tmp_path):
    with ssh.in_thread(powerconnect.PowerConnect55xx, str(tmp_path / 'sw'),
                       'admin', 'secret') as d:
        yield d


def device_key(device):
    """The simulator's host key, read from its state folder."""
    return paramiko.Ed25519Key.from_private_key_file(
        os.path.join(device.state_dir, ssh.HOST_KEY))


def known_name(device):
    host, port = device.address
    return f'[{host}]:{port}'


def write_known_hosts(path, name, key):
    path.write_text(f'{name} {key.get_name()} {key.get_base64()}\n')
    return str(path)


def open_session(device, known_hosts=None, name='sw0'):
    host, port = device.address
    s = PowerConnectSession(Console(name, f'{host}:{port}', 'admin',
                                    'secret', known_hosts=known_hosts),
                            None, False)
    s.open()
    return s


def test_a_key_in_known_hosts_is_accepted(device, tmp_path):
    path = write_known_hosts(tmp_path / 'known_hosts', known_name(device),
                             device_key(device))

    s = open_session(device, path)

    assert s.port_networks('gi1/0/5') == {}
    s.disconnect()


def test_a_switch_known_hosts_lacks_is_refused_naming_its_key(device,
                                                              tmp_path):
    # The device's key, but for another address only.
    path = write_known_hosts(tmp_path / 'known_hosts', 'elsewhere',
                             device_key(device))
    host, port = device.address

    with pytest.raises(SwitchError) as e:
        open_session(device, path)

    assert str(e.value) == (
        f'switch sw0 ({host}:{port}) offered host key '
        f'{cli_console.fingerprint(device_key(device))}, which {path} does '
        f'not have: check it and add it (ssh-keyscan -p {port} {host} >> '
        f'{path})')


def test_a_changed_key_is_refused_naming_both(device, tmp_path):
    old = ssh.asyncssh.generate_private_key('ssh-ed25519')
    old_path = tmp_path / 'old_key'
    old.write_private_key(str(old_path))
    old_key = paramiko.Ed25519Key.from_private_key_file(str(old_path))
    path = write_known_hosts(tmp_path / 'known_hosts', known_name(device),
                             old_key)
    host, port = device.address

    with pytest.raises(SwitchError) as e:
        open_session(device, path)

    assert str(e.value) == (
        f'switch sw0 ({host}:{port}) offered host key '
        f'{cli_console.fingerprint(device_key(device))}, not the '
        f'{cli_console.fingerprint(old_key)} that {path} has for it: if '
        f"the switch's key really changed, remove the old one (ssh-keygen "
        f"-R '[{host}]:{port}' -f {path}) and add the new one (ssh-keyscan "
        f'-p {port} {host} >> {path})')


def test_a_known_hosts_file_that_is_missing_is_one_line(device, tmp_path):
    path = str(tmp_path / 'nowhere')

    with pytest.raises(SwitchError) as e:
        open_session(device, path)

    assert str(e.value) == (f'cannot read [haas.ext.switches.cli] '
                            f'known_hosts {path}: No such file or directory')


def test_without_known_hosts_any_key_is_logged_once_per_switch(
        device, caplog, monkeypatch):
    monkeypatch.setattr(cli_console, '_warned', set())
    caplog.set_level(logging.WARNING, logger=cli_console.__name__)
    host, port = device.address

    for name in ('sw0', 'sw0', 'sw1'):
        open_session(device, name=name).disconnect()

    assert [r.getMessage() for r in caplog.records] == [
        f'switch {name} ({host}:{port}): accepted host key '
        f'{cli_console.fingerprint(device_key(device))} unchecked; set '
        f'[haas.ext.switches.cli] known_hosts to accept only known keys'
        for name in ('sw0', 'sw1')]


def test_the_option_is_relative_to_where_the_command_started(tmp_path):
    config = Config.from_string(
        '[haas.ext.switches.cli]\nknown_hosts = keys/known_hosts\n',
        cwd=str(tmp_path))

    assert known_hosts(config) == str(tmp_path / 'keys' / 'known_hosts')
    assert known_hosts(Config.from_string('', cwd=str(tmp_path))) is None
