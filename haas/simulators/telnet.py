"""The telnet side of a simulated switch: the same Device (shell, state,
login prompts, echo, paging) as its SSH server, on a telnet port.

telnetlib3 speaks the protocol (RFC 854's option negotiation, IAC
escapes) on the same asyncio loop as the SSH server (asyncssh), so that
one Device serves both.  The device negotiates as a switch's telnet
server does, nothing more: it will echo and suppress go-ahead (character
at a time, the device echoing what is typed, and not the password), and
refuses every other option.  There is no transport login: the shell's
own User Name and Password prompts are the login, as on the device.
"""

from __future__ import annotations

import typing
from collections.abc import Callable

import telnetlib3
from telnetlib3.telopt import ECHO, SGA, WILL

#: Seconds a client that does not answer the negotiation (a bare TCP
#: connection, `nc`) waits for its login prompt.
NEGOTIATION = 1.0


class Device(typing.Protocol):
    """What of haas.simulators.ssh's Device a telnet session uses (that
    module imports this one, not the other way round)."""

    model: typing.Any
    connections: set[typing.Any]
    listeners: list[typing.Any]

    async def converse(self, stdin: typing.Any,
                       write: Callable[[str], None]) -> None: ...


class _Server(telnetlib3.BaseServer):
    """telnetlib3's base server (no terminal type, environment or
    character set requests: a switch asks none) offering ECHO and SGA."""

    def begin_negotiation(self) -> None:
        super().begin_negotiation()
        assert self.writer is not None  # set once connected
        self.writer.iac(WILL, ECHO)
        self.writer.iac(WILL, SGA)


async def start(device: Device, host: str, port: int) -> tuple[str, int]:
    """Serve `device` over telnet at `host`:`port` (0: any free port)
    until it stops; where it listens.  The model must have its own
    login prompts (`Shell.login`): telnet has no login of its own."""
    if device.model.login is None:
        raise ValueError(f'{device.model.__name__} has no login prompts '
                         f'to serve over telnet')
    async def shell(reader: typing.Any, writer: typing.Any) -> None:
        device.connections.add(writer)
        try:
            await device.converse(reader, writer.write)
        except ConnectionError:
            pass
        finally:
            device.connections.discard(writer)
            writer.close()

    server = await telnetlib3.create_server(
        host, port, protocol_factory=_Server, shell=shell,
        encoding='utf8', encoding_errors='replace',
        connect_maxwait=NEGOTIATION)
    device.listeners.append(server)
    assert server.sockets  # listening
    found = server.sockets[0].getsockname()
    return found[0], found[1]
