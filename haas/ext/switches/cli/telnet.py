"""One telnet session with a switch's command line: the transport under
the expect loop of haas.ext.switches.cli.expect, for devices registered
with ``"protocol": "telnet"``.

Telnet sends everything, the password too, in clear: SSH (console.py)
is the default, telnet an option for devices or sites without it.

Python's telnetlib is gone from 3.13 on; telnetlib3 is the maintained
telnet library, and its blocking client (`telnetlib3.sync`: reads with a
timeout, over an event loop in a thread of the session's own) fits this
synchronous expect loop as paramiko's channel does, while it answers the
device's option negotiation and IAC escapes for us.  It tells a device
that asks a wide and tall vt100 terminal (as the SSH console's PTY), and
no variable of this process's environment.

There is no transport login: the device's own prompts (User Name,
Password) are the login, which the driver's session answers.
"""

from __future__ import annotations

import typing

from haas.errors import SwitchUnavailableError
from haas.ext.switches.cli.expect import CONNECT_TIMEOUT, TIMEOUT, Terminal

if typing.TYPE_CHECKING:
    from telnetlib3.sync import TelnetConnection

#: The port a `hostname` without one means.
TELNET_PORT = 23


class TelnetConsole(Terminal):
    """A telnet session with the command line of switch `name`."""

    default_port = TELNET_PORT

    def __init__(self, name: str, hostname: str, username: str,
                 password: str, connect_timeout: float = CONNECT_TIMEOUT,
                 timeout: float = TIMEOUT):
        super().__init__(name, hostname, username, password,
                         connect_timeout, timeout)
        self.connection: TelnetConnection | None = None

    def connect(self) -> None:
        """Open the TCP connection; the device's login prompts come
        next."""
        from telnetlib3.sync import TelnetConnection
        connection = TelnetConnection(
            self.host, self.port, timeout=self.connect_timeout,
            encoding='utf8', encoding_errors='replace',
            connect_timeout=self.connect_timeout, term='vt100', cols=200,
            rows=1000, send_environ=('TERM',),
            # A device that negotiates nothing prints its prompt at once:
            # no wait for options it will never ask.
            connect_minwait=0, connect_maxwait=1.0)
        try:
            connection.connect()
        except (OSError, EOFError) as e:
            # Refused, unreachable, or no answer in time (TimeoutError is
            # an OSError): tried again later.
            raise SwitchUnavailableError(
                f'cannot reach {self.where()}: {e or type(e).__name__}'
            ) from e
        self.connection = connection

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def _write(self, text: str) -> None:
        assert self.connection is not None
        # A telnet end of line is CR LF (RFC 854), what a person's
        # client sends for Enter.
        self.connection.write(text.replace('\n', '\r\n'))

    def _read(self, timeout: float) -> str | None:
        assert self.connection is not None
        try:
            data = self.connection.read_some(timeout=timeout)
        except TimeoutError:
            return None
        except EOFError:
            return ''
        return str(data)
