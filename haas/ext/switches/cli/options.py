"""The options every command-line driver reads from its own section of
haas.cfg, and the console (SSH, or telnet) they open with them."""

from __future__ import annotations

import typing

from haas.errors import SwitchError
from haas.ext.switches.cli.console import Console, known_hosts
from haas.ext.switches.cli.expect import CONNECT_TIMEOUT, TIMEOUT, Terminal
from haas.ext.switches.cli.telnet import TelnetConsole


def seconds(config: typing.Any, section: str, option: str,
            default: float) -> float:
    """`[section] option`, a number of seconds (0, 3600], or `default`.
    A bad value is the actions' SwitchError: drivers have no start-up
    hook that could refuse it earlier."""
    text = config.get(section, option)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value <= 3600:
        raise SwitchError(f'[{section}] {option} must be a number of '
                          f'seconds, more than 0 and at most 3600, not '
                          f'{text!r}')
    return value


def _config() -> typing.Any:
    from flask import current_app
    return current_app.extensions['haas'].config


def parking_vlan(section: str, last: int) -> int | None:
    """`[section] parking_vlan`, a VLAN 2-`last`, or None."""
    text = _config().get(section, 'parking_vlan')
    if not text:
        return None
    if not (text.isascii() and text.isdigit() and 1 < int(text) <= last):
        raise SwitchError(f'[{section}] parking_vlan must be a VLAN '
                          f'number, 2-{last}, not {text!r}')
    return int(text)


def _timeouts(config: typing.Any, section: str) -> dict[str, float]:
    return {'connect_timeout': seconds(config, section, 'connect_timeout',
                                       CONNECT_TIMEOUT),
            'timeout': seconds(config, section, 'timeout', TIMEOUT)}


def console(switch: typing.Any, section: str) -> Console:
    """An SSH Console to `switch` (its label, hostname, username,
    password), with the timeouts of `[section]` and the host keys of
    `[haas.ext.switches.cli] known_hosts`; not connected yet."""
    config = _config()
    return Console(switch.label, switch.hostname, switch.username,
                   switch.password, known_hosts=known_hosts(config),
                   **_timeouts(config, section))


def terminal(switch: typing.Any, section: str, protocol: str) -> Terminal:
    """`console`, or over telnet when `protocol` is 'telnet' (with the
    same timeouts)."""
    if protocol == 'ssh':
        return console(switch, section)
    if protocol != 'telnet':
        raise SwitchError(f'switch {switch.label} has protocol '
                          f'{protocol!r}, which is neither ssh nor telnet')
    return TelnetConsole(switch.label, switch.hostname, switch.username,
                         switch.password, **_timeouts(_config(), section))
