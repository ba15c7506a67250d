"""One SSH session with a switch's command line: the transport under
the expect loop of haas.ext.switches.cli.expect.

paramiko gives the interactive channel (a PTY, as a person's ``ssh``
has: switch CLIs expect one); the expect loop is ours, a few lines, so
that each device's prompts, login and errors stay in its driver.  A
switch that refuses the connection or drops it is
SwitchUnavailableError, as one that stops answering is.

Host keys: with `known_hosts` (``[haas.ext.switches.cli] known_hosts``,
an OpenSSH known_hosts file) a switch must offer the key that file has
for its address, or the session is a SwitchError naming the key offered
and how to add it; without, any key is accepted, and its fingerprint
logged once per switch per process, so that an operator can pin it.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import socket
import typing

from haas.errors import SwitchError, SwitchUnavailableError
from haas.ext.switches.cli import expect
from haas.ext.switches.cli.expect import CONNECT_TIMEOUT, TIMEOUT, Terminal

if typing.TYPE_CHECKING:
    import paramiko

log = logging.getLogger(__name__)

#: The configuration section of the SSH drivers' shared options.
SECTION = 'haas.ext.switches.cli'

#: The port a `hostname` without one means.
SSH_PORT = 22


def address(hostname: str) -> tuple[str, int]:
    """`host`, `host:port` or `[v6]:port` as (host, port)."""
    return expect.address(hostname, SSH_PORT)


def known_hosts(config: typing.Any) -> str | None:
    """`[haas.ext.switches.cli] known_hosts`, relative to where the
    command started; None when unset (any host key is accepted)."""
    path = config.get(SECTION, 'known_hosts')
    if not path or not path.strip():
        return None
    return os.path.join(config.cwd, os.path.expanduser(path.strip()))


def fingerprint(key: paramiko.PKey) -> str:
    """`key` as OpenSSH prints it: its type and SHA256 fingerprint."""
    digest = base64.b64encode(hashlib.sha256(key.asbytes()).digest())
    return f'{key.get_name()} SHA256:{digest.decode().rstrip("=")}'


#: The switches (name, address) whose unchecked host key this process
#: has logged: a warning once per switch, not per session.
_warned: set[tuple[str, str]] = set()


class HostKeyError(Exception):
    """A host key the known_hosts file does not vouch for (raised by
    the policy inside paramiko, turned into a SwitchError by connect)."""


class Console(Terminal):
    """An SSH session with the command line of switch `name`."""

    default_port = SSH_PORT

    def __init__(self, name: str, hostname: str, username: str,
                 password: str, connect_timeout: float = CONNECT_TIMEOUT,
                 timeout: float = TIMEOUT, known_hosts: str | None = None):
        super().__init__(name, hostname, username, password,
                         connect_timeout, timeout)
        self.known_hosts = known_hosts
        self.client: paramiko.SSHClient | None = None
        self.channel: paramiko.Channel | None = None

    def connect(self) -> None:
        """Open the SSH session and its interactive shell."""
        import paramiko
        client = paramiko.SSHClient()
        self._check_host_keys(client)
        try:
            client.connect(self.host, self.port, username=self.username,
                           password=self.password,
                           timeout=self.connect_timeout,
                           banner_timeout=self.connect_timeout,
                           auth_timeout=self.connect_timeout,
                           look_for_keys=False, allow_agent=False)
            self.channel = client.invoke_shell(width=200, height=1000)
        except HostKeyError as e:
            client.close()
            raise SwitchError(str(e)) from None
        except paramiko.BadHostKeyException as e:
            client.close()
            raise SwitchError(
                f'{self.where()} offered host key {fingerprint(e.key)}, not '
                f'the {fingerprint(e.expected_key)} that {self.known_hosts} '
                f'has for it: if the switch\'s key really changed, remove '
                f'the old one (ssh-keygen -R {self._known_name()!r} -f '
                f'{self.known_hosts}) and add the new one '
                f'({self._keyscan()})') from None
        except paramiko.AuthenticationException as e:
            # paramiko says AuthenticationException too when the
            # connection ends while it waits for the device's answer to
            # the login: a switch that went away has refused no one.
            transport = client.get_transport()
            alive = transport is not None and transport.is_active()
            client.close()
            if not alive:
                raise SwitchUnavailableError(
                    f'lost {self.where()} during the login of '
                    f'{self.username!r}: {e}') from e
            raise SwitchError(f'{self.where()} refused the login of '
                              f'{self.username!r}: {e}') from e
        except (OSError, EOFError, paramiko.SSHException) as e:
            client.close()
            raise SwitchUnavailableError(
                f'cannot reach {self.where()}: {e or type(e).__name__}'
            ) from e
        self.client = client

    def _known_name(self) -> str:
        """The switch's name in known_hosts, as OpenSSH writes it."""
        if self.port == SSH_PORT:
            return self.host
        return f'[{self.host}]:{self.port}'

    def _keyscan(self) -> str:
        port = '' if self.port == SSH_PORT else f'-p {self.port} '
        return f'ssh-keyscan {port}{self.host} >> {self.known_hosts}'

    def _check_host_keys(self, client: paramiko.SSHClient) -> None:
        """Make `client` accept only the known_hosts file's keys, or,
        without one, any key, logged once per switch."""
        import paramiko
        console = self

        if self.known_hosts is None:
            class Unchecked(paramiko.MissingHostKeyPolicy):
                def missing_host_key(self, client: paramiko.SSHClient,
                                     hostname: str,
                                     key: paramiko.PKey) -> None:
                    seen = (console.name, hostname)
                    if seen not in _warned:
                        _warned.add(seen)
                        log.warning(
                            '%s: accepted host key %s unchecked; set '
                            '[%s] known_hosts to accept only known keys',
                            console.where(), fingerprint(key), SECTION)
            client.set_missing_host_key_policy(Unchecked())
            return

        class Reject(paramiko.MissingHostKeyPolicy):
            def missing_host_key(self, client: paramiko.SSHClient,
                                 hostname: str, key: paramiko.PKey) -> None:
                raise HostKeyError(
                    f'{console.where()} offered host key '
                    f'{fingerprint(key)}, which {console.known_hosts} does '
                    f'not have: check it and add it '
                    f'({console._keyscan()})')
        try:
            client.load_host_keys(self.known_hosts)
        except OSError as e:
            raise SwitchError(
                f'cannot read [{SECTION}] known_hosts '
                f'{self.known_hosts}: {e.strerror or e}') from None
        client.set_missing_host_key_policy(Reject())

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = self.channel = None

    def _write(self, text: str) -> None:
        assert self.channel is not None
        self.channel.sendall(text.encode())

    def _read(self, timeout: float) -> str | None:
        assert self.channel is not None
        self.channel.settimeout(timeout)
        try:
            data = self.channel.recv(65536)
        except socket.timeout:
            return None
        return data.decode(errors='replace')
