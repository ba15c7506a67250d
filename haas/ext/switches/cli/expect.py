"""A switch's command line over any transport: send a line, read what the
device prints up to its next prompt.

`Terminal` is the expect loop the drivers' sessions talk to; a transport
(`console.Console` for SSH, `telnet.TelnetConsole`) subclasses it with
`connect`, `close`, `_write` and `_read`, so that a device's login,
prompts, modes and errors are written once per driver whatever carries
them.  Every wait is bounded: a device that stops answering is
SwitchUnavailableError after `timeout` seconds, as is one that drops the
connection; a line the device answers with an error (its own ``%``
line) is SwitchError with that line.
"""

from __future__ import annotations

import re
import time

from haas.errors import SwitchError, SwitchUnavailableError

#: Terminal escapes some devices write around prompts and pages.
ANSI = re.compile(r'\x1b\[[0-9;?]*[A-Za-z]')
#: Default seconds to wait for the connection, and for each answer of
#: the device.
CONNECT_TIMEOUT, TIMEOUT = 10.0, 30.0


def address(hostname: str, default_port: int) -> tuple[str, int]:
    """`host`, `host:port` or `[v6]:port` as (host, port)."""
    if hostname.startswith('['):
        host, _, rest = hostname[1:].partition(']')
        port = rest[1:] if rest.startswith(':') else ''
    elif hostname.count(':') == 1:
        host, _, port = hostname.partition(':')
    else:
        host, port = hostname, ''
    if port and not (port.isascii() and port.isdigit()
                     and 0 < int(port) < 65536):
        raise SwitchError(f'{hostname!r} is not HOST or HOST:PORT')
    return host, int(port) if port else default_port


class Terminal:
    """The command line of switch `name` at `hostname`; a transport
    subclass says how to reach it (see above)."""

    #: The port a `hostname` without one means.
    default_port = 0

    def __init__(self, name: str, hostname: str, username: str,
                 password: str, connect_timeout: float = CONNECT_TIMEOUT,
                 timeout: float = TIMEOUT):
        self.name = name
        self.host, self.port = address(hostname, self.default_port)
        self.username, self.password = username, password
        self.connect_timeout, self.timeout = connect_timeout, timeout
        self.buffer = ''
        #: Every line sent, in order: what a session did, for its logs.
        self.sent: list[str] = []

    def where(self) -> str:
        return f'switch {self.name} ({self.host}:{self.port})'

    # What a transport writes.

    def connect(self) -> None:
        """Open the connection, up to where the device prints its
        first prompt; SwitchUnavailableError if it cannot be reached,
        SwitchError if it refuses."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def _write(self, text: str) -> None:
        """Send `text`; OSError or EOFError if the connection is lost."""
        raise NotImplementedError

    def _read(self, timeout: float) -> str | None:
        """What the device printed within `timeout` seconds: None if
        nothing, '' once the connection is closed; OSError or EOFError
        if it is lost."""
        raise NotImplementedError

    # The expect loop.

    def send(self, text: str) -> None:
        """Send `text` as typed (no end of line added)."""
        try:
            self._write(text)
        except (OSError, EOFError) as e:
            raise SwitchUnavailableError(
                f'lost {self.where()}: {e or type(e).__name__}') from e

    def expect(self, pattern: re.Pattern[str],
               timeout: float | None = None) -> tuple[str, re.Match[str]]:
        """What the device printed before `pattern`, and the match;
        SwitchUnavailableError if it does not come within `timeout`
        seconds or the session ends."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            match = pattern.search(self.buffer)
            if match:
                before = self.buffer[:match.start()]
                self.buffer = self.buffer[match.end():]
                return before, match
            left = deadline - time.monotonic()
            if left <= 0:
                raise SwitchUnavailableError(
                    f'{self.where()} did not answer within '
                    f'{timeout or self.timeout:g} s (waiting for '
                    f'{pattern.pattern!r} after {self.buffer[-80:]!r})')
            try:
                data = self._read(left)
            except (OSError, EOFError) as e:
                raise SwitchUnavailableError(
                    f'lost {self.where()}: {e or type(e).__name__}') from e
            if data is None:
                continue
            if not data:
                raise SwitchUnavailableError(
                    f'{self.where()} closed the session')
            self.buffer += ANSI.sub('', data)

    def command(self, line: str, prompt: re.Pattern[str],
                error: re.Pattern[str]) -> str:
        """Send `line`, return what the device printed before its next
        `prompt` (without the echo of `line`); SwitchError with the
        first line matching `error`."""
        self.sent.append(line)
        self.send(line + '\n')
        output, _ = self.expect(prompt)
        lines = output.replace('\r', '').split('\n')
        if lines and lines[0].strip() == line.strip():
            lines = lines[1:]
        for found in lines:
            if error.search(found):
                raise SwitchError(f'{self.where()} refused {line!r}: '
                                  f'{found.strip()}')
        return '\n'.join(lines)
